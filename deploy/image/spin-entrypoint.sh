#!/bin/sh
# Entrypoint of the `spin` image: secrets from files, `spin up`, and a stop
# that gives load balancers time to look elsewhere.
#
# - SPIN_VARIABLE_<NAME>_FILE=/run/secrets/x sets SPIN_VARIABLE_<NAME> from
#   that file (real Spin reads only the variable itself).
# - PG_MAX_CONNECTIONS=N caps the host's Postgres connections (Spin's
#   runtime config `[outbound_pg] max_connections`; unset: Spin's default,
#   a pool of 64 per component). Hosts that share a database must stay,
#   together, under its limit for the app role (80).
# - On SIGTERM, Spin keeps serving for DRAIN_DELAY seconds (default 8) before
#   it is stopped, so requests routed here while the proxy notices the task
#   is going are still answered. Spin itself has no drain: once stopped, it
#   drops what is in flight. (The minispin image also answers its health
#   check with 503 during the delay; Spin cannot be told to.)
set -eu

for setting in $(env | sed -n 's/^\(SPIN_VARIABLE_[A-Z0-9_]*\)_FILE=.*/\1/p'); do
    file=$(printenv "${setting}_FILE")
    if [ -n "$(printenv "$setting" || true)" ]; then
        echo "spin-entrypoint: both $setting and ${setting}_FILE are set; set only one" >&2
        exit 1
    fi
    if [ ! -r "$file" ]; then
        echo "spin-entrypoint: ${setting}_FILE=$file cannot be read; check that the secret is attached" >&2
        exit 1
    fi
    # $(cat) drops the trailing newline `echo ... | docker secret create` adds.
    export "$setting=$(cat "$file")"
    unset "${setting}_FILE"
done

runtime=""
if [ -n "${PG_MAX_CONNECTIONS:-}" ]; then
    case "$PG_MAX_CONNECTIONS" in
        *[!0-9]* | 0)
            echo "spin-entrypoint: PG_MAX_CONNECTIONS must be a whole number above 0, not '$PG_MAX_CONNECTIONS'" >&2
            exit 1
            ;;
    esac
    runtime=$HOME/runtime-config.toml
    printf '[outbound_pg]\nmax_connections = %s\n' "$PG_MAX_CONNECTIONS" > "$runtime"
fi

delay=${DRAIN_DELAY:-8}
spin up --from /app/spin.toml --listen 0.0.0.0:80 ${runtime:+--runtime-config-file "$runtime"} "$@" &
child=$!

stop() {
    echo "spin-entrypoint: stop requested: serving ${delay}s more, then stopping spin"
    sleep "$delay"
    kill -TERM "$child" 2>/dev/null || true
}
trap stop TERM INT

set +e
wait "$child"
status=$?
# A trapped signal interrupts `wait`; wait again for spin's own exit status.
if kill -0 "$child" 2>/dev/null; then
    wait "$child"
    status=$?
fi
exit "$status"
