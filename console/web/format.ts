/** Display formats; every figure on screen goes through one of these. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return `${perSecond.toFixed(0)}/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(3)}/s`;
}

export function formatPercent(fraction: number): string {
  const pct = fraction * 100;
  if (pct === 0) return "0%";
  if (pct < 0.01) return "<0.01%";
  return `${pct >= 10 ? pct.toFixed(1) : pct.toFixed(2)}%`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A stable color per service name, from a palette that reads on a dark background. */
const PALETTE = [
  "#4e9af1",
  "#f2a93b",
  "#5cc98a",
  "#e76f9a",
  "#a88bf0",
  "#3fc6c6",
  "#d9d35b",
  "#f07b4f",
  "#8fb1d9",
  "#c08457",
  "#7ad36b",
  "#e0a3e8",
];

let order = new Map<string, number>();

/** Fixes the colors: services in this order take the palette in turn (called with the stored services). */
export function setServiceOrder(names: string[]): void {
  order = new Map([...names].sort().map((name, i) => [name, i]));
}

export function serviceColor(name: string): string {
  const index = order.get(name);
  if (index !== undefined) return PALETTE[index % PALETTE.length]!;
  let hash = 0;
  for (let i = 0; i < name.length; i += 1) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  return PALETTE[hash % PALETTE.length]!;
}
