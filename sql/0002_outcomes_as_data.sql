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
-- - chat.messages_page: a first row whose status is 'ok' or 'unknown_room'
--   (the message columns NULL), then one row per message, status 'message';
-- - chat.post_message: one row, status 'created', 'replayed' or
--   'unknown_room' (message columns NULL for the last);
-- - chat.add_room: one row, status 'created' or 'exists'.
--
-- 0001's functions keep their names, columns and behaviour (P0002 and all)
-- for hosts of the previous release during a rolling update, but become thin
-- wrappers of these, so the cursor's locking and paging live in one place. A
-- later migration drops them.

-- One page of a room, ascending by id, after the status row:
-- - p_after given: up to p_max messages with id > p_after (polling forward,
--   the hot path of the whole system: one primary-key lookup for the room,
--   one index range scan on messages_pkey);
-- - otherwise the newest p_max messages with id < p_before (scrolling back),
--   or the newest p_max of all when p_before is NULL too (a first load): a
--   backward index scan from the end of the range, then a re-sort of at most
--   p_max rows.
-- A page size outside 1..500 is a caller's bug, not an expected outcome: it
-- stays an error (the functions are the security boundary).
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

-- Appends a message with the next gapless per-room id, or returns the
-- original for a replayed (room, author, client_id).
--
-- Why not a sequence: ids from a sequence are handed out when a transaction
-- *starts* inserting, but become visible when it *commits*. If writer A
-- takes id 41 and writer B takes 42 and B commits first, a reader polling
-- with after=40 sees 42, moves its cursor to 42, and never sees 41 once A
-- commits. (Sequences also leave gaps on rollback.)
--
-- Why the row lock fixes it: the room row is locked FOR UPDATE before the
-- counter is read, and the lock is held until commit. The next writer of
-- the same room blocks on that lock until the transaction holding id N has
-- committed, i.e. is visible to every new snapshot, and only then can it
-- take N+1. So id N+1 can never be visible while N is not: a cursor never
-- skips a message. Writers of different rooms do not contend.
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

    -- clock_timestamp(), not now(): now() is the transaction start, which
    -- may precede the commit of the lock holder we waited for; the clock
    -- read after taking the lock keeps sent_at in id order.
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

-- 0001's interface, for the previous release's hosts: same signatures,
-- columns and errors (P0002 for an unknown room), now over the functions
-- above. chat.check_page (0001) raises for a bad page size or room first.
CREATE OR REPLACE FUNCTION chat.get_messages_after(p_room text, p_after bigint, p_max bigint)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY SELECT p.id, p.room, p.author, p.body, p.client_id, p.sent_at
                 FROM chat.messages_page(p_room, p_after, NULL, p_max) p
                 WHERE p.status = 'message';
END
$$;

CREATE OR REPLACE FUNCTION chat.get_latest_messages(p_room text, p_max bigint)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY SELECT p.id, p.room, p.author, p.body, p.client_id, p.sent_at
                 FROM chat.messages_page(p_room, NULL, NULL, p_max) p
                 WHERE p.status = 'message';
END
$$;

CREATE OR REPLACE FUNCTION chat.get_messages_before(p_room text, p_before bigint, p_max bigint)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY SELECT p.id, p.room, p.author, p.body, p.client_id, p.sent_at
                 FROM chat.messages_page(p_room, NULL, p_before, p_max) p
                 WHERE p.status = 'message';
END
$$;

CREATE OR REPLACE FUNCTION chat.send_message(p_room text, p_author text, p_body text, p_client_id text)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text, created boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    SELECT * INTO v FROM chat.post_message(p_room, p_author, p_body, p_client_id);
    IF v.status = 'unknown_room' THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'unknown room';
    END IF;
    RETURN QUERY SELECT v.id, v.room, v.author, v.body, v.client_id, v.sent_at,
                        v.status = 'created';
END
$$;

CREATE OR REPLACE FUNCTION chat.create_room(p_id text, p_title text)
RETURNS TABLE (id text, title text, last_message_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT a.id, a.title, a.last_message_id
    FROM chat.add_room(p_id, p_title) a
    WHERE a.status = 'created'
$$;

REVOKE ALL ON FUNCTION
    chat.messages_page(text, bigint, bigint, bigint),
    chat.post_message(text, text, text, text),
    chat.add_room(text, text)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    chat.messages_page(text, bigint, bigint, bigint),
    chat.post_message(text, text, text, text),
    chat.add_room(text, text)
TO ostchat_app;
