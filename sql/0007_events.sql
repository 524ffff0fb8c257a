-- 0007_events: a room's history is a log of events, and who may change it.
--
-- Events. A room's rows in chat.messages are now events with the same
-- gapless per-room ids: a message (kind 'message'), an edit of a message
-- ('edit', with target_id and the new text) or a removal ('removal', with
-- target_id, no text). Every event takes the room's next id under the
-- room's row lock, exactly as a message always has (0002), so a poll after
-- N returns every event after N, in commit order, on every host and on every
-- replica, and one index range scan still answers it: a poll's cost does
-- not grow with edits. Besides its event, an edit or a removal updates the
-- message's own row, so paging backwards reads messages as they are now.
--
-- Ownership. Names are labels, not accounts: a message records the random
-- id of the session that sent it (carried in the signed token), and only
-- that session may edit it (within a window the caller passes) or remove
-- it. A moderator (the admin token) removes any message and mutes a name in
-- a room or everywhere. Every moderator action is a row of
-- chat.moderation_log, for operators to read.
--
-- Erasure. A removal empties the body of the message and of its edits in
-- place; what backups and WAL still hold is in SECURITY.md.
--
-- Presence. chat.presence holds who announced themselves in a room lately
-- (a page does so at most every 30 s); a poll lists the names seen in the
-- last minute. It is a logged table, not an unlogged one, on purpose: an
-- unlogged table cannot be read on a streaming replica, and polls are read
-- there. The cost is one small WAL record per person per 30 s.
--
-- The result contract (crates/chat/src/sql.rs reads it, by column position):
-- an event is the 12 columns (id, room, author, body, client_id, sent_at,
-- event, target, session, edited_at, removed_at, removed_by). client_id is
-- '' for edits and removals; target, session, edited_at, removed_at and
-- removed_by are NULL where they do not apply.
-- - chat.room_events: a status row ('ok' | 'unknown_room'), then 'event' rows;
-- - chat.poll_events: as chat.poll (0006), plus the event columns, plus one
--   'present' row per present name (in `author`), title last (column 13);
-- - chat.post_message (7 arguments), chat.edit_message, chat.remove_message:
--   one row, status then the 12 event columns (the message as it is now),
--   then retry_after_ms and until (when a mute ends);
-- - chat.mute_name: one row (status, name, room, until);
-- - chat.announce, chat.leave: a status row, then 'present' rows.
--
-- Hosts of the previous release keep working during a rolling update: the
-- functions they call stay, and their pages and polls leave edit and
-- removal events out (a removed message reads with an empty body there).

ALTER TABLE chat.messages
    ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'message',
    ADD COLUMN IF NOT EXISTS target_id bigint,
    ADD COLUMN IF NOT EXISTS session_id text,
    ADD COLUMN IF NOT EXISTS edited_at timestamptz,
    ADD COLUMN IF NOT EXISTS removed_at timestamptz,
    ADD COLUMN IF NOT EXISTS removed_by text;

-- Edits and removals have no idempotency key (an edit to the same text is a
-- no-op, a second removal changes nothing), and a removed body is empty.
ALTER TABLE chat.messages ALTER COLUMN client_id DROP NOT NULL;
ALTER TABLE chat.messages DROP CONSTRAINT IF EXISTS messages_body_length;
ALTER TABLE chat.messages ADD CONSTRAINT messages_body_length CHECK (char_length(body) <= 2000);
ALTER TABLE chat.messages DROP CONSTRAINT IF EXISTS messages_event_shape;
ALTER TABLE chat.messages ADD CONSTRAINT messages_event_shape CHECK (
    (kind = 'message' AND target_id IS NULL AND client_id IS NOT NULL
        AND (removed_at IS NOT NULL OR char_length(body) >= 1))
    OR (kind = 'edit' AND target_id IS NOT NULL AND client_id IS NULL)
    OR (kind = 'removal' AND target_id IS NOT NULL AND client_id IS NULL AND body = ''));
