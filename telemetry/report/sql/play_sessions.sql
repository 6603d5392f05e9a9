-- One row per selected play session with its figures (late ends applied), plus one marker row
-- per play session id that a later launch ended without its play_request: an orphan (its
-- play_request never arrived anywhere, row_kind 1) or a repeated end (its own launch had ended
-- it, row_kind 2). The definitions are docs/report.md's and events-and-metrics.md's.
--
-- One pass over `facts`: `events` gives each stored copy compact typed fields, `groups` gathers
-- each (launch, play session)'s copies, sorted by (seq, received_at, key_id, event_id) so the
-- first copy of each seq is the one kept; the stages s1..s13 read those arrays with array
-- functions: a repeat (same type, mono_ms and props_hash again later in the launch) is dropped,
-- states are carried forward with arrayFill, and the time in each state is measured over the
-- elementary segments between all interval ends; `figures` resolves the device (the launch's
-- first event), the context and the late ends with window functions over the sessions.
-- Every lambda reads only columns of an earlier stage (an alias of the same stage would be
-- recomputed per element), and never indexes a full-length array (it would be copied per
-- element).
--
-- Event codes (`k`): 0 no figures (extends the timeline), 1 play_request, 2 player_ready,
-- 3 first_frame, 4 pause, 5 resume, 6 seek_start, 7 seek_end, 8 rebuffer_start,
-- 9 rebuffer_end, 10 heartbeat, 11 track_change, 12 ended, 13 error, 14 session_end,
-- 15 impression, 16 tile_visibility, 17 feed_served, 255 properties not an object (ignored).
-- `a`, `b`, `x` carry what the code needs (see `events`).
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
events AS (
    SELECT
        app_session_id,
        play_session_id,
        device_id,
        (seq, received_at, key_id, event_id) AS copy,
        transform(type,
            ['play_request', 'player_ready', 'first_frame', 'pause', 'resume', 'seek_start',
             'seek_end', 'rebuffer_start', 'rebuffer_end', 'heartbeat', 'track_change', 'ended',
             'error', 'session_end', 'impression', 'tile_visibility', 'feed_served'],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], 0)::UInt8 AS code,
        if(code != 0 AND props_ok = 0, 255, code)::UInt8 AS k,
        mono_ms AS m,
        props_hash AS h,
        multiIf(
            k = 1, start_position_ms,
            k = 2, duration_ms,
            k = 3, startup_ms,
            k = 6, from_ms,
            k = 7, to_ms,
            k = 11, height,
            position_ms
        ) AS a,
        multiIf(
            k = 1, corrected_time,
            k = 3, height,
            k = 6, to_ms,
            k = 7, seek_latency_ms,
            k = 9, stall_ms,
            k = 14, duration_ms,
            k = 10 AND played_ms > 0, toInt64(played_ms),  -- Python's int(): toward zero
            NULL
        ) AS b,
        multiIf(
            k = 13, fatal,
            k = 11, coalesce(kind = 'video', 0) AND from_track != to_track,
            k != 10 OR width IS NULL OR height IS NULL OR window_width IS NULL
                OR window_height IS NULL, 0,
            -- the picture's scale to fit its video area: up, down, native (within 1 %)
            least(window_width / width, window_height / height) > 1 + 0.01, 1,
            least(window_width / width, window_height / height) < 1 - 0.01, 2,
            3
        )::UInt8 AS x,
        multiIf(k = 1, video_id, k = 13, category, k = 14, reason, NULL) AS s,
        -- a play request inside the time, app version and OS filters
        k = 1
            AND ({since:Nullable(Int64)} IS NULL OR corrected_time >= {since:Nullable(Int64)})
            AND ({until:Nullable(Int64)} IS NULL OR corrected_time < {until:Nullable(Int64)})
            AND (({app_version:Nullable(String)} IS NULL AND {os:Nullable(String)} IS NULL)
                 OR context_hash IN (
                    SELECT hash FROM contexts_known
                    WHERE ({app_version:Nullable(String)} IS NULL
                           OR app_version = {app_version:Nullable(String)})
                      AND ({os:Nullable(String)} IS NULL OR os = {os:Nullable(String)})))
            AS in_filters,
        location,
        impression_id,
        context_hash
    FROM facts
),
groups AS (
    SELECT
        app_session_id,
        play_session_id,
        min(copy.1) AS first_seq,
        argMin(tuple(device_id), copy).1 AS first_device,
        arraySort(groupArrayIf((copy, k, m, h, a, b, x), play_session_id IS NOT NULL)) AS all_copies,
        arraySort(groupArrayIf((copy, m, h, b, s, location, impression_id, a, context_hash,
                                in_filters), k = 1 AND play_session_id IS NOT NULL)) AS request_copies,
        arraySort(groupArrayIf((copy, m, s), k = 14 AND play_session_id IS NOT NULL)) AS end_copies,
        arraySort(groupArrayIf((copy, s), k = 13 AND x = 1 AND play_session_id IS NOT NULL))
            AS fatal_copies
    FROM events
    GROUP BY app_session_id, play_session_id
),
-- s1: the first copy of each seq, as one array per field
s1 AS (
    SELECT
        app_session_id, play_session_id, first_seq, first_device,
        all_copies.1.1 AS all_seqs,
        arrayMap((s, p) -> s != p, all_seqs,
                 arrayResize(arrayPushFront(all_seqs, -1), length(all_seqs))) AS first_copy,
        all_copies.2 AS all_k,
        all_copies.3 AS all_m,
        all_copies.4 AS all_h,
        all_copies.5 AS all_a,
        all_copies.6 AS all_b,
        all_copies.7 AS all_x,
        request_copies.1.1 AS request_seqs,
        arrayFilter((c, s, p) -> s != p, request_copies, request_seqs,
                    arrayResize(arrayPushFront(request_seqs, -1), length(request_seqs)))
            AS requests,
        end_copies.1.1 AS end_seqs,
        arrayFilter((c, s, p) -> s != p, end_copies, end_seqs,
                    arrayResize(arrayPushFront(end_seqs, -1), length(end_seqs))) AS ends,
        length(fatal_copies) > 0 AS has_fatal,
        fatal_copies[1].1.1 AS fatal_seq,
        fatal_copies[1].2 AS fatal_category
    FROM groups
),
-- s2: repeats dropped (the same type, mono_ms and properties again); events without figures
-- only extend the timeline once the session began
s2 AS (
    SELECT
        app_session_id, play_session_id, first_seq, first_device, ends, has_fatal, fatal_seq,
        fatal_category, requests, all_seqs, all_k, all_m, all_a, all_b, all_x,
        arrayMap((f, k, u) -> f AND k NOT IN (0, 255) AND u = 1, first_copy, all_k,
                 arrayEnumerateUniq(
                     arrayMap((f, k) -> if(f AND k NOT IN (0, 255), k, 0), first_copy, all_k),
                     all_m,
                     arrayMap((f, k, h, s) -> if(f AND k NOT IN (0, 255), h, toUInt64(s)),
                              first_copy, all_k, all_h, all_seqs))) AS kept,
        arrayFilter((m, f, k, s) -> f AND k = 0, all_m, first_copy, all_k, all_seqs) AS touch_m,
        arrayFilter((s, f, k) -> f AND k = 0, all_seqs, first_copy, all_k) AS touch_s,
        arrayFilter((r, u) -> u = 1, requests,
                    arrayEnumerateUniq(arrayMap(r -> r.2, requests), arrayMap(r -> r.3, requests)))
            AS asked
    FROM s1
),
s3 AS (
    SELECT
        app_session_id, play_session_id, first_seq, first_device, ends, has_fatal, fatal_seq,
        fatal_category, touch_m, touch_s,
        arrayFilter((v, q) -> q, all_seqs, kept) AS S,
        arrayFilter((v, q) -> q, all_k, kept) AS K,
        arrayFilter((v, q) -> q, all_m, kept) AS M,
        arrayFilter((v, q) -> q, all_a, kept) AS A,
        arrayFilter((v, q) -> q, all_b, kept) AS B,
        arrayFilter((v, q) -> q, all_x, kept) AS X,
        arrayFirst((s, q) -> q, all_seqs, kept) AS first_kept_seq,
        length(S) AS n,
        arrayEnumerate(S) AS I,
        -- the play request: the first one; the last one that is not a repeat gives the context
        length(asked) > 0 AS has_request,
        requests[1].2 AS t0,
        requests[1].4 AS started_at,
        requests[1].5 AS video_id,
        requests[1].6 AS location,
        requests[1].7 AS impression_id,
        coalesce(requests[1].8, 0) AS start_position,
        asked[-1].9 AS context_hash,
        arrayExists(r -> r.10, asked) AS asked_in_filters
    FROM s2
),
s4 AS (
    SELECT
        *,
        greatest(0, arrayMax(M),
                 arrayMax(arrayMap((m, s) -> if(s > first_kept_seq, m, 0), touch_m, touch_s)))
            AS last_mono,
        indexOf(K, 1) AS pr,
        indexOf(K, 3) AS ff,
        indexOf(K, 12) AS ended_at,
        arrayFilter((i, k) -> k = 14, I, K) AS end_idx,
        arrayFilter((m, k) -> k = 14, M, K) AS end_monos,
        arrayFilter((b, k) -> k = 14, B, K) AS end_durations_all,
        arrayLastIndex((k, a) -> k = 2 AND coalesce(a, 0) != 0, K, A) AS ready_at
    FROM s3
),
s5 AS (
    SELECT
        *,
        -- the first frame: dated by startup_ms from the request; spoiled by a pause or seek
        if(ff > 0, if(A[ff] IS NOT NULL AND pr > 0 AND pr < ff, t0 + A[ff], M[ff]), NULL) AS ff_at,
        if(ff > 0 AND NOT arrayExists((k, i) -> k IN (4, 6) AND i < ff, K, I), A[ff], NULL)
            AS startup_ms,
        arrayLastIndex((k, i) -> k IN (6, 7) AND i < ff, K, I) AS target_at,
        -- session ends: each one later in mono time than those before is taken
        arrayFilter((e, j) -> j = 1 OR end_monos[j] > arrayMax(arraySlice(end_monos, 1, j - 1)),
                    arrayEnumerate(end_idx), arrayEnumerate(end_idx)) AS taken_j,
        length(end_idx) > 0 AS has_end,
        if(has_end, arrayMax(end_monos), NULL) AS end_mono,
        B[ff] AS ff_height,
        S[ff] AS ff_seq
    FROM s4
),
s6 AS (
    SELECT
        *,
        coalesce(if(target_at > 0, if(K[target_at] = 6, B[target_at], A[target_at]), NULL),
                 if(pr > 0 AND pr < ff, start_position, 0)) AS cursor_at_ff,
        if(has_end, coalesce(nullIf(arrayFirst(e -> e.2 = end_mono, ends).3, ''), 'unknown'),
           NULL) AS own_end_reason,
        greatest(coalesce(end_mono, last_mono), t0) AS end_at,
        arrayMap(j -> end_idx[j], taken_j) AS taken_ends,
        arrayMap(j -> end_durations_all[j], taken_j) AS end_durations,
        arrayFill((v, o) -> o, arrayMap(k -> k = 4, K), arrayMap(k -> k IN (4, 5), K))
            AS paused_after,
        -- pauses and resumes, seeks, stalls: each its own short sequence
        arrayFilter(k -> k IN (4, 5), K) AS pk,
        arrayFilter((m, k) -> k IN (4, 5), M, K) AS pm,
        arrayFilter(k -> k IN (6, 7), K) AS sk,
        arrayFilter((m, k) -> k IN (6, 7), M, K) AS sm,
        arrayFilter((b, k) -> k IN (6, 7), B, K) AS sb,
        arrayFilter(k -> k IN (8, 9), K) AS rk,
        arrayFilter((m, k) -> k IN (8, 9), M, K) AS rm,
        arrayFilter((b, k) -> k IN (8, 9), B, K) AS rb
    FROM s5
),
s7 AS (
    SELECT
        *,
        -- the playhead: a position reported after the first frame and up to `ended`
        arrayMap((k, a, i) -> if(k IN (4, 6, 8, 9, 10, 12, 13) OR (k = 14 AND has(taken_ends, i)),
                                 a, NULL), K, A, I) AS W,
        arrayResize(arrayPushFront(paused_after, 0), n) AS paused_before,
        -- open before each of its events: the previous one was a start
        arrayResize(arrayPushFront(arrayMap(k -> k = 4, pk), 0), length(pk)) AS p_open,
        arrayResize(arrayPushFront(arrayMap(k -> k = 6, sk), 0), length(sk)) AS s_open,
        arrayResize(arrayPushFront(arrayMap(k -> k = 8, rk), 0), length(rk)) AS r_open,
        -- the media's length: the last player_ready's, else the first taken session_end's
        if(ready_at > 0, A[ready_at],
           if(arrayExists(d -> coalesce(d, 0) != 0, end_durations),
              arrayFirst(d -> coalesce(d, 0) != 0, end_durations), end_durations[-1]))
            AS duration_ms
    FROM s6
),
s8 AS (
    SELECT
        *,
        arrayMap((w, i) -> w IS NOT NULL AND ff > 0 AND i > ff AND (ended_at = 0 OR i <= ended_at),
                 W, I) AS valid,
        -- since when it is open: the first start after the last end
        arrayFill((v, o) -> o, pm, arrayMap((k, o) -> k = 4 AND NOT o, pk, p_open)) AS p_since_after,
        arrayFill((v, o) -> o, sm, arrayMap((k, o) -> k = 6 AND NOT o, sk, s_open)) AS s_since_after,
        arrayFill((v, o) -> o, rm, arrayMap((k, o) -> k = 8 AND NOT o, rk, r_open)) AS r_since_after
    FROM s7
),
s9 AS (
    SELECT
        *,
        -- where the cursor is set: the first frame (the start position or the seek target),
        -- a resume's or seek_end's position after it, a valid report; unset by seek_start, ended
        arrayMap((k, v, a, i) -> i = ff OR k IN (6, 12)
                                 OR (k = 5 AND ff > 0 AND i > ff AND a IS NOT NULL)
                                 OR (k = 7 AND ff > 0 AND i > ff) OR v, K, valid, A, I)
            AS cursor_set,
        arrayMap((k, w, a, i) -> multiIf(i = ff, toNullable(cursor_at_ff), k IN (6, 12), NULL,
                                         k IN (5, 7), a, w)::Nullable(Int64), K, W, A, I)
            AS cursor_value,
        arrayResize(arrayPushFront(p_since_after, 0), length(pk)) AS p_since,
        arrayResize(arrayPushFront(s_since_after, 0), length(sk)) AS s_since,
        arrayResize(arrayPushFront(r_since_after, 0), length(rk)) AS r_since
    FROM s8
),
s10 AS (
    SELECT
        *,
        arrayResize(arrayPushFront(arrayFill((v, o) -> o,
            arrayMap((v, o) -> if(o, v, NULL), cursor_value, cursor_set), cursor_set), NULL), n)
            AS cursor_before
    FROM s9
),
s11 AS (
    SELECT
        *,
        -- the ranges the playhead covered while not paused
        arrayMap((c, w, p, v) -> v AND NOT p AND coalesce(w > c, 0), cursor_before, W,
                 paused_before, valid) AS emits,
        arrayFilter((c, e) -> e, cursor_before, emits) AS range_lows,
        arrayFilter((w, e) -> e, W, emits) AS range_highs,
        -- pauses closed by a resume; seek_ends; rebuffer_ends; video switches after the frame
        arrayFilter((s, k, o) -> k = 5 AND o, p_since, pk, p_open) AS resume_since,
        arrayFilter((m, k, o) -> k = 5 AND o, pm, pk, p_open) AS resume_m,
        arrayFilter((m, k) -> k = 7, sm, sk) AS seek_end_m,
        arrayFilter((b, k) -> k = 7, sb, sk) AS seek_end_b,
        arrayFilter((o, k) -> k = 7, s_open, sk) AS seek_end_open,
        arrayFilter((s, k) -> k = 7, s_since, sk) AS seek_end_since,
        arrayFilter((m, k) -> k = 9, rm, rk) AS stall_end_m,
        arrayFilter((b, k) -> k = 9, rb, rk) AS stall_end_b,
        arrayFilter((o, k) -> k = 9, r_open, rk) AS stall_end_open,
        arrayFilter((s, k) -> k = 9, r_since, rk) AS stall_end_since,
        arrayFilter((m, k, a, x, i) -> k = 11 AND i > ff AND a IS NOT NULL AND x = 1,
                    M, K, A, X, I) AS switch_m,
        arrayFilter((a, k, x, i) -> k = 11 AND i > ff AND a IS NOT NULL AND x = 1,
                    A, K, X, I) AS switch_height,
        countEqual(sk, 6) + arrayCount((k, o) -> k = 7 AND NOT o, sk, s_open) AS seek_count,
        -- heartbeats after the first frame with a scaling kind and played ms
        arrayFilter((x, k, b, i) -> k = 10 AND ff > 0 AND i > ff AND x > 0 AND b IS NOT NULL,
                    X, K, B, I) AS scaled_kinds,
        arrayFilter((b, k, x, i) -> k = 10 AND ff > 0 AND i > ff AND x > 0 AND b IS NOT NULL,
                    B, K, X, I) AS scaled_ms
    FROM s10
),
s12 AS (
    SELECT
        app_session_id, play_session_id, first_seq, first_device, n, has_request,
        t0, started_at, video_id, location, impression_id, context_hash, asked_in_filters,
        ff, ff_at, startup_ms, ended_at, has_end, own_end_reason, end_at, duration_ms,
        seek_count, has_fatal, fatal_seq, fatal_category, ff_seq,
        -- content watched: the ranges clipped to [0, duration]
        arrayMap(c -> greatest(0, assumeNotNull(c)), range_lows) AS clipped_lows,
        arrayMap(w -> if(duration_ms IS NULL, assumeNotNull(w),
                         least(assumeNotNull(w), assumeNotNull(duration_ms))), range_highs)
            AS clipped_highs,
        arrayConcat(arrayMap((s, m) -> (s, m), resume_since, resume_m),
                    if(pk[-1] = 4, [(p_since_after[-1], end_at)], [])) AS pauses,
        -- a seek_end: its latency as sent, else since its start, else 0 (its start was lost)
        arrayMap((m, b, o, s) -> coalesce(b, if(o, m - s, 0)),
                 seek_end_m, seek_end_b, seek_end_open, seek_end_since) AS seek_latencies_ms,
        arrayConcat(
            arrayMap((m, l, o, s) -> if(o, (s, s + l), (m - l, m)),
                     seek_end_m, seek_latencies_ms, seek_end_open, seek_end_since),
            if(sk[-1] = 6, [(s_since_after[-1], end_at)], [])) AS seeks,
        -- a stall: its stall_ms as sent, else since its start; under 250 ms it is playing
        arrayFilter(x -> x.2 - x.1 >= 250,
            arrayConcat(
                arrayMap((m, b, o, s) -> (m - coalesce(b, if(o, m - s, 0)), m),
                         stall_end_m, stall_end_b, stall_end_open, stall_end_since),
                if(rk[-1] = 8, [(r_since_after[-1], end_at)], []))) AS stalls,
        -- renditions: the first frame's height, then each video switch after it
        if(ff > 0 AND ff_height IS NOT NULL,
           arrayConcat([(assumeNotNull(ff_at), assumeNotNull(ff_height))],
                       arrayMap((m, h) -> (m, assumeNotNull(h)), switch_m, switch_height)),
           []) AS changes,
        arrayMap(c -> (c, arraySum((k, b) -> if(k = c, assumeNotNull(b), 0), scaled_kinds,
                                   scaled_ms)), arrayDistinct(scaled_kinds)) AS scaling
    FROM s11
),
s12b AS (
    SELECT
        * EXCEPT (clipped_lows, clipped_highs),
        arrayFilter((l, h) -> h > l, clipped_lows, clipped_highs) AS lows,
        arrayFilter((h, l) -> h > l, clipped_highs, clipped_lows) AS highs
    FROM s12
),
s12c AS (
    SELECT
        * EXCEPT (lows, highs),
        arraySort(arrayConcat(lows, highs)) AS sweep_x,
        arraySort((d, x) -> x, arrayConcat(arrayMap(x -> 1, lows), arrayMap(x -> -1, highs)),
                  arrayConcat(lows, highs)) AS sweep_d
    FROM s12b
),
s12d AS (
    SELECT
        * EXCEPT (sweep_x, sweep_d),
        -- the union's length: a sweep over the ends (+1 at a start, -1 at a stop)
        arraySum((x1, x0, c) -> if(c > 0, x1 - x0, 0), arrayPopFront(sweep_x),
                 arrayPopBack(sweep_x), arrayPopBack(arrayCumSum(sweep_d))) AS content_watched_ms
    FROM s12c
),
s13 AS (
    SELECT
        *,
        -- every ms from t0 to the end in one state: paused > seeking > startup > stalled >
        -- playing, measured over the segments between all the intervals' ends
        arraySort(arrayDistinct(arrayConcat([t0, end_at], if(ff > 0, [assumeNotNull(ff_at)], []),
            arrayMap(x -> x.1, pauses), arrayMap(x -> x.2, pauses),
            arrayMap(x -> x.1, seeks), arrayMap(x -> x.2, seeks),
            arrayMap(x -> x.1, stalls), arrayMap(x -> x.2, stalls),
            arrayMap(x -> x.1, changes)))) AS points,
        arrayMap(j -> (changes[j].1, if(j < length(changes), changes[j + 1].1, end_at), changes[j].2),
                 arrayEnumerate(changes)) AS shown
    FROM s12d
),
s14 AS (
    SELECT
        *,
        arrayMap((a, b) -> (a, b), arrayPopBack(points), arrayPopFront(points)) AS segs
    FROM s13
),
s15 AS (
    SELECT
        *,
        arrayMap(s -> multiIf(
                arrayExists(p -> 2 * p.1 <= s.1 + s.2 AND s.1 + s.2 < 2 * p.2, pauses), 0,
                arrayExists(p -> 2 * p.1 <= s.1 + s.2 AND s.1 + s.2 < 2 * p.2, seeks), 1,
                ff = 0 OR s.1 + s.2 < 2 * assumeNotNull(ff_at), 2,
                arrayExists(p -> 2 * p.1 <= s.1 + s.2 AND s.1 + s.2 < 2 * p.2, stalls), 3,
                4), segs) AS states
    FROM s14
),
figures AS (
    SELECT
        app_session_id, play_session_id, n, has_request, started_at, video_id, location,
        impression_id, context_hash, ff, startup_ms, ended_at, has_end, own_end_reason,
        duration_ms, seek_latencies_ms, seek_count, content_watched_ms, scaling,
        length(stalls) AS stall_count,
        greatest(length(changes) - 1, 0) AS rendition_switches,
        arrayMap(c -> arraySum((s, st) -> if(st = c AND s.1 >= t0 AND s.2 <= end_at, s.2 - s.1, 0),
                               segs, states), [0, 1, 2, 3, 4]) AS times,
        arrayMap(w -> (w.3, arraySum((s, st) -> if(st = 4 AND s.1 >= w.1 AND s.2 <= w.2,
                                                   s.2 - s.1, 0), segs, states)), shown)
            AS shown_ms,
        ended_at > 0 AS ended,
        ff > 0 AND (ended OR (duration_ms IS NOT NULL AND content_watched_ms >= 0.9 * duration_ms))
            AS completed,
        if(has_fatal, coalesce(nullIf(fatal_category, ''), 'unknown'), NULL) AS failure_category,
        if(has_fatal, if(ff = 0 OR ff_seq > fatal_seq, 'startup', 'playback'), NULL)
            AS failure_phase,
        play_session_id IS NOT NULL AND n > 0 AS builder,
        builder AND has_request AND asked_in_filters
            AND ({video_id:Nullable(String)} IS NULL OR video_id = {video_id:Nullable(String)})
            AS selected,
        argMin(tuple(first_device), first_seq) OVER (PARTITION BY app_session_id).1 AS device_id,
        -- what the other launches say of this play session id (the report's late ends)
        max(builder AND has_request AND has_end) OVER (PARTITION BY play_session_id)
            AS ended_anywhere,
        max(builder AND has_request AND NOT has_end) OVER (PARTITION BY play_session_id)
            AS unended_anywhere,
        max(builder AND NOT has_request) OVER (PARTITION BY play_session_id) AS ended_late,
        argMaxIf(if(has_end, own_end_reason, ''), app_session_id, builder AND NOT has_request)
            OVER (PARTITION BY play_session_id) AS late_reason,
        row_number() OVER (PARTITION BY play_session_id, builder AND NOT has_request
                           ORDER BY app_session_id DESC) AS late_rank,
        row_number() OVER (PARTITION BY play_session_id, selected AND NOT has_end
                           ORDER BY started_at DESC, app_session_id DESC) AS unended_rank
    FROM s15
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
    stall_count,
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
    -- a crash-recovered end from a later launch ends the latest such unended session
    if(own_end_reason IS NULL AND ended_late AND NOT ended_anywhere AND late_reason != ''
           AND unended_rank = 1,
       late_reason, own_end_reason) AS end_reason,
    failure_category,
    failure_phase,
    impression_id,
    arrayFilter(x -> x.2 > 0,
        arrayMap(h -> (h, arraySum(arrayMap(s -> if(s.1 = h, s.2, 0), shown_ms))),
                 arraySort(arrayDistinct(arrayMap(s -> s.1, shown_ms))))) AS rendition_ms,
    rendition_switches,
    -- heartbeat played ms by scaling kind, in the order the kinds first appeared
    arrayMap(x -> (['upscaled', 'downscaled', 'native'][x.1], x.2), scaling) AS scaling_ms
FROM figures
LEFT JOIN contexts_known AS c ON c.hash = figures.context_hash
WHERE selected
   OR (builder AND NOT has_request AND late_rank = 1 AND (ended_anywhere OR NOT unended_anywhere))
ORDER BY row_kind, started_at, play_session_id, app_session_id
-- Memory: the sessions aggregated launch by launch in the table's order, and small blocks of
-- sessions through the array stages (their intermediate arrays are alive together per block);
-- no JIT: it compiles little of this query and costs more than it saves.
SETTINGS optimize_aggregation_in_order = 1, max_block_size = 4096, compile_expressions = 0
