#!/bin/sh
# Entrypoint of the cache image: Varnish in front of every chat host.
#
# Varnish resolves a backend's name once, when it loads its VCL, and refuses
# a name with several addresses; the chat service has one address per task
# (endpoint_mode: dnsrr). So this script looks the hosts up itself: it
# writes one backend per address of CACHE_BACKENDS into backends.vcl (which
# ostchat.vcl includes), starts varnishd, and every CACHE_RESOLVE_SECONDS
# looks again; when the addresses changed (a host started, stopped or was
# replaced) it loads the VCL again and switches to it. Varnish's own probes
# judge each host's health in between.
#
# Settings (environment):
#   CACHE_BACKENDS   the hosts, as name:port separated by spaces or commas;
#                    each name may have many addresses [tasks.chat:80]
#   CACHE_LISTEN     where Varnish listens [:8080]
#   CACHE_SIZE       memory for cached answers [64M]
#   CACHE_DRAIN_DELAY  seconds /cache/health answers 503 after SIGTERM while
#                    requests are still served, before Varnish stops [6]
#   CACHE_RESOLVE_SECONDS  how often the names are looked up again [2]
#   CACHE_VCL        the main VCL [the ostchat.vcl beside this script]
#   CACHE_WORKDIR    Varnish's working directory (-n) [a new temporary one]
set -eu

backends=${CACHE_BACKENDS:-tasks.chat:80}
listen=${CACHE_LISTEN:-:8080}
size=${CACHE_SIZE:-64M}
drain=${CACHE_DRAIN_DELAY:-6}
every=${CACHE_RESOLVE_SECONDS:-2}
vcl=${CACHE_VCL:-$(dirname "$0")/ostchat.vcl}
state=$(mktemp -d "${TMPDIR:-/tmp}/ostchat-cache.XXXXXX")
# Readable by Varnish's compiler, which drops to its own user when started
# as root (it reports a file it may not read as missing).
chmod 755 "$state"
workdir=${CACHE_WORKDIR:-$state/varnish}

say() { echo "cache-entrypoint: $*"; }
die() { echo "cache-entrypoint: $*" >&2; exit 1; }

[ -r "$vcl" ] || die "cannot read the VCL $vcl; set CACHE_VCL to ostchat.vcl's path"
command -v varnishd >/dev/null || die "varnishd is not installed; use the cache image (deploy/cache/Dockerfile) or install Varnish"
for n in "$drain" "$every"; do
    case "$n" in *[!0-9]* | '') die "CACHE_DRAIN_DELAY and CACHE_RESOLVE_SECONDS are whole seconds, not '$n'" ;; esac
done

entries=$(echo "$backends" | tr ',' ' ')
for entry in $entries; do
    name=${entry%:*}
    port=${entry##*:}
    case "$port" in *[!0-9]* | '') port="" ;; esac
    if [ "$name" = "$entry" ] || [ -z "$name" ] || [ -z "$port" ]; then
        die "CACHE_BACKENDS entry '$entry' is not name:port; write e.g. tasks.chat:80"
    fi
done

# Every address of every entry, as "address port" lines, sorted.
resolve() {
    for entry in $entries; do
        getent ahostsv4 "${entry%:*}" 2>/dev/null | awk -v port="${entry##*:}" '{ print $1, port }'
    done | sort -u
}

# backends.vcl for the addresses on stdin: one backend each (with the
# host's health probe) and the round-robin director `hosts`.
write_backends() {
    i=0
    init=""
    out=$1
    : > "$out.new"
    while read -r address port; do
        i=$((i + 1))
        cat >> "$out.new" <<VCL
backend host_$i {
    .host = "$address";
    .port = "$port";
    .probe = host_health;
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 10s;
}
VCL
        init="$init    hosts.add_backend(host_$i);
"
    done
    printf 'sub vcl_init {\n    new hosts = directors.round_robin();\n%s}\n' "$init" >> "$out.new"
    mv "$out.new" "$out"
    echo "$i"
}

current=$(resolve)
count=$(echo "$current" | grep -c . || true)
echo "$current" | write_backends "$state/backends.vcl" >/dev/null
[ "$count" -gt 0 ] || say "no address for $backends yet: answering 503 until one appears"
say "starting Varnish on $listen for $count host(s) of $backends"

# timeout_idle: a client connection (Traefik's, kept alive) may idle 95 s,
# longer than Traefik keeps an idle connection (90 s), so Traefik closes it
# first and never sends a request on one Varnish has just closed (a 502).
varnishd -F -n "$workdir" -a "$listen" -f "$vcl" \
    -p vcl_path="$state:$(dirname "$vcl")" -p timeout_idle=95 -s "malloc,$size" &
child=$!
stopping=0

stop() {
    stopping=1
    say "stop requested: /cache/health answers 503 for ${drain}s while requests are still served"
    varnishadm -n "$workdir" backend.set_health '*.draining' sick >/dev/null 2>&1 || true
    sleep "$drain"
    say "stopping Varnish"
    kill -TERM "$child" 2>/dev/null || true
}
trap stop TERM INT

generation=0
while kill -0 "$child" 2>/dev/null; do
    sleep "$every" &
    wait $! || true
    [ "$stopping" = 0 ] || break
    next=$(resolve)
    [ "$next" != "$current" ] || continue
    generation=$((generation + 1))
    name="hosts$generation"
    count=$(echo "$next" | grep -c . || true)
    echo "$next" | write_backends "$state/backends.vcl" >/dev/null
    if varnishadm -n "$workdir" vcl.load "$name" "$vcl" >/dev/null \
        && varnishadm -n "$workdir" vcl.use "$name" >/dev/null; then
        say "the hosts changed: now $count of $backends ($(echo "$next" | awk '{ print $1 }' | tr '\n' ' '))"
        current=$next
        # Earlier VCLs are dropped once nothing uses them (one still busy
        # stays until a later change).
        varnishadm -n "$workdir" vcl.list 2>/dev/null | awk '$1 == "available" { print $NF }' |
            while read -r v; do varnishadm -n "$workdir" vcl.discard "$v" >/dev/null 2>&1 || true; done
    else
        say "could not load the VCL for the new hosts; keeping the previous ones and trying again"
    fi
done
status=0
wait "$child" 2>/dev/null || status=$?
say "Varnish exited ($status)"
exit "$status"
