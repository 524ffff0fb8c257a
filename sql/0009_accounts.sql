-- 0009_accounts: names people can trust.
--
-- Accounts. A person may claim a name with a password (chat.accounts). The
-- name's key (`name_key`) is computed by the app (crates/chat/src/names.rs:
-- NFKC, case folding, then the confusable skeleton of Unicode TS #39), so
-- "Alice", "ALICE" and "аlice" with a Cyrillic "а" are one name; the key is
-- unique. Only the password's Argon2id hash (a PHC string) is kept; the app
-- hashes and verifies, the database only stores. A claimed name gets a
-- session only with its password: chat.guest_join refuses it to guests.
--
-- Sessions of an account carry its id and its `version` (in the signed
-- token). Changing or resetting the password raises the version, which
-- signs every older session out: each write checks it. An account's
-- session id is `account-<id>`, the same on every device, so what it sent
-- stays its own (messages record the session id since 0007).
--
-- Writers. Every write now says who writes: an account (id, version) or a
-- guest (the key of its name). chat.writer_gate runs the checks in order:
-- signed out (an account whose version moved on), name claimed (a guest
-- whose name an account holds now), members only (a guest in a room that
-- is closed to guests), muted, rate limited.
--
-- Mutes. A mute holds keys (chat.mutes.name): `account:<id>` for an account,
-- so it outlives any rename; for a guest `name:<key>`, the lower-cased name
-- (the key older hosts check), and `addr:<client>` for every client address
-- that name's guest sessions came from lately (chat.guest_addresses), so a
-- muted guest cannot speak again by picking a new name from the same
-- address (names that came from there before the mute are not held by it:
-- chat.writer_muted_until). `origin` says which muted name a row belongs to, so lifting the
-- mute lifts all of them.
--
-- Moderators are accounts with the role 'moderator', granted by the
-- operator (chat.grant_role). The functions check the role, not the token,
-- so revoking it takes effect at once. The moderation log names the
-- moderator's account (actor_account).
--
-- Rooms may be members-only: guests read them but cannot post there.
--
-- Operators (as the owner, in psql; deploy/README.md, "Accounts and moderators"):
--   SELECT chat.grant_role('alice', 'moderator');      -- or 'member'
--   SELECT chat.reset_password('alice');                -- a one-time code
--   SELECT chat.delete_account('alice', erase => true); -- see SECURITY.md
--
-- Everything earlier stays callable, for the previous release's hosts
-- during a rolling update.

CREATE TABLE IF NOT EXISTS chat.accounts (
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    name          text        NOT NULL,
    name_key      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'member',
    version       bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- A reset by the operator: the SHA-256 (hex) of a one-time code, and
    -- until when it works. The password hash is '!' meanwhile (no password).
    reset_hash    text,
    reset_until   timestamptz,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_name_key UNIQUE (name_key),
    CONSTRAINT accounts_role CHECK (role IN ('member', 'moderator')),
    CONSTRAINT accounts_name_length CHECK (char_length(name) BETWEEN 1 AND 32),
    CONSTRAINT accounts_key_length CHECK (char_length(name_key) BETWEEN 1 AND 256),
    CONSTRAINT accounts_hash_length CHECK (char_length(password_hash) BETWEEN 1 AND 256)
);

-- Where guests of a name came from lately: a muted guest's addresses are
-- muted with the name. Pruned now and then (rows older than a week).
CREATE TABLE IF NOT EXISTS chat.guest_addresses (
    name_key   text        NOT NULL,
    client     text        NOT NULL,
    first_seen timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    CONSTRAINT guest_addresses_pkey PRIMARY KEY (name_key, client)
);

