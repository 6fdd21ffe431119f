import type { ClickHouseClient } from "@clickhouse/client";
import { Analyzer } from "../analyzer.ts";
import type { DetectionConfig } from "../config.ts";

/**
 * One analyzer pass over everything stored, as `analyzer run --once`:
 * count every source to the end, then judge every complete minute. For
 * tests and benches that need the anomalies of data they just inserted.
 */
export async function analyseStored(
  client: ClickHouseClient,
  database: string,
  detection: DetectionConfig,
  options: { batchRows?: number; settleMs?: number; detectMinutesPerPass?: number } = {},
): Promise<{ rows: number; minutes: number; anomalies: number }> {
  const analyzer = new Analyzer({
    client,
    database,
    shard: { index: 0, count: 1 },
    batchRows: options.batchRows ?? 200_000,
    settleMs: options.settleMs ?? 0,
    detectMinutesPerPass: options.detectMinutesPerPass ?? 100_000,
    detection,
  });
  let rows = 0;
  for (let n = await analyzer.countOnce(); n > 0; n = await analyzer.countOnce()) rows += n;
  const judged = await analyzer.detectOnce(true);
  return { rows, ...judged };
}
