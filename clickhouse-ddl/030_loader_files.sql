-- The s3-loader's ledger: one logical row per S3 object (bucket, key) with
-- its load state. Every state change is a new row with a larger `version`;
-- readers take the latest one (FINAL, or argMax(..., version)). Why this
-- engine: ClickHouse has no UPDATE-in-place that is cheap and atomic, but an
-- append of a new version is one ordinary insert (atomic per block), so a
-- batch's claim, and later its outcome for every object in it, is recorded
-- all-or-nothing in one insert. ReplacingMergeTree(version) ORDER BY
-- (bucket, key) collapses old versions in the background and keeps FINAL
-- reads cheap with a key-range filter.
--
-- States: claimed (a batch is being loaded: batch_id + chunk_rows pin its
-- composition and insert tokens, so a crashed batch is re-inserted
-- identically and deduplicated), loaded (rows inserted; never loaded again),
-- failed (error, attempts, next_attempt_at for the backoff), quarantined
-- (gave up after the attempt limit; `retry-failed` re-queues), queued
-- (re-queued by an operator, due now).
CREATE TABLE IF NOT EXISTS {database}.loader_files (
    bucket LowCardinality(String),
    key String,
    state LowCardinality(String),
    etag String,
    size UInt64,
    object_time DateTime64(3, 'UTC'),
    rows UInt64,
    attempts UInt32,
    error String,
    batch_id String,
    chunk_rows UInt32,
    owner String,
    first_seen_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    next_attempt_at DateTime64(3, 'UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (bucket, key)
