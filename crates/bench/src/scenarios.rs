//! The measured steps: the closed-loop scenarios (poll, catch-up, post) and
//! the chat scenario against one server, and pgbench on the poll query.

use crate::cli::Settings;
use crate::load::{self, Outcome, Req};
use crate::report::{ChatRow, RouteRow, Row, percentile, sorted_ms, summarize};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use testkit::Server;

/// The rooms the migrations create; the load spreads over all of them.
pub const ROOMS: [&str; 4] = [
    "general",
    "distributed-systems",
    "operating-systems",
    "secure-software",
];

pub fn say(msg: &str) {
    eprintln!("==> {msg}");
}

/// Each room with its newest message id.
async fn room_cursors(base: &str) -> Result<Vec<(String, i64)>> {
    let mut conn = load::Conn::open(base).await?;
    let (status, body) = conn
        .send(&Req {
            method: http::Method::GET,
            path: "/api/rooms".into(),
            body: None,
            token: None,
        })
        .await?;
    if status != 200 {
        bail!("GET /api/rooms answered {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(v["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["last_message_id"].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

/// One closed-loop run against `base` (the server itself, or a proxy in
/// front of it), with the server's CPU seconds over the measured window only
/// (sampled when the warm-up ends and when the run ends).
async fn measured(
    base: &str,
    server: &Server,
    s: &Settings,
    make: Arc<dyn Fn(usize, u64) -> Req + Send + Sync>,
) -> Result<(Outcome, f64)> {
    let warmup = Duration::from_secs_f64(s.warmup_s);
    let duration = Duration::from_secs_f64(s.duration_s);
    let pid = server.pid();
    let at_warm = tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        testkit::server::cpu_seconds(pid)
    });
    let out = load::closed_loop(base, s.clients, warmup, duration, make).await?;
    let cpu = server.cpu_seconds() - at_warm.await?;
    Ok((out, cpu))
}

/// A bearer token for the benchmark's posts.
pub fn token(secret: &str) -> Result<Arc<str>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    Ok(chat::token::issue("bench", secret.as_bytes(), now, 86400)
        .token
        .into())
}

/// The post scenario: every client posts, round the rooms, back to back,
/// to `base` (the server, or a proxy in front of it).
pub async fn post(
    target: &str,
    base: &str,
    server: &Server,
    s: &Settings,
    token: Arc<str>,
) -> Result<Row> {
    say(&format!(
        "{target}: post ({} clients, {:.1} s)",
        s.clients, s.duration_s
    ));
    let run = format!("{}-{target}", std::process::id());
    let make = Arc::new(move |client: usize, seq: u64| Req {
        method: http::Method::POST,
        path: format!("/api/rooms/{}/messages", ROOMS[client % ROOMS.len()]),
        body: Some(format!(
            r#"{{"body":"bench message {seq}","client_id":"b-{run}-{client}-{seq}"}}"#
        )),
        token: Some(token.clone()),
    });
    let (out, cpu) = measured(base, server, s, make).await?;
    Ok(summarize("post", target, &out, cpu, server.peak_rss_mb()))
}

/// The poll scenario (`behind` = 0: nothing new after the cursor) or the
/// catch-up scenario (50 behind): every client reads one room, round the
/// rooms, back to back, from `base`.
pub async fn poll(
    name: &str,
    behind: i64,
    target: &str,
    base: &str,
    server: &Server,
    s: &Settings,
) -> Result<Row> {
    let cursors = Arc::new(room_cursors(base).await?);
    say(&format!(
        "{target}: {name} ({} clients, {:.1} s)",
        s.clients, s.duration_s
    ));
    let make = Arc::new(move |client: usize, _seq: u64| {
        let (room, last) = &cursors[client % cursors.len()];
        Req {
            method: http::Method::GET,
            path: format!(
                "/api/rooms/{room}/messages?after={}",
                (last - behind).max(0)
            ),
            body: None,
            token: None,
        }
    });
    let (out, cpu) = measured(base, server, s, make).await?;
    Ok(summarize(name, target, &out, cpu, server.peak_rss_mb()))
}

/// Every scenario against one server: its rows and its chat row (the
/// per-route latencies are a step of their own, [`routes`]).
pub async fn run(
    target: &str,
    server: &Server,
    s: &Settings,
    secret: &str,
) -> Result<(Vec<Row>, ChatRow)> {
    let token = token(secret)?;
    let mut rows = Vec::new();

    let base = server.base.as_str();
    for (name, behind) in [("poll", 0), ("catch-up", 50)] {
        rows.push(poll(name, behind, target, base, server, s).await?);
    }
    rows.push(post(target, base, server, s, token.clone()).await?);

    let chat_secs = if s.smoke { 3.0 } else { s.duration_s.max(10.0) };
    say(&format!(
        "{target}: chat ({} pollers at 1 Hz, {} posts/s, {chat_secs:.0} s)",
        s.clients, s.post_rate
    ));
    let start = room_cursors(&server.base)
        .await?
        .into_iter()
        .find(|(r, _)| r == "general")
        .map(|(_, c)| c)
        .unwrap_or(0);
    let chat = load::chat(
        &server.base,
        load::ChatPlan {
            room: "general".into(),
            start_cursor: start,
            pollers: s.clients,
            post_rate: s.post_rate,
            duration: Duration::from_secs_f64(chat_secs),
            token,
            tag: format!("{}-{target}", std::process::id()),
        },
    )
    .await?;
    let mut delivery = chat.delivery_ms.clone();
    delivery.sort_by(f64::total_cmp);
    let polls = sorted_ms(&chat.polls.latencies_us);
    let chat_row = ChatRow {
        target: target.into(),
        pollers: s.clients,
        post_rate: s.post_rate,
        posted: chat.posted,
        undelivered: chat.undelivered,
        delivery_p50_ms: percentile(&delivery, 0.5),
        delivery_p99_ms: percentile(&delivery, 0.99),
        delivery_max_ms: delivery.last().copied().unwrap_or(0.0),
        poll_p99_ms: percentile(&polls, 0.99),
    };
    Ok((rows, chat_row))
}