ALTER TABLE chat.messages DROP CONSTRAINT IF EXISTS messages_removed_by;
ALTER TABLE chat.messages ADD CONSTRAINT messages_removed_by
    CHECK (removed_by IS NULL OR removed_by IN ('author', 'moderator'));
ALTER TABLE chat.messages DROP CONSTRAINT IF EXISTS messages_session_syntax;
ALTER TABLE chat.messages ADD CONSTRAINT messages_session_syntax
    CHECK (session_id IS NULL OR session_id ~ '^[A-Za-z0-9_-]{1,64}$');

-- A removal erases the bodies of the message's edits: found by this index,
-- which only edits and removals enter.
CREATE INDEX IF NOT EXISTS messages_target ON chat.messages (room_id, target_id)
    WHERE target_id IS NOT NULL;

-- A mute holds a name (lower-cased: names are labels) in one room, or in
-- every room (scope '*'), until a time.
CREATE TABLE IF NOT EXISTS chat.mutes (
    name  text        NOT NULL,
    scope text        NOT NULL,
    until timestamptz NOT NULL,
    CONSTRAINT mutes_pkey PRIMARY KEY (name, scope)
);

-- Who did what, when: read it in pgAdmin (SELECT * FROM chat.moderation_log
-- ORDER BY id DESC). Rows are never changed by the app.
CREATE TABLE IF NOT EXISTS chat.moderation_log (
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    room_id    text,
    message_id bigint,
    name       text,
    until      timestamptz,
    CONSTRAINT moderation_log_pkey PRIMARY KEY (id),
    CONSTRAINT moderation_log_action CHECK (action IN ('remove', 'mute', 'unmute'))
);

-- Who is here: one row per (room, session), refreshed by the page at most
-- every 30 s. fillfactor 50 keeps the refreshes HOT updates (no index write).
CREATE TABLE IF NOT EXISTS chat.presence (
    room_id text        NOT NULL,
    key     text        NOT NULL,
    name    text        NOT NULL,
    seen_at timestamptz NOT NULL,
    CONSTRAINT presence_pkey PRIMARY KEY (room_id, key)
) WITH (fillfactor = 50);

-- When a mute of p_name in p_room (or everywhere) ends, NULL if none is in
-- force. Plain SQL without SET, so the planner inlines it (see format_ts).
CREATE OR REPLACE FUNCTION chat.muted_until(p_room text, p_name text)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT max(u.until)
    FROM chat.mutes u
    WHERE u.name = lower(p_name) AND u.scope IN (p_room, '*') AND u.until > clock_timestamp()
$$;

-- The names present in a room: seen in the last minute, at most 100.
CREATE OR REPLACE FUNCTION chat.present_names(p_room text)
RETURNS SETOF text
LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT p.name
    FROM chat.presence p
    WHERE p.room_id = p_room AND p.seen_at > clock_timestamp() - interval '60 seconds'
    ORDER BY p.name
    LIMIT 100
$$;

-- A page of events, ascending by id, after the status row:
-- - p_after given (with or without p_before): every event in the range,
--   edits and removals included (a client catching up);
-- - otherwise the newest p_max messages below p_before (or of all): messages
--   only, as they are now (a client scrolling back).
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
    RETURN QUERY SELECT CASE WHEN v_found THEN 'ok' ELSE 'unknown_room' END,
                        NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                        NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
    IF NOT v_found THEN
        RETURN;
    END IF;
    IF p_after IS NOT NULL THEN
        RETURN QUERY
            SELECT 'event'::text, m.id, m.room_id, m.author, m.body, COALESCE(m.client_id, ''),
                   chat.format_ts(m.sent_at), m.kind, m.target_id, m.session_id,
                   chat.format_ts(m.edited_at), chat.format_ts(m.removed_at), m.removed_by
            FROM chat.messages m
            WHERE m.room_id = p_room AND m.id > p_after
              AND m.id < COALESCE(p_before, 9223372036854775807)
            ORDER BY m.id
            LIMIT p_max;
    ELSE
        RETURN QUERY
            SELECT 'event'::text, t.id, t.room_id, t.author, t.body, COALESCE(t.client_id, ''),
                   chat.format_ts(t.sent_at), t.kind, t.target_id, t.session_id,
                   chat.format_ts(t.edited_at), chat.format_ts(t.removed_at), t.removed_by
            FROM (
                SELECT m.*
                FROM chat.messages m
                WHERE m.room_id = p_room
                  AND m.id < COALESCE(p_before, 9223372036854775807)
                  AND m.kind = 'message'
                ORDER BY m.id DESC
                LIMIT p_max
            ) t
            ORDER BY t.id;
    END IF;
