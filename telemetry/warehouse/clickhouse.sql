-- The scale-out store in ClickHouse, created by `reelscope-loader` (every statement is
-- IF NOT EXISTS). Same columns and meaning as the SQLite store (telemetry/collector/schema.sql);
-- times are milliseconds since the Unix epoch (UTC); hashes and digests are lower-case hex.
--
-- Kafka delivers at least once and the collectors cannot see duplicates, so every table is a
-- ReplacingMergeTree keyed by the thing's identity: a client retry, a replayed partition or a
-- second loader inserts a copy that collapses into one row. Collapsing happens in background
-- merges, so every read uses FINAL (or GROUP BY the key) and never counts on merges having run.
-- The version column keeps the copy that reached a collector first, as SQLite's INSERT OR
-- IGNORE does. No PARTITION BY on arrival time: the copies of one event must share a partition
-- for FINAL to collapse them, and copies arrive at different times.
--
-- After these tables, `schema.py` creates the report engine's tables and the materialised views
-- that fill them from `events` on every insert (telemetry/contracts/facts.sql, facts_views.sql);
-- the loader's device deletion deletes their rows too.

CREATE TABLE IF NOT EXISTS events (
    key_id          LowCardinality(String),  -- the write key's id (never the key itself)
    event_id        String,                  -- Reelscope event_id, or Segment messageId
    type            LowCardinality(String),
    source          LowCardinality(String),  -- 'reelscope' or 'segment'
    schema          Nullable(Int64),
    device_id       Nullable(String),
    app_session_id  Nullable(String),
    seq             Nullable(Int64),
    mono_ms         Nullable(Int64),
    play_session_id Nullable(String),
    request_id      Nullable(String),
    time            Int64,                   -- client wall clock
    sent_at         Int64,                   -- client wall clock when the batch was sent
    received_at     Int64,                   -- collector clock when the request arrived
    corrected_time  Int64,                   -- received_at - (sent_at - time)
    context_hash    Nullable(String),        -- contexts.hash of the batch (or Segment event) context
    raw             String CODEC(ZSTD(3)),   -- the event as sent, as JSON
    first_copy      UInt64 MATERIALIZED 9223372036854775807 - received_at
) ENGINE = ReplacingMergeTree(first_copy)
ORDER BY (key_id, event_id);

CREATE TABLE IF NOT EXISTS contexts (
    hash String,
    json String
) ENGINE = ReplacingMergeTree
ORDER BY hash;

-- Drops a client reported; drop_id is the batch digest (a retried batch collapses) or, for a
-- batch without events, an id the collector made (SQLite keeps those apart too).
CREATE TABLE IF NOT EXISTS client_drops (
    key_id      LowCardinality(String),
    drop_id     String,
    reason      String,
    device_id   Nullable(String),
    dropped     Int64,
    received_at Int64,
    first_copy  UInt64 MATERIALIZED 9223372036854775807 - received_at
) ENGINE = ReplacingMergeTree(first_copy)
ORDER BY (key_id, drop_id, reason);

-- One row per Kafka record loaded (event records only): how many copies reached the log, so
-- "duplicates absorbed" = receipts - events, whatever merges have or have not run.
CREATE TABLE IF NOT EXISTS receipts (
    topic           LowCardinality(String),
    kafka_partition Int32,
    kafka_offset    Int64,
    key_id          LowCardinality(String),
    device_id       Nullable(String)
) ENGINE = ReplacingMergeTree
ORDER BY (topic, kafka_partition, kafka_offset);