ALTER TABLE chat.rooms ADD COLUMN IF NOT EXISTS members_only boolean NOT NULL DEFAULT false;
ALTER TABLE chat.mutes ADD COLUMN IF NOT EXISTS origin text;
ALTER TABLE chat.mutes ADD COLUMN IF NOT EXISTS since timestamptz NOT NULL DEFAULT clock_timestamp();
ALTER TABLE chat.moderation_log ADD COLUMN IF NOT EXISTS actor_account bigint;
ALTER TABLE chat.moderation_log DROP CONSTRAINT IF EXISTS moderation_log_action;
ALTER TABLE chat.moderation_log ADD CONSTRAINT moderation_log_action CHECK (action IN (
    'remove', 'mute', 'unmute', 'create_room', 'members_only', 'open_room',
    'grant_role', 'reset_password', 'delete_account'));

-- Whether account p_account at version p_version may act as a moderator.
CREATE OR REPLACE FUNCTION chat.is_moderator(p_account bigint, p_version bigint)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM chat.accounts a
                   WHERE a.id = p_account AND a.version = p_version AND a.role = 'moderator')
$$;

-- NULL when the writer may write in p_room (NULL: no room), else why not:
-- 'signed_out', 'name_claimed' or 'members_only' (p_room_rule false skips
-- that one: presence is reading).
CREATE OR REPLACE FUNCTION chat.writer_status(p_room text, p_account bigint, p_version bigint,
                                              p_name_key text, p_room_rule boolean)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE
        WHEN p_account IS NOT NULL THEN
            CASE WHEN EXISTS (SELECT 1 FROM chat.accounts a
                              WHERE a.id = p_account AND a.version = p_version)
                 THEN NULL ELSE 'signed_out' END
        WHEN EXISTS (SELECT 1 FROM chat.accounts a WHERE a.name_key = p_name_key)
            THEN 'name_claimed'
        WHEN p_room_rule AND EXISTS (SELECT 1 FROM chat.rooms r
                                     WHERE r.id = p_room AND r.members_only)
            THEN 'members_only'
    END
$$;

