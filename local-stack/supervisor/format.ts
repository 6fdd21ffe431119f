import { terminalSafe } from "../../shared/terminal-text.ts";
import type { ProcessStatus } from "./supervisor.ts";

export function formatDuration(ms: number | null): string {
  if (ms === null) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The `just status` table: one row per process. */
export function formatStatusTable(rows: ProcessStatus[]): string {
  const header = ["PROCESS", "STATE", "PID", "RESTARTS", "UPTIME", "LAST EXIT"];
  const lines = rows.map((r) => [
    r.name,
    r.state,
    r.pid === null ? "-" : String(r.pid),
    String(r.restarts),
    formatDuration(r.uptimeMs),
    terminalSafe(r.error ? `${r.lastExit}: ${r.error}` : (r.lastExit ?? "-")),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines]
    .map((cells) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
