#!/bin/sh
# Patroni's on_role_change callback (ACTION ROLE SCOPE): when this member
# has just become the leader, an incremental backup, in the background and
# retried while the promotion settles. Why: a leader that dies may leave
# finished WAL it had not pushed yet; a restore to "latest" from an older
# backup would stop quietly at that hole, one from a backup taken on the
# new timeline does not need it (deploy/README.md, "Backups and restore").
# Runs as Patroni's user, with its PGBACKREST_* settings.
case "${2:-}" in
    master|primary) ;;
    *) exit 0 ;;
esac
(
    for attempt in 1 2 3 4 5 6; do
        sleep 3
        if pgbackrest --stanza=ostchat --type=incr --log-level-console=warn backup >/dev/null 2>&1; then
            exit 0
        fi
    done
    echo "on-role-change: no backup after the promotion (6 tries); run 'pgbackrest --stanza=ostchat --type=incr backup' on the leader" >&2
) </dev/null &
exit 0
