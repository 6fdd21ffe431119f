import { useEffect, useState } from "preact/hooks";
import { formatTime } from "./format.ts";
import { navigate, type Route, withParams } from "./route.ts";

const RANGES = ["5m", "15m", "1h", "3h", "6h", "12h", "24h", "2d", "7d"];
const REFRESH = ["off", "5s", "15s", "30s", "1m"];
const REFRESH_MS: Record<string, number> = { "5s": 5000, "15s": 15000, "30s": 30000, "1m": 60000 };

/** datetime-local text (local time) <-> epoch ms. */
function toLocalInput(ms: number): string {
  return formatTime(ms).slice(0, 16).replace(" ", "T");
}

/**
 * The time range picker (relative "last N" or an absolute from/to) and the
 * live refresh; both are part of the URL. Live refresh only makes sense for
 * a relative range, so picking absolute times turns it off.
 */
export function TimeControls({ route, onRefresh }: { route: Route; onRefresh: () => void }) {
  const params = route.params;
  const from = params.get("from");
  const to = params.get("to");
  const absolute = !!from;
  const last = params.get("last") ?? (absolute ? "" : "1h");
  const refresh = params.get("refresh") ?? "off";
  const [custom, setCustom] = useState(absolute);
  const update = (changes: Record<string, string | undefined>) =>
    navigate(route.page, withParams(params, changes), { replace: true });
  useEffect(() => {
    const every = REFRESH_MS[refresh];
    if (!every || absolute) return;
    const timer = setInterval(onRefresh, every);
    return () => clearInterval(timer);
  }, [refresh, absolute, onRefresh]);
  const now = Date.now();
  return (
    <div class="time-controls">
      <select
        aria-label="time range"
        value={custom ? "custom" : last}
        onChange={(e) => {
          const value = (e.target as HTMLSelectElement).value;
          if (value === "custom") {
            setCustom(true);
            update({
              last: undefined,
              from: String(now - 3_600_000),
              to: String(now),
              refresh: undefined,
            });
          } else {
            setCustom(false);
            update({ last: value, from: undefined, to: undefined });
          }
        }}
      >
        {RANGES.map((r) => (
          <option key={r} value={r}>
            Last {r}
          </option>
        ))}
        <option value="custom">Custom…</option>
      </select>
      {custom && (
        <>
          <input
            type="datetime-local"
            aria-label="from"
            value={toLocalInput(Number(from ?? now - 3_600_000))}
            onChange={(e) => {
              const ms = Date.parse((e.target as HTMLInputElement).value);
              if (Number.isFinite(ms)) update({ from: String(ms), last: undefined });
            }}
          />
          <span class="muted">to</span>
          <input
            type="datetime-local"
            aria-label="to"
            value={toLocalInput(Number(to ?? now))}
            onChange={(e) => {
              const ms = Date.parse((e.target as HTMLInputElement).value);
              if (Number.isFinite(ms)) update({ to: String(ms), last: undefined });
            }}
          />
        </>
      )}
      <select
        aria-label="live refresh"
        value={absolute ? "off" : refresh}
        disabled={absolute}
        title={absolute ? "live refresh needs a relative range" : "live refresh"}
        onChange={(e) => {
          const value = (e.target as HTMLSelectElement).value;
          update({ refresh: value === "off" ? undefined : value });
        }}
      >
        {REFRESH.map((r) => (
          <option key={r} value={r}>
            {r === "off" ? "Refresh: off" : `Refresh: ${r}`}
          </option>
        ))}
      </select>
      <button type="button" class="icon" title="refresh now" aria-label="refresh now" onClick={onRefresh}>
        ⟳
      </button>
    </div>
  );
}
