-- The ONE parse of stored events into the report's engine tables (`facts.sql`): materialised
-- views on an `events` table with the warehouse's columns (telemetry/warehouse/clickhouse.sql),
-- run by ClickHouse on every insert into `events`. The warehouse's loader inserts there; the
-- report's mirror of a SQLite store (telemetry/report/engine.py) inserts the store's rows into a
-- `Null` table of the same name, so both paths run this same SELECT. Segment events (no
-- app_session_id) have no figures and are left out. Every statement is IF NOT EXISTS.
--
-- How the header's rules map to ClickHouse (`p` is the properties extracted ONCE per event as a
-- named tuple of `Dynamic`, which keeps each JSON value's own type: 2 is Int64, 2.0 Float64):
--   int      Int64, or an integral Float64 inside Int64's range (@INT)
--   int_lit  Int64 (@INT_LIT)
--   str      dynamicElement(x, 'String')
--   size     an `int` above 0 (@SIZE)
--   raw      JSONExtractRaw (ClickHouse's normal form: 2.0 prints as 2, as Python's 2 == 2.0)
-- Properties that are not a JSON object (or an event that is not valid JSON) give props_ok = 0
-- and every property column NULL/0. A nested `source` counts only when it is an object.
-- JSON integers beyond Int64 (ClickHouse's UInt64) are NULL, where Python would keep them.
-- `@INT(name)`, `@INT_LIT(name)`, `@SIZE(name)` stand for those expressions on `p.name`:
-- telemetry/contracts/facts.py expands them (nothing else is templated).

CREATE MATERIALIZED VIEW IF NOT EXISTS facts_from_events TO facts AS
WITH
    JSONType(raw, 'properties') = 'Object' AS object,
    JSONExtract(
        if(object, raw, '{}'),
        'properties',
        'Tuple(video_id Dynamic, start_position_ms Dynamic, source Dynamic, impression_id Dynamic,
            duration_ms Dynamic, startup_ms Dynamic, position_ms Dynamic, from_ms Dynamic,
            to_ms Dynamic, seek_latency_ms Dynamic, stall_ms Dynamic, fatal Dynamic,
            category Dynamic, reason Dynamic, kind Dynamic, width Dynamic, height Dynamic,
            window_width Dynamic, window_height Dynamic, played_ms Dynamic, request_id Dynamic,
            row_id Dynamic, row_index Dynamic, rank Dynamic, ms_at_least_half_visible Dynamic,
            part Dynamic, variant Dynamic)'
    ) AS p,
    dynamicElement(p.source, 'JSON') AS source
SELECT
    assumeNotNull(app_session_id) AS app_session_id,
    assumeNotNull(seq) AS seq,
    key_id,
    event_id,
    received_at,
    type,
    device_id,
    play_session_id,
    ifNull(mono_ms, 0) AS mono_ms,
    time,
    corrected_time,
    context_hash,
    toUInt8(object) AS props_ok,
    -- The keys sorted with their values' text (ClickHouse's: 2.0 prints as 2, so properties
    -- that differ only so hash alike, where Python's sorted dump tells them apart).
    if(
        object,
        sipHash64(arraySort(JSONExtractKeysAndValuesRaw(raw, 'properties'))),
        0
    ) AS props_hash,
    dynamicElement(p.video_id, 'String') AS video_id,
    @INT(start_position_ms) AS start_position_ms,
    dynamicElement(source.location, 'String') AS location,
    if(
        type = 'play_request',
        dynamicElement(source.impression_id, 'String'),
        dynamicElement(p.impression_id, 'String')
    ) AS impression_id,
    @INT(duration_ms) AS duration_ms,
    @INT(startup_ms) AS startup_ms,
    @INT(position_ms) AS position_ms,
    @INT(from_ms) AS from_ms,
    @INT(to_ms) AS to_ms,
    @INT(seek_latency_ms) AS seek_latency_ms,
    @INT(stall_ms) AS stall_ms,
    toUInt8(ifNull(dynamicElement(p.fatal, 'Bool'), false)) AS fatal,
    dynamicElement(p.category, 'String') AS category,
    dynamicElement(p.reason, 'String') AS reason,
    dynamicElement(p.kind, 'String') AS kind,
    if(type = 'track_change', replaceOne(JSONExtractRaw(raw, 'properties', 'from_track'), 'null', ''), '') AS from_track,
    if(type = 'track_change', replaceOne(JSONExtractRaw(raw, 'properties', 'to_track'), 'null', ''), '') AS to_track,
    @SIZE(width) AS width,
    @SIZE(height) AS height,
    @SIZE(window_width) AS window_width,
    @SIZE(window_height) AS window_height,
    coalesce(
        toFloat64(dynamicElement(p.played_ms, 'Int64')),
        toFloat64(dynamicElement(p.played_ms, 'UInt64')),
        dynamicElement(p.played_ms, 'Float64')
    ) AS played_ms,
    dynamicElement(p.request_id, 'String') AS request_id,
    dynamicElement(p.row_id, 'String') AS row_id,
    @INT_LIT(row_index) AS row_index,
    @INT_LIT(rank) AS rank,
    @INT_LIT(ms_at_least_half_visible) AS half_visible_ms,
    -- Python's `properties.get("part", 0) == 0`: absent, 0, 0.0 or false (false == 0)
    toUInt8(multiIf(
        NOT object, false,
        dynamicType(p.part) = 'None', NOT JSONHas(raw, 'properties', 'part'),
        dynamicType(p.part) = 'Bool', NOT dynamicElement(p.part, 'Bool'),
        ifNull(
            coalesce(
                dynamicElement(p.part, 'Int64') = 0,
                dynamicElement(p.part, 'UInt64') = 0,
                dynamicElement(p.part, 'Float64') = 0
            ),
            false
        )
    )) AS first_part,
    dynamicElement(p.variant, 'String') AS variant,
    raw
