-- 0010_replies_reactions: replies and emoji reactions, as events of the log.
--
-- Replies. A message may answer an earlier message of its room: its
-- target_id names it (for an edit or a removal, target_id names what they
-- change; for a message, what it answers). The target must be a message of
-- the room that is not removed; removing it later leaves the reply as it
-- is, and pages show the quote as "removed message".
--
-- Reactions. A person (a session id: an account's is the same on every
-- device) adds or withdraws one emoji on one message: each is an event of
-- the room's log with the room's next gapless id, so the one cursor brings
-- it to every page ('reaction' or 'unreaction', target_id the message, body
-- the emoji, author and session_id the person). chat.reactions holds what
-- is in force now, one row per (message, person, emoji), naming the event
-- that added it; pages scrolling back get those events with their messages
-- (chat.room_events below). Adding what is there, or withdrawing what is
-- not, changes nothing and appends nothing. A message holds at most
-- p_max_emoji different emoji. Reactions pass the same gate as posts: the
-- writer's status, mutes, and the author's bucket for the room. A removed
-- message takes no reactions, and its old ones are no longer shown.
--
-- The previous release's hosts keep working during a rolling update: the
-- functions they call keep their signatures and leave reactions out (their
-- pages know no such events), and their posts are never replies.

ALTER TABLE chat.messages DROP CONSTRAINT IF EXISTS messages_event_shape;
ALTER TABLE chat.messages ADD CONSTRAINT messages_event_shape CHECK (
    (kind = 'message' AND client_id IS NOT NULL
        AND (removed_at IS NOT NULL OR char_length(body) >= 1))
    OR (kind = 'edit' AND target_id IS NOT NULL AND client_id IS NULL)
    OR (kind = 'removal' AND target_id IS NOT NULL AND client_id IS NULL AND body = '')
    OR (kind IN ('reaction', 'unreaction') AND target_id IS NOT NULL AND client_id IS NULL
        AND session_id IS NOT NULL AND char_length(body) BETWEEN 1 AND 16));

CREATE TABLE IF NOT EXISTS chat.reactions (
    room_id    text   NOT NULL,
    message_id bigint NOT NULL,
    session_id text   NOT NULL,
    emoji      text   NOT NULL,
    -- The 'reaction' event that added it (its author is the person's name
    -- at the time).
    event_id   bigint NOT NULL,
    CONSTRAINT reactions_pkey PRIMARY KEY (room_id, message_id, session_id, emoji)
);

