#!/bin/sh
# Entrypoint of the postgres-replica service: a streaming replica of the
# primary (PRIMARY_HOST, default postgres; PRIMARY_PORT, default 5432).
#
# The first time (or after a copy that was cut short), it copies the primary
# with pg_basebackup into $PGDATA/replica, which also writes standby.signal
# and primary_conninfo, so the server starts as a hot standby that follows
# the primary. Then it hands over to the image's own entrypoint with PGDATA
# pointing at the copy. Works with the official postgres image and the Swarm
# test's stand-in for it.
set -eu

volume=${PGDATA:-/var/lib/postgresql/data}
copy=$volume/replica
primary=${PRIMARY_HOST:-postgres}
port=${PRIMARY_PORT:-5432}
user=${POSTGRES_USER:-postgres}

if [ ! -e "$volume/copied" ]; then
    if [ ! -r "${POSTGRES_PASSWORD_FILE:-}" ]; then
        echo "replica-entrypoint: POSTGRES_PASSWORD_FILE cannot be read; attach the postgres_password secret" >&2
        exit 1
    fi
    until pg_isready -q -h "$primary" -p "$port"; do
        echo "replica-entrypoint: waiting for the primary at $primary:$port"
        sleep 2
    done
    echo "replica-entrypoint: copying the primary at $primary:$port (pg_basebackup)"
    rm -rf "$copy"
    if ! PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE") pg_basebackup -h "$primary" -p "$port" \
        -U "$user" -D "$copy" --write-recovery-conf --wal-method stream --checkpoint fast; then
        echo "replica-entrypoint: pg_basebackup failed; check that the primary allows replication (deploy/postgres/pg_hba.conf) and the password" >&2
        exit 1
    fi
    chown -R postgres:postgres "$copy"
    chmod 700 "$copy"
    touch "$volume/copied"
    echo "replica-entrypoint: copied; starting as a streaming replica"
fi
export PGDATA="$copy"
exec docker-entrypoint.sh postgres "$@"
