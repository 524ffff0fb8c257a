-- 0003_guard_rails: limits on the app role, so that a slow query or a
-- connection leak cannot pile up and take the database down with it.
--
-- - statement_timeout: no statement of the app runs longer than 5 s (the
--   chat's take milliseconds); a cancelled one is SQLSTATE 57014, which the
--   components treat as retryable (503 with Retry-After).
-- - idle_in_transaction_session_timeout: a connection left inside a
--   transaction is closed after 30 s (the app never holds one open).
-- - CONNECTION LIMIT 80: the app role can never take every connection of a
--   server with the default max_connections (100): operators, migrations
--   and pgAdmin keep room. Hosts pool at most 64 connections each and use
--   a few under normal load; past the limit a host answers 503 until
--   connections free up.
--
-- The timeouts are set for this database only (a role is per cluster and
-- may serve other databases); the connection limit is the role's own, set
-- only when it differs, so migrations of several databases at once do not
-- fight over it. Altering another role needs CREATEROLE (PostgreSQL 15) or
-- ADMIN on it (16 and later): run migrations as the database owner or a
-- superuser, as the stack's migration job does.
DO $$
BEGIN
    EXECUTE format('ALTER ROLE ostchat_app IN DATABASE %I SET statement_timeout = %L',
                   current_database(), '5s');
    EXECUTE format('ALTER ROLE ostchat_app IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '30s');
    IF (SELECT rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = 'ostchat_app') <> 80 THEN
        ALTER ROLE ostchat_app CONNECTION LIMIT 80;
    END IF;
END
$$;