-- chat.room_events (0008), where p_reactions says whether reactions are
-- wanted: after a cursor, every event (reactions too, when wanted); scrolling
-- back, the newest messages as they are now, then (when wanted) the events
-- of the reactions in force on them, at most 2000, oldest first.
CREATE OR REPLACE FUNCTION chat.room_events(p_room text, p_after bigint, p_before bigint,
                                            p_max bigint, p_reactions boolean)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_found boolean;
    v_first bigint;
    v_last bigint;
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
        RETURN QUERY
            SELECT 'event'::text, e.*
            FROM chat.messages m, LATERAL chat.event_row(m) e
            WHERE m.room_id = p_room AND m.id > p_after
              AND m.id < COALESCE(p_before, 9223372036854775807)
              AND (p_reactions OR m.kind IN ('message', 'edit', 'removal'))
            ORDER BY m.id
            LIMIT p_max;
        RETURN;
    END IF;
    SELECT min(t.id), max(t.id) INTO v_first, v_last
    FROM (SELECT m.id FROM chat.messages m
          WHERE m.room_id = p_room AND m.id < COALESCE(p_before, 9223372036854775807)
            AND m.kind = 'message'
          ORDER BY m.id DESC
          LIMIT p_max) t;
    RETURN QUERY
        SELECT 'event'::text, e.*
        FROM chat.messages m, LATERAL chat.event_row(m) e
        WHERE m.room_id = p_room AND m.id BETWEEN v_first AND v_last AND m.kind = 'message'
        ORDER BY m.id;
    IF p_reactions THEN
        RETURN QUERY
            SELECT 'event'::text, e.*
            FROM chat.reactions x
            JOIN chat.messages t ON t.room_id = x.room_id AND t.id = x.message_id
            JOIN chat.messages m ON m.room_id = x.room_id AND m.id = x.event_id,
            LATERAL chat.event_row(m) e
            WHERE x.room_id = p_room AND x.message_id BETWEEN v_first AND v_last
              AND t.removed_at IS NULL
            ORDER BY m.id
            LIMIT 2000;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION chat.room_events(p_room text, p_after bigint, p_before bigint, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT * FROM chat.room_events(p_room, p_after, p_before, p_max, false)
$$;

-- chat.poll_events (0008), where p_reactions says whether reaction events
-- are wanted.
CREATE OR REPLACE FUNCTION chat.poll_events(p_room text, p_after bigint, p_max bigint, p_rooms text,
                                            p_reactions boolean)
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
          AND (p_reactions OR m.kind IN ('message', 'edit', 'removal'))
        ORDER BY m.id
        LIMIT p_max;
END
$$;

CREATE OR REPLACE FUNCTION chat.poll_events(p_room text, p_after bigint, p_max bigint, p_rooms text)
RETURNS TABLE (kind text, id bigint, room text, author text, body text, client_id text,
               sent_at text, event text, target bigint, session text, edited_at text,
               removed_at text, removed_by text, title text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT * FROM chat.poll_events(p_room, p_after, p_max, p_rooms, false)
$$;

-- chat.post_message (0009) answering p_reply_to (NULL: answering nothing).
-- Checks in order: room, replay (a retry is answered with what was stored,
-- even if its target was removed since), the target ('unknown_reply': no
-- message of this room has that id; 'reply_removed'), then the writer's gate.
CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text,
                                             p_session text, p_burst bigint, p_per_minute bigint,
                                             p_account bigint, p_version bigint,
                                             p_name_key text, p_client text, p_reply_to bigint)
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
    v_target chat.messages%ROWTYPE;
BEGIN
    IF NOT chat.lock_room(p_room) THEN
        v_status := 'unknown_room';
    ELSE
        SELECT m.* INTO v_msg
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
        IF FOUND THEN
            v_status := 'replayed';
        ELSE
            IF p_reply_to IS NOT NULL THEN
                SELECT m.* INTO v_target FROM chat.messages m
                WHERE m.room_id = p_room AND m.id = p_reply_to AND m.kind = 'message';
                v_status := CASE WHEN NOT FOUND THEN 'unknown_reply'
                                 WHEN v_target.removed_at IS NOT NULL THEN 'reply_removed' END;
            END IF;
            IF v_status IS NULL THEN
                SELECT g.status, g.until, g.wait_ms INTO v_status, v_until, v_wait
                FROM chat.writer_gate(p_room, p_author, p_account, p_version, p_name_key,
                                      p_client, p_burst, p_per_minute) g;
                v_status := COALESCE(v_status, 'created');
            END IF;
        END IF;
    END IF;
    IF v_status = 'created' THEN
        INSERT INTO chat.messages AS m (room_id, id, author, body, client_id, session_id, sent_at,
                                        target_id)
        VALUES (p_room, chat.next_id(p_room), p_author, p_body, p_client_id, p_session,
                clock_timestamp(), p_reply_to)
        RETURNING m.* INTO v_msg;
    END IF;
    RETURN QUERY SELECT v_status, e.*,
                        CASE WHEN v_status = 'rate_limited' THEN v_wait END,
                        CASE WHEN v_status = 'muted' THEN chat.format_ts(v_until) END
                 FROM chat.event_row(v_msg) e;
END
$$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text,
                                             p_session text, p_burst bigint, p_per_minute bigint,
                                             p_account bigint, p_version bigint,
                                             p_name_key text, p_client text)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT * FROM chat.post_message(p_room, p_author, p_body, p_client_id, p_session, p_burst,
                                    p_per_minute, p_account, p_version, p_name_key, p_client,
                                    NULL)
$$;

