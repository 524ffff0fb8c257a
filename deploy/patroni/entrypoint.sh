#!/bin/sh
# Starts one member of the chat's Postgres cluster: PgBouncer in the
# background (kept running), then Patroni in the foreground, which runs
# Postgres, takes part in the leader election in etcd, and stops Postgres
# and hands over its lock on SIGTERM.
#
# Settings (the stack sets them):
#   MEMBER          this member's name and address (pg1, pg2, pg3)
#   PATRONI_ETCD3_HOSTS  etcd's members, host:port, comma-separated (set on
#                   the service, so `docker exec ... patronictl` finds them too)
#   POSTGRES_PASSWORD_FILE     the superuser's password
#   REPLICATION_PASSWORD_FILE  the replication and rewind users' password
#   APP_DATABASE_URL_FILE      the chat's URL (its role's password is
#                              PgBouncer's login for that role)
#   PGBACKREST_SECRETS_FILE    pgBackRest's secrets, an ini file:
#                              [global] and repo1-cipher-pass=KEY (and, with
#                              S3-compatible storage, repo1-s3-key and
#                              repo1-s3-key-secret); linked into
#                              /etc/pgbackrest/conf.d, so every pgbackrest
#                              command in the container reads it
#   BACKUP_FULL_EVERY, BACKUP_INCR_EVERY  the backup schedule (backup-agent)
set -eu

need() {
    [ -r "$1" ] || { echo "patroni-entrypoint: cannot read $1; attach the secret the stack names" >&2; exit 1; }
}
: "${MEMBER:?set MEMBER to this member's name (pg1, pg2, pg3)}"
: "${PATRONI_ETCD3_HOSTS:?set PATRONI_ETCD3_HOSTS to etcd's members (host:port,...)}"
need "${POSTGRES_PASSWORD_FILE:=/run/secrets/postgres_password}"
need "${REPLICATION_PASSWORD_FILE:=/run/secrets/postgres_replication_password}"
need "${APP_DATABASE_URL_FILE:=/run/secrets/ostchat_database_url}"
need "${PGBACKREST_SECRETS_FILE:=/run/secrets/pgbackrest_secrets}"
grep -q '^repo1-cipher-pass=..' "$PGBACKREST_SECRETS_FILE" || {
    echo "patroni-entrypoint: $PGBACKREST_SECRETS_FILE has no repo1-cipher-pass=KEY line; make the secret as deploy/README.md says (section 3)" >&2
    exit 1
}
ln -sf "$PGBACKREST_SECRETS_FILE" /etc/pgbackrest/conf.d/secrets.conf

data=/var/lib/postgresql/data
mkdir -p "$data"
chown postgres:postgres "$data"
chmod 700 "$data"
# The backup repository's volume (a fresh volume's root belongs to root).
chown postgres:postgres /var/lib/pgbackrest
chmod 750 /var/lib/pgbackrest

export PATRONI_NAME="$MEMBER"
export PATRONI_RESTAPI_LISTEN=0.0.0.0:8008
export PATRONI_RESTAPI_CONNECT_ADDRESS="$MEMBER:8008"
export PATRONI_POSTGRESQL_LISTEN=0.0.0.0:5432
export PATRONI_POSTGRESQL_CONNECT_ADDRESS="$MEMBER:5432"
export PATRONI_POSTGRESQL_DATA_DIR="$data/pgdata"
export PATRONI_POSTGRESQL_PGPASS=/tmp/pgpass
PATRONI_SUPERUSER_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
PATRONI_REPLICATION_PASSWORD=$(cat "$REPLICATION_PASSWORD_FILE")
PATRONI_REWIND_PASSWORD=$PATRONI_REPLICATION_PASSWORD
export PATRONI_SUPERUSER_PASSWORD PATRONI_REPLICATION_PASSWORD PATRONI_REWIND_PASSWORD

# PgBouncer's login for the app role, from the app's URL
# (postgres://USER:PASSWORD@HOST...; the password percent-decoded).
url=$(cat "$APP_DATABASE_URL_FILE")
creds=${url#*://}
creds=${creds%%@*}
user=${creds%%:*}
password=$(printf '%s' "${creds#*:}" | python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read()), end="")')
printf '"%s" "%s"\n' "$user" "$(printf '%s' "$password" | sed 's/"/""/g')" > /etc/pgbouncer/userlist.txt
chown postgres:postgres /etc/pgbouncer/userlist.txt
chmod 600 /etc/pgbouncer/userlist.txt

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

# WHAT SECONDS COMMAND...: runs COMMAND as postgres in the background, and
# again SECONDS after it exits, for as long as the container lives.
keep_running() {
    what=$1 delay=$2
    shift 2
    (
        while :; do
            as_postgres "$@" || true
            echo "patroni-entrypoint: $what exited; starting it again in $delay s" >&2
            sleep "$delay"
        done
    ) &
}

# PgBouncer (it has nothing to lose), and the backup schedule with its
# metrics (it acts only while this member leads).
keep_running pgbouncer 1 pgbouncer /etc/pgbouncer/pgbouncer.ini
keep_running "the backup agent" 5 /usr/local/bin/ostchat-backup-agent

# Patroni as PID 1's successor: it reaps its children and handles SIGTERM.
exec setpriv --reuid=postgres --regid=postgres --init-groups -- patroni /etc/patroni
