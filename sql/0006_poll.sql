-- 0006_poll: one poll per person, and reads a streaming replica can serve.
--
-- chat.poll answers, in one call and one snapshot, what the page asked with
-- two polls before (the open room's messages after the cursor, and the room
-- list for unread counts), plus where it was read: the first row says
-- whether this server is a replica and how far it lags, so a host can tell
-- a replica that is too far behind (or was promoted) from a good one
-- without a second round trip.
--
-- The result contract (crates/chat/src/sql.rs reads it, by column position):
-- columns (kind, id, room, author, body, client_id, sent_at, title);
-- - first row, kind 'ok' or 'unknown_room': id = the replay lag in
--   milliseconds (0 on a primary), title = 'primary' or 'replica';
-- - then, for a known room, one 'room' row per room listed (id = its last
--   message id, room = its id, title = its title), oldest room first;
-- - then one 'message' row per message after p_after, ascending, at most
--   p_max (as chat.messages_page).
-- p_rooms: a comma-separated list of room ids to list; NULL lists every
-- room. Unknown ids are left out.
--
-- Why a replica keeps the cursor gapless: on the primary, ids in a room
-- become visible in commit order (the room's row lock, 0002). A streaming
-- replica replays commits in the primary's commit order, so the same holds
-- there: it may be behind, never out of order. A lagging replica only
-- delays messages. A STABLE function runs every query in the caller's
-- snapshot, so the room rows and the messages agree.

-- The replay lag of this server in milliseconds: 0 on a primary, 0 on a
-- replica that has replayed all it received (an idle primary sends
-- nothing, so the time of the last replayed commit would say nothing), else
-- the age of the last replayed commit. A paused replay with WAL waiting
-- grows it, as it should.
CREATE OR REPLACE FUNCTION chat.replay_lag_ms()
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0::bigint
        WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
             AND NOT pg_is_wal_replay_paused() THEN 0::bigint
        ELSE greatest(0, COALESCE(
            (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0))
    END
$$;

-- Where a read is served: one row, ('primary' | 'replica', lag in ms).
CREATE OR REPLACE FUNCTION chat.read_source()
RETURNS TABLE (source text, lag_ms bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END,
           chat.replay_lag_ms()
$$;

-- The lag is computed here, not by calling chat.replay_lag_ms(): a nested
-- SECURITY DEFINER function with its own search_path costs a fifth of the
-- poll's time (pgbench: 7.6k against 9.5k calls a second here).
CREATE OR REPLACE FUNCTION chat.poll(p_room text, p_after bigint, p_max bigint, p_rooms text)
RETURNS TABLE (kind text, id bigint, room text, author text, body text, client_id text,
               sent_at text, title text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_found boolean;
    v_replica boolean := pg_is_in_recovery();
    v_lag bigint := 0;
BEGIN
    IF p_max IS NULL OR p_max < 1 OR p_max > 500 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'p_max must be between 1 and 500';
    END IF;
    IF p_after IS NULL OR p_after < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'p_after must be 0 or more';
    END IF;
    -- As chat.replay_lag_ms().
    IF v_replica AND (pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
                      OR pg_is_wal_replay_paused()) THEN
        v_lag := greatest(0, COALESCE(
            (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0));
    END IF;
    v_found := EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room);
    RETURN QUERY SELECT CASE WHEN v_found THEN 'ok' ELSE 'unknown_room' END, v_lag,
                        NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                        CASE WHEN v_replica THEN 'replica' ELSE 'primary' END;
    IF NOT v_found THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT 'room'::text, r.last_message_id, r.id, NULL::text, NULL::text, NULL::text,
               NULL::text, r.title
        FROM chat.rooms r
        WHERE p_rooms IS NULL OR r.id = ANY (string_to_array(p_rooms, ','))
        ORDER BY r.created_at, r.id;
    RETURN QUERY
        SELECT 'message'::text, m.id, m.room_id, m.author, m.body, m.client_id,
               chat.format_ts(m.sent_at), NULL::text
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.id > p_after
        ORDER BY m.id
        LIMIT p_max;
END
$$;

REVOKE ALL ON FUNCTION
    chat.replay_lag_ms(),
    chat.read_source(),
    chat.poll(text, bigint, bigint, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat.read_source(),
    chat.poll(text, bigint, bigint, text)
TO ostchat_app;