END
$$;

-- chat.poll (0006) with events and presence: the status row (where it was
-- read), the rooms, the open room's present names, then every event after
-- the cursor.
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
    -- As chat.replay_lag_ms() (0006), inline for the same reason.
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
        SELECT 'event'::text, m.id, m.room_id, m.author, m.body, COALESCE(m.client_id, ''),
               chat.format_ts(m.sent_at), m.kind, m.target_id, m.session_id,
               chat.format_ts(m.edited_at), chat.format_ts(m.removed_at), m.removed_by,
               NULL::text
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.id > p_after
        ORDER BY m.id
        LIMIT p_max;
END
$$;

-- One message row as the 12 event columns, for the functions below.
CREATE OR REPLACE FUNCTION chat.event_row(m chat.messages)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text)
LANGUAGE sql STABLE
AS $$
    SELECT m.id, m.room_id, m.author, m.body, COALESCE(m.client_id, ''), chat.format_ts(m.sent_at),
           m.kind, m.target_id, m.session_id, chat.format_ts(m.edited_at),
           chat.format_ts(m.removed_at), m.removed_by
$$;

-- The next gapless id of a room whose row the caller has locked.
CREATE OR REPLACE FUNCTION chat.next_id(p_room text)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $$
    UPDATE chat.rooms r SET last_message_id = r.last_message_id + 1
    WHERE r.id = p_room
    RETURNING r.last_message_id
$$;

-- chat.post_message (0004) recording the sender's session, and refusing a
-- muted name ('muted', with until). Checks in this order: room, replay (a
-- retry of a stored message is never refused), mute, rate limit.
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
    v_wait bigint;
    v_until timestamptz;
    v_msg chat.messages%ROWTYPE;
BEGIN
    -- The room's row lock keeps ids gapless and in commit order (see 0002).
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_room'::text, e.*, NULL::bigint, NULL::text
                     FROM chat.event_row(NULL::chat.messages) e;
        RETURN;
    END IF;
    SELECT m.* INTO v_msg
    FROM chat.messages m
    WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
    IF FOUND THEN
        RETURN QUERY SELECT 'replayed'::text, e.*, NULL::bigint, NULL::text
                     FROM chat.event_row(v_msg) e;
        RETURN;
    END IF;
    v_until := chat.muted_until(p_room, p_author);
    IF v_until IS NOT NULL THEN
        RETURN QUERY SELECT 'muted'::text, e.*, NULL::bigint, chat.format_ts(v_until)
                     FROM chat.event_row(NULL::chat.messages) e;
        RETURN;
    END IF;
    v_wait := chat.take_token('post:' || p_room || ':' || p_author, p_burst, p_per_minute);
    IF v_wait > 0 THEN
        RETURN QUERY SELECT 'rate_limited'::text, e.*, v_wait, NULL::text
                     FROM chat.event_row(NULL::chat.messages) e;
        RETURN;
    END IF;
    INSERT INTO chat.messages AS m (room_id, id, author, body, client_id, session_id, sent_at)
    VALUES (p_room, chat.next_id(p_room), p_author, p_body, p_client_id, p_session, clock_timestamp())
    RETURNING m.* INTO v_msg;
    RETURN QUERY SELECT 'created'::text, e.*, NULL::bigint, NULL::text FROM chat.event_row(v_msg) e;
