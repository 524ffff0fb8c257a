//! The scenarios: each drives the stack through Traefik, most of them under
//! load while it kills, replaces or scales a part, and returns its [`Row`].

use anyhow::bail;
use e2e::http;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::Args;
use crate::cluster::{Cluster, psql_at};
use crate::docker::{
    a_container, command, docker, force_update, promql, scale_to, wait_promql,
    wait_replicas_without,
};
use crate::load::{Row, call, failed_row, under_load};

/// The whole API once, through Traefik, and what Traefik adds.
pub(crate) fn api(args: &Args) -> Row {
    let agent = http::agent_via(&args.connect);
    let mut checks = 0u64;
    let mut problems = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        checks += 1;
        if !ok {
            problems.push(format!("{what}: {detail}"));
        }
    };
    let u = |p: &str| format!("{}{p}", args.url);
    let get = |p: &str| call(&agent, "GET", &u(p), &[], None);

    let page = get("/");
    if let Ok(r) = &page {
        check("page", r.status == 200, format!("HTTP {}", r.status));
        let h = |n: &str| r.header(n).unwrap_or_default().to_string();
        check(
            "CSP",
            h("content-security-policy").contains("frame-ancestors 'none'"),
            h("content-security-policy"),
        );
        check(
            "nosniff",
            h("x-content-type-options") == "nosniff",
            h("x-content-type-options"),
        );
        check(
            "HSTS",
            h("strict-transport-security").contains("max-age="),
            h("strict-transport-security"),
        );
    } else {
        check("page", false, http::describe(&page));
    }
    let js = call(
        &agent,
        "GET",
        &u("/app.js"),
        &[("accept-encoding", "gzip")],
        None,
    );
    check(
        "compression",
        matches!(&js, Ok(r) if r.header("content-encoding") == Some("gzip")),
        http::describe(&js).chars().take(80).collect(),
    );
    // Plain HTTP only redirects to HTTPS.
    let host = args
        .url
        .trim_start_matches("https://")
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let plain = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(10))
        .build();
    let redirect = call(
        &plain,
        "GET",
        &format!("{}/api/rooms", args.http_url),
        &[("host", &host)],
        None,
    );
    check(
        "redirect",
        matches!(&redirect, Ok(r) if (301..=308).contains(&r.status)
            && r.header("location").is_some_and(|l| l.starts_with("https://"))),
        http::describe(&redirect),
    );

    let health = get("/api/health");
    check(
        "health",
        matches!(&health, Ok(r) if r.status == 200),
        http::describe(&health),
    );
    let session = call(
        &agent,
        "POST",
        &u("/api/session"),
        &[],
        Some(&json!({"name": "api-check"})),
    );
    let token = match &session {
        Ok(r) if r.status == 201 => r.json_or_null()["token"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        _ => {
            check("session", false, http::describe(&session));
            String::new()
        }
    };
    let auth = format!("Bearer {token}");
    let admin = format!("Bearer {}", args.admin_token);
    let room = format!("api-{}", std::process::id());
    let created = call(
        &agent,
        "POST",
        &u("/api/rooms"),
        &[("authorization", &admin)],
        Some(&json!({"id": room, "title": "API check"})),
    );
    check(
        "create room",
        matches!(&created, Ok(r) if r.status == 201),
        http::describe(&created),
    );
    let rooms = get("/api/rooms");
    check(
        "list rooms",
        matches!(&rooms, Ok(r) if r.json_or_null()["rooms"].as_array().is_some_and(|a| a.iter().any(|x| x["id"] == room.as_str()))),
        http::describe(&rooms),
    );
    let path = format!("/api/rooms/{room}/messages");
    for i in 1..=5 {
        let r = call(
            &agent,
            "POST",
            &u(&path),
            &[("authorization", &auth)],
            Some(&json!({"body": format!("m{i}"), "client_id": format!("c{i}")})),
        );
        check(
            "post",
            matches!(&r, Ok(x) if x.status == 201),
            http::describe(&r),
        );
    }
    let replay = call(
        &agent,
        "POST",
        &u(&path),
        &[("authorization", &auth)],
        Some(&json!({"body": "again", "client_id": "c1"})),
    );
    check(
        "replay",
        matches!(&replay, Ok(r) if r.status == 200 && r.json_or_null()["message"]["id"] == 1),
        http::describe(&replay),
    );
    let all = get(&format!("{path}?after=0"));
    check(
        "poll",
        matches!(&all, Ok(r) if r.json_or_null()["cursor"] == 5 && r.json_or_null()["messages"].as_array().map(Vec::len) == Some(5)),
        http::describe(&all),
    );
    let empty = get(&format!("{path}?after=5"));
    check(
        "empty poll",
        matches!(&empty, Ok(r) if r.status == 200 && r.json_or_null() == json!({"messages": [], "cursor": 5})),
        http::describe(&empty),
    );
    let before = get(&format!("{path}?before=4&limit=2"));
    check(
        "paging",
        matches!(&before, Ok(r) if r.json_or_null()["messages"].as_array().is_some_and(|m| m.len() == 2 && m[0]["id"] == 2)),
        http::describe(&before),
    );
    let unknown = get("/api/rooms/no-such-room/messages?after=0");
    check(
        "unknown room",
        matches!(&unknown, Ok(r) if r.status == 404 && r.json_or_null()["error"]["code"] == "unknown_room"),
        http::describe(&unknown),
    );
    let none = call(
        &agent,
        "POST",
        &u(&path),
        &[],
        Some(&json!({"body": "x", "client_id": "x"})),
    );
    check(
        "no token",
        matches!(&none, Ok(r) if r.status == 401),
        http::describe(&none),
    );

    // Posts have a stricter rate limit than reads (per client address). A
    // burst of posts (invalid ones: nothing is stored) hits it; as many
    // reads right after do not. Then the bucket refills for the scenarios.
    let burst: Vec<u16> = (0..40)
        .map(|_| {
            call(&agent, "POST", &u("/api/session"), &[], Some(&json!({}))).map_or(0, |r| r.status)
        })
        .collect();
    check(
        "post rate limit",
        burst.contains(&429) && burst.iter().all(|s| *s == 429 || *s == 400),
        format!("statuses {burst:?}"),
    );
    let reads: Vec<u16> = (0..40)
        .map(|_| get("/api/rooms").map_or(0, |r| r.status))
        .collect();
    check(
        "reads not limited",
        reads.iter().all(|s| *s == 200),
        format!("statuses {reads:?}"),
    );
    std::thread::sleep(Duration::from_secs(5));

    let passed = problems.is_empty();
    Row {
        requests: checks,
        failed: problems.len() as u64,
        passed,
        ..failed_row(
            "api",
            if passed {
                format!("{checks} checks: routes, errors, redirect, headers, gzip, rate limits")
            } else {
                problems.join("; ")
            },
        )
    }
}

