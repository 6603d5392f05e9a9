-- The report engine's mirror of a collector SQLite store (telemetry/report/engine.py), in chdb
-- beside the store. Every statement is IF NOT EXISTS; the engine tables themselves are
-- telemetry/contracts/facts.sql, filled by facts_views.sql's materialised views on `events`.

-- The store's events pass through here: a Null table keeps nothing, its materialised views
-- parse each inserted block into facts and served_rows (the same SELECT as the warehouse's).
-- The warehouse's `events` columns (telemetry/warehouse/clickhouse.sql), plus the store's id.
CREATE TABLE IF NOT EXISTS events (
    id              Int64,
    key_id          LowCardinality(String),
    event_id        String,
    type            LowCardinality(String),
    source          LowCardinality(String),
    schema          Nullable(Int64),
    device_id       Nullable(String),
    app_session_id  Nullable(String),
    seq             Nullable(Int64),
    mono_ms         Nullable(Int64),
    play_session_id Nullable(String),
    request_id      Nullable(String),
    time            Int64,
    sent_at         Int64,
    received_at     Int64,
    corrected_time  Int64,
    context_hash    Nullable(String),
    raw             String
) ENGINE = Null;

-- Which store rows the mirror holds: the high-water mark, and per device what a deletion
-- in the store must take away.
CREATE TABLE IF NOT EXISTS store_rows (
    id        Int64,
    device_id Nullable(String)
) ENGINE = MergeTree
ORDER BY id;

CREATE MATERIALIZED VIEW IF NOT EXISTS store_rows_from_events TO store_rows AS
SELECT id, device_id FROM events;

-- The store's contexts (hash as lower-case hex), reloaded whole at every sync: they are few,
-- and a device's deletion deletes its contexts too.
CREATE TABLE IF NOT EXISTS contexts (
    hash String,
    json String
) ENGINE = ReplacingMergeTree
ORDER BY hash;

-- The store's drop reports and counters, reloaded whole at every sync (small), so the report
-- reads nothing from the store itself: the store's own columns (telemetry/collector/schema.sql),
-- the batch digest as lower-case hex.
CREATE TABLE IF NOT EXISTS client_drops (
    key_id       String,
    device_id    Nullable(String),
    reason       String,
    dropped      Int64,
    received_at  Int64,
    batch_digest Nullable(String)
) ENGINE = MergeTree
ORDER BY tuple();

CREATE TABLE IF NOT EXISTS counters (
    key_id String,
    name   String,
    value  Int64
) ENGINE = MergeTree
ORDER BY tuple();
