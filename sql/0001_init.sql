-- 0001_init: schema, tables, seed rooms, data-access functions, privileges.
--
-- Postgres 15. Applied once by the migration tool, but written to be safe to
-- re-run (IF NOT EXISTS, CREATE OR REPLACE, ON CONFLICT DO NOTHING, and
-- idempotent GRANT/REVOKE).
--
-- The application role `ostchat_app` gets no table privileges at all: it can
-- only call the SECURITY DEFINER functions below, so a compromised component
-- can do nothing the API could not do anyway (no reading other tables, no
-- rewriting history, no unbounded queries).
--
-- Every timestamp leaves the database as text, because Spin's Postgres host
-- interface has no timestamptz type. Every integer is bigint, because that
-- is the integer type Spin maps to i64 without surprises.

CREATE SCHEMA IF NOT EXISTS chat;

DO $$
BEGIN
    -- NOLOGIN here: the deployment's setup script gives it LOGIN and a
    -- password, so no credential ever lives in a migration file.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'ostchat_app') THEN
        CREATE ROLE ostchat_app NOLOGIN;
    END IF;
END
$$;

-- Functions created later by this owner must not be callable by PUBLIC by
-- default (Postgres grants EXECUTE to PUBLIC on every new function).
ALTER DEFAULT PRIVILEGES IN SCHEMA chat REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The CHECK constraints mirror crates/chat/src/validate.rs (char_length
-- counts characters, as the Rust side does), so the database stays
-- consistent even if a caller skips validation. Trimming is not mirrored:
-- Rust and Postgres disagree on what counts as whitespace.
CREATE TABLE IF NOT EXISTS chat.rooms (
    id              text        NOT NULL,
    title           text        NOT NULL,
    -- Per-room message counter; the id of the newest message (0 = none).
    last_message_id bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rooms_pkey PRIMARY KEY (id),
    CONSTRAINT rooms_id_syntax CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    CONSTRAINT rooms_title_length CHECK (char_length(title) BETWEEN 1 AND 64),
    CONSTRAINT rooms_title_no_controls CHECK (title !~ '[\x01-\x1f\x7f-\x9f]'),
    CONSTRAINT rooms_last_message_id_non_negative CHECK (last_message_id >= 0)
);

CREATE TABLE IF NOT EXISTS chat.messages (
    room_id   text        NOT NULL,
    id        bigint      NOT NULL,
    author    text        NOT NULL,
    body      text        NOT NULL,
    client_id text        NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    -- (room_id, id) is both the identity and the index every page query
    -- walks: "WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT n" is a
    -- bounded index range scan, independent of how many messages exist.
    CONSTRAINT messages_pkey PRIMARY KEY (room_id, id),
    CONSTRAINT messages_room_fkey FOREIGN KEY (room_id) REFERENCES chat.rooms (id),
    -- Idempotency key: a retried POST finds the original message.
    CONSTRAINT messages_idempotency_key UNIQUE (room_id, author, client_id),
    CONSTRAINT messages_id_positive CHECK (id > 0),
    CONSTRAINT messages_author_length CHECK (char_length(author) BETWEEN 1 AND 32),
    CONSTRAINT messages_author_no_controls CHECK (author !~ '[\x01-\x1f\x7f-\x9f]'),
    CONSTRAINT messages_body_length CHECK (char_length(body) BETWEEN 1 AND 2000),
    -- Newline (\x0a) and tab (\x09) are the only control characters allowed.
    CONSTRAINT messages_body_no_controls CHECK (body !~ '[\x01-\x08\x0b-\x1f\x7f-\x9f]'),
    CONSTRAINT messages_client_id_syntax CHECK (client_id ~ '^[!-~]{1,64}$')
);

-- Seed rooms. Explicit created_at offsets give them a stable listing order
-- (rooms are listed by created_at, and one INSERT would give all the same
-- now()).
INSERT INTO chat.rooms (id, title, created_at)
VALUES ('general', 'General', now()),
       ('distributed-systems', 'Distributed Systems', now() + interval '1 millisecond'),
       ('operating-systems', 'Operating Systems', now() + interval '2 milliseconds'),
       ('secure-software', 'Secure Software', now() + interval '3 milliseconds')
ON CONFLICT ON CONSTRAINT rooms_pkey DO NOTHING;

