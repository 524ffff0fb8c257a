#!/usr/bin/env bash
# Builds everything, prepares a local database and serves the chat on
# http://127.0.0.1:3000 with minispin. Ctrl-C stops it.
cd "$(dirname "$0")/.."
source scripts/lib.sh

DB=ostchat
ensure_wasm_target
ensure_postgres
ensure_roles
build_all

step "Creating the database '$DB' if it does not exist"
if [ "$(psql "$OWNER_URL/postgres?sslmode=disable" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    psql -q "$OWNER_URL/postgres?sslmode=disable" -c "CREATE DATABASE $DB"
fi

step "Applying the SQL migrations in sql/"
./target/release/minispin migrate --database "$OWNER_URL/$DB?sslmode=disable" --dir sql

# A session secret kept across restarts, so tokens survive a restart; an
# admin token for creating rooms. Both live under target/, never in git.
mkdir -p target/dev
[ -s target/dev/session_secret ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > target/dev/session_secret
[ -s target/dev/admin_token ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > target/dev/admin_token

export SPIN_VARIABLE_DATABASE_URL="postgres://ostchat_app:ostchat_app@127.0.0.1:5432/$DB?sslmode=disable"
export SPIN_VARIABLE_DB_HOST="127.0.0.1:5432"
export SPIN_VARIABLE_SESSION_SECRET="$(cat target/dev/session_secret)"
export SPIN_VARIABLE_ADMIN_TOKEN="$(cat target/dev/admin_token)"

step "Serving the chat on http://127.0.0.1:3000 (admin token for POST /api/rooms: $(cat target/dev/admin_token))"
exec ./target/release/minispin up --manifest spin.toml --listen "${LISTEN:-127.0.0.1:3000}"
