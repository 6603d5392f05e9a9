-- The browse (engagement) figures, the per-title browse counts and the data-quality counts,
-- over `facts`, `served_rows` and `contexts` (telemetry/contracts/facts.sql); the last
-- statement returns one row of arrays that telemetry/report/browse_sql.py turns into the
-- report's figures. The rules are docs/report.md's, exactly those the Python fold applied:
--
-- copies    an event is (app_session_id, seq); of its stored copies the one with the least
--           (received_at, key_id, event_id) is kept, every other distinct (key_id, event_id)
--           is a duplicate absorbed by the report.
-- repeats   in one launch, the same (type, mono_ms, play_session_id, props_hash) again under
--           a later seq, for the types with figures ({parsed}) and props_ok = 1: counted once.
-- selected  corrected_time in [since, until), and the event's context has the app version and
--           OS asked for; a launch is in the data-quality counts when any event is selected.
-- browse    impression, tile_visibility and feed_served without a play_session_id, props_ok.
--           One impression per (request_id, row_id, video_id) per launch, the first valid one
--           (str ids, int_lit row_index and rank); it is counted when selected and of the
--           video asked for. Its dwell is the sum of the tile_visibility spans of its tile.
--           A feed's rows (selected feeds only) are joined across its parts per
--           (request_id, row_id): the first row's row_index, the distinct video ids.
-- taken     an impression (the last one holding an impression_id, in seq order) is taken by
--           the first play_request (seq order) of the launch naming it, through its play
--           session's first play_request's source.impression_id, 0..30 min after it.
--
-- Every figure is a count or an exact nearest-rank percentile (the ceil(p/100 n)-th value).
-- A script: the statements before the last fill temporary tables (the session's own: each
-- set computed once; no event is kept in memory), the last returns the figures. `@kept` is
-- kept.sql (every event once, with `selected`); browse_sql.py drops the tables before and
-- after. Hashes (cityHash64) only narrow a search; every match is checked on the values.


-- (hash of the launch, seq) stored more than once: the only events needing a choice.
CREATE TEMPORARY TABLE browse_multi ENGINE = Memory AS
SELECT cityHash64(app_session_id) AS launch_hash, seq
FROM facts
GROUP BY launch_hash, seq
HAVING count() > 1;

-- Their kept copies, and how many other distinct copies each has.
CREATE TEMPORARY TABLE browse_copies ENGINE = Memory AS
SELECT
    app_session_id, seq, key_id, event_id, type, device_id, play_session_id, mono_ms, time,
    corrected_time, context_hash, props_ok, props_hash, video_id, impression_id, request_id,
    row_id, row_index, rank, half_visible_ms, first_part,
    uniqExact(key_id, event_id) OVER copies - 1 AS duplicates,
    row_number() OVER copies AS copy_rank