END
$$;

-- An edit by the message's session: a new 'edit' event with the text, and
-- the message's row updated. Outcomes, in the order checked: unknown_room,
-- unknown_message, not_yours, removed, unchanged (the same text: nothing
-- written, so a retried edit is harmless), window_closed (p_window_secs
-- after it was sent), muted, rate_limited (the author's post bucket: an
-- edit costs what a post costs), edited. The row is the message as it is
-- now.
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
    v_now timestamptz;
    v_wait bigint;
    v_until timestamptz;
    v_status text;
    v_msg chat.messages%ROWTYPE;
BEGIN
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        v_status := 'unknown_room';
    ELSE
        v_now := clock_timestamp();
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
            v_until := chat.muted_until(p_room, v_msg.author);
            IF v_until IS NOT NULL THEN
                v_status := 'muted';
            ELSE
                v_wait := chat.take_token('post:' || p_room || ':' || v_msg.author, p_burst, p_per_minute);
                v_status := CASE WHEN v_wait > 0 THEN 'rate_limited' ELSE 'edited' END;
            END IF;
        END IF;
    END IF;
    IF v_status = 'edited' THEN
        INSERT INTO chat.messages (room_id, id, kind, target_id, author, body, session_id, sent_at)
        VALUES (p_room, chat.next_id(p_room), 'edit', p_id, v_msg.author, p_body, p_session, v_now);
        UPDATE chat.messages m SET body = p_body, edited_at = v_now
        WHERE m.room_id = p_room AND m.id = p_id
        RETURNING m.* INTO v_msg;
    END IF;
    IF v_status IN ('unknown_room', 'unknown_message', 'not_yours') THEN
        v_msg := NULL;
    END IF;
    RETURN QUERY SELECT v_status, e.*, NULLIF(v_wait, 0), chat.format_ts(v_until)
                 FROM chat.event_row(v_msg) e;
END
$$;

-- A removal by the message's session (p_moderator NULL) or by a moderator
-- (p_moderator names who, for the log): a 'removal' event, the body of the
-- message and of its edits erased in place. Outcomes: unknown_room,
-- unknown_message, not_yours, already_removed (nothing written), removed.
-- The row is the message as it is now (its placeholder).
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
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
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

