#!/usr/bin/env bash
# The restore drill: restores the chat's database from the pgBackRest
# repository into a fresh, throwaway Postgres, checks it, and removes it.
# Nothing of the live cluster is touched, and the throwaway archives nothing
# (archive_mode off), so the repository stays as it was.
#
#   restore-drill.sh [--target latest|TIME] [--database NAME] [--keep DIR] [--port PORT]
#   restore-drill.sh --remove DIR
#
# From a checkout: deploy/backup/restore-drill.sh. In a member of the stack
# (its image carries it, with the repository and its key):
#   docker exec -u postgres CONTAINER ostchat-restore-drill [...]
#
# TIME is a moment Postgres reads ("2026-12-05 17:30:00+00"): the database
# as it was then (point-in-time recovery); latest (the default) replays every
# WAL segment the repository holds. The checks: recovery ends and the
# server takes writes; every room's events are gapless (ids 1..last, as the
# cursor needs); it prints each room's count. With --keep DIR the restored
# server stays up in DIR (its URL printed on the last line, for more checks:
# the backup test serves the chat from it) until --remove DIR, also when a
# check fails (to look at what is wrong). NAME is the
# chat's database (ostchat in the stack).
#
# pgBackRest's settings: PGBACKREST_CONFIG if set; else pgbackrest.conf
# beside this script (a checkout, with the repository and its key from the
# environment: PGBACKREST_REPO1_PATH, PGBACKREST_REPO1_CIPHER_PASS, ...);
# else pgBackRest's own (/etc/pgbackrest, as in the stack's image). Run as
# root (the server runs as the postgres user) or as postgres. Needs bash,
# python3, pgbackrest and Postgres's server. deploy/README.md, "Backups and
# restore".
set -euo pipefail
step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nerror: %s\n' "$*" >&2; exit 1; }
trap 'fail "the restore drill stopped at line $LINENO ($BASH_COMMAND); the output above says why"' ERR

target=latest keep="" port="" remove="" database=ostchat
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --database) database=$2; shift 2 ;;
        --remove) remove=$2; shift 2 ;;
        *) fail "unknown argument $1; see the usage at the top of deploy/backup/restore-drill.sh" ;;
    esac
done
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${PGBACKREST_CONFIG:-}" ] && [ -f "$here/pgbackrest.conf" ]; then
    export PGBACKREST_CONFIG=$here/pgbackrest.conf
fi
command -v pgbackrest >/dev/null || fail "pgbackrest is not installed: apt-get install pgbackrest"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || fail "no Postgres server binaries under /usr/lib/postgresql: apt-get install postgresql"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop_and_remove() { # DIR
    [ -d "$1/data" ] && as_pg "$bin/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$1"
}
if [ -n "$remove" ]; then
    stop_and_remove "$remove"
    echo "restore drill: removed $remove"
    exit 0
fi

dir=${keep:-$(mktemp -d /tmp/ostchat-restore.XXXXXX)}
mkdir -p "$dir"
[ -z "$(ls -A "$dir")" ] || fail "$dir is not empty; give --keep a new directory"
[ -n "$keep" ] || trap 'stop_and_remove "$dir"' EXIT
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
port=${port:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

step "Restore drill: restoring ${target} from the repository into $dir"
t0=$(date +%s.%N)
args=(--stanza=ostchat --pg1-path="$dir/data" --delta=n)
if [ "$target" = latest ]; then
    args+=(--type=default)
else
    args+=(--type=time "--target=$target" --target-action=promote)
fi
as_pg pgbackrest "${args[@]}" --log-level-console=warn restore \
    || fail "pgbackrest restore failed; check the repository with 'pgbackrest --stanza=ostchat info' (same environment)"
# A throwaway: its own port and socket, no archiving (the repository must
# not take WAL from it), no replication.
cat >> "$dir/data/postgresql.auto.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
archive_mode = off
synchronous_standby_names = ''
hba_file = '$dir/data/pg_hba.conf'
ident_file = '$dir/data/pg_ident.conf'
CONF
printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$dir/data/pg_hba.conf"
[ -f "$dir/data/pg_ident.conf" ] || : > "$dir/data/pg_ident.conf"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/data/pg_hba.conf" "$dir/data/pg_ident.conf"
# Patroni keeps these out of the data directory; the restored copy may name
# them: the settings above win (postgresql.auto.conf is read last).
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 300 start >/dev/null \
    || { tail -20 "$dir/postgres.log" >&2; fail "the restored server did not start; its log is above"; }
psql_r() { as_pg psql -h "$dir" -p "$port" -U postgres -d "$database" -Atq -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 1 300); do
    [ "$(psql_r -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
    sleep 1
done
[ "$(psql_r -c 'SELECT pg_is_in_recovery()')" = f ] \
    || { tail -20 "$dir/postgres.log" >&2; fail "recovery did not end within 300 s; the server's log is above"; }
restored=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
# How far the WAL replay reached: an archive with a hole stops early (and
# the server starts anyway), so say it, for the operator to compare.
reached=$(cat "$dir/postgres.log" "$dir"/data/log/* 2>/dev/null \
    | grep -o 'last completed transaction was at log time .*' | tail -1 | sed 's/.*log time //' || true)
echo "restore drill: the restored database reaches ${reached:-the end of its backup (no transaction replayed)}"

step "Restore drill: checking the restored database (restored and open in ${restored} s)"
gaps=$(psql_r -c "
    SELECT r.id || ': ' || count(m.id) || ' events, last id ' || r.last_message_id
    FROM chat.rooms r LEFT JOIN chat.messages m ON m.room_id = r.id
    GROUP BY r.id, r.last_message_id
    HAVING count(m.id) <> r.last_message_id OR COALESCE(max(m.id), 0) <> r.last_message_id")
url="postgres://postgres@127.0.0.1:$port/$database?host=$dir"
if [ -n "$gaps" ]; then
    # Kept for a look at what is wrong (with --keep), then a failure.
    [ -n "$keep" ] && echo "$url"
    fail "rooms whose events are not gapless after the restore (ids missing: a DELETE by hand, or a broken backup): $gaps"
fi
psql_r -c "
    SELECT format('  %-24s %8s events', r.id, r.last_message_id) FROM chat.rooms r ORDER BY r.id"
echo "restore drill: passed (${target}; every room's events gapless; restored in ${restored} s)"
[ -z "$keep" ] || echo "$url"