FROM facts
PREWHERE (cityHash64(app_session_id), seq) IN browse_multi
WINDOW copies AS (PARTITION BY app_session_id, seq ORDER BY received_at, key_id, event_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
QUALIFY copy_rank = 1;

CREATE TEMPORARY TABLE browse_contexts ENGINE = Memory AS
SELECT hash
FROM contexts
WHERE ({app_version:Nullable(String)} IS NULL
       OR (JSONType(json, 'app', 'version') = 'String'
           AND JSONExtractString(json, 'app', 'version') = {app_version:Nullable(String)}))
  AND ({os:Nullable(String)} IS NULL
       OR (JSONType(json, 'os', 'name') = 'String'
           AND JSONExtractString(json, 'os', 'name') = {os:Nullable(String)}));

-- Hashes of the identities (launch, type, mono_ms, play session, properties) that more than
-- one seq carries: a superset of the repeats, checked exactly in browse_repeats.
CREATE TEMPORARY TABLE browse_twice ENGINE = Memory AS
SELECT cityHash64(app_session_id, type, mono_ms, ifNull(play_session_id, ''), props_hash)
           AS identity_hash
FROM facts
WHERE props_ok = 1 AND type IN {parsed:Array(String)}
GROUP BY identity_hash
HAVING min(seq) < max(seq);

-- The events recorded twice: every seq of an identity after its first.
CREATE TEMPORARY TABLE browse_repeats ENGINE = Memory AS
WITH kept AS (@kept)
SELECT app_session_id, arrayJoin(arrayPopFront(arraySort(groupArray(seq)))) AS seq
FROM kept
WHERE props_ok = 1 AND type IN {parsed:Array(String)}
  AND cityHash64(app_session_id, type, mono_ms, ifNull(play_session_id, ''), props_hash)
      IN browse_twice
GROUP BY app_session_id, type, mono_ms, play_session_id, props_hash;

-- Per launch: its events, last seq, clock corrections, whether any is selected and its
-- device (its first event's).
CREATE TEMPORARY TABLE browse_launches ENGINE = Memory AS
WITH kept AS (@kept)
SELECT
    count() AS events,
    max(seq) AS last_seq,
    countIf(abs(corrected_time - time) >= 1000) AS skewed,
    max(selected) AS any_selected,
    -- the first event's device (argMin alone would skip a NULL)
    if(minIf(seq, device_id IS NOT NULL) = min(seq), argMin(device_id, seq), NULL) AS device
FROM kept
GROUP BY app_session_id;

-- Per tile of a launch: its impression (the first valid one, counted when selected and of
-- the video asked for) and its dwell (its tile_visibility spans, each once). A repeated
-- impression never comes first, so only the spans need the repeats left out.
CREATE TEMPORARY TABLE browse_impressions ENGINE = Memory AS
WITH kept AS (@kept)
SELECT
    app_session_id,
    tile_request AS request_id,
    tile_row AS row_id,
    tile_video AS video_id,
    shown_seq, shown_id, shown_row, shown_rank, shown_mono, counted, dwell
FROM (
    SELECT
        app_session_id,
        assumeNotNull(request_id) AS tile_request,
        assumeNotNull(row_id) AS tile_row,
        assumeNotNull(video_id) AS tile_video,
        minIf(seq, type = 'impression') AS shown_seq,
        argMinIf(assumeNotNull(impression_id), seq, type = 'impression') AS shown_id,
        argMinIf(assumeNotNull(row_index), seq, type = 'impression') AS shown_row,
        argMinIf(assumeNotNull(rank), seq, type = 'impression') AS shown_rank,
        argMinIf(mono_ms, seq, type = 'impression') AS shown_mono,
        argMinIf(selected, seq, type = 'impression')
            AND ({video_id:Nullable(String)} IS NULL
                 OR tile_video = {video_id:Nullable(String)}) AS counted,
        sumIf(coalesce(half_visible_ms, 0), type = 'tile_visibility'
              AND (app_session_id, seq) NOT IN browse_repeats) AS dwell
    FROM kept
    WHERE type IN ('impression', 'tile_visibility')
      AND props_ok = 1
      AND play_session_id IS NULL
      AND request_id IS NOT NULL AND row_id IS NOT NULL AND video_id IS NOT NULL
      AND if(type = 'impression',
             impression_id IS NOT NULL AND row_index IS NOT NULL AND rank IS NOT NULL,
             half_visible_ms IS NOT NULL)
    GROUP BY app_session_id, tile_request, tile_row, tile_video
    HAVING countIf(type = 'impression') > 0
);

-- The feed_served events, each once (a repeat is the same event again).
CREATE TEMPORARY TABLE browse_feeds ENGINE = Memory AS
WITH kept AS (@kept)
SELECT
    app_session_id,
    seq AS first_seq,
    key_id AS first_key_id,
    event_id AS first_event_id,
    selected AS first_selected,
    first_part AS first_part_of
FROM kept
WHERE type = 'feed_served' AND props_ok = 1 AND play_session_id IS NULL
  AND (app_session_id, seq) NOT IN browse_repeats;

-- The selected feeds' rows per (request_id, row_id) of a launch, joined across parts.
CREATE TEMPORARY TABLE browse_served ENGINE = Memory AS
SELECT
    app_session_id,
    request_id,
    row_id,
    argMin(row_index, (seq, position)) AS first_row_index,
    arrayFilter(v -> {video_id:Nullable(String)} IS NULL OR v = {video_id:Nullable(String)},
                groupUniqArrayArray(video_ids)) AS videos
FROM served_rows AS r
INNER JOIN (SELECT app_session_id, first_seq AS seq, first_key_id AS key_id,
                   first_event_id AS event_id
            FROM browse_feeds WHERE first_selected) AS f
    USING (app_session_id, seq, key_id, event_id)
GROUP BY app_session_id, request_id, row_id;

-- Each impression taken: the first play_request (seq order) of its launch naming it through
-- its play session's first play_request, 0..30 min after it; the last impression (seq
-- order) holding an impression_id is the one it names.
CREATE TEMPORARY TABLE browse_requests ENGINE = Memory AS
WITH kept AS (@kept)
SELECT app_session_id, play_session_id, seq, mono_ms, impression_id
FROM kept
WHERE type = 'play_request' AND props_ok = 1 AND play_session_id IS NOT NULL;

CREATE TEMPORARY TABLE browse_taken ENGINE = Memory AS
WITH
    plays AS (
        SELECT r.app_session_id AS app_session_id, r.play_session_id AS play_session_id,
               r.seq AS seq, r.mono_ms AS mono_ms, s.first_impression_id AS impression_id
        FROM browse_requests AS r
        INNER JOIN (
            SELECT app_session_id, play_session_id,
                   if(minIf(seq, impression_id IS NOT NULL) = min(seq),
                      argMin(impression_id, seq), NULL) AS first_impression_id
            FROM browse_requests
            GROUP BY app_session_id, play_session_id
            HAVING first_impression_id IS NOT NULL
        ) AS s USING (app_session_id, play_session_id)
    ),
    named AS (
        SELECT app_session_id, shown_id AS impression_id, shown_mono, counted, shown_row,
               shown_rank, video_id
        FROM browse_impressions
        WHERE shown_id IN (SELECT impression_id FROM plays)
        ORDER BY shown_seq DESC
        LIMIT 1 BY app_session_id, shown_id
    )
SELECT
    p.app_session_id AS app_session_id,
    argMin(p.play_session_id, p.seq) AS taker,
    any(n.shown_row) AS taken_row,
    any(n.shown_rank) AS taken_rank,
    any(n.video_id) AS taken_video,
    any(n.counted) AS taken_counted
FROM plays AS p
INNER JOIN named AS n USING (app_session_id, impression_id)
WHERE p.mono_ms - n.shown_mono BETWEEN 0 AND 1800000
GROUP BY p.app_session_id, p.impression_id
HAVING taken_counted;

-- Counted impressions and the plays that took them: per cell (kind 0), row (1), rank (2) and
-- overall (3, grouping(row_index, rank)), with the dwell median.
CREATE TEMPORARY TABLE browse_lines ENGINE = Memory AS
SELECT
    grouping(row_index, rank) AS kind,
    row_index,
    rank,
    countIf(is_shown) AS impressions,
    countIf(NOT is_shown) AS plays,
    arraySort(groupArrayIf(dwell, is_shown)) AS dwells,
    if(empty(dwells), NULL, dwells[toUInt64(greatest(1, ceil(length(dwells) / 2)))])
        AS dwell_median
FROM (
    SELECT shown_row AS row_index, shown_rank AS rank, dwell, 1 AS is_shown
    FROM browse_impressions WHERE counted
    UNION ALL
    SELECT taken_row, taken_rank, 0, 0 FROM browse_taken
)
GROUP BY GROUPING SETS ((row_index, rank), (row_index), (rank), ());

WITH
    seen AS (
        SELECT s.first_row_index AS row_index, i.video_id AS video_id
        FROM browse_impressions AS i
        INNER JOIN browse_served AS s USING (app_session_id, request_id, row_id)
        WHERE has(s.videos, i.video_id)
    ),
    -- The deepest rank shown per feed row (the first impression of that rank).
    deepest AS (
        SELECT argMax(shown_row, bitShiftLeft(toInt256(shown_rank), 64) - shown_seq)
                   AS deepest_row,
               max(shown_rank) AS deepest_rank
        FROM browse_impressions
        WHERE counted
        GROUP BY app_session_id, request_id, row_id
    )
SELECT
    (SELECT (count(), sum(events), sum(last_seq - events), sum(skewed),
             groupUniqArrayIf(device, device IS NOT NULL))
     FROM browse_launches WHERE any_selected) AS quality,
    (SELECT count() FROM browse_repeats) AS repeats,
    (SELECT sum(duplicates) FROM browse_copies) AS duplicates,
    (SELECT countIf(first_selected AND first_part_of = 1) FROM browse_feeds) AS feed_count,
    -- (kind, row_index, rank, impressions, plays, dwell median)
    (SELECT groupArray((kind, row_index, rank, impressions, plays, dwell_median))
     FROM browse_lines) AS line_rows,
    -- (row_index, served, seen, deepest rank max, deepest rank median)
    (SELECT groupArray((row_index, served, seen, deepest_max, deepest_median)) FROM (
        SELECT row_index, sum(served) AS served, sum(seen) AS seen,
               arraySort(groupArrayArray(deepest)) AS ranks,
               if(empty(ranks), NULL, ranks[length(ranks)]) AS deepest_max,
               if(empty(ranks), NULL, ranks[toUInt64(greatest(1, ceil(length(ranks) / 2)))])
                   AS deepest_median
        FROM (
            SELECT first_row_index AS row_index, length(videos) AS served, 0 AS seen,
                   [] :: Array(Int64) AS deepest
            FROM browse_served
            UNION ALL
            SELECT row_index, 0, count(), [] FROM seen GROUP BY row_index
            UNION ALL
            SELECT deepest_row, 0, 0, groupArray(deepest_rank) FROM deepest GROUP BY deepest_row
        )
        GROUP BY row_index
     )) AS reach_rows,
    -- (video_id, served, seen, impressions, attributed plays, expected plays)
    (SELECT groupArray((video_id, served, seen, impressions, plays, expected)) FROM (
        SELECT video_id, sum(served) AS served, sum(seen) AS seen,
               sum(impressions) AS impressions, sum(plays) AS plays, sum(expected) AS expected
        FROM (
            SELECT arrayJoin(videos) AS video_id, 1 AS served, 0 AS seen, 0 AS impressions,
                   0 AS plays, 0.0 AS expected
            FROM browse_served
            UNION ALL
            SELECT video_id, 0, count(), 0, 0, 0.0 FROM seen GROUP BY video_id
            UNION ALL
            SELECT t.video_id, 0, 0, sum(t.impressions), 0,
                   sum(t.impressions * c.plays / c.impressions)
            FROM (SELECT video_id, shown_row AS row_index, shown_rank AS rank,
                         count() AS impressions
                  FROM browse_impressions WHERE counted
                  GROUP BY video_id, shown_row, shown_rank) AS t
            INNER JOIN (SELECT row_index, rank, impressions, plays FROM browse_lines
                        WHERE kind = 0) AS c USING (row_index, rank)
            GROUP BY t.video_id
            UNION ALL
            SELECT taken_video, 0, 0, 0, count(), 0.0 FROM browse_taken GROUP BY taken_video
        )
        GROUP BY video_id
     )) AS titles,
    (SELECT groupArray((app_session_id, taker)) FROM browse_taken) AS attributed
SETTINGS join_use_nulls = 0, prefer_column_name_to_alias = 1