-- When the latest mute that holds this writer in p_room (or everywhere)
-- ends; NULL if none is in force. An account is held by its own mute. A
-- guest by a mute of its name's key or lower-cased name, or of its client
-- address, unless this name already came from that address before the
-- address was muted: a muted guest's new names are held, while other guests
-- behind the same address (an office, a carrier's NAT) who were there
-- before are not.
CREATE OR REPLACE FUNCTION chat.writer_muted_until(p_room text, p_account bigint, p_author text,
                                                   p_name_key text, p_client text)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT max(u.until)
    FROM chat.mutes u
    WHERE u.scope IN (p_room, '*') AND u.until > clock_timestamp()
      AND CASE
          WHEN p_account IS NOT NULL THEN u.name = 'account:' || p_account
          WHEN u.name = 'addr:' || p_client THEN NOT EXISTS (
              SELECT 1 FROM chat.guest_addresses g
              WHERE g.name_key = p_name_key AND g.client = p_client AND g.first_seen < u.since)
          ELSE u.name IN ('name:' || p_name_key, lower(p_author))
      END
$$;

-- The gate every new text passes, in order: the writer's status, a mute of
-- any of its keys, then a token from the author's bucket for the room.
-- status NULL: pass (a token was taken).
CREATE OR REPLACE FUNCTION chat.writer_gate(p_room text, p_author text, p_account bigint,
                                            p_version bigint, p_name_key text, p_client text,
                                            p_burst bigint, p_per_minute bigint,
                                            OUT status text, OUT until timestamptz,
                                            OUT wait_ms bigint)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    status := chat.writer_status(p_room, p_account, p_version, p_name_key, true);
    IF status IS NOT NULL THEN
        RETURN;
    END IF;
    until := chat.writer_muted_until(p_room, p_account, p_author, p_name_key, p_client);
    IF until IS NOT NULL THEN
        status := 'muted';
        RETURN;
    END IF;
    wait_ms := chat.take_token('post:' || p_room || ':' || p_author, p_burst, p_per_minute);
    IF wait_ms > 0 THEN
        status := 'rate_limited';
    END IF;
END
$$;

-- A guest session for a name: 'name_claimed' (an account holds it),
-- 'rate_limited' (too many new sessions from this address; wait_ms), or
-- 'ok' (the address is remembered for the name).
CREATE OR REPLACE FUNCTION chat.guest_join(p_name_key text, p_client text, p_burst bigint,
                                           p_per_minute bigint)
RETURNS TABLE (status text, wait_ms bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_wait bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM chat.accounts a WHERE a.name_key = p_name_key) THEN
        RETURN QUERY SELECT 'name_claimed'::text, NULL::bigint;
        RETURN;
    END IF;
    v_wait := chat.take_token('session:' || p_client, p_burst, p_per_minute);
    IF v_wait > 0 THEN
        RETURN QUERY SELECT 'rate_limited'::text, v_wait;
        RETURN;
    END IF;
    -- 'unknown' (a host that reported no peer) is no address to mute.
    IF p_client <> 'unknown' THEN
        INSERT INTO chat.guest_addresses AS g (name_key, client, first_seen, seen_at)
        VALUES (p_name_key, p_client, clock_timestamp(), clock_timestamp())
        ON CONFLICT ON CONSTRAINT guest_addresses_pkey DO UPDATE SET seen_at = EXCLUDED.seen_at;
    END IF;
    IF random() < 0.01 THEN
        DELETE FROM chat.guest_addresses g WHERE g.seen_at < clock_timestamp() - interval '7 days';
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::bigint;
END
$$;

-- Before a name is claimed (and before the app spends a password hash on
-- it): 'ok', 'name_taken', 'rate_limited' (the address's session bucket,
-- wait_ms) or 'muted' (the address is muted, until).
CREATE OR REPLACE FUNCTION chat.claim_allowed(p_name_key text, p_client text, p_burst bigint,
                                              p_per_minute bigint)
RETURNS TABLE (status text, wait_ms bigint, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_wait bigint;
    v_until timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM chat.accounts a WHERE a.name_key = p_name_key) THEN
        RETURN QUERY SELECT 'name_taken'::text, NULL::bigint, NULL::text;
        RETURN;
    END IF;
    SELECT max(u.until) INTO v_until FROM chat.mutes u
    WHERE u.name = 'addr:' || p_client AND u.until > clock_timestamp();
    IF v_until IS NOT NULL THEN
        RETURN QUERY SELECT 'muted'::text, NULL::bigint, chat.format_ts(v_until);
        RETURN;
    END IF;
    v_wait := chat.take_token('session:' || p_client, p_burst, p_per_minute);
    IF v_wait > 0 THEN
        RETURN QUERY SELECT 'rate_limited'::text, v_wait, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::bigint, NULL::text;
END
$$;

-- Claims a name: 'created' with the account, or 'name_taken'.
CREATE OR REPLACE FUNCTION chat.create_account(p_name text, p_name_key text, p_hash text)
RETURNS TABLE (status text, id bigint, name text, role text, version bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        INSERT INTO chat.accounts AS a (name, name_key, password_hash)
        VALUES (p_name, p_name_key, p_hash)
        ON CONFLICT ON CONSTRAINT accounts_name_key DO NOTHING
        RETURNING 'created'::text, a.id, a.name, a.role, a.version;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'name_taken'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::bigint;
    END IF;
END
$$;

-- A sign-in attempt: first a token from the client address's bucket, then
-- one from the name's (both kept across hosts), then the account, if there
-- is one: the app verifies the password, so an unknown name and a known one
-- cost the same here. status 'rate_limited' (wait_ms) or 'ok'; id NULL for
-- an unknown name; reset_ok: a reset code is pending and still valid.
CREATE OR REPLACE FUNCTION chat.login_start(p_name_key text, p_client text, p_burst bigint,
                                            p_per_minute bigint)
RETURNS TABLE (status text, wait_ms bigint, id bigint, name text, role text, version bigint,
               password_hash text, reset_hash text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_wait bigint;
BEGIN
    v_wait := chat.take_token('login:addr:' || p_client, p_burst * 2, p_per_minute * 2);
    IF v_wait = 0 THEN
        v_wait := chat.take_token('login:name:' || p_name_key, p_burst, p_per_minute);
    END IF;
    IF v_wait > 0 THEN
        RETURN QUERY SELECT 'rate_limited'::text, v_wait, NULL::bigint, NULL::text, NULL::text,
                            NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT 'ok'::text, 0::bigint, a.id, a.name, a.role, a.version, a.password_hash,
               CASE WHEN a.reset_until > clock_timestamp() THEN a.reset_hash END
        FROM (SELECT 1) one
        LEFT JOIN chat.accounts a ON a.name_key = p_name_key;
END
$$;

-- A new password for account p_id, if it is still at p_version (the
-- version the caller proved its old password or reset code against):
-- 'changed' with the new version (every older session is signed out), or
-- 'stale'.
CREATE OR REPLACE FUNCTION chat.set_password(p_id bigint, p_version bigint, p_hash text)
RETURNS TABLE (status text, version bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        UPDATE chat.accounts a
        SET password_hash = p_hash, version = a.version + 1, reset_hash = NULL,
            reset_until = NULL
        WHERE a.id = p_id AND a.version = p_version
        RETURNING 'changed'::text, a.version;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint;
    END IF;
END
$$;

-- An account takes another name (its display): 'renamed' with the
-- account at its new version (older sessions are signed out: their tokens
-- carry the old name), 'name_taken', or 'signed_out' (p_version is not the
-- account's). Its messages stay its own (they record `account-<id>`), under
-- the name they were sent with; its mutes hold it still.
CREATE OR REPLACE FUNCTION chat.rename_account(p_id bigint, p_version bigint, p_name text,
                                               p_name_key text)
RETURNS TABLE (status text, id bigint, name text, role text, version bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chat.accounts a WHERE a.id = p_id AND a.version = p_version) THEN
        RETURN QUERY SELECT 'signed_out'::text, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM chat.accounts a WHERE a.name_key = p_name_key AND a.id <> p_id) THEN
        RETURN QUERY SELECT 'name_taken'::text, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
        UPDATE chat.accounts a
        SET name = p_name, name_key = p_name_key, version = a.version + 1
        WHERE a.id = p_id
        RETURNING 'renamed'::text, a.id, a.name, a.role, a.version;
EXCEPTION WHEN unique_violation THEN
    -- Claimed by someone else between the check and the update.
    RETURN QUERY SELECT 'name_taken'::text, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
END
$$;

-- The rooms, with whether guests may post in them.
CREATE OR REPLACE FUNCTION chat.room_list()
RETURNS TABLE (id text, title text, last_message_id bigint, members_only boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT r.id, r.title, r.last_message_id, r.members_only
    FROM chat.rooms r
    ORDER BY r.created_at, r.id
$$;

-- A moderator (p_account at p_version, or the admin token when p_account
-- is NULL) creates a room: 'created', 'exists' (the room with that id, not
-- changed) or 'not_moderator'.
CREATE OR REPLACE FUNCTION chat.add_room(p_id text, p_title text, p_members_only bigint,
                                         p_moderator text, p_account bigint, p_version bigint)
RETURNS TABLE (status text, id text, title text, last_message_id bigint, members_only boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_account IS NOT NULL AND NOT chat.is_moderator(p_account, p_version) THEN
        RETURN QUERY SELECT 'not_moderator'::text, NULL::text, NULL::text, NULL::bigint,
                            NULL::boolean;
        RETURN;
    END IF;
    RETURN QUERY
        INSERT INTO chat.rooms AS r (id, title, members_only)
        VALUES (p_id, p_title, p_members_only <> 0)
        ON CONFLICT ON CONSTRAINT rooms_pkey DO NOTHING
        RETURNING 'created'::text, r.id, r.title, r.last_message_id, r.members_only;
    IF FOUND THEN
        INSERT INTO chat.moderation_log (actor, actor_account, action, room_id)
        VALUES (p_moderator, p_account, 'create_room', p_id);
    ELSE
        RETURN QUERY
            SELECT 'exists'::text, r.id, r.title, r.last_message_id, r.members_only
            FROM chat.rooms r
            WHERE r.id = p_id;
    END IF;
END
$$;

-- A moderator makes a room members-only (p_members_only 1) or opens it to
-- guests (0): 'ok' with the room, 'unknown_room' or 'not_moderator'.
CREATE OR REPLACE FUNCTION chat.set_members_only(p_room text, p_members_only bigint,
                                                 p_moderator text, p_account bigint,
                                                 p_version bigint)
RETURNS TABLE (status text, id text, title text, last_message_id bigint, members_only boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_account IS NOT NULL AND NOT chat.is_moderator(p_account, p_version) THEN
        RETURN QUERY SELECT 'not_moderator'::text, NULL::text, NULL::text, NULL::bigint,
                            NULL::boolean;
        RETURN;
    END IF;
    RETURN QUERY
        UPDATE chat.rooms r SET members_only = (p_members_only <> 0)
        WHERE r.id = p_room
        RETURNING 'ok'::text, r.id, r.title, r.last_message_id, r.members_only;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::text, NULL::text, NULL::bigint,
                            NULL::boolean;
        RETURN;
    END IF;
    INSERT INTO chat.moderation_log (actor, actor_account, action, room_id)
    VALUES (p_moderator, p_account,
            CASE WHEN p_members_only <> 0 THEN 'members_only' ELSE 'open_room' END, p_room);
END
$$;

-- chat.post_message (0008) with its writer: an account (p_account at
-- p_version) or a guest (p_name_key, from p_client). Outcomes as in 0008,
-- plus 'signed_out', 'name_claimed' and 'members_only'.
CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text,
                                             p_session text, p_burst bigint, p_per_minute bigint,
                                             p_account bigint, p_version bigint,
                                             p_name_key text, p_client text)
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
        -- has changed since.
        SELECT m.* INTO v_msg
        FROM chat.messages m
        WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
        IF FOUND THEN
            v_status := 'replayed';
        ELSE
            SELECT g.status, g.until, g.wait_ms INTO v_status, v_until, v_wait
            FROM chat.writer_gate(p_room, p_author, p_account, p_version, p_name_key, p_client,
                                  p_burst, p_per_minute) g;
            v_status := COALESCE(v_status, 'created');
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

-- chat.edit_message (0008) with its writer, as chat.post_message above.
CREATE OR REPLACE FUNCTION chat.edit_message(p_room text, p_id bigint, p_session text, p_body text,
                                             p_window_secs bigint, p_burst bigint, p_per_minute bigint,
                                             p_account bigint, p_version bigint,
                                             p_name_key text, p_client text)
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
            SELECT g.status, g.until, g.wait_ms INTO v_status, v_until, v_wait
            FROM chat.writer_gate(p_room, v_msg.author, p_account, p_version, p_name_key,
                                  p_client, p_burst, p_per_minute) g;
            v_status := COALESCE(v_status, 'edited');
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
    RETURN QUERY SELECT v_status, e.*,
                        CASE WHEN v_status = 'rate_limited' THEN v_wait END,
                        CASE WHEN v_status = 'muted' THEN chat.format_ts(v_until) END
                 FROM chat.event_row(v_msg) e;
END
$$;

-- chat.remove_message (0008) with its remover: p_account at p_version (an
-- account: 'signed_out' once its version moved on; a moderator only while
-- it holds the role), or none (a guest, or the admin token when
-- p_moderator is given).
CREATE OR REPLACE FUNCTION chat.remove_message(p_room text, p_id bigint, p_session text,
                                               p_moderator text, p_account bigint,
                                               p_version bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_moderator text := p_moderator;
    v_row record;
BEGIN
    IF p_account IS NOT NULL THEN
        IF chat.writer_status(NULL, p_account, p_version, NULL, false) IS NOT NULL THEN
            RETURN QUERY SELECT 'signed_out'::text, e.*, NULL::bigint, NULL::text
                         FROM chat.event_row(NULL::chat.messages) e;
            RETURN;
        END IF;
        IF NOT chat.is_moderator(p_account, p_version) THEN
            v_moderator := NULL;
        END IF;
    END IF;
    SELECT * INTO v_row FROM chat.remove_message(p_room, p_id, p_session, v_moderator);
    -- The removal above logged a moderator's action under its name; the
    -- log names its account too.
    IF v_row.status = 'removed' AND v_moderator IS NOT NULL AND p_account IS NOT NULL THEN
        UPDATE chat.moderation_log l SET actor_account = p_account
        WHERE l.id = (SELECT max(l2.id) FROM chat.moderation_log l2
                      WHERE l2.action = 'remove' AND l2.room_id = p_room AND l2.message_id = p_id);
    END IF;
    RETURN QUERY SELECT v_row.status, v_row.id, v_row.room, v_row.author, v_row.body,
                        v_row.client_id, v_row.sent_at, v_row.event, v_row.target,
                        v_row.session, v_row.edited_at, v_row.removed_at, v_row.removed_by,
                        v_row.retry_after_ms, v_row.until;
END
$$;

-- A moderator mutes a name in p_room (NULL: every room) for p_secs (0
-- lifts it). An account's name mutes the account; a guest's name mutes
-- the name and the addresses its guest sessions came from in the last
-- p_recent_secs. One row: 'muted' (until) or 'unmuted', 'unknown_room' or
-- 'not_moderator'.
CREATE OR REPLACE FUNCTION chat.mute(p_name text, p_name_key text, p_room text, p_secs bigint,
                                     p_moderator text, p_account bigint, p_version bigint,
                                     p_recent_secs bigint)
RETURNS TABLE (status text, name text, room text, until text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_scope text := COALESCE(p_room, '*');
    v_until timestamptz;
    v_target bigint;
    v_origin text := 'name:' || p_name_key;
BEGIN
    IF p_account IS NOT NULL AND NOT chat.is_moderator(p_account, p_version) THEN
        RETURN QUERY SELECT 'not_moderator'::text, p_name, p_room, NULL::text;
        RETURN;
    END IF;
    IF p_room IS NOT NULL AND NOT EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT 'unknown_room'::text, p_name, p_room, NULL::text;
        RETURN;
    END IF;
    DELETE FROM chat.mutes u
    WHERE u.scope = v_scope AND (u.origin = v_origin OR (u.origin IS NULL AND u.name = lower(p_name)));
    IF p_secs <= 0 THEN
        INSERT INTO chat.moderation_log (actor, actor_account, action, room_id, name)
        VALUES (p_moderator, p_account, 'unmute', p_room, p_name);
        RETURN QUERY SELECT 'unmuted'::text, p_name, p_room, NULL::text;
        RETURN;
    END IF;
    v_until := clock_timestamp() + make_interval(secs => p_secs);
    SELECT a.id INTO v_target FROM chat.accounts a WHERE a.name_key = p_name_key;
    INSERT INTO chat.mutes AS u (name, scope, until, origin)
    SELECT k, v_scope, v_until, v_origin
    FROM (
        SELECT 'account:' || v_target AS k WHERE v_target IS NOT NULL
        UNION SELECT v_origin WHERE v_target IS NULL
        UNION SELECT lower(p_name) WHERE v_target IS NULL
        UNION SELECT 'addr:' || g.client FROM chat.guest_addresses g
              WHERE v_target IS NULL AND g.name_key = p_name_key
                AND g.seen_at > clock_timestamp() - make_interval(secs => p_recent_secs)
    ) keys
    ON CONFLICT ON CONSTRAINT mutes_pkey
    DO UPDATE SET until = greatest(u.until, EXCLUDED.until), origin = EXCLUDED.origin,
                  since = CASE WHEN u.until > clock_timestamp() THEN u.since
                               ELSE EXCLUDED.since END;
    INSERT INTO chat.moderation_log (actor, actor_account, action, room_id, name, until)
    VALUES (p_moderator, p_account, 'mute', p_room, p_name, v_until);
    RETURN QUERY SELECT 'muted'::text, p_name, p_room, chat.format_ts(v_until);
END
$$;

-- chat.announce (0007) with its writer: a guest whose name an account
-- holds now, or an account signed out, is not shown present ('name_claimed',
-- 'signed_out').
CREATE OR REPLACE FUNCTION chat.announce(p_room text, p_key text, p_name text,
                                         p_account bigint, p_version bigint, p_name_key text)
RETURNS TABLE (status text, name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_status text := chat.writer_status(p_room, p_account, p_version, p_name_key, false);
BEGIN
    IF v_status IS NOT NULL AND EXISTS (SELECT 1 FROM chat.rooms r WHERE r.id = p_room) THEN
        RETURN QUERY SELECT v_status, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM chat.announce(p_room, p_key, p_name);
END
$$;

-- The previous release's writers (0008), as the new ones with a guest that
-- claims no name key and comes from no address: the same outcomes as
-- before (a mute of the lower-cased name still holds it), the rules
-- written once.
CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text,
                                             p_session text, p_burst bigint, p_per_minute bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT * FROM chat.post_message(p_room, p_author, p_body, p_client_id, p_session, p_burst,
                                    p_per_minute, NULL, NULL, '', 'unknown')
$$;

CREATE OR REPLACE FUNCTION chat.edit_message(p_room text, p_id bigint, p_session text, p_body text,
                                             p_window_secs bigint, p_burst bigint, p_per_minute bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               event text, target bigint, session text, edited_at text, removed_at text,
               removed_by text, retry_after_ms bigint, until text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT * FROM chat.edit_message(p_room, p_id, p_session, p_body, p_window_secs, p_burst,
                                    p_per_minute, NULL, NULL, '', 'unknown')
$$;

-- The operator's commands (run as the owner; not callable by the app).

-- Finds the account whose name is p_name, as the operator types it.
CREATE OR REPLACE FUNCTION chat.account_named(p_name text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT a.id INTO v_id FROM chat.accounts a
    WHERE lower(normalize(a.name, NFKC)) = lower(normalize(btrim(p_name), NFKC));
    IF v_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002',
            MESSAGE = format('no account is named %L', p_name),
            HINT = 'list them with: SELECT id, name, role FROM chat.accounts ORDER BY name';
    END IF;
    RETURN v_id;
END
$$;

-- Gives an account a role ('moderator' or 'member'); signs its sessions
-- out, so the new role holds from its next sign-in.
CREATE OR REPLACE FUNCTION chat.grant_role(p_name text, p_role text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint := chat.account_named(p_name);
BEGIN
    UPDATE chat.accounts a SET role = p_role, version = a.version + 1 WHERE a.id = v_id;
    INSERT INTO chat.moderation_log (actor, action, name)
    VALUES ('operator ' || session_user, 'grant_role', p_name || ': ' || p_role);
    RETURN format('%s is now a %s; they sign in again to act as one', p_name, p_role);
END
$$;

-- Resets an account's password: signs every session out, removes the
-- password, and returns a one-time code (valid 24 hours) the person uses
-- to set a new one (the page's "Change password", in the code's field).
CREATE OR REPLACE FUNCTION chat.reset_password(p_name text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint := chat.account_named(p_name);
    -- gen_random_uuid draws from the server's strong random source.
    v_code text := replace(gen_random_uuid()::text, '-', '');
BEGIN
    UPDATE chat.accounts a
    SET password_hash = '!', version = a.version + 1,
        reset_hash = encode(sha256(convert_to(v_code, 'UTF8')), 'hex'),
        reset_until = clock_timestamp() + interval '24 hours'
    WHERE a.id = v_id;
    INSERT INTO chat.moderation_log (actor, action, name)
    VALUES ('operator ' || session_user, 'reset_password', p_name);
    RETURN v_code;
END
$$;

-- Deletes an account: its name is free again, its sessions end. With
-- p_erase, every message it sent is removed first (bodies emptied, removal
-- events appended); otherwise they stay, under the name they were sent
-- with, and nobody can edit or remove them but a moderator.
CREATE OR REPLACE FUNCTION chat.delete_account(p_name text, erase boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = chat, pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint := chat.account_named(p_name);
    v_msg record;
    v_removed bigint := 0;
BEGIN
    IF erase THEN
        FOR v_msg IN
            SELECT m.room_id, m.id FROM chat.messages m
            WHERE m.session_id = 'account-' || v_id AND m.kind = 'message'
              AND m.removed_at IS NULL
            ORDER BY m.room_id, m.id
        LOOP
            PERFORM chat.remove_message(v_msg.room_id, v_msg.id, 'account-' || v_id, NULL);
            v_removed := v_removed + 1;
        END LOOP;
    END IF;
    DELETE FROM chat.mutes u WHERE u.name = 'account:' || v_id;
    DELETE FROM chat.accounts a WHERE a.id = v_id;
    INSERT INTO chat.moderation_log (actor, action, name)
    VALUES ('operator ' || session_user, 'delete_account', p_name);
    RETURN format('deleted %s; %s messages removed', p_name, v_removed);
END
$$;

REVOKE ALL ON TABLE chat.accounts, chat.guest_addresses FROM PUBLIC, ostchat_app;
REVOKE ALL ON FUNCTION
    chat.is_moderator(bigint, bigint),
    chat.writer_status(text, bigint, bigint, text, boolean),
    chat.writer_muted_until(text, bigint, text, text, text),
    chat.writer_gate(text, text, bigint, bigint, text, text, bigint, bigint),
    chat.guest_join(text, text, bigint, bigint),
    chat.claim_allowed(text, text, bigint, bigint),
    chat.create_account(text, text, text),
    chat.login_start(text, text, bigint, bigint),
    chat.set_password(bigint, bigint, text),
    chat.rename_account(bigint, bigint, text, text),
    chat.room_list(),
    chat.add_room(text, text, bigint, text, bigint, bigint),
    chat.set_members_only(text, bigint, text, bigint, bigint),
    chat.post_message(text, text, text, text, text, bigint, bigint, bigint, bigint, text, text),
    chat.edit_message(text, bigint, text, text, bigint, bigint, bigint, bigint, bigint, text, text),
    chat.remove_message(text, bigint, text, text, bigint, bigint),
    chat.mute(text, text, text, bigint, text, bigint, bigint, bigint),
    chat.announce(text, text, text, bigint, bigint, text),
    chat.account_named(text),
    chat.grant_role(text, text),
    chat.reset_password(text),
    chat.delete_account(text, boolean)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat.guest_join(text, text, bigint, bigint),
    chat.claim_allowed(text, text, bigint, bigint),
    chat.create_account(text, text, text),
    chat.login_start(text, text, bigint, bigint),
    chat.set_password(bigint, bigint, text),
    chat.rename_account(bigint, bigint, text, text),
    chat.room_list(),
    chat.add_room(text, text, bigint, text, bigint, bigint),
    chat.set_members_only(text, bigint, text, bigint, bigint),
    chat.post_message(text, text, text, text, text, bigint, bigint, bigint, bigint, text, text),
    chat.edit_message(text, bigint, text, text, bigint, bigint, bigint, bigint, bigint, text, text),
    chat.remove_message(text, bigint, text, text, bigint, bigint),
    chat.mute(text, text, text, bigint, text, bigint, bigint, bigint),
    chat.announce(text, text, text, bigint, bigint, text)
TO ostchat_app;
