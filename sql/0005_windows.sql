-- 0005_windows: a page may be a window. With both p_after and p_before,
-- chat.messages_page returns up to p_max messages with
-- p_after < id < p_before, ascending from p_after (a client filling a gap
-- between two pages it holds). Before this, p_before was ignored when
-- p_after was given; the API refused the combination, so no caller relied
-- on that. Same signature, owner and grants: CREATE OR REPLACE keeps them.
-- The forward scan stays one index range scan on messages_pkey, now
-- bounded at both ends.

CREATE OR REPLACE FUNCTION chat.messages_page(p_room text, p_after bigint, p_before bigint, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_found boolean;
BEGIN
    IF p_max IS NULL OR p_max < 1 OR p_max > 500 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'p_max must be between 1 and 500';
    END IF;
    v_found := EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room);
    RETURN QUERY SELECT CASE WHEN v_found THEN 'ok' ELSE 'unknown_room' END,
                        NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text;
    IF NOT v_found THEN
        RETURN;
    END IF;
    IF p_after IS NOT NULL THEN
        RETURN QUERY
            SELECT 'message'::text, m.id, m.room_id, m.author, m.body, m.client_id,
                   chat.format_ts(m.sent_at)
            FROM chat.messages m
            WHERE m.room_id = p_room AND m.id > p_after
              AND m.id < COALESCE(p_before, 9223372036854775807)
            ORDER BY m.id
            LIMIT p_max;
    ELSE
        RETURN QUERY
            SELECT 'message'::text, t.id, t.room_id, t.author, t.body, t.client_id,
                   chat.format_ts(t.sent_at)
            FROM (
                SELECT m.*
                FROM chat.messages m
                WHERE m.room_id = p_room
                  AND m.id < COALESCE(p_before, 9223372036854775807)
                ORDER BY m.id DESC
                LIMIT p_max
            ) t
            ORDER BY t.id;
    END IF;
END
$$;