pub(crate) fn kill(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let mut row = under_load(args, "kill", Duration::from_secs(5), |_| {
        let (victim, task) = a_container(&service)?;
        docker(&["kill", &victim])?;
        let started = Instant::now();
        let gone = [task.to_string()];
        wait_replicas_without(&service, args.replicas, &gone, Duration::from_secs(120))?;
        Ok(format!(
            "killed a host, replaced in {:.1} s",
            started.elapsed().as_secs_f64()
        ))
    });
    // A killed host may cost requests that were in flight on it; they are
    // retried by the clients. What must hold: nothing lost or doubled.
    row.passed &= row.acked > 0;
    row
}

/// The polls come through the shared cache (most answered from it), and a
/// cache task killed under load costs nothing: Traefik retries its
/// requests on the other task, and the Swarm replaces it.
pub(crate) fn cache(args: &Args) -> Row {
    let service = format!("{}_cache", args.stack);
    let mut row = under_load(args, "cache", Duration::from_secs(5), |shared| {
        let (ok, hits) = (
            shared.polls_ok.load(Ordering::Relaxed),
            shared.poll_hits.load(Ordering::Relaxed),
        );
        if hits == 0 {
            bail!("none of {ok} polls was answered by the cache (X-Cache: hit): do they reach it?");
        }
        let (victim, task) = a_container(&service)?;
        docker(&["kill", &victim])?;
        let started = Instant::now();
        wait_replicas_without(&service, CACHE_TASKS, &[task], Duration::from_secs(120))?;
        Ok(format!(
            "{hits} of {ok} polls from the cache before; killed a cache task, replaced in {:.1} s",
            started.elapsed().as_secs_f64()
        ))
    });
    row.passed &= row.acked > 0;
    row
}

/// The cache tasks the Swarm test runs (its CACHE_REPLICAS).
const CACHE_TASKS: usize = 2;

