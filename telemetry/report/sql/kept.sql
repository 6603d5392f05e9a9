-- Every event once, its kept copy (the one with the least (received_at, key_id, event_id) of
-- its (app_session_id, seq)), with `selected`: corrected_time in [since, until) and a context
-- with the app version and OS asked for. Used by browse.sql after its temporary tables
-- browse_multi (the (launch hash, seq) stored more than once), browse_copies (their kept
-- copies) and browse_contexts (the contexts asked for) are filled.
SELECT
    *,
    ({since:Nullable(Int64)} IS NULL OR corrected_time >= {since:Nullable(Int64)})
    AND ({until:Nullable(Int64)} IS NULL OR corrected_time < {until:Nullable(Int64)})
    AND (({app_version:Nullable(String)} IS NULL AND {os:Nullable(String)} IS NULL)
         OR coalesce(context_hash IN browse_contexts, 0)) AS selected
FROM (
    SELECT
        app_session_id, seq, key_id, event_id, type, device_id, play_session_id, mono_ms,
        time, corrected_time, context_hash, props_ok, props_hash, video_id, impression_id,
        request_id, row_id, row_index, rank, half_visible_ms, first_part
    FROM facts
    WHERE (cityHash64(app_session_id), seq) NOT IN browse_multi
    UNION ALL
    SELECT
        app_session_id, seq, key_id, event_id, type, device_id, play_session_id, mono_ms,
        time, corrected_time, context_hash, props_ok, props_hash, video_id, impression_id,
        request_id, row_id, row_index, rank, half_visible_ms, first_part
    FROM browse_copies
)
