-- 0011_read_marks: how far an account has read each room, on every device.
--
-- A page keeps the last event id it showed of each room in the browser;
-- an account keeps it here too, so a person who signs in on a phone sees
-- the "new since you were last here" line where the laptop left off. A mark
-- never moves back and never past the room's last id. Deleting an account
-- deletes its marks (the foreign key).

CREATE TABLE IF NOT EXISTS chat.read_marks (
    account_id bigint NOT NULL REFERENCES chat.accounts (id) ON DELETE CASCADE,
    room_id    text   NOT NULL REFERENCES chat.rooms (id),
    last_read  bigint NOT NULL,
    CONSTRAINT read_marks_pkey PRIMARY KEY (account_id, room_id)
);

-- Account p_account (at p_version) has read p_room up to p_id. One row:
-- 'ok' (with the mark as it now stands), 'signed_out' or 'unknown_room'.
CREATE OR REPLACE FUNCTION chat.mark_read(p_account bigint, p_version bigint, p_room text, p_id bigint)
RETURNS TABLE (status text, room text, last_read bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
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
$$;

-- Every mark of account p_account (at p_version): a status row ('ok' or
-- 'signed_out'), then one 'mark' row per room it has read.
CREATE OR REPLACE FUNCTION chat.read_marks(p_account bigint, p_version bigint)
RETURNS TABLE (status text, room text, last_read bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chat, pg_catalog, pg_temp
AS $$
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
$$;

REVOKE ALL ON TABLE chat.read_marks FROM PUBLIC, ostchat_app;
REVOKE ALL ON FUNCTION
    chat.mark_read(bigint, bigint, text, bigint),
    chat.read_marks(bigint, bigint)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat.mark_read(bigint, bigint, text, bigint),
    chat.read_marks(bigint, bigint)
TO ostchat_app;
