#!/bin/sh
# Test image only: the official postgres image's start-up contract, in
# short. On an empty data directory: initdb with POSTGRES_USER and the
# password from POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, create
# POSTGRES_DB, run /docker-entrypoint-initdb.d/*.sql and *.sh once; then run
# the server as `postgres`, listening on every address, password logins only.
set -eu

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

if [ "${1:-postgres}" != "postgres" ]; then
    exec "$@"
fi
[ $# -gt 0 ] && shift

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || { echo "docker-entrypoint: cannot read POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE" >&2; exit 1; }
    password=$(cat "$POSTGRES_PASSWORD_FILE")
else
    password=${POSTGRES_PASSWORD:-}
fi

chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    [ -n "$password" ] || { echo "docker-entrypoint: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2; exit 1; }
    echo "docker-entrypoint: initialising $PGDATA for user $user, database $db"
    pwfile=$(mktemp)
    printf '%s\n' "$password" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb --username="$user" --pwfile="$pwfile" --auth=scram-sha-256 \
        --encoding=UTF8 -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    # A private server for the set-up steps, on the socket only.
    as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    export PGPASSWORD="$password"
    if [ "$db" != "postgres" ]; then
        as_postgres psql -v ON_ERROR_STOP=1 -q -U "$user" -d postgres \
            -c "CREATE DATABASE \"$db\""
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sql) echo "docker-entrypoint: running $f"; as_postgres psql -v ON_ERROR_STOP=1 -q -U "$user" -d "$db" -f "$f" ;;
            *.sh) echo "docker-entrypoint: running $f"; . "$f" ;;
            *) ;;
        esac
    done
    unset PGPASSWORD
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "docker-entrypoint: initialised"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups -- postgres -D "$PGDATA" "$@"
