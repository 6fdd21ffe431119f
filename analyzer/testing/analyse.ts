import type { ClickHouseClient } from "@clickhouse/client";
import { Analyzer } from "../analyzer.ts";
import { type DetectionConfig, readAnalyzerConfig } from "../config.ts";

/**
 * One analyzer pass over everything stored, as `analyzer run --once`:
 * count every source to the end, judge every complete minute, then rank
 * every settled incident (the newest day's). For tests and benches that need
 * the anomalies and stored rankings of data they just inserted.
 */
export async function analyseStored(
  client: ClickHouseClient,
  database: string,
  detection: DetectionConfig,
  options: { batchRows?: number; settleMs?: number; detectMinutesPerPass?: number } = {},
): Promise<{ rows: number; minutes: number; anomalies: number; ranked: number }> {
  const defaults = readAnalyzerConfig({});
  const analyzer = new Analyzer({
    client,
    database,
    shard: { index: 0, count: 1 },
    batchRows: options.batchRows ?? 200_000,
    settleMs: options.settleMs ?? 0,
    detectMinutesPerPass: options.detectMinutesPerPass ?? 100_000,
    ranksPerPass: defaults.ranksPerPass,
    rankLookbackMs: defaults.rankLookbackMs,
    detection,
  });
  let rows = 0;
  for (let n = await analyzer.countOnce(); n > 0; n = await analyzer.countOnce()) rows += n;
  const judged = await analyzer.detectOnce(true);
  let ranked = 0;
  for (let step = await analyzer.rankOnce(); step.ranked > 0; step = await analyzer.rankOnce())
    ranked += step.ranked;
  return { rows, ...judged, ranked };
}
