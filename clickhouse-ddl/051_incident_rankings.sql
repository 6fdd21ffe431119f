-- Root-cause rankings the analyzer made (analyzer/rca rankRootCauses), one per
-- alert time: an incident's start, ranked once the window after it (WindowMs)
-- is settled, against the baseline before it (BaselineMs). A ranking depends
-- only on its alert time, window and baseline and the stored rows, so it
-- stays valid for that time even if a later incident grouping starts
-- elsewhere, as long as the ranking method is the same: Method names it
-- (analyzer/rca/rank.ts RANKING_METHOD), and a ranking stored by another
-- method is neither read nor kept from being ranked again. Inserted with a
-- deduplication token naming (Start, WindowMs, BaselineMs, Method): a ranking
-- retried after a crash is stored once. Report is the
-- ranking as JSON (window, signals, ranked services with evidence, SQL);
-- TopService / TopScore its first service, for incident lists.
-- Settled = 0: a provisional ranking of the newest incident while its window
-- still fills (DataThrough: the end of the minutes judged when it was made),
-- made again as minutes are judged; the settled ranking (Settled = 1) comes
-- last and, having the newest RankedAt, replaces them.
CREATE TABLE IF NOT EXISTS {database}.incident_rankings (
    Start DateTime64(3, 'UTC'),
    WindowMs UInt32,
    BaselineMs UInt32,
    Method LowCardinality(String),
    TopService String,
    TopScore Float64,
    Report String,
    Settled UInt8 DEFAULT 1,
    DataThrough DateTime64(3, 'UTC') DEFAULT 0,
    RankedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(RankedAt)
PARTITION BY toDate(Start)
ORDER BY (Start, WindowMs, BaselineMs, Method)
TTL toDateTime(Start) + toIntervalDay({ttl_days})
SETTINGS non_replicated_deduplication_window = 10000;