FROM events
WHERE app_session_id IS NOT NULL AND seq IS NOT NULL;

-- The rows of each `feed_served` copy whose request_id is a str and rows a list: one per valid
-- row, as `fold._served_rows` takes them (a row is an object with `row_id` a str, `row_index`
-- an int_lit and `items` a list of objects that each have a `video_id`; Python also iterates an
-- empty string or object as no items). `position` is the row's 0-based place in `rows`.
-- A row's text as ClickHouse re-serialises it prints 2.0 as 2, so whether `row_index` is an
-- int_lit is asked of the rows parsed as `Array(JSON)` (each value keeps its own type), or of
-- the event's own text when that parse gave up (duplicate keys).
CREATE MATERIALIZED VIEW IF NOT EXISTS served_rows_from_events TO served_rows AS
SELECT
    app_session_id, seq, key_id, event_id, device_id, request_id,
    toUInt32(place - 1) AS position,
    JSONExtractString(row, 'row_id') AS row_id,
    JSONExtractInt(row, 'row_index') AS row_index,
    arrayMap(video -> assumeNotNull(video), arrayDistinct(arrayFilter(
        video -> video IS NOT NULL,
        arrayMap(
            item -> if(JSONType(item, 'video_id') = 'String', JSONExtractString(item, 'video_id'), NULL),
            JSONExtractArrayRaw(row, 'items')
        )
    ))) AS video_ids
FROM (
    SELECT
        assumeNotNull(app_session_id) AS app_session_id,
        assumeNotNull(seq) AS seq,
        key_id,
        event_id,
        device_id,
        raw,
        JSONExtract(raw, 'properties', 'Tuple(request_id Dynamic)').request_id AS request,
        assumeNotNull(dynamicElement(request, 'String')) AS request_id,
        JSONExtractArrayRaw(raw, 'properties', 'rows') AS rows,
        JSONExtract(raw, 'properties', 'rows', 'Array(JSON(SKIP items))') AS parsed
    FROM (
        SELECT app_session_id, seq, key_id, event_id, device_id, raw
        FROM events
        WHERE type = 'feed_served' AND app_session_id IS NOT NULL AND seq IS NOT NULL
    )
    WHERE JSONType(raw, 'properties') = 'Object'
        AND dynamicType(request) = 'String'
        AND JSONType(raw, 'properties', 'rows') = 'Array'
)
ARRAY JOIN rows AS row, arrayEnumerate(rows) AS place
WHERE JSONType(row) = 'Object'
    AND JSONHas(row, 'row_id') AND JSONHas(row, 'row_index') AND JSONHas(row, 'items')
    AND multiIf(
        JSONType(row, 'items') = 'Array',
        arrayAll(item -> JSONType(item) = 'Object' AND JSONHas(item, 'video_id'), JSONExtractArrayRaw(row, 'items')),
        JSONType(row, 'items') = 'String', JSONExtractString(row, 'items') = '',
        JSONType(row, 'items') = 'Object', JSONLength(row, 'items') = 0,
        false
    )
    AND JSONType(row, 'row_id') = 'String'
    AND if(
        length(parsed) = length(rows),
        dynamicType(parsed[place].row_index) = 'Int64',
        JSONType(raw, 'properties', 'rows', place, 'row_index') = 'Int64'
    )
