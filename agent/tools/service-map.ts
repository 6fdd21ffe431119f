import { where } from "./conditions.ts";
import { queryRows } from "./query.ts";
import type { ToolContext } from "./types.ts";
import { type TimeWindow, windowCondition } from "./window.ts";

export interface ServiceEdgeRow {
  parent: string;
  child: string;
  calls: string;
  errors: string;
  p50: string;
  p95: string;
  p99: string;
}

/**
 * Calls between services: every span whose parent span belongs to another
 * service is one call from the parent's service to its own. Errors and
 * latency are those of the called (child) span. The join is on the span id
 * alone, hashed to 64 bits: span ids are 8 random bytes, so two spans of a
 * window sharing one is not a practical concern, and leaving TraceId (the
 * widest column) out makes the join about 3x faster on 1M spans. A call
 * whose parent started before the window is not counted.
 */
export async function queryServiceEdges(
  ctx: ToolContext,
  input: { window: TimeWindow },
): Promise<{ rows: ServiceEdgeRow[] }> {
  const win = windowCondition(input.window);
  const sql = `SELECT p.service AS parent, c.service AS child, count() AS calls,
      countIf(c.status = 'Error') AS errors,
      quantilesBFloat16(0.5, 0.95, 0.99)(c.duration) AS q, q[1] AS p50, q[2] AS p95, q[3] AS p99
    FROM (
      SELECT cityHash64(SpanId) AS k, ServiceName AS service FROM otel_traces ${where(win.sql)}
    ) AS p
    INNER JOIN (
      SELECT cityHash64(ParentSpanId) AS k, ServiceName AS service, Duration AS duration, StatusCode AS status
      FROM otel_traces ${where([...win.sql, "ParentSpanId != ''"])}
    ) AS c ON p.k = c.k
    WHERE p.service != c.service
    GROUP BY parent, child ORDER BY parent, child`;
  const rows = await queryRows<ServiceEdgeRow>(ctx, sql, win.params);
  return { rows };
}
