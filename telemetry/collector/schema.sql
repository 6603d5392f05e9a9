-- The collector's SQLite store (PRAGMA user_version = 3). Written only by the collector's writer
-- thread; read by the report through `open_store_readonly(url)` while the collector runs.
-- Times are milliseconds since the Unix epoch (UTC).

-- One row per (key, event id): retries and concurrent copies of a batch are stored once.
CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY,
    key_id          TEXT    NOT NULL,  -- the write key's id (never the key itself)
    event_id        TEXT    NOT NULL,  -- Reelscope event_id, or Segment messageId
    type            TEXT    NOT NULL,  -- Reelscope type; Segment track event name, or page/screen/identify
    source          TEXT    NOT NULL,  -- 'reelscope' or 'segment'
    schema          INTEGER,           -- event schema version (NULL for Segment)
    device_id       TEXT,
    app_session_id  TEXT,
    seq             INTEGER,           -- per app session, from 1 (NULL for Segment)
    mono_ms         INTEGER,           -- client monotonic clock (NULL for Segment)
    play_session_id TEXT,              -- properties.play_session_id when present
    request_id      TEXT,              -- properties.request_id when present
    time            INTEGER NOT NULL,  -- client wall clock
    sent_at         INTEGER NOT NULL,  -- client wall clock when the batch was sent
    received_at     INTEGER NOT NULL,  -- collector clock when the request arrived
    corrected_time  INTEGER NOT NULL,  -- received_at - (sent_at - time): client clock skew removed
    context_hash    BLOB,              -- contexts.hash of the batch (Reelscope) or event (Segment) context
    raw             TEXT    NOT NULL,  -- the event as sent, as JSON
    UNIQUE (key_id, event_id)
);
-- Only the indexes a reader uses, as each one costs every insert: the report walks launches in
-- order, the device deletion finds a device's rows. (Version 1 also indexed (type,
-- corrected_time) and play_session_id, which nothing queried.)
CREATE INDEX IF NOT EXISTS events_app_session_seq ON events (app_session_id, seq);
CREATE INDEX IF NOT EXISTS events_device ON events (device_id);

-- Batch contexts (app, OS, libVLC version, locale, screen; Segment traits, IP networks),
-- stored once per distinct value per device and key, so a device's deletion deletes them too.
-- (Version 2 stored each value once for everyone: those rows have no owner.)
CREATE TABLE IF NOT EXISTS contexts (
    hash         BLOB PRIMARY KEY,  -- BLAKE2b-128 of [key id, device id] and the canonical JSON
    json         TEXT NOT NULL,     -- the context, keys sorted
    owner_key    TEXT,              -- the key and device that sent it (named apart from
    owner_device TEXT               -- events' columns, so joins need no qualifying)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contexts_owner ON contexts (owner_device);

-- Events the client dropped before sending (outbox full, too old, ...), as it reported them.
-- A retried batch reports the same drops again: batch_digest (a hash of the device id and the
-- batch's event ids) makes the copy a no-op. A batch with no events has no digest.
CREATE TABLE IF NOT EXISTS client_drops (
    id           INTEGER PRIMARY KEY,
    key_id       TEXT    NOT NULL,
    device_id    TEXT,
    reason       TEXT    NOT NULL,
    dropped      INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    batch_digest BLOB,
    UNIQUE (key_id, batch_digest, reason)
);
CREATE INDEX IF NOT EXISTS client_drops_device ON client_drops (device_id);

-- Running totals per key: 'duplicates' counts events absorbed as already stored.
CREATE TABLE IF NOT EXISTS counters (
    key_id TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (key_id, name)
) WITHOUT ROWID;

-- Clock-skew corrections applied: events whose corrected time moved by at least a second.
CREATE VIEW IF NOT EXISTS clock_skew_corrections AS
    SELECT key_id, count(*) AS events
    FROM events
    WHERE abs(corrected_time - time) >= 1000
    GROUP BY key_id;
