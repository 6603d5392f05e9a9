-- One row per selected play session with its figures (late ends applied), plus one marker row
-- per play session id that a later launch ended without its play_request: an orphan (its
-- play_request never arrived anywhere) or a repeated end (its own launch had ended it).
-- The definitions are docs/report.md's and events-and-metrics.md's; comments name the rules.
--
-- Stages: `copies` keeps one copy per (app_session_id, seq), the least (received_at, key_id,
-- event_id), as compact typed fields; `groups` gathers each (launch, play session)'s events
-- ordered by seq (one array, plus small side arrays of the play requests and session ends);
-- `figures` reads them with array functions: a repeat (same type, mono_ms, props_hash later in
-- the launch) is dropped, states are carried forward with arrayFill, and the time in each state
-- is measured over the elementary segments between all interval ends; `sessions` joins the
-- launch's device, the context's app version and OS, and resolves late ends with windows.
--
-- Event codes: 0 no figures (extends the timeline), 1 play_request, 2 player_ready,
-- 3 first_frame, 4 pause, 5 resume, 6 seek_start, 7 seek_end, 8 rebuffer_start,
-- 9 rebuffer_end, 10 heartbeat, 11 track_change, 12 ended, 13 error, 14 session_end,
-- 15 impression / tile_visibility / feed_served, 255 properties not an object (ignored).
-- Per event `a`, `b`, `x` carry what its code needs (see `copies`).
WITH
contexts_known AS (
    SELECT
        hash,
        any(if(JSONType(json, 'app', 'version') = 'String',
               toNullable(JSONExtractString(json, 'app', 'version')), NULL)) AS app_version,
        any(if(JSONType(json, 'os', 'name') = 'String',
               toNullable(JSONExtractString(json, 'os', 'name')), NULL)) AS os
    FROM contexts
    GROUP BY hash
),
copies AS (
    SELECT
        app_session_id,
        seq,
        argMin(
            tuple(
                play_session_id,
                device_id,
                multiIf(
                    type NOT IN ('play_request', 'player_ready', 'first_frame', 'pause',
                                 'resume', 'seek_start', 'seek_end', 'rebuffer_start',
                                 'rebuffer_end', 'heartbeat', 'track_change', 'ended',
                                 'error', 'session_end', 'impression', 'tile_visibility',
                                 'feed_served'), 0,
                    props_ok = 0, 255,
                    transform(toString(type),
                        ['play_request', 'player_ready', 'first_frame', 'pause', 'resume',
                         'seek_start', 'seek_end', 'rebuffer_start', 'rebuffer_end',
                         'heartbeat', 'track_change', 'ended', 'error', 'session_end'],
                        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], 15)
                )::UInt8,
                mono_ms,
                props_hash,
                multiIf(
                    type = 'play_request', start_position_ms,
                    type IN ('player_ready'), duration_ms,
                    type = 'first_frame', startup_ms,
                    type = 'seek_start', from_ms,
                    type = 'seek_end', to_ms,
                    type = 'track_change', height,
                    position_ms
                ),
                multiIf(
                    type = 'play_request', corrected_time,
                    type = 'first_frame', height,
                    type = 'seek_start', to_ms,
                    type = 'seek_end', seek_latency_ms,
                    type = 'rebuffer_end', stall_ms,
                    type = 'session_end', duration_ms,
                    type = 'heartbeat' AND played_ms > 0, toInt64(played_ms),
                    NULL
                ),
                multiIf(
                    type = 'error', fatal,
                    type = 'track_change',
                        coalesce(kind = 'video', 0) AND from_track != to_track,
                    type != 'heartbeat' OR width IS NULL OR height IS NULL
                        OR window_width IS NULL OR window_height IS NULL, 0,
                    -- the picture's scale to fit its video area: up, down, native (1 %)
                    least(window_width / width, window_height / height) > 1 + 0.01, 1,
                    least(window_width / width, window_height / height) < 1 - 0.01, 2,
                    3
                )::UInt8,
                -- strings: the play request's, an error's category, a session end's reason
                multiIf(type = 'play_request', video_id, type = 'error', category,
                        type = 'session_end', reason, NULL),
                if(type = 'play_request', location, NULL),
                if(type = 'play_request', impression_id, NULL),
                if(type = 'play_request', context_hash, NULL),
                -- a play request inside the time, app version and OS filters
                type = 'play_request'
                    AND ({since:Nullable(Int64)} IS NULL OR corrected_time >= {since:Nullable(Int64)})
                    AND ({until:Nullable(Int64)} IS NULL OR corrected_time < {until:Nullable(Int64)})
                    AND (({app_version:Nullable(String)} IS NULL AND {os:Nullable(String)} IS NULL)
                         OR context_hash IN (
                            SELECT hash FROM contexts_known
                            WHERE ({app_version:Nullable(String)} IS NULL
                                   OR app_version = {app_version:Nullable(String)})
                              AND ({os:Nullable(String)} IS NULL OR os = {os:Nullable(String)})))
            ),
            tuple(received_at, key_id, event_id)
        ) AS e
    FROM facts
    GROUP BY app_session_id, seq
),
groups AS (
    SELECT
        app_session_id,
        e.1 AS play_session_id,
        min(seq) AS first_seq,
        argMin(tuple(e.2), seq).1 AS first_device,
        arraySort(x -> x.1, groupArrayIf((seq, e.3, e.4, e.5, e.6, e.7, e.8),
                                         e.1 IS NOT NULL AND e.3 != 255)) AS ev,
        arraySort(x -> x.1, groupArrayIf((seq, e.4, e.5, e.7, e.9, e.10, e.11, e.6, e.12, e.13),
                                         e.3 = 1)) AS requests,
        arraySort(x -> x.1, groupArrayIf((seq, e.4, e.9), e.3 = 14)) AS ends,
        argMinIf((seq, e.9), seq, e.3 = 13 AND e.8 = 1) AS fatal_error,
        countIf(e.3 = 13 AND e.8 = 1) > 0 AS has_fatal
    FROM copies
    GROUP BY app_session_id, play_session_id
),
f0 AS (
    SELECT
        *,
        -- repeats dropped; events without figures only extend the timeline once it began
        arrayMap(x -> (x.2, x.3, x.4, x.5, x.6, x.7), ev) AS all_ev,
        arrayMap(x -> x.1, all_ev) AS all_k,
        arrayMap((x, n) -> x.1 != 0 AND n = 1, all_ev,
                 arrayEnumerateUniq(all_k, arrayMap(x -> x.2, all_ev),
                                    arrayMap((x, y) -> if(x.1 = 0, toUInt64(y.1), x.3), all_ev, ev)))
            AS kept,
        arrayFilter((x, k) -> k, ev, kept) AS f,
        length(f) AS n,
        arrayMap(x -> x.1, f) AS S,
        arrayMap(x -> x.2, f) AS K,
        arrayMap(x -> x.3, f) AS M,
        arrayMap(x -> x.5, f) AS A,
        arrayMap(x -> x.6, f) AS B,
        arrayMap(x -> x.7, f) AS X,
        arrayEnumerate(f) AS I,
        greatest(0, arrayMax(M),
                 arrayMax(arrayMap((x, k) -> if(x.2 = 0 AND x.1 > S[1], x.3, 0), ev, all_k)))
            AS last_mono,

        -- the play request (the first one; the last one not a repeat gives the context)
        arrayFilter((r, u) -> u = 1, requests,
                    arrayEnumerateUniq(arrayMap(r -> r.2, requests), arrayMap(r -> r.3, requests)))
            AS asked,
        length(asked) > 0 AS has_request,
        requests[1].2 AS t0,
        requests[1].4 AS started_at,
        requests[1].5 AS video_id,
        requests[1].6 AS location,
        requests[1].7 AS impression_id,
        coalesce(requests[1].8, 0) AS start_position,
        asked[-1].9 AS context_hash,
        arrayExists(r -> r.10, asked) AS asked_in_filters,
        indexOf(K, 1) AS pr
    FROM groups
),
f1 AS (
    SELECT
        *,
        -- the first frame, and whether a pause or seek came before it (spoiled startup)
        indexOf(K, 3) AS ff,
        if(ff > 0, if(A[ff] IS NOT NULL AND pr > 0 AND pr < ff, t0 + A[ff], M[ff]), NULL)
            AS ff_at,
        if(ff > 0 AND NOT arrayExists((k, i) -> k IN (4, 6) AND i < ff, K, I), A[ff], NULL)
            AS startup_ms,
        arrayLastIndex((k, i) -> k IN (6, 7) AND i < ff, K, I) AS target_at,
        coalesce(if(target_at > 0, if(K[target_at] = 6, B[target_at], A[target_at]), NULL),
                 if(pr > 0 AND pr < ff, start_position, 0)) AS cursor_at_ff,
        indexOf(K, 12) AS ended_at,

        -- session ends: each later one in mono time is taken (its position watched)
        arrayFilter(i -> K[i] = 14, I) AS end_idx,
        arrayMap(i -> M[i], end_idx) AS end_monos,
        arrayFilter((i, j) -> j = 1 OR end_monos[j] > arrayMax(arraySlice(end_monos, 1, j - 1)),
                    end_idx, arrayEnumerate(end_idx)) AS taken_ends,
        length(end_idx) > 0 AS has_end,
        if(has_end, arrayMax(end_monos), NULL) AS end_mono,
        if(has_end, coalesce(nullIf(arrayFirst(x -> x.2 = end_mono, ends).3, ''), 'unknown'),
           NULL) AS own_end_reason,
        greatest(coalesce(end_mono, last_mono), t0) AS end_at
    FROM f0
),
f2 AS (
    SELECT
        *,
        -- the playhead: positions reported after the first frame and up to `ended`
        arrayMap((k, a, i) -> if(k IN (4, 6, 8, 9, 10, 12, 13) OR (k = 14 AND has(taken_ends, i)),
                                 a, NULL), K, A, I) AS W,
        arrayMap((w, i) -> w IS NOT NULL AND ff > 0 AND i > ff AND (ended_at = 0 OR i <= ended_at),
                 W, I) AS valid,
        arrayMap((k, w, v, a, i) -> multiIf(
                     i = ff, toNullable(cursor_at_ff),
                     k IN (6, 12), NULL,
                     k = 5 OR k = 7, a,
                     w)::Nullable(Int64), K, W, valid, A, I) AS cursor_value,
        arrayMap((k, v, a, i) -> i = ff OR k IN (6, 12) OR (k = 5 AND ff > 0 AND i > ff AND a IS NOT NULL)
                                 OR (k = 7 AND ff > 0 AND i > ff) OR (v AND k NOT IN (6, 12)),
                 K, valid, A, I) AS cursor_set,
        arrayResize(arrayPushFront(arrayFill((v, o) -> o,
            arrayMap((v, o) -> if(o, v, NULL), cursor_value, cursor_set), cursor_set), NULL), n)
            AS cursor_before,

        -- pauses, seeks and stalls: open on the first start, closed by the end event
        arrayFill((v, o) -> o, arrayMap(k -> k = 4, K), arrayMap(k -> k IN (4, 5), K))
            AS paused_after,
        arrayResize(arrayPushFront(paused_after, 0), n) AS paused_before,
        arrayFill((v, o) -> o, arrayMap(k -> k = 6, K), arrayMap(k -> k IN (6, 7), K))
            AS seeking_after,
        arrayResize(arrayPushFront(seeking_after, 0), n) AS seeking_before,
        arrayFill((v, o) -> o, arrayMap(k -> k = 8, K), arrayMap(k -> k IN (8, 9), K))
            AS stalled_after,
        arrayResize(arrayPushFront(stalled_after, 0), n) AS stalled_before,
        arrayResize(arrayPushFront(arrayFill((v, o) -> o, M,
            arrayMap((k, p) -> k = 4 AND NOT p, K, paused_before)), 0), n) AS pause_since,
        arrayResize(arrayPushFront(arrayFill((v, o) -> o, M,
            arrayMap((k, p) -> k = 6 AND NOT p, K, seeking_before)), 0), n) AS seek_since,
        arrayResize(arrayPushFront(arrayFill((v, o) -> o, M,
            arrayMap((k, p) -> k = 8 AND NOT p, K, stalled_before)), 0), n) AS stall_since
    FROM f1
),
f3 AS (
    SELECT
        *,
        arrayConcat(
            arrayFilter((p, k, b) -> k = 5 AND b,
                arrayMap((s, m) -> (s, m), pause_since, M), K, paused_before),
            if(paused_after[-1], [(arrayFill((v, o) -> o, M,
                arrayMap((k, p) -> k = 4 AND NOT p, K, paused_before))[-1], end_at)], [])
        ) AS pauses,
        -- a seek_end: latency as sent, else since its start, else 0 (its start was lost)
        arrayFilter((x, k) -> k = 7,
            arrayMap((m, b, o, s) -> if(o, (s, s + coalesce(b, m - s)),
                                        (m - coalesce(b, 0), m)), M, B, seeking_before, seek_since),
            K) AS closed_seeks,
        arrayFilter((l, k) -> k = 7,
            arrayMap((m, b, o, s) -> coalesce(b, if(o, m - s, 0)), M, B, seeking_before, seek_since),
            K) AS seek_latencies_ms,
        arrayConcat(closed_seeks,
            if(seeking_after[-1], [(arrayFill((v, o) -> o, M,
                arrayMap((k, p) -> k = 6 AND NOT p, K, seeking_before))[-1], end_at)], []))
            AS seeks,
        countEqual(K, 6) + arrayCount((k, o) -> k = 7 AND NOT o, K, seeking_before) AS seek_count,
        arrayConcat(
            arrayFilter(x -> x.2 - x.1 >= 250,
                arrayFilter((x, k) -> k = 9,
                    arrayMap((m, b, o, s) -> (m - coalesce(b, if(o, m - s, 0)), m),
                             M, B, stalled_before, stall_since), K)),
            arrayFilter(x -> x.2 - x.1 >= 250,
                if(stalled_after[-1], [(arrayFill((v, o) -> o, M,
                    arrayMap((k, p) -> k = 8 AND NOT p, K, stalled_before))[-1], end_at)], [])))
            AS stalls
    FROM f2
),
f4 AS (
    SELECT
        *,
        -- the media's length: the last player_ready's, else the first taken session_end's
        arrayLastIndex((k, a) -> k = 2 AND coalesce(a, 0) != 0, K, A) AS ready_at,
        arrayMap(i -> B[i], taken_ends) AS end_durations,
        if(ready_at > 0, A[ready_at],
           if(arrayExists(d -> coalesce(d, 0) != 0, end_durations),
              arrayFirst(d -> coalesce(d, 0) != 0, end_durations), end_durations[-1]))
            AS duration_ms,

        -- content watched: the union of the ranges played, clipped to [0, duration]
        arraySort(arrayFilter(r -> r.2 > r.1,
            arrayMap((c, w, p, v) -> if(v AND c IS NOT NULL AND NOT p,
                                        (assumeNotNull(c), assumeNotNull(w)), (0, 0)),
                     cursor_before, W, paused_before, valid))) AS ranges,
        arrayFold((acc, r) -> (
                acc.1 + greatest(0, if(duration_ms IS NULL, r.2, least(r.2, assumeNotNull(duration_ms)))
                                    - greatest(0, r.1, acc.2)),
                greatest(acc.2, r.2)),
            ranges, (toInt64(0), toInt64(0))).1 AS content_watched_ms
    FROM f3
),
f5 AS (
    SELECT
        *,
        ended_at > 0 AS ended,
        ff > 0 AND (ended OR (duration_ms IS NOT NULL AND content_watched_ms >= 0.9 * duration_ms))
            AS completed,
        if(has_fatal, coalesce(nullIf(fatal_error.2, ''), 'unknown'), NULL) AS failure_category,
        if(has_fatal, if(ff = 0 OR S[ff] > fatal_error.1, 'startup', 'playback'), NULL)
            AS failure_phase,

        -- renditions: the first frame's height, then each video switch after it
        if(ff > 0 AND B[ff] IS NOT NULL,
           arrayConcat([(assumeNotNull(ff_at), assumeNotNull(B[ff]))],
                arrayMap(i -> (M[i], assumeNotNull(A[i])),
                    arrayFilter(i -> K[i] = 11 AND i > ff AND A[i] IS NOT NULL AND X[i] = 1, I))),
           []) AS changes,
        greatest(length(changes) - 1, 0) AS rendition_switches,
        arrayMap(j -> (changes[j].1, if(j < length(changes), changes[j + 1].1, end_at), changes[j].2),
                 arrayEnumerate(changes)) AS shown,
        arrayFilter((x, k, b, i) -> k = 10 AND ff > 0 AND i > ff AND x > 0 AND b IS NOT NULL,
                    X, K, B, I) AS scaled_k,
        arrayFilter((b, k, x, i) -> k = 10 AND ff > 0 AND i > ff AND x > 0 AND b IS NOT NULL,
                    B, K, X, I) AS scaled_b
    FROM f4
),
f6 AS (
    SELECT
        *,
        -- every ms from t0 to the end in one state: paused > seeking > startup > stalled > playing
        arraySort(arrayDistinct(arrayConcat([t0, end_at], if(ff > 0, [assumeNotNull(ff_at)], []),
            arrayMap(x -> x.1, pauses), arrayMap(x -> x.2, pauses),
            arrayMap(x -> x.1, seeks), arrayMap(x -> x.2, seeks),
            arrayMap(x -> x.1, stalls), arrayMap(x -> x.2, stalls),
            arrayMap(x -> x.1, changes)))) AS points,
        arrayMap(i -> (points[i], points[i + 1]), arrayEnumerate(arrayPopBack(points))) AS segs,
        arrayMap(s -> multiIf(
                arrayExists(p -> 2 * p.1 <= s.1 + s.2 AND s.1 + s.2 < 2 * p.2, pauses), 0,
                arrayExists(p -> 2 * p.1 <= s.1 + s.2 AND s.1 + s.2 < 2 * p.2, seeks), 1,
                ff = 0 OR s.1 + s.2 < 2 * assumeNotNull(ff_at), 2,
                arrayExists(p -> 2 * p.1 <= s.1 + s.2 AND s.1 + s.2 < 2 * p.2, stalls), 3,
                4), segs) AS states
    FROM f5
),
f7 AS (
    SELECT
        *,
        arrayMap(c -> arraySum((s, st) -> if(st = c AND s.1 >= t0 AND s.2 <= end_at, s.2 - s.1, 0),
                               segs, states), [0, 1, 2, 3, 4]) AS times,
        arrayMap(w -> (w.3, arraySum((s, st) -> if(st = 4 AND s.1 >= w.1 AND s.2 <= w.2,
                                                   s.2 - s.1, 0), segs, states)), shown)
            AS shown_ms
    FROM f6
),
sessions AS (
    SELECT
        *,
        play_session_id IS NOT NULL AND n > 0 AS builder,
        argMin(tuple(first_device), first_seq) OVER (PARTITION BY app_session_id).1 AS device_id,
        builder AND has_request AND asked_in_filters
            AND ({video_id:Nullable(String)} IS NULL OR video_id = {video_id:Nullable(String)})
            AS selected,
        -- what other launches say of this play session id (metrics' late ends)
        max(builder AND has_request AND has_end) OVER (PARTITION BY play_session_id) AS ended_anywhere,
        max(builder AND has_request AND NOT has_end) OVER (PARTITION BY play_session_id) AS unended_anywhere,
        max(builder AND NOT has_request) OVER (PARTITION BY play_session_id) AS ended_late,
        argMaxIf(if(has_end, own_end_reason, ''), app_session_id, builder AND NOT has_request)
            OVER (PARTITION BY play_session_id) AS late_reason,
        row_number() OVER (PARTITION BY play_session_id, builder AND NOT has_request
                           ORDER BY app_session_id DESC) AS late_rank,
        row_number() OVER (PARTITION BY play_session_id, selected AND NOT has_end
                           ORDER BY started_at DESC, app_session_id DESC) AS unended_rank
    FROM f7
)
SELECT
    multiIf(selected, 0, NOT ended_anywhere AND NOT unended_anywhere, 1, 2) AS row_kind,
    play_session_id,
    app_session_id,
    device_id,
    video_id,
    location,
    started_at,
    c.app_version,
    c.os,
    ff > 0 AS first_frame,
    startup_ms,
    length(stalls) AS stall_count,
    times[4] AS rebuffer_ms,
    seek_count,
    seek_latencies_ms,
    times[2] AS seek_ms,
    times[3] AS startup_phase_ms,
    times[5] AS playing_ms,
    times[1] AS paused_ms,
    times[2] + times[3] + times[4] + times[5] AS watch_ms,
    content_watched_ms,
    duration_ms,
    ended,
    completed,
    if(own_end_reason IS NULL AND ended_late AND NOT ended_anywhere AND late_reason != ''
           AND unended_rank = 1,
       late_reason, own_end_reason) AS end_reason,
    failure_category,
    failure_phase,
    impression_id,
    arrayFilter(x -> x.2 > 0, arrayMap(h -> (h, arraySum(arrayMap(s -> if(s.1 = h, s.2, 0), shown_ms))),
                                       arraySort(arrayDistinct(arrayMap(s -> s.1, shown_ms)))))
        AS rendition_ms,
    rendition_switches,
    -- heartbeat played ms by scaling kind, in the order the kinds first appeared
    arrayMap(c -> (['upscaled', 'downscaled', 'native'][c],
                   arraySum((k, b) -> if(k = c, assumeNotNull(b), 0), scaled_k, scaled_b)),
             arrayDistinct(scaled_k)) AS scaling_ms
FROM sessions
LEFT JOIN contexts_known AS c ON c.hash = sessions.context_hash
WHERE selected OR (builder AND NOT has_request AND late_rank = 1 AND (ended_anywhere OR NOT unended_anywhere))
ORDER BY row_kind, started_at, play_session_id, app_session_id
SETTINGS optimize_aggregation_in_order = 1