/// pgbench's clients: the benchmark's, but never more than the server has
/// connections free (leaving a margin of 5), so pgbench cannot be refused
/// for exceeding `max_connections`.
pub fn pgbench_clients(wanted: usize, db: &mut postgres::Client) -> Result<usize> {
    let max: i64 = db
        .query_one("SELECT current_setting('max_connections')::int8", &[])?
        .get(0);
    let used: i64 = db
        .query_one("SELECT count(*) FROM pg_stat_activity", &[])?
        .get(0);
    let free = usize::try_from(max - used - 5).unwrap_or(1).max(1);
    Ok(wanted.min(free))
}

/// pgbench on the very statement the components run for a poll with nothing
/// new after `after`; its transactions per second.
pub fn pgbench(
    s: &Settings,
    clients: usize,
    owner_url: &str,
    after: i64,
    dir: &Path,
) -> Result<f64> {
    say(&format!(
        "pgbench: the poll query ({clients} clients, {:.1} s)",
        s.duration_s
    ));
    std::fs::create_dir_all(dir)?;
    let script = dir.join("poll.sql");
    let poll = chat::sql::page("general", chat::Page::After { after, limit: 100 }).sql;
    let poll = poll
        .replace("$1", "'general'")
        .replace("$2", &after.to_string())
        .replace("$3", "NULL")
        .replace("$4", "100");
    std::fs::write(&script, format!("{poll};\n"))?;
    let out = Command::new("pgbench")
        .args(["-n", "-j", "2", "-c", &clients.to_string(), "-T"])
        .arg(format!("{}", s.duration_s.ceil().max(1.0) as u64))
        .arg("-f")
        .arg(&script)
        .arg(owner_url)
        .output()
        .context("run pgbench (Debian: apt-get install postgresql-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| {
            format!(
                "pgbench printed no tps: {text}{}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

/// Each route's latency on one kept-alive connection, requests one after
/// another: the pattern a proxy (Traefik) uses towards a host. `page` is
/// false for a server that serves only the API (the native baseline).
pub async fn routes(
    target: &str,
    base: &str,
    s: &Settings,
    token: Arc<str>,
    page: bool,
) -> Result<Vec<RouteRow>> {
    let requests = if s.smoke { 20 } else { 200 };
    say(&format!(
        "{target}: each route on one connection ({requests} requests one after another)"
    ));
    let last = room_cursors(base)
        .await?
        .into_iter()
        .find(|(r, _)| r == "general")
        .map_or(0, |(_, c)| c);
    let run = format!("{}-{target}", std::process::id());
    let get = |path: String| {
        move |_: u64| Req {
            method: http::Method::GET,
            path: path.clone(),
            body: None,
            token: None,
        }
    };
    type Make = Box<dyn Fn(u64) -> Req>;
    let mut cases: Vec<(&str, u16, Make)> = Vec::new();
    if page {
        cases.push(("page", 200, Box::new(get("/".into()))));
    }
    cases.push(("health", 200, Box::new(get("/api/health".into()))));
    cases.push((
        "session",
        201,
        Box::new(|i| Req {
            method: http::Method::POST,
            path: "/api/session".into(),
            body: Some(format!(r#"{{"name":"bench{i}"}}"#)),
            token: None,
        }),
    ));
    cases.push(("rooms", 200, Box::new(get("/api/rooms".into()))));
    cases.push((
        "poll (nothing new)",
        200,
        Box::new(get(format!("/api/rooms/general/messages?after={last}"))),
    ));
    let post_run = run.clone();
    cases.push((
        "post",
        201,
        Box::new(move |i| Req {
            method: http::Method::POST,
            path: "/api/rooms/general/messages".into(),
            body: Some(format!(
                r#"{{"body":"route latency {i}","client_id":"r-{post_run}-{i}"}}"#
            )),
            token: Some(token.clone()),
        }),
    ));
    cases.push((
        "unknown room (404)",
        404,
        Box::new(get("/api/rooms/no-such-room/messages".into())),
    ));

    let mut rows = Vec::new();
    for (route, expect, make) in cases {
        let mut conn = load::Conn::open(base).await?;
        let mut latencies_us = Vec::with_capacity(requests);
        let mut errors = 0;
        for i in 0..requests as u64 {
            let t0 = std::time::Instant::now();
            match conn.send(&make(i)).await {
                Ok((status, _)) if status == expect => {
                    latencies_us.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32)
                }
                Ok(_) => errors += 1,
                Err(_) => {
                    errors += 1;
                    conn = load::Conn::open(base).await?;
                }
            }
        }
        let ms = sorted_ms(&latencies_us);
        rows.push(RouteRow {
            route: route.into(),
            target: target.into(),
            requests: ms.len(),
            p50_ms: percentile(&ms, 0.5),
            p99_ms: percentile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
            errors,
        });
    }
    Ok(rows)
}
