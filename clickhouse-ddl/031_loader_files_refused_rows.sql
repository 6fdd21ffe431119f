-- Rows of an object the loader did not insert, by reason: older than
-- otel_traces' TTL (ClickHouse would drop them at once) or further in the
-- future than LOADER_MAX_FUTURE_SKEW (a broken clock). Counted here so the
-- ledger never reports as loaded what the table does not hold.
ALTER TABLE {database}.loader_files ADD COLUMN IF NOT EXISTS refused_old_rows UInt64 DEFAULT 0;
ALTER TABLE {database}.loader_files ADD COLUMN IF NOT EXISTS refused_future_rows UInt64 DEFAULT 0
