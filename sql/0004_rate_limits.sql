-- 0004_rate_limits: token buckets in the database, so a limit holds across
-- every host (a per-host limit would be multiplied by the number of hosts),
-- taken inside the same call that does the work: a post costs no extra
-- round trip.
--
-- A bucket holds up to `burst` tokens and refills at `per_minute`; taking
-- one either succeeds (0) or says how many milliseconds until a token is
-- there. A burst or rate of 0 (or NULL) means no limit. The bucket's row is
-- locked while it is read and written, so concurrent takers on any number
-- of hosts are counted exactly. The table is UNLOGGED: after a crash the
-- buckets start full, which is harmless, and it costs no WAL.

CREATE UNLOGGED TABLE IF NOT EXISTS chat.rate_buckets (
    key        text             NOT NULL,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT rate_buckets_pkey PRIMARY KEY (key)
);

-- Milliseconds until a token is available in bucket p_key, 0 when one was
-- taken now. Not callable by the app: only through the functions below.
CREATE OR REPLACE FUNCTION chat.take_token(p_key text, p_burst bigint, p_per_minute bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = chat, pg_catalog, pg_temp
AS $$
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
$$;

-- chat.post_message with a limit per author per room: counted before
-- anything is stored, after the replay check (a retry of a message that was
-- stored is never limited). One more outcome, 'rate_limited', with
-- retry_after_ms; the other columns as in 0002.
CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text,
                                             p_burst bigint, p_per_minute bigint)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text,
               retry_after_ms bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
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
$$;

-- 0002's form, for hosts of the previous release: the same, with no limit.
CREATE OR REPLACE FUNCTION chat.post_message(p_room text, p_author text, p_body text, p_client_id text)
RETURNS TABLE (status text, id bigint, room text, author text, body text, client_id text, sent_at text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT p.status, p.id, p.room, p.author, p.body, p.client_id, p.sent_at
    FROM chat.post_message(p_room, p_author, p_body, p_client_id, 0, 0) p
$$;

-- A new session for a client address: milliseconds until one is allowed,
-- 0 when allowed now.
CREATE OR REPLACE FUNCTION chat.session_allowed(p_client text, p_burst bigint, p_per_minute bigint)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
    SELECT chat.take_token('session:' || p_client, p_burst, p_per_minute)
$$;

REVOKE ALL ON TABLE chat.rate_buckets FROM PUBLIC, ostchat_app;
REVOKE ALL ON FUNCTION
    chat.take_token(text, bigint, bigint),
    chat.post_message(text, text, text, text, bigint, bigint),
    chat.session_allowed(text, bigint, bigint)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat.post_message(text, text, text, text, bigint, bigint),
    chat.session_allowed(text, bigint, bigint)
TO ostchat_app;
