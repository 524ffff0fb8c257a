vcl 4.1;
# The chat's shared cache (Varnish 7). It answers the cursor reads, which are
# the same for everyone who asks the same question, and passes everything
# else to the hosts untouched. The hosts decide what may be kept and for how
# long (`Surrogate-Control: max-age=0.25` on the answers they share); this
# file only obeys. docs/design.md, "The shared cache: why, and where it
# sits", says why it exists and where it sits.
#
# What it promises:
# - request coalescing: concurrent misses for one URL make one request to a
#   host (Varnish's waiting list);
# - grace: an answer whose time is up is served (at most 0.25 s past it)
#   while one request refreshes it, so nobody queues behind a refresh; no
#   answer is ever older than the hosts' max-age plus that grace;
# - only GETs without credentials are kept; a request with `known=`
#   (read-your-writes) or `Authorization` always reaches a host;
# - `X-Cache: hit | miss | pass` and `X-Cache-Age` (seconds, fractional) on
#   every answer; `GET /cache/health` for the load balancer in front.
#
# The hosts are the backends of `backends.vcl`, written beside this file by
# deploy/cache/entrypoint.sh from a DNS name (in the stack, every task of the
# chat service) and rewritten when the name's addresses change.

import std;
import directors;

# Each host's own health check, as the load balancer asks it: 200 while it
# serves (`ok`, or `read_only` during a database failover), 503 while it
# drains or has no database.
probe host_health {
    .url = "/api/health";
    .interval = 1s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
    .initial = 2;
}

# Never sent a request: its administrative health is the cache's drain
# switch. The entrypoint marks it sick on SIGTERM, so /cache/health answers
# 503 and the load balancer stops sending here while requests in flight and
# those still routed here are answered.
backend draining {
    .host = "127.0.0.1";
    .port = "9";
}

# `backend host_N { ... .probe = host_health; }` for each host, and a
# `vcl_init` that adds them to the round-robin director `hosts`.
include "backends.vcl";

sub vcl_recv {
    if (req.url == "/cache/health") {
        if (!std.healthy(draining)) {
            return (synth(503, "draining"));
        }
        if (!std.healthy(hosts.backend())) {
            return (synth(503, "no healthy host"));
        }
        return (synth(200, "ok"));
    }
    set req.backend_hint = hosts.backend();
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    # Only the cursor reads: GET /api/poll and GET /api/rooms/{room}/messages.
    if (req.url !~ "^/api/(poll|rooms/[^/?]+/messages)(\?|$)") {
        return (pass);
    }
    # Read-your-writes: the writer asks for an answer that includes its post.
    if (req.url ~ "[?&]known=") {
        return (pass);
    }
    # The API reads no cookie; one set for the domain must not split the key.
    unset req.http.Cookie;
    return (hash);
}

# The URL alone is the question: the same answer whatever host name asked.
sub vcl_hash {
    hash_data(req.url);
    return (lookup);
}

sub vcl_backend_fetch {
    # A retried fetch (below) goes to the next host of the round.
    set bereq.backend = hosts.backend();
}

sub vcl_backend_response {
    if ((beresp.status == 200 || beresp.status == 404)
            && beresp.http.Surrogate-Control ~ "(^|[ ,])max-age=[0-9]+(\.[0-9]+)?($|[ ,])") {
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^(.*[ ,])?max-age=([0-9.]+).*$", "\2s"), 0s);
        set beresp.grace = 0.25s;
        set beresp.keep = 0s;
        unset beresp.http.Surrogate-Control;
        # Return before the built-in rules, which keep nothing marked
        # `no-store` (what browsers are told).
        return (deliver);
    }
    # Anything else is never kept. For one second, requests for this URL go
    # to the hosts each on their own (hit-for-miss) instead of queueing
    # behind one another; a shareable answer ends that at once.
    set beresp.ttl = 1s;
    set beresp.grace = 0s;
    set beresp.uncacheable = true;
    return (deliver);
}

sub vcl_backend_error {
    # A host that did not answer: a GET is tried once more on the next host.
    if (bereq.retries < 1 && bereq.method == "GET") {
        return (retry);
    }
    set beresp.http.Content-Type = "application/json";
    set beresp.http.Cache-Control = "no-store";
    set beresp.http.Retry-After = "2";
    set beresp.body = """{"error":{"code":"unavailable","message":"no chat host answered the cache; retry in a moment"}}""";
    set beresp.ttl = 0s;
    return (deliver);
}

sub vcl_deliver {
    if (obj.uncacheable) {
        set resp.http.X-Cache = "pass";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "hit";
    } else {
        set resp.http.X-Cache = "miss";
    }
    set resp.http.X-Cache-Age = obj.age;
    unset resp.http.Surrogate-Control;
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}

sub vcl_synth {
    set resp.http.Content-Type = "application/json";
    set resp.http.Cache-Control = "no-store";
    if (resp.status == 200) {
        set resp.body = """{"status":"ok"}""";
    } elsif (resp.reason == "draining") {
        set resp.body = """{"status":"draining"}""";
    } else {
        set resp.body = """{"status":"no_healthy_host"}""";
    }
    return (deliver);
}