pub(crate) fn update(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let mut row = under_load(args, "update", Duration::from_secs(5), |_| {
        let started = Instant::now();
        force_update(&service, args.replicas)?;
        Ok(format!(
            "rolled {} hosts in {:.0} s",
            args.replicas,
            started.elapsed().as_secs_f64()
        ))
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    row
}

/// PgBouncer's most server connections per database and user on a member
/// (`default_pool_size` + `reserve_pool_size`, deploy/patroni/pgbouncer.ini).
const MAX_APP_SERVER_CONNECTIONS: u32 = 25;

/// Prometheus in the stack sees every chat host (found by Swarm DNS),
/// Traefik and the database members (one leading), and a scale from the
/// stack's count to 5 hosts and back shows in its series; and the
/// connection budget holds: the leader serves at most PgBouncer's pool of
/// the app's connections, however many the hosts' pools hold.
pub(crate) fn metrics(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let prometheus = format!("{}_prometheus", args.stack);
    let up = r#"count(up{job="chat"} == 1)"#;
    let limit = Duration::from_secs(60);
    let check = || -> anyhow::Result<String> {
        let (container, _) = a_container(&prometheus)?;
        wait_promql(&container, up, args.replicas as f64, limit)?;
        wait_promql(&container, r#"up{job="traefik"}"#, 1.0, limit)?;
        // Every database member, and exactly one leader among them.
        wait_promql(&container, r#"count(up{job="patroni"} == 1)"#, 3.0, limit)?;
        wait_promql(&container, "sum(patroni_primary)", 1.0, limit)?;
        // The hosts count requests (the earlier scenarios sent plenty).
        match promql(&container, "sum(minispin_requests_total)")? {
            Some(n) if n > 0.0 => {}
            other => bail!("Prometheus: no requests counted ({other:?})"),
        }
        // The connection budget: the hosts' pools hold many connections
        // (to PgBouncer); the leader's Postgres sees at most PgBouncer's
        // pool of the app's (deploy/README.md, "Connection budget").
        let pooled = promql(&container, "sum(minispin_pg_connections_open)")?.unwrap_or(0.0);
        let cluster = Cluster { stack: &args.stack };
        let leader = cluster.leader()?;
        let served: u32 = cluster
            .psql(
                &leader.name,
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'ostchat_app'",
            )?
            .trim()
            .parse()?;
        if served > MAX_APP_SERVER_CONNECTIONS {
            bail!(
                "the leader has {served} connections of the app role, more than PgBouncer's {MAX_APP_SERVER_CONNECTIONS}"
            );
        }
        scale_to(&service, 5)?;
        wait_promql(&container, up, 5.0, limit)?;
        // A new host has series once it has served a request: Traefik's
        // health checks reach it within seconds.
        wait_promql(
            &container,
            r#"count(count by (host) (minispin_instances_started_total))"#,
            5.0,
            limit,
        )?;
        scale_to(&service, args.replicas)?;
        wait_promql(
            &container,
            r#"count(up{job="chat"})"#,
            args.replicas as f64,
            limit,
        )?;
        Ok(format!(
            "Prometheus saw {0} -> 5 -> {0} hosts, Traefik, and 3 database members with one leader; \
             the hosts held {pooled} pooled connections, the leader served {served} of the app's",
            args.replicas
        ))
    };
    match check() {
        Ok(note) => Row {
            passed: true,
            ..failed_row("metrics", note)
        },
        Err(e) => {
            let _ = scale_to(&service, args.replicas);
            failed_row("metrics", format!("{e:#}"))
        }
    }
}

pub(crate) fn scale(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let mut row = under_load(args, "scale", Duration::from_secs(5), |_| {
        scale_to(&service, 5)?;
        std::thread::sleep(Duration::from_secs(5));
        scale_to(&service, 2)?;
        Ok("3 -> 5 -> 2 hosts".into())
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    // Back to the stack's count, outside the measurement.
    if let Err(e) = scale_to(&service, args.replicas) {
        row.note.push_str(&format!("; scaling back failed: {e:#}"));
        row.passed = false;
    }
    row
}

/// What the database scenarios print about the load: refused posts and
/// failed polls (the clients retry both).
fn refused(shared: &crate::load::Shared) -> String {
    format!(
        "{} post attempts refused and retried, {} polls failed",
        shared.posts_failed.load(Ordering::Relaxed),
        shared.polls_failed.load(Ordering::Relaxed)
    )
}

/// The leader's container is killed with no warning, and its task stays
/// down (its service scaled to 0, as a lost node) until the cluster has
/// failed over; then it comes back and must rejoin as a replica. Posts
/// fail meanwhile (503, retried with the same client_id); polls go on from
/// the replicas; nothing acknowledged is lost, doubled or skipped.
pub(crate) fn failover(args: &Args) -> Row {
    let cluster = Cluster { stack: &args.stack };
    let mut row = under_load(args, "failover", Duration::from_secs(5), |shared| {
        let old = cluster.leader()?;
        let service = cluster.service(&old.name);
        let victim = cluster.container(&old.name)?;
        docker(&["kill", &victim])?;
        let killed = Instant::now();
        docker(&["service", "scale", "--detach", &format!("{service}=0")])?;
        let resumed = shared.wait_posts_resume(killed, Duration::from_secs(120))?;
        let new = cluster.wait_new_leader(&old.name, Duration::from_secs(60))?;
        docker(&["service", "scale", "--detach", &format!("{service}=1")])?;
        let back = Instant::now();
        cluster.wait_rejoined(&old.name, old.timeline, Duration::from_secs(180))?;
        let rejoined = back.elapsed();
        cluster.wait_whole(Duration::from_secs(120))?;
        Ok(format!(
            "killed leader {}: posts resumed after {:.1} s ({new} leads); {} back as a replica {:.1} s after its start; {}",
            old.name,
            resumed.as_secs_f64(),
            old.name,
            rejoined.as_secs_f64(),
            refused(shared)
        ))
    });
    row.passed &= row.acked > 0;
    row
}

/// A planned switchover, as an operator does before a node's maintenance:
/// the leader hands over to its synchronous standby. Posts refused during
/// the hand-over are retried; none may be lost.
pub(crate) fn switchover(args: &Args) -> Row {
    let cluster = Cluster { stack: &args.stack };
    let mut row = under_load(args, "switchover", Duration::from_secs(5), |shared| {
        let old = cluster.leader()?;
        let candidate = cluster.sync_standby()?;
        let started = Instant::now();
        docker(&[
            "exec",
            &cluster.container(&old.name)?,
            "patronictl",
            "-c",
            "/etc/patroni",
            "switchover",
            "--leader",
            &old.name,
            "--candidate",
            &candidate.name,
            "--force",
        ])?;
        let new = cluster.wait_new_leader(&old.name, Duration::from_secs(60))?;
        if new != candidate.name {
            bail!("{new} leads, not the candidate {}", candidate.name);
        }
        let led = started.elapsed();
        cluster.wait_rejoined(&old.name, old.timeline, Duration::from_secs(120))?;
        cluster.wait_whole(Duration::from_secs(120))?;
        Ok(format!(
            "{} -> {new} in {:.1} s; {}",
            old.name,
            led.as_secs_f64(),
            refused(shared)
        ))
    });
    row.passed &= row.acked > 0;
    row
}

/// One etcd member killed: a quorum remains, so nothing else happens (no
/// election, no failed request).
pub(crate) fn etcd(args: &Args) -> Row {
    let cluster = Cluster { stack: &args.stack };
    let mut row = under_load(args, "etcd", Duration::from_secs(5), |_| {
        let before = cluster.leader()?;
        let service = format!("{}_etcd2", args.stack);
        let (victim, task) = a_container(&service)?;
        docker(&["kill", &victim])?;
        let started = Instant::now();
        wait_replicas_without(&service, 1, &[task], Duration::from_secs(120))?;
        let replaced = started.elapsed();
        // Longer than the leader lock's life: it was renewed throughout.
        std::thread::sleep(Duration::from_secs(25));
        let after = cluster.leader()?;
        if after.name != before.name || after.timeline != before.timeline {
            bail!(
                "the cluster changed leader ({} on timeline {:?} -> {} on {:?})",
                before.name,
                before.timeline,
                after.name,
                after.timeline
            );
        }
        Ok(format!(
            "killed etcd2, replaced in {:.1} s; {} still leads on timeline {:?}",
            replaced.as_secs_f64(),
            after.name,
            after.timeline
        ))
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    row
}

/// A Postgres member that is not the leader nor its synchronous standby is
/// killed: the hosts read the others (or the leader) meanwhile, so no
/// request fails; it comes back and follows again.
pub(crate) fn replica(args: &Args) -> Row {
    let cluster = Cluster { stack: &args.stack };
    let mut row = under_load(args, "replica", Duration::from_secs(5), |_| {
        let replica = cluster
            .members()?
            .into_iter()
            .find(|m| m.role == "Replica" && m.serving())
            .ok_or_else(|| anyhow::anyhow!("no member is a plain replica"))?;
        let service = cluster.service(&replica.name);
        let (victim, task) = a_container(&service)?;
        docker(&["kill", &victim])?;
        let started = Instant::now();
        wait_replicas_without(&service, 1, &[task], Duration::from_secs(120))?;
        cluster.wait_whole(Duration::from_secs(120))?;
        Ok(format!(
            "killed replica {}; it follows again {:.1} s later",
            replica.name,
            started.elapsed().as_secs_f64()
        ))
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    row
}

/// The leader is cut off from every other container (its network
/// namespace drops all but loopback): it can renew its lock no more. Within
/// its lock's life it must stop taking writes, and a post sent to it
/// meanwhile must be refused, never acknowledged and then lost. Once
/// another member leads and the cut-off one is reconnected, it rejoins as
/// a replica (pg_rewind throws away what only it had).
pub(crate) fn isolate(args: &Args) -> Row {
    let cluster = Cluster { stack: &args.stack };
    let mut row = under_load(args, "isolate", Duration::from_secs(5), |shared| {
        let old = cluster.leader()?;
        let container = cluster.container(&old.name)?;
        let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &container])?;
        let rules = [["INPUT", "-i"], ["OUTPUT", "-o"]];
        let iptables = |action: &str, chain: &str, dir: &str| {
            command(
                "nsenter",
                &[
                    "-t", &pid, "-n", "iptables", action, chain, "!", dir, "lo", "-j", "DROP",
                ],
            )
        };
        for [chain, dir] in rules {
            iptables("-I", chain, dir)?;
        }
        let cut = Instant::now();
        // A post sent straight to the cut-off leader, as a host that still
        // had a connection to it would.
        let client_id = format!("isolated-{}", std::process::id());
        let sql = format!(
            "SELECT status FROM chat.post_message('general', 'isolated', 'sent to a cut-off leader', '{client_id}', 'isolate-session', 0, 0)"
        );
        let stray = {
            let container = container.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                psql_at(&container, &sql)
            })
        };
        // It stops taking writes: Patroni demotes it, stopping Postgres
        // ("offline": no leader to follow) or restarting it read-only.
        let demoted = testkit::wait_for(
            "the cut-off leader stopping writes",
            Duration::from_secs(40),
            || {
                let writable = match psql_at(&container, "SELECT pg_is_in_recovery()") {
                    Ok(r) => r.trim() == "f",
                    // Not running: no socket to connect to.
                    Err(e) => !format!("{e:#}").contains("connection to server"),
                };
                (!writable).then(|| cut.elapsed())
            },
        );
        let new = cluster.wait_new_leader(&old.name, Duration::from_secs(90));
        let resumed = shared.wait_posts_resume(cut, Duration::from_secs(120));
        let stray = stray
            .join()
            .map_err(|_| anyhow::anyhow!("the stray post's thread panicked"))?;
        for [chain, dir] in rules {
            iptables("-D", chain, dir)?;
        }
        let reconnected = Instant::now();
        let (demoted, new, resumed) = (demoted?, new?, resumed?);
        if let Ok(status) = &stray {
            bail!("the cut-off leader acknowledged a post ({status}): split brain");
        }
        cluster.wait_rejoined(&old.name, old.timeline, Duration::from_secs(180))?;
        let rejoined = reconnected.elapsed();
        cluster.wait_whole(Duration::from_secs(120))?;
        for member in [new.as_str(), old.name.as_str()] {
            let found = cluster.psql(
                member,
                &format!("SELECT count(*) FROM chat.messages WHERE client_id = '{client_id}'"),
            )?;
            if found.trim() != "0" {
                bail!("{member} holds the post the cut-off leader refused");
            }
        }
        Ok(format!(
            "cut off leader {}: took no writes after {:.1} s, its post refused; {new} leads; posts resumed after {:.1} s; rejoined {:.1} s after reconnecting; {}",
            old.name,
            demoted.as_secs_f64(),
            resumed.as_secs_f64(),
            rejoined.as_secs_f64(),
            refused(shared)
        ))
    });
    row.passed &= row.acked > 0;
    row
}
