//! The scenarios: each drives the stack through Traefik, most of them under
//! load while it kills, replaces or scales a part, and returns its [`Row`].

use anyhow::bail;
use e2e::http;
use serde_json::json;
use std::time::{Duration, Instant};

use crate::Args;
use crate::docker::{
    a_container, docker, force_update, promql, psql_in, scale_to, wait_promql,
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

/// The hosts read polls from a streaming replica; it is killed under load.
/// No request may fail (the hosts read the primary until the replica is
/// back), and nothing is lost, doubled or skipped.
pub(crate) fn replica(args: &Args) -> Row {
    let service = format!("{}_postgres-replica", args.stack);
    let mut row = under_load(args, "replica", Duration::from_secs(5), |_| {
        let (victim, task) = a_container(&service)?;
        let reading = psql_in(
            &victim,
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'ostchat_app'",
        )?;
        if reading.trim() == "0" {
            bail!("no host reads the replica: it has no connection of the app");
        }
        docker(&["kill", &victim])?;
        let started = Instant::now();
        wait_replicas_without(&service, 1, &[task], Duration::from_secs(120))?;
        // Back, and following the primary again.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let streaming = a_container(&service)
                .and_then(|(c, _)| psql_in(&c, "SELECT status FROM pg_stat_wal_receiver"))
                .is_ok_and(|s| s.trim() == "streaming");
            if streaming {
                break;
            }
            if Instant::now() > deadline {
                bail!("the replica did not stream again within 90 s of its restart");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(format!(
            "the hosts read it ({} connections); killed, streaming again in {:.1} s",
            reading.trim(),
            started.elapsed().as_secs_f64()
        ))
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    row
}

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

/// Prometheus in the stack sees every chat host (found by Swarm DNS) and
/// Traefik, and a scale from the stack's count to 5 hosts and back shows in
/// its series.
pub(crate) fn metrics(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let prometheus = format!("{}_prometheus", args.stack);
    let up = r#"count(up{job="chat"} == 1)"#;
    let limit = Duration::from_secs(60);
    let check = || -> anyhow::Result<String> {
        let (container, _) = a_container(&prometheus)?;
        wait_promql(&container, up, args.replicas as f64, limit)?;
        wait_promql(&container, r#"up{job="traefik"}"#, 1.0, limit)?;
        // The hosts count requests (the earlier scenarios sent plenty).
        match promql(&container, "sum(minispin_requests_total)")? {
            Some(n) if n > 0.0 => {}
            other => bail!("Prometheus: no requests counted ({other:?})"),
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
            "Prometheus saw {0} -> 5 -> {0} hosts, and Traefik",
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

pub(crate) fn postgres(args: &Args) -> Row {
    let service = format!("{}_postgres", args.stack);
    let mut back_at = None;
    let mut row = under_load(args, "postgres", Duration::from_secs(5), |shared| {
        let started = Instant::now();
        force_update(&service, 1)?;
        let up = Instant::now();
        back_at = Some(up);
        // Clients must recover by themselves: wait for a success after this.
        let deadline = up + Duration::from_secs(30);
        loop {
            if shared.last_success.lock().unwrap().is_some_and(|t| t > up) {
                break;
            }
            if Instant::now() > deadline {
                bail!("no client recovered within 30 s of Postgres being back");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(format!(
            "Postgres replaced in {:.1} s; clients recovered {:.1} s after",
            up.duration_since(started).as_secs_f64(),
            Instant::now().duration_since(up).as_secs_f64()
        ))
    });
    // While the database is down, requests fail with 503 (from the hosts, or
    // from Traefik once every host reports itself unhealthy); nothing else.
    let other: Vec<_> = row
        .failures
        .keys()
        .filter(|k| k.as_str() != "HTTP 503")
        .cloned()
        .collect();
    if !other.is_empty() {
        row.note
            .push_str(&format!("; failures other than 503: {other:?}"));
        row.passed = false;
    }
    row.passed &= back_at.is_some() && row.acked > 0;
    row
}
