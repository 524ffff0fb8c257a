-- 0008_helpers: each rule of the writing functions written once.
--
-- chat.lock_room takes the room's row lock (the lock that makes ids gapless
-- and visible in order; ARCHITECTURE.md, "Why the cursor is gapless") and
-- says whether the room exists. chat.write_gate is the check every new text
-- passes: a mute of its author, then a token from the author's bucket for
-- the room. chat.event_row (0007) is the one projection of an event, now
-- used by the readers too. The functions that use them are redefined here
-- with the same signatures, outcomes and order of checks; the store suite
-- holds them to it. sql/functions.sql shows every chat function as it now
-- stands (a test keeps it equal to the database).

CREATE OR REPLACE FUNCTION chat.lock_room(p_room text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    RETURN FOUND;
END
$$;

-- until: when the author's mute ends (NULL: not muted); wait_ms: how long
-- until the author's bucket has a token (0: one was taken). A muted author
-- takes no token.
CREATE OR REPLACE FUNCTION chat.write_gate(p_room text, p_author text, p_burst bigint,
                                           p_per_minute bigint,
                                           OUT until timestamptz, OUT wait_ms bigint)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    until := chat.muted_until(p_room, p_author);
    IF until IS NULL THEN
        wait_ms := chat.take_token('post:' || p_room || ':' || p_author, p_burst, p_per_minute);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION chat.room_events(p_room text, p_after bigint, p_before bigint, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text)
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
    RETURN QUERY SELECT CASE WHEN v_found THEN 'ok' ELSE 'unknown_room' END, e.*
                 FROM chat.event_row(NULL::chat.messages) e;
    IF NOT v_found THEN
        RETURN;
    END IF;
    IF p_after IS NOT NULL THEN
        -- Every event after the cursor (and before `before`), oldest first.
        RETURN QUERY
            SELECT 'event'::text, e.*
            FROM chat.messages m, LATERAL chat.event_row(m) e
            WHERE m.room_id = p_room AND m.id > p_after
              AND m.id < COALESCE(p_before, 9223372036854775807)
            ORDER BY m.id
            LIMIT p_max;
    ELSE
        -- The newest messages (before `before`), oldest first; edits and
        -- removals are already applied to them.
        RETURN QUERY
            SELECT 'event'::text, e.*
            FROM (
                SELECT m AS msg
                FROM chat.messages m
                WHERE m.room_id = p_room
                  AND m.id < COALESCE(p_before, 9223372036854775807)
                  AND m.kind = 'message'
                ORDER BY m.id DESC
                LIMIT p_max
            ) t, LATERAL chat.event_row(t.msg) e
            ORDER BY (t.msg).id;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION chat.poll_events(p_room text, p_after bigint, p_max bigint, p_rooms text)
RETURNS TABLE (kind text, id bigint, room text, author text, body text, client_id text,
               sent_at text, event text, target bigint, session text, edited_at text,
               removed_at text, removed_by text, title text)
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
    -- A replica behind its primary says by how much (0 when caught up).
    IF v_replica AND (pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
                      OR pg_is_wal_replay_paused()) THEN
        v_lag := greatest(0, COALESCE(
            (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0));
    END IF;
    v_found := EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room);
    RETURN QUERY SELECT CASE WHEN v_found THEN 'ok' ELSE 'unknown_room' END, v_lag,
                        NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                        NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text,
                        CASE WHEN v_replica THEN 'replica' ELSE 'primary' END;
    IF NOT v_found THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT 'room'::text, r.last_message_id, r.id, NULL::text, NULL::text, NULL::text,
               NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text,
               NULL::text, r.title
        FROM chat.rooms r
        WHERE p_rooms IS NULL OR r.id = ANY (string_to_array(p_rooms, ','))
        ORDER BY r.created_at, r.id;
    RETURN QUERY
        SELECT 'present'::text, NULL::bigint, p_room, n, NULL::text, NULL::text,
               NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text,
               NULL::text, NULL::text
        FROM chat.present_names(p_room) n;
    RETURN QUERY
        SELECT 'event'::text, e.*, NULL::text
        FROM chat.messages m, LATERAL chat.event_row(m) e
        WHERE m.room_id = p_room AND m.id > p_after
        ORDER BY m.id
        LIMIT p_max;
END
$$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text,
                                             p_session text, p_burst bigint, p_per_minute bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_status text;
    v_until timestamptz;
    v_wait bigint;
    v_msg chat.messages%ROWTYPE;
BEGIN
    IF NOT chat.lock_room(p_room) THEN
        v_status := 'unknown_room';
    ELSE
        -- A retry of a stored message is answered with it, whatever else
        -- has changed since (a mute, an empty bucket).
        SELECT m.* INTO v_msg
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
        IF FOUND THEN
            v_status := 'replayed';
        ELSE
            SELECT g.until, g.wait_ms INTO v_until, v_wait
            FROM chat.write_gate(p_room, p_author, p_burst, p_per_minute) g;
            v_status := CASE WHEN v_until IS NOT NULL THEN 'muted'
                             WHEN v_wait > 0 THEN 'rate_limited'
                             ELSE 'created' END;
        END IF;
    END IF;
    IF v_status = 'created' THEN
        INSERT INTO chat.messages AS m (room_id, id, author, body, client_id, session_id, sent_at)
        VALUES (p_room, chat.next_id(p_room), p_author, p_body, p_client_id, p_session,
                clock_timestamp())
        RETURNING m.* INTO v_msg;
    END IF;
    RETURN QUERY SELECT v_status, e.*,
                        CASE WHEN v_status = 'rate_limited' THEN v_wait END,
                        CASE WHEN v_status = 'muted' THEN chat.format_ts(v_until) END
                 FROM chat.event_row(v_msg) e;
END
$$;

CREATE OR REPLACE FUNCTION chat.edit_message(p_room text, p_id bigint, p_session text, p_body text,
                                             p_window_secs bigint, p_burst bigint, p_per_minute bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
    v_until timestamptz;
    v_wait bigint;
    v_status text;
    v_msg chat.messages%ROWTYPE;
BEGIN
    IF NOT chat.lock_room(p_room) THEN
        v_status := 'unknown_room';
    ELSE
        SELECT m.* INTO v_msg FROM chat.messages m
        WHERE m.room_id = p_room AND m.id = p_id AND m.kind = 'message';
        IF NOT FOUND THEN
            v_status := 'unknown_message';
        ELSIF p_session IS NULL OR v_msg.session_id IS DISTINCT FROM p_session THEN
            v_status := 'not_yours';
        ELSIF v_msg.removed_at IS NOT NULL THEN
            v_status := 'removed';
        ELSIF v_msg.body = p_body THEN
            v_status := 'unchanged';
        ELSIF v_now >= v_msg.sent_at + make_interval(secs => p_window_secs) THEN
            v_status := 'window_closed';
        ELSE
            SELECT g.until, g.wait_ms INTO v_until, v_wait
            FROM chat.write_gate(p_room, v_msg.author, p_burst, p_per_minute) g;
            v_status := CASE WHEN v_until IS NOT NULL THEN 'muted'
                             WHEN v_wait > 0 THEN 'rate_limited'
                             ELSE 'edited' END;
        END IF;
    END IF;
    IF v_status = 'edited' THEN
        INSERT INTO chat.messages (room_id, id, kind, target_id, author, body, session_id, sent_at)
        VALUES (p_room, chat.next_id(p_room), 'edit', p_id, v_msg.author, p_body, p_session, v_now);
        UPDATE chat.messages m SET body = p_body, edited_at = v_now
        WHERE m.room_id = p_room AND m.id = p_id
        RETURNING m.* INTO v_msg;
    END IF;
    -- Nothing of a message the caller may not touch goes back.
    IF v_status IN ('unknown_room', 'unknown_message', 'not_yours') THEN
        v_msg := NULL;
    END IF;
    RETURN QUERY SELECT v_status, e.*,
                        CASE WHEN v_status = 'rate_limited' THEN v_wait END,
                        CASE WHEN v_status = 'muted' THEN chat.format_ts(v_until) END
                 FROM chat.event_row(v_msg) e;
END
$$;

CREATE OR REPLACE FUNCTION chat.remove_message(p_room text, p_id bigint, p_session text, p_moderator text)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz;
    v_by text := CASE WHEN p_moderator IS NULL THEN 'author' ELSE 'moderator' END;
    v_status text;
    v_msg chat.messages%ROWTYPE;
BEGIN
    IF NOT chat.lock_room(p_room) THEN
        v_status := 'unknown_room';
    ELSE
        SELECT m.* INTO v_msg FROM chat.messages m
        WHERE m.room_id = p_room AND m.id = p_id AND m.kind = 'message';
        IF NOT FOUND THEN
            v_status := 'unknown_message';
        ELSIF p_moderator IS NULL
              AND (p_session IS NULL OR v_msg.session_id IS DISTINCT FROM p_session) THEN
            v_status := 'not_yours';
        ELSIF v_msg.removed_at IS NOT NULL THEN
            v_status := 'already_removed';
        ELSE
            v_status := 'removed';
        END IF;
    END IF;
    IF v_status = 'removed' THEN
        -- The removal event, then the texts emptied in place: the message's
        -- and its edits'.
        v_now := clock_timestamp();
        INSERT INTO chat.messages (room_id, id, kind, target_id, author, body, session_id,
                                   removed_by, sent_at)
        VALUES (p_room, chat.next_id(p_room), 'removal', p_id, v_msg.author, '', p_session,
                v_by, v_now);
        UPDATE chat.messages m SET body = ''
        WHERE m.room_id = p_room AND m.target_id = p_id AND m.kind = 'edit';
        UPDATE chat.messages m SET body = '', removed_at = v_now, removed_by = v_by
        WHERE m.room_id = p_room AND m.id = p_id
        RETURNING m.* INTO v_msg;
        IF p_moderator IS NOT NULL THEN
            INSERT INTO chat.moderation_log (actor, action, room_id, message_id, name)
            VALUES (p_moderator, 'remove', p_room, p_id, v_msg.author);
        END IF;
    END IF;
    IF v_status IN ('unknown_room', 'unknown_message', 'not_yours') THEN
        v_msg := NULL;
    END IF;
    RETURN QUERY SELECT v_status, e.*, NULL::bigint, NULL::text FROM chat.event_row(v_msg) e;
END
$$;

-- The helpers run only inside the functions above (as their owner).
REVOKE ALL ON FUNCTION
    chat.lock_room(text),
    chat.write_gate(text, text, bigint, bigint)
FROM PUBLIC;
