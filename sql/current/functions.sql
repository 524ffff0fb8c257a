-- Every function of the `chat` schema as the migrations in sql/ leave it,
-- from pg_get_functiondef. Generated: change the migrations, then run
-- OSTCHAT_WRITE_FUNCTIONS=1 cargo test --release -p e2e --test store_suite
-- (a test fails while this file differs from a freshly migrated database).

CREATE OR REPLACE FUNCTION chat.account_named(p_name text)
 RETURNS bigint
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.add_room(p_id text, p_title text)
 RETURNS TABLE(status text, id text, title text, last_message_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.add_room(p_id text, p_title text, p_members_only bigint, p_moderator text, p_account bigint, p_version bigint)
 RETURNS TABLE(status text, id text, title text, last_message_id bigint, members_only boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.announce(p_room text, p_key text, p_name text)
 RETURNS TABLE(status text, name text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.announce(p_room text, p_key text, p_name text, p_account bigint, p_version bigint, p_name_key text)
 RETURNS TABLE(status text, name text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.check_page(p_room text, p_max bigint)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF p_max IS NULL OR p_max < 1 OR p_max > 500 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'p_max must be between 1 and 500';
    END IF;
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'unknown room';
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION chat.claim_allowed(p_name_key text, p_client text, p_burst bigint, p_per_minute bigint)
 RETURNS TABLE(status text, wait_ms bigint, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.create_account(p_name text, p_name_key text, p_hash text)
 RETURNS TABLE(status text, id bigint, name text, role text, version bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.create_room(p_id text, p_title text)
 RETURNS TABLE(id text, title text, last_message_id bigint)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT a.id, a.title, a.last_message_id
    FROM chat.add_room(p_id, p_title) a
    WHERE a.status = 'created'
$function$;

CREATE OR REPLACE FUNCTION chat.delete_account(p_name text, erase boolean)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.edit_message(p_room text, p_id bigint, p_session text, p_body text, p_window_secs bigint, p_burst bigint, p_per_minute bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT * FROM chat.edit_message(p_room, p_id, p_session, p_body, p_window_secs, p_burst,
                                    p_per_minute, NULL, NULL, '', 'unknown')
$function$;

CREATE OR REPLACE FUNCTION chat.edit_message(p_room text, p_id bigint, p_session text, p_body text, p_window_secs bigint, p_burst bigint, p_per_minute bigint, p_account bigint, p_version bigint, p_name_key text, p_client text)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.event_row(m chat.messages)
 RETURNS TABLE(id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT m.id, m.room_id, m.author, m.body, COALESCE(m.client_id, ''), chat.format_ts(m.sent_at),
           m.kind, m.target_id, m.session_id, chat.format_ts(m.edited_at),
           chat.format_ts(m.removed_at), m.removed_by
$function$;

CREATE OR REPLACE FUNCTION chat.format_ts(ts timestamp with time zone)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
    SELECT pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$function$;

CREATE OR REPLACE FUNCTION chat.get_latest_messages(p_room text, p_max bigint)
 RETURNS TABLE(id bigint, room text, author text, body text, client_id text, sent_at text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY SELECT p.id, p.room, p.author, p.body, p.client_id, p.sent_at
                 FROM chat.messages_page(p_room, NULL, NULL, p_max) p
                 WHERE p.status = 'message';
END
$function$;

CREATE OR REPLACE FUNCTION chat.get_messages_after(p_room text, p_after bigint, p_max bigint)
 RETURNS TABLE(id bigint, room text, author text, body text, client_id text, sent_at text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY SELECT p.id, p.room, p.author, p.body, p.client_id, p.sent_at
                 FROM chat.messages_page(p_room, p_after, NULL, p_max) p
                 WHERE p.status = 'message';
END
$function$;

CREATE OR REPLACE FUNCTION chat.get_messages_before(p_room text, p_before bigint, p_max bigint)
 RETURNS TABLE(id bigint, room text, author text, body text, client_id text, sent_at text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    PERFORM chat.check_page(p_room, p_max);
    RETURN QUERY SELECT p.id, p.room, p.author, p.body, p.client_id, p.sent_at
                 FROM chat.messages_page(p_room, NULL, p_before, p_max) p
                 WHERE p.status = 'message';
END
$function$;

CREATE OR REPLACE FUNCTION chat.grant_role(p_name text, p_role text)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_id bigint := chat.account_named(p_name);
BEGIN
    UPDATE chat.accounts a SET role = p_role, version = a.version + 1 WHERE a.id = v_id;
    INSERT INTO chat.moderation_log (actor, action, name)
    VALUES ('operator ' || session_user, 'grant_role', p_name || ': ' || p_role);
    RETURN format('%s is now a %s; they sign in again to act as one', p_name, p_role);
END
$function$;

CREATE OR REPLACE FUNCTION chat.guest_join(p_name_key text, p_client text, p_burst bigint, p_per_minute bigint)
 RETURNS TABLE(status text, wait_ms bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.health()
 RETURNS bigint
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT 1::bigint
$function$;

CREATE OR REPLACE FUNCTION chat.is_moderator(p_account bigint, p_version bigint)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT EXISTS (SELECT 1 FROM chat.accounts a
                   WHERE a.id = p_account AND a.version = p_version AND a.role = 'moderator')
$function$;

CREATE OR REPLACE FUNCTION chat.leave(p_room text, p_key text)
 RETURNS TABLE(status text, name text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.list_rooms()
 RETURNS TABLE(id text, title text, last_message_id bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT r.id, r.title, r.last_message_id
    FROM chat.rooms r
    ORDER BY r.created_at, r.id
$function$;

CREATE OR REPLACE FUNCTION chat.lock_room(p_room text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    RETURN FOUND;
END
$function$;

CREATE OR REPLACE FUNCTION chat.login_start(p_name_key text, p_client text, p_burst bigint, p_per_minute bigint)
 RETURNS TABLE(status text, wait_ms bigint, id bigint, name text, role text, version bigint, password_hash text, reset_hash text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.mark_read(p_account bigint, p_version bigint, p_room text, p_id bigint)
 RETURNS TABLE(status text, room text, last_read bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
#variable_conflict use_column
DECLARE
    v_last bigint;
    v_mark bigint;
BEGIN
    IF chat.writer_status(NULL, p_account, p_version, NULL, false) IS NOT NULL THEN
        RETURN QUERY SELECT 'signed_out'::text, p_room, NULL::bigint;
        RETURN;
    END IF;
    SELECT r.last_message_id INTO v_last FROM chat.rooms r WHERE r.id = p_room;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_room'::text, p_room, NULL::bigint;
        RETURN;
    END IF;
    INSERT INTO chat.read_marks AS k (account_id, room_id, last_read)
    VALUES (p_account, p_room, least(greatest(p_id, 0), v_last))
    ON CONFLICT (account_id, room_id)
        DO UPDATE SET last_read = greatest(k.last_read, EXCLUDED.last_read)
    RETURNING k.last_read INTO v_mark;
    RETURN QUERY SELECT 'ok'::text, p_room, v_mark;
END
$function$;

CREATE OR REPLACE FUNCTION chat.messages_page(p_room text, p_after bigint, p_before bigint, p_max bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT CASE WHEN e.status = 'event' THEN 'message' ELSE e.status END, e.id, e.room,
           e.author, e.body, e.client_id, e.sent_at
    FROM chat.room_events(p_room, p_after, p_before, p_max) e
    WHERE e.status <> 'event' OR e.event = 'message'
$function$;

CREATE OR REPLACE FUNCTION chat.mute(p_name text, p_name_key text, p_room text, p_secs bigint, p_moderator text, p_account bigint, p_version bigint, p_recent_secs bigint)
 RETURNS TABLE(status text, name text, room text, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.mute_name(p_name text, p_room text, p_secs bigint, p_moderator text)
 RETURNS TABLE(status text, name text, room text, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.muted_until(p_room text, p_name text)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
AS $function$
    SELECT max(u.until)
    FROM chat.mutes u
    WHERE u.name = lower(p_name) AND u.scope IN (p_room, '*') AND u.until > clock_timestamp()
$function$;

CREATE OR REPLACE FUNCTION chat.next_id(p_room text)
 RETURNS bigint
 LANGUAGE sql
AS $function$
    UPDATE chat.rooms r SET last_message_id = r.last_message_id + 1
    WHERE r.id = p_room
    RETURNING r.last_message_id
$function$;

CREATE OR REPLACE FUNCTION chat.poll(p_room text, p_after bigint, p_max bigint, p_rooms text)
 RETURNS TABLE(kind text, id bigint, room text, author text, body text, client_id text, sent_at text, title text)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT CASE WHEN e.kind = 'event' THEN 'message' ELSE e.kind END, e.id, e.room, e.author,
           e.body, e.client_id, e.sent_at, e.title
    FROM chat.poll_events(p_room, p_after, p_max, p_rooms) e
    WHERE e.kind IN ('ok', 'unknown_room', 'room') OR e.event = 'message'
$function$;

CREATE OR REPLACE FUNCTION chat.poll_events(p_room text, p_after bigint, p_max bigint, p_rooms text)
 RETURNS TABLE(kind text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, title text)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT * FROM chat.poll_events(p_room, p_after, p_max, p_rooms, false)
$function$;

CREATE OR REPLACE FUNCTION chat.poll_events(p_room text, p_after bigint, p_max bigint, p_rooms text, p_reactions boolean)
 RETURNS TABLE(kind text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, title text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT p.status, p.id, p.room, p.author, p.body, p.client_id, p.sent_at
    FROM chat.post_message(p_room, p_author, p_body, p_client_id, 0, 0) p
$function$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text, p_burst bigint, p_per_minute bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, retry_after_ms bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
#variable_conflict use_column
DECLARE
    v_id bigint;
    v_wait bigint;
    v_msg chat.messages%ROWTYPE;
BEGIN
    -- The room's row lock keeps ids gapless and in commit order (see 0002).
    PERFORM 1 FROM chat.rooms r WHERE r.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown_room'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    SELECT m.* INTO v_msg
    FROM chat.messages m
    WHERE m.room_id = p_room AND m.author = p_author AND m.client_id = p_client_id;
    IF FOUND THEN
        RETURN QUERY SELECT 'replayed'::text, v_msg.id, v_msg.room_id, v_msg.author,
                            v_msg.body, v_msg.client_id, chat.format_ts(v_msg.sent_at), NULL::bigint;
        RETURN;
    END IF;

    v_wait := chat.take_token('post:' || p_room || ':' || p_author, p_burst, p_per_minute);
    IF v_wait > 0 THEN
        RETURN QUERY SELECT 'rate_limited'::text, NULL::bigint, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text, v_wait;
        RETURN;
    END IF;

    UPDATE chat.rooms r
    SET last_message_id = r.last_message_id + 1
    WHERE r.id = p_room
    RETURNING r.last_message_id INTO v_id;

    INSERT INTO chat.messages AS m (room_id, id, author, body, client_id, sent_at)
    VALUES (p_room, v_id, p_author, p_body, p_client_id, clock_timestamp())
    RETURNING m.* INTO v_msg;

    RETURN QUERY SELECT 'created'::text, v_msg.id, v_msg.room_id, v_msg.author,
                        v_msg.body, v_msg.client_id, chat.format_ts(v_msg.sent_at), NULL::bigint;
END
$function$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text, p_session text, p_burst bigint, p_per_minute bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT * FROM chat.post_message(p_room, p_author, p_body, p_client_id, p_session, p_burst,
                                    p_per_minute, NULL, NULL, '', 'unknown')
$function$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text, p_session text, p_burst bigint, p_per_minute bigint, p_account bigint, p_version bigint, p_name_key text, p_client text)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT * FROM chat.post_message(p_room, p_author, p_body, p_client_id, p_session, p_burst,
                                    p_per_minute, p_account, p_version, p_name_key, p_client,
                                    NULL)
$function$;

CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text, p_session text, p_burst bigint, p_per_minute bigint, p_account bigint, p_version bigint, p_name_key text, p_client text, p_reply_to bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.present_names(p_room text)
 RETURNS SETOF text
 LANGUAGE sql
 STABLE
AS $function$
    SELECT DISTINCT p.name
    FROM chat.presence p
    WHERE p.room_id = p_room AND p.seen_at > clock_timestamp() - interval '60 seconds'
    ORDER BY p.name
    LIMIT 100
$function$;

CREATE OR REPLACE FUNCTION chat.react(p_room text, p_id bigint, p_author text, p_session text, p_emoji text, p_on bigint, p_max_emoji bigint, p_burst bigint, p_per_minute bigint, p_account bigint, p_version bigint, p_name_key text, p_client text)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.read_marks(p_account bigint, p_version bigint)
 RETURNS TABLE(status text, room text, last_read bigint)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF chat.writer_status(NULL, p_account, p_version, NULL, false) IS NOT NULL THEN
        RETURN QUERY SELECT 'signed_out'::text, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::bigint;
    RETURN QUERY SELECT 'mark'::text, k.room_id, k.last_read
                 FROM chat.read_marks k WHERE k.account_id = p_account
                 ORDER BY k.room_id
                 LIMIT 1000;
END
$function$;

CREATE OR REPLACE FUNCTION chat.read_source()
 RETURNS TABLE(source text, lag_ms bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END,
           chat.replay_lag_ms()
$function$;

CREATE OR REPLACE FUNCTION chat.remove_message(p_room text, p_id bigint, p_session text, p_moderator text)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.remove_message(p_room text, p_id bigint, p_session text, p_moderator text, p_account bigint, p_version bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text, retry_after_ms bigint, until text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.rename_account(p_id bigint, p_version bigint, p_name text, p_name_key text)
 RETURNS TABLE(status text, id bigint, name text, role text, version bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.replay_lag_ms()
 RETURNS bigint
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0::bigint
        WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
             AND NOT pg_is_wal_replay_paused() THEN 0::bigint
        ELSE greatest(0, COALESCE(
            (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0))
    END
$function$;

CREATE OR REPLACE FUNCTION chat.reset_password(p_name text)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.room_events(p_room text, p_after bigint, p_before bigint, p_max bigint)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT * FROM chat.room_events(p_room, p_after, p_before, p_max, false)
$function$;

CREATE OR REPLACE FUNCTION chat.room_events(p_room text, p_after bigint, p_before bigint, p_max bigint, p_reactions boolean)
 RETURNS TABLE(status text, id bigint, room text, author text, body text, client_id text, sent_at text, event text, target bigint, session text, edited_at text, removed_at text, removed_by text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.room_list()
 RETURNS TABLE(id text, title text, last_message_id bigint, members_only boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT r.id, r.title, r.last_message_id, r.members_only
    FROM chat.rooms r
    ORDER BY r.created_at, r.id
$function$;

CREATE OR REPLACE FUNCTION chat.send_message(p_room text, p_author text, p_body text, p_client_id text)
 RETURNS TABLE(id bigint, room text, author text, body text, client_id text, sent_at text, created boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.session_allowed(p_client text, p_burst bigint, p_per_minute bigint)
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
    SELECT chat.take_token('session:' || p_client, p_burst, p_per_minute)
$function$;

CREATE OR REPLACE FUNCTION chat.set_members_only(p_room text, p_members_only bigint, p_moderator text, p_account bigint, p_version bigint)
 RETURNS TABLE(status text, id text, title text, last_message_id bigint, members_only boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.set_password(p_id bigint, p_version bigint, p_hash text)
 RETURNS TABLE(status text, version bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.take_token(p_key text, p_burst bigint, p_per_minute bigint)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'chat', 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_tokens double precision;
BEGIN
    IF coalesce(p_burst, 0) <= 0 OR coalesce(p_per_minute, 0) <= 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO chat.rate_buckets AS b (key, tokens, updated_at)
    VALUES (p_key, p_burst, v_now)
    ON CONFLICT ON CONSTRAINT rate_buckets_pkey DO NOTHING;
    SELECT least(p_burst::double precision,
                 b.tokens + greatest(0, extract(epoch FROM v_now - b.updated_at)) * p_per_minute / 60.0)
    INTO v_tokens
    FROM chat.rate_buckets b
    WHERE b.key = p_key
    FOR UPDATE;
    IF v_tokens >= 1 THEN
        UPDATE chat.rate_buckets SET tokens = v_tokens - 1, updated_at = v_now WHERE key = p_key;
        RETURN 0;
    END IF;
    UPDATE chat.rate_buckets SET tokens = v_tokens, updated_at = v_now WHERE key = p_key;
    -- Now and then, forget buckets that have been full for an hour: the
    -- table stays as small as the set of recent senders.
    IF random() < 0.001 THEN
        DELETE FROM chat.rate_buckets WHERE updated_at < v_now - interval '1 hour';
    END IF;
    RETURN greatest(1, ceil((1 - v_tokens) * 60000.0 / p_per_minute))::bigint;
END
$function$;

CREATE OR REPLACE FUNCTION chat.write_gate(p_room text, p_author text, p_burst bigint, p_per_minute bigint, OUT until timestamp with time zone, OUT wait_ms bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
BEGIN
    until := chat.muted_until(p_room, p_author);
    IF until IS NULL THEN
        wait_ms := chat.take_token('post:' || p_room || ':' || p_author, p_burst, p_per_minute);
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION chat.writer_gate(p_room text, p_author text, p_account bigint, p_version bigint, p_name_key text, p_client text, p_burst bigint, p_per_minute bigint, OUT status text, OUT until timestamp with time zone, OUT wait_ms bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.writer_muted_until(p_room text, p_account bigint, p_author text, p_name_key text, p_client text)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION chat.writer_status(p_room text, p_account bigint, p_version bigint, p_name_key text, p_room_rule boolean)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;
