import {
  type Env,
  parseShard,
  readDurationMs,
  readInt,
  readNumber,
  readString,
} from "../shared/config/env.ts";

/**
 * The analyzer's settings. The detection settings are the method's, the same
 * for every dataset (docs/ARCHITECTURE.md): nothing here names a service,
 * a fault or a time.
 */
/** Shard i of n: rows with cityHash64(TraceId, SpanId) % n = i (the enricher's scheme). */
export interface Shard {
  index: number;
  count: number;
}

/** "i/n" -> shard i of n; `variable` names the setting in the error. */
export function parseAnalyzerShard(text: string, variable = "ANALYZER_SHARD"): Shard {
  const { shardIndex, shardCount } = parseShard(text, variable);
  return { index: shardIndex, count: shardCount };
}

export interface DetectionConfig {
  /** Minutes of history a baseline is learned from. */
  baselineMinutes: number;
  /** Minutes of history needed before a series is judged at all. */
  minBaselineMinutes: number;
  /** Robust z-score (deviation / scaled MAD, with a noise floor) at which a minute is anomalous. */
  threshold: number;
  /** Spans per minute a series needs before its error rate or latency is judged. */
  minSamples: number;
  /** Anomalies further apart than this start a new incident (the incidents view uses 5). */
  incidentGapMinutes: number;
}

export interface AnalyzerConfig {
  /** Source rows counted per batch. */
  batchRows: number;
  /** Pause between polls when there is nothing to do. */
  pollIntervalMs: number;
  /** How long after a minute's newest row it is judged (late rows still count toward the stats). */
  settleMs: number;
  /** Minutes judged per detection pass at most (catching up shows progress). */
  detectMinutesPerPass: number;
  /** Incidents whose root causes are ranked per pass at most (newest first; 0: none). */
  ranksPerPass: number;
  /** How far back (data time) settled incidents are still ranked; older ones are ranked on request. */
  rankLookbackMs: number;
  shard: Shard;
  detection: DetectionConfig;
}

export function readDetectionConfig(env: Env = process.env): DetectionConfig {
  return {
    baselineMinutes: readInt(env, "ANALYZER_BASELINE_MINUTES", 60, { min: 3, max: 10_080 }),
    minBaselineMinutes: readInt(env, "ANALYZER_MIN_BASELINE_MINUTES", 5, { min: 2, max: 10_080 }),
    threshold: readNumber(env, "ANALYZER_THRESHOLD", 5, { min: 1, max: 100 }),
    minSamples: readInt(env, "ANALYZER_MIN_SAMPLES", 5, { min: 1 }),
    incidentGapMinutes: readInt(env, "ANALYZER_INCIDENT_GAP_MINUTES", 5, { min: 1, max: 1440 }),
  };
}

export function readAnalyzerConfig(env: Env = process.env): AnalyzerConfig {
  return {
    batchRows: readInt(env, "ANALYZER_BATCH_ROWS", 200_000, { min: 1, max: 10_000_000 }),
    pollIntervalMs: readDurationMs(env, "ANALYZER_POLL_INTERVAL", 5000, { min: 10 }),
    settleMs: readDurationMs(env, "ANALYZER_SETTLE", 120_000, { min: 0 }),
    detectMinutesPerPass: readInt(env, "ANALYZER_DETECT_MINUTES_PER_PASS", 120, { min: 1 }),
    ranksPerPass: readInt(env, "ANALYZER_RANKS_PER_PASS", 2, { min: 0, max: 100 }),
    rankLookbackMs: readDurationMs(env, "ANALYZER_RANK_LOOKBACK", 24 * 3_600_000, { min: 60_000 }),
    shard: parseAnalyzerShard(readString(env, "ANALYZER_SHARD", "0/1")),
    detection: readDetectionConfig(env),
  };
}
