-- Rows of an object the loader did not insert because ClickHouse would drop
-- them at once: their Timestamp is older than otel_traces' TTL. Counted here
-- so the ledger never reports as loaded what the table does not hold.
ALTER TABLE {database}.loader_files ADD COLUMN IF NOT EXISTS refused_rows UInt64 DEFAULT 0
