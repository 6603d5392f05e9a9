-- The report's engine tables (ClickHouse SQL, run by chdb on one machine and by a ClickHouse
-- server or cluster): every stored Reelscope event once per stored copy, its properties parsed
-- into typed columns at ingest, so the figures' SQL never parses JSON. Filled from the
-- collector's SQLite store (the report's chdb mirror) or from the warehouse's `events` table
-- (a materialised view). Every statement is IF NOT EXISTS.
--
-- Identity and copies: the ReplacingMergeTree key is the stored copy (key_id, event_id), so a
-- replayed Kafka record or a re-run import collapses; correctness never waits for merges:
-- the figures' SQL groups by (app_session_id, seq), the event's identity, keeps the copy with
-- the least (received_at, key_id, event_id) and counts the other distinct copies as duplicates.
--
-- Parsing rules (the report's, docs/report.md), applied at ingest:
--   int      a JSON integer, or a float with an integral value; NULL otherwise (booleans,
--            strings, absent, null are NULL)
--   int_lit  a JSON integer literal only (2.0 is not one); NULL otherwise
--   str      a JSON string; NULL otherwise
--   size     a positive `int`; NULL otherwise
--   raw      the value's JSON text as sent, '' when absent or null (compared, never parsed)
-- `props_ok` is 1 when `properties` is a JSON object. `props_hash` identifies the properties
-- whatever the order of their top-level keys: the same (type, mono_ms, play_session_id,
-- props_hash) twice in one launch is one event recorded twice.

CREATE TABLE IF NOT EXISTS facts (
    app_session_id    String,
    seq               Int64,
    key_id            LowCardinality(String),
    event_id          String,
    received_at       Int64,
    type              LowCardinality(String),
    device_id         Nullable(String),
    play_session_id   Nullable(String),
    mono_ms           Int64,
    time              Int64,
    corrected_time    Int64,
    context_hash      Nullable(String),        -- lower-case hex, as contexts.hash
    props_ok          UInt8,
    props_hash        UInt64,
    -- play session events
    video_id          Nullable(String),        -- str: play_request, impression, tile_visibility
    start_position_ms Nullable(Int64),         -- int: play_request
    location          Nullable(String),        -- str: play_request source.location
    impression_id     Nullable(String),        -- str: play_request source.impression_id; impression
    duration_ms       Nullable(Int64),         -- int: player_ready, session_end
    startup_ms        Nullable(Int64),         -- int: first_frame
    position_ms       Nullable(Int64),         -- int: heartbeat, pause, resume, rebuffer_*, ended,
                                               --      error, session_end
    from_ms           Nullable(Int64),         -- int: seek_start
    to_ms             Nullable(Int64),         -- int: seek_start, seek_end
    seek_latency_ms   Nullable(Int64),         -- int: seek_end
    stall_ms          Nullable(Int64),         -- int: rebuffer_end
    fatal             UInt8,                   -- error: properties.fatal is JSON true
    category          Nullable(String),        -- str: error
    reason            Nullable(String),        -- str: session_end
    kind              Nullable(String),        -- str: track_change
    from_track        String,                  -- raw: track_change
    to_track          String,                  -- raw: track_change
    width             Nullable(Int64),         -- size: heartbeat
    height            Nullable(Int64),         -- size: first_frame, track_change, heartbeat
    window_width      Nullable(Int64),         -- size: heartbeat
    window_height     Nullable(Int64),         -- size: heartbeat
    played_ms         Nullable(Float64),       -- heartbeat: a JSON number (not a boolean)
    -- browse events
    request_id        Nullable(String),        -- str: feed_served, impression, tile_visibility
    row_id            Nullable(String),        -- str: impression, tile_visibility
    row_index         Nullable(Int64),         -- int_lit: impression
    rank              Nullable(Int64),         -- int_lit: impression
    half_visible_ms   Nullable(Int64),         -- int_lit: tile_visibility ms_at_least_half_visible
    first_part        UInt8,                   -- feed_served: properties.part absent or == 0
    variant           Nullable(String),        -- str: feed_served (an experiment's variant)
    raw               String CODEC(ZSTD(3))    -- the event as sent (features, feeds' rows)
) ENGINE = ReplacingMergeTree
ORDER BY (app_session_id, seq, key_id, event_id);

-- The rows of each stored `feed_served` copy, one per valid row (row_id a str, row_index an
-- int_lit, items a list of objects each with a video_id): its distinct str video ids in
-- order. `position` is the row's place in the event's `rows` list (the first of a row_id wins).
CREATE TABLE IF NOT EXISTS served_rows (
    app_session_id String,
    seq            Int64,
    key_id         LowCardinality(String),
    event_id       String,
    device_id      Nullable(String),        -- the event's (a device's deletion finds its rows)
    request_id     String,
    position       UInt32,
    row_id         String,
    row_index      Int64,
    video_ids      Array(String)
) ENGINE = ReplacingMergeTree
ORDER BY (app_session_id, seq, key_id, event_id, position);
