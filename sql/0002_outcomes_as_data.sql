-- 0002_outcomes_as_data: expected outcomes come back as rows, never as errors.
--
-- Why: 0001's functions raised P0002 for an unknown room, so the difference
-- between 404 and 503 depended on how the host hands a database error to the
-- component. Spin's synchronous `query` turns every error met while reading
-- rows into plain text (spinframework/spin#3671 era), and the chat answered
-- 503 for an unknown room. Here every expected outcome (unknown room, replayed
-- message, room id taken) is a `status` column of the result, and every call
-- returns at least one row, so nothing depends on error formatting or on
-- column metadata of an empty result.
--
-- The result contract (crates/chat/src/sql.rs reads it, by column position):
-- - page functions: a first row whose status is 'ok' or 'unknown_room' (the
--   message columns NULL), then one row per message with status 'message';
-- - chat.post_message: one row, status 'created', 'replayed' or
--   'unknown_room' (message columns NULL for the last);
-- - chat.add_room: one row, status 'created' or 'exists'.
--
-- The 0001 functions stay, unchanged and still granted, so hosts of the
-- previous release keep working while a rolling update replaces them; a
-- later migration drops them.

-- The page size bound, checked by every page function: the functions are the
-- security boundary, and the API never asks for more than 500 rows. A wrong
-- bound is a caller bug, not an expected outcome, so it stays an error.
CREATE OR REPLACE FUNCTION chat.check_max(p_max bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    IF p_max IS NULL OR p_max < 1 OR p_max > 500 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'p_max must be between 1 and 500';
    END IF;
END
$$;

-- Forward polling: up to p_max messages with id > p_after, ascending, after
-- the status row. The hot path of the whole system: one primary-key lookup
-- for the room and one index range scan on messages_pkey.
CREATE OR REPLACE FUNCTION chat.messages_after(p_room text, p_after bigint, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_max(p_max);
    IF NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::bigint, NULL::text, NULL::text,
                        NULL::text, NULL::text, NULL::text;
    RETURN QUERY
        SELECT 'message'::text, m.id, m.room_id, m.author, m.body, m.client_id,
               chat.format_ts(m.sent_at)
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.id > p_after
        ORDER BY m.id
        LIMIT p_max;
END
$$;

-- The newest p_max messages, ascending, after the status row.
CREATE OR REPLACE FUNCTION chat.messages_latest(p_room text, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_max(p_max);
    IF NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::bigint, NULL::text, NULL::text,
                        NULL::text, NULL::text, NULL::text;
    RETURN QUERY
        SELECT 'message'::text, t.id, t.room_id, t.author, t.body, t.client_id,
               chat.format_ts(t.sent_at)
        FROM (
            SELECT m.*
            FROM chat.messages m
            WHERE m.room_id = p_room
            ORDER BY m.id DESC
            LIMIT p_max
        ) t
        ORDER BY t.id;
END
$$;

-- Scrolling back: the newest p_max messages with id < p_before, ascending,
-- after the status row.
CREATE OR REPLACE FUNCTION chat.messages_before(p_room text, p_before bigint, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_max(p_max);
    IF NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::bigint, NULL::text, NULL::text,
                        NULL::text, NULL::text, NULL::text;
    RETURN QUERY
        SELECT 'message'::text, t.id, t.room_id, t.author, t.body, t.client_id,
               chat.format_ts(t.sent_at)
        FROM (
            SELECT m.*
            FROM chat.messages m
            WHERE m.room_id = p_room AND m.id < p_before
            ORDER BY m.id DESC
            LIMIT p_max
        ) t
        ORDER BY t.id;
END
$$;

-- Appends a message with the next gapless per-room id, or returns the
-- original for a replayed (room, author, client_id). The locking is 0001's
-- chat.send_message, unchanged (see there for why the room row lock keeps
-- the cursor gapless); only the outcomes are reported differently.
CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_id bigint;
    v_msg chat.messages%ROWTYPE;
BEGIN
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;

    -- Under the room lock, so a concurrent retry of the same request waits
    -- and then finds this request's committed row instead of racing it.
    SELECT m.* INTO v_msg
    FROM chat.messages m
    WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
    IF FOUND THEN
        RETURN QUERY SELECT 'replayed'::text, v_msg.id, v_msg.room_id, v_msg.author,
                            v_msg.body, v_msg.client_id, chat.format_ts(v_msg.sent_at);
        RETURN;
    END IF;

    UPDATE chat.rooms r
    SET last_message_id = r.last_message_id + 1
    WHERE r.id = p_room
    RETURNING r.last_message_id INTO v_id;

    -- clock_timestamp(): read after taking the lock, so sent_at follows id order.
    INSERT INTO chat.messages AS m (room_id, id, author, body, client_id, sent_at)
    VALUES (p_room, v_id, p_author, p_body, p_client_id, clock_timestamp())
    RETURNING m.* INTO v_msg;

    RETURN QUERY SELECT 'created'::text, v_msg.id, v_msg.room_id, v_msg.author,
                        v_msg.body, v_msg.client_id, chat.format_ts(v_msg.sent_at);
END
$$;

-- Creates a room: one row, 'created' with the new room, or 'exists' with the
-- room that already has this id (its title is not changed).
CREATE OR REPLACE FUNCTION chat.add_room(p_id text, p_title text)
RETURNS TABLE (status text, id text, title text, last_message_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        INSERT INTO chat.rooms AS r (id, title)
        VALUES (p_id, p_title)
        ON CONFLICT ON CONSTRAINT rooms_pkey DO NOTHING
        RETURNING 'created'::text, r.id, r.title, r.last_message_id;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT 'exists'::text, r.id, r.title, r.last_message_id
            FROM chat.rooms r
            WHERE r.id = p_id;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION
    chat.check_max(bigint),
    chat.messages_after(text, bigint, bigint),
    chat.messages_latest(text, bigint),
    chat.messages_before(text, bigint, bigint),
    chat.post_message(text, text, text, text),
    chat.add_room(text, text)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    chat.messages_after(text, bigint, bigint),
    chat.messages_latest(text, bigint),
    chat.messages_before(text, bigint, bigint),
    chat.post_message(text, text, text, text),
    chat.add_room(text, text)
TO ostchat_app;