-- A person (p_session, named p_author) adds (p_on 1) or withdraws (0) an emoji
-- on message p_id. One row: the status, the event appended (for 'reacted'),
-- retry_after_ms and until as chat.post_message. Checks in order: room,
-- message ('unknown_message'), 'removed', 'unchanged' (nothing to do: no
-- event, no token), 'too_many' (a new emoji on a message that has
-- p_max_emoji different ones), then the writer's gate.
CREATE OR REPLACE FUNCTION chat.react(p_room text, p_id bigint, p_author text, p_session text,
                                      p_emoji text, p_on bigint, p_max_emoji bigint,
                                      p_burst bigint, p_per_minute bigint, p_account bigint,
                                      p_version bigint, p_name_key text, p_client text)
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
    v_event chat.messages%ROWTYPE;
    v_on boolean := p_on <> 0;
BEGIN
    IF NOT chat.lock_room(p_room) THEN
        v_status := 'unknown_room';
    ELSE
        SELECT m.* INTO v_msg FROM chat.messages m
        WHERE m.room_id = p_room AND m.id = p_id AND m.kind = 'message';
        IF NOT FOUND THEN
            v_status := 'unknown_message';
        ELSIF v_msg.removed_at IS NOT NULL THEN
            v_status := 'removed';
        ELSIF v_on = EXISTS (SELECT 1 FROM chat.reactions x
                             WHERE x.room_id = p_room AND x.message_id = p_id
                               AND x.session_id = p_session AND x.emoji = p_emoji) THEN
            v_status := 'unchanged';
        ELSIF v_on
              AND NOT EXISTS (SELECT 1 FROM chat.reactions x
                              WHERE x.room_id = p_room AND x.message_id = p_id
                                AND x.emoji = p_emoji)
              AND (SELECT count(DISTINCT x.emoji) FROM chat.reactions x
                   WHERE x.room_id = p_room AND x.message_id = p_id) >= p_max_emoji THEN
            v_status := 'too_many';
        ELSE
            SELECT g.status, g.until, g.wait_ms INTO v_status, v_until, v_wait
            FROM chat.writer_gate(p_room, p_author, p_account, p_version, p_name_key,
                                  p_client, p_burst, p_per_minute) g;
            v_status := COALESCE(v_status, 'reacted');
        END IF;
    END IF;
    IF v_status = 'reacted' THEN
        INSERT INTO chat.messages AS m (room_id, id, kind, target_id, author, body, session_id,
                                        sent_at)
        VALUES (p_room, chat.next_id(p_room), CASE WHEN v_on THEN 'reaction' ELSE 'unreaction' END,
                p_id, p_author, p_emoji, p_session, clock_timestamp())
        RETURNING m.* INTO v_event;
        IF v_on THEN
            INSERT INTO chat.reactions (room_id, message_id, session_id, emoji, event_id)
            VALUES (p_room, p_id, p_session, p_emoji, v_event.id);
        ELSE
            DELETE FROM chat.reactions x
            WHERE x.room_id = p_room AND x.message_id = p_id AND x.session_id = p_session
              AND x.emoji = p_emoji;
        END IF;
    END IF;
    RETURN QUERY SELECT v_status, e.*,
                        CASE WHEN v_status = 'rate_limited' THEN v_wait END,
                        CASE WHEN v_status = 'muted' THEN chat.format_ts(v_until) END
                 FROM chat.event_row(v_event) e;
END
$$;

REVOKE ALL ON TABLE chat.reactions FROM PUBLIC, ostchat_app;
REVOKE ALL ON FUNCTION
    chat.room_events(text, bigint, bigint, bigint, boolean),
    chat.poll_events(text, bigint, bigint, text, boolean),
    chat.post_message(text, text, text, text, text, bigint, bigint, bigint, bigint, text, text, bigint),
    chat.react(text, bigint, text, text, text, bigint, bigint, bigint, bigint, bigint, bigint, text,
               text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat.room_events(text, bigint, bigint, bigint, boolean),
    chat.poll_events(text, bigint, bigint, text, boolean),
    chat.post_message(text, text, text, text, text, bigint, bigint, bigint, bigint, text, text, bigint),
    chat.react(text, bigint, text, text, text, bigint, bigint, bigint, bigint, bigint, bigint, text,
               text)
TO ostchat_app;