-- A moderator mutes p_name in p_room (NULL: every room) for p_secs seconds,
-- or lifts that mute (p_secs 0). One row: 'muted' or 'unmuted' (until
-- NULL), or 'unknown_room'. A name nobody uses yet can be muted: names are
-- labels.
CREATE OR REPLACE FUNCTION chat.mute_name(p_name text, p_room text, p_secs bigint, p_moderator text)
RETURNS TABLE (status text, name text, room text, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_scope text := COALESCE(p_room, '*');
    v_until timestamptz;
BEGIN
    IF p_room IS NOT NULL AND NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, p_name, p_room, NULL::text;
        RETURN;
    END IF;
    IF p_secs <= 0 THEN
        DELETE FROM chat.mutes u WHERE u.name = lower(p_name) AND u.scope = v_scope;
        INSERT INTO chat.moderation_log (actor, action, room_id, name)
        VALUES (p_moderator, 'unmute', p_room, p_name);
        RETURN QUERY SELECT 'unmuted'::text, p_name, p_room, NULL::text;
        RETURN;
    END IF;
    v_until := clock_timestamp() + make_interval(secs => p_secs);
    INSERT INTO chat.mutes AS u (name, scope, until)
    VALUES (lower(p_name), v_scope, v_until)
    ON CONFLICT ON CONSTRAINT mutes_pkey DO UPDATE SET until = EXCLUDED.until;
    INSERT INTO chat.moderation_log (actor, action, room_id, name, until)
    VALUES (p_moderator, 'mute', p_room, p_name, v_until);
    RETURN QUERY SELECT 'muted'::text, p_name, p_room, chat.format_ts(v_until);
END
$$;

-- A page says its person (p_name, keyed by session) is in p_room. A status
-- row ('ok' | 'unknown_room'), then one 'present' row per present name.
-- Now and then rows older than ten minutes are deleted, so the table stays
-- as small as the set of people present lately.
CREATE OR REPLACE FUNCTION chat.announce(p_room text, p_key text, p_name text)
RETURNS TABLE (status text, name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::text;
        RETURN;
    END IF;
    INSERT INTO chat.presence AS p (room_id, key, name, seen_at)
    VALUES (p_room, p_key, p_name, clock_timestamp())
    ON CONFLICT ON CONSTRAINT presence_pkey
    DO UPDATE SET name = EXCLUDED.name, seen_at = EXCLUDED.seen_at;
    IF random() < 0.01 THEN
        DELETE FROM chat.presence p WHERE p.seen_at < clock_timestamp() - interval '10 minutes';
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::text;
    RETURN QUERY SELECT 'present'::text, n FROM chat.present_names(p_room) n;
END
$$;

-- The page's person left p_room (closed the tab or switched rooms).
CREATE OR REPLACE FUNCTION chat.leave(p_room text, p_key text)
RETURNS TABLE (status text, name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::text;
        RETURN;
    END IF;
    DELETE FROM chat.presence p WHERE p.room_id = p_room AND p.key = p_key;
    RETURN QUERY SELECT 'ok'::text, NULL::text;
    RETURN QUERY SELECT 'present'::text, n FROM chat.present_names(p_room) n;
END
$$;

-- The previous release's page and poll, as in 0005 and 0006, leaving edit
-- and removal events out: its hosts read a NULL client_id as an error.
CREATE OR REPLACE FUNCTION chat.messages_page(p_room text, p_after bigint, p_before bigint, p_max bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN e.status = 'event' THEN 'message' ELSE e.status END, e.id, e.room,
           e.author, e.body, e.client_id, e.sent_at
    FROM chat.room_events(p_room, p_after, p_before, p_max) e
    WHERE e.status <> 'event' OR e.event = 'message'
$$;

CREATE OR REPLACE FUNCTION chat.poll(p_room text, p_after bigint, p_max bigint, p_rooms text)
RETURNS TABLE (kind text, id bigint, room text, author text, body text, client_id text,
               sent_at text, title text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN e.kind = 'event' THEN 'message' ELSE e.kind END, e.id, e.room, e.author,
           e.body, e.client_id, e.sent_at, e.title
    FROM chat.poll_events(p_room, p_after, p_max, p_rooms) e
    WHERE e.kind IN ('ok', 'unknown_room', 'room') OR e.event = 'message'
$$;

REVOKE ALL ON TABLE chat.mutes, chat.moderation_log, chat.presence FROM PUBLIC, ostchat_app;
REVOKE ALL ON FUNCTION
    chat.muted_until(text, text),
    chat.present_names(text),
    chat.event_row(chat.messages),
    chat.next_id(text),
    chat.room_events(text, bigint, bigint, bigint),
    chat.poll_events(text, bigint, bigint, text),
    chat.post_message(text, text, text, text, text, bigint, bigint),
    chat.edit_message(text, bigint, text, text, bigint, bigint, bigint),
    chat.remove_message(text, bigint, text, text),
    chat.mute_name(text, text, bigint, text),
    chat.announce(text, text, text),
    chat.leave(text, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat.room_events(text, bigint, bigint, bigint),
    chat.poll_events(text, bigint, bigint, text),
    chat.post_message(text, text, text, text, text, bigint, bigint),
    chat.edit_message(text, bigint, text, text, bigint, bigint, bigint),
    chat.remove_message(text, bigint, text, text),
    chat.mute_name(text, text, bigint, text),
    chat.announce(text, text, text),
    chat.leave(text, text)
TO ostchat_app;