-- The single place that defines the wire format of timestamps:
-- RFC 3339 UTC with milliseconds, e.g. 2026-11-28T04:06:08.123Z.
-- Deliberately without a SET search_path clause: a SET clause prevents
-- Postgres from inlining a SQL function, which made it a per-row call that
-- cost as much as the index scan itself. It is safe without one because it
-- is not SECURITY DEFINER, the app role cannot execute it, and it is only
-- called from the definer functions below, whose search_path is pinned.
CREATE OR REPLACE FUNCTION chat.format_ts(ts timestamptz)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE OR REPLACE FUNCTION chat.list_rooms()
RETURNS TABLE (id text, title text, last_message_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT r.id, r.title, r.last_message_id
    FROM chat.rooms r
    ORDER BY r.created_at, r.id
$$;

-- Returns the new room, or no row when the id is taken (the caller maps
-- that to 409 without a second query).
CREATE OR REPLACE FUNCTION chat.create_room(p_id text, p_title text)
RETURNS TABLE (id text, title text, last_message_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    INSERT INTO chat.rooms AS r (id, title)
    VALUES (p_id, p_title)
    ON CONFLICT ON CONSTRAINT rooms_pkey DO NOTHING
    RETURNING r.id, r.title, r.last_message_id
$$;

-- Raises P0002 (no_data_found) for an unknown room, so readers tell "no such
-- room" from "no messages yet" in the same round trip. One primary-key
-- lookup. Also bounds p_max: the functions are the security boundary, and
-- the API never asks for more than 500 rows.
CREATE OR REPLACE FUNCTION chat.check_page(p_room text, p_max bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    IF p_max IS NULL OR p_max < 1 OR p_max > 500 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'p_max must be between 1 and 500';
    END IF;
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'unknown room';
    END IF;
END
$$;

-- Forward polling: up to p_max messages with id > p_after, ascending.
-- An index range scan on messages_pkey starting right after p_after.
CREATE OR REPLACE FUNCTION chat.get_messages_after(p_room text, p_after bigint, p_max bigint)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY
        SELECT m.id, m.room_id, m.author, m.body, m.client_id, chat.format_ts(m.sent_at)
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.id > p_after
        ORDER BY m.id
        LIMIT p_max;
END
$$;

-- The newest p_max messages, returned ascending. A backward index scan from
-- the end of the room's key range, then a re-sort of at most p_max rows.
CREATE OR REPLACE FUNCTION chat.get_latest_messages(p_room text, p_max bigint)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY
        SELECT t.id, t.room_id, t.author, t.body, t.client_id, chat.format_ts(t.sent_at)
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

-- Scrolling back: the newest p_max messages with id < p_before, ascending.
CREATE OR REPLACE FUNCTION chat.get_messages_before(p_room text, p_before bigint, p_max bigint)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY
        SELECT t.id, t.room_id, t.author, t.body, t.client_id, chat.format_ts(t.sent_at)
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
-- existing message for a replayed (room, author, client_id).
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
CREATE OR REPLACE FUNCTION chat.send_message(p_room text, p_author text, p_body text, p_client_id text)
RETURNS TABLE (id bigint, room text, author text, body text, client_id text, sent_at text, created boolean)
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
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'unknown room';
    END IF;

    -- Under the room lock, so a concurrent retry of the same request waits
    -- and then finds this request's committed row instead of racing it.
    SELECT m.* INTO v_msg
    FROM chat.messages m
    WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
    IF FOUND THEN
        -- Replay: the original message, and no counter bump.
        RETURN QUERY SELECT v_msg.id, v_msg.room_id, v_msg.author, v_msg.body,
                            v_msg.client_id, chat.format_ts(v_msg.sent_at), false;
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

    RETURN QUERY SELECT v_msg.id, v_msg.room_id, v_msg.author, v_msg.body,
                        v_msg.client_id, chat.format_ts(v_msg.sent_at), true;
END
$$;

-- A cheap round trip proving the database answers and the role can execute.
CREATE OR REPLACE FUNCTION chat.health()
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT 1::bigint
$$;

-- Least privilege. Revoke first (also undoing anything granted by hand),
-- then grant exactly what the components call.
REVOKE ALL ON SCHEMA chat FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA chat FROM PUBLIC, ostchat_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA chat FROM PUBLIC, ostchat_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chat FROM PUBLIC, ostchat_app;

GRANT USAGE ON SCHEMA chat TO ostchat_app;
GRANT EXECUTE ON FUNCTION
    chat.list_rooms(),
    chat.create_room(text, text),
    chat.get_messages_after(text, bigint, bigint),
    chat.get_latest_messages(text, bigint),
    chat.get_messages_before(text, bigint, bigint),
    chat.send_message(text, text, text, text),
    chat.health()
TO ostchat_app;
