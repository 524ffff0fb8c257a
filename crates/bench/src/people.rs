//! The chat as people use it, at scale: each simulated person is a timer
//! task (not a thread) on its own kept-alive connection, polling once a
//! second as the page does, while posters send messages at a fixed rate.
//! Thousands of people run in this one process.
//!
//! - Connections open gradually over the ramp, so the server sees people
//!   arrive rather than a connect storm; their polls are spread evenly over
//!   each second.
//! - [`PollMode::Single`] is today's page (one `GET /api/poll` a second);
//!   [`PollMode::Pair`] is the page before it (the room's messages every
//!   second and the room list every four).
//! - Posting is open loop: each post starts at its due time, on a free
//!   poster connection or a new one, so the load generator never holds a
//!   post back; a post that still started more than a second late is
//!   counted as late, and how long posts took is reported.
//! - Delivery is measured from a post's answer until every person has seen
//!   the message. After the window, people keep polling until each has
//!   caught up with the last post (20 s at most): a message someone has
//!   still not seen then is undelivered.
//! - Figures count only requests started in the measured window (after the
//!   ramp and one second of polling), divided by the window as measured.

use crate::load::{Conn, Req};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How a simulated page polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PollMode {
    /// `GET /api/poll` once a second: messages and room list together.
    Single,
    /// `GET /api/rooms/{room}/messages?after=` once a second and
    /// `GET /api/rooms` every four seconds: the page before the single poll.
    Pair,
}

impl PollMode {
    pub fn parse(s: &str) -> Option<PollMode> {
        match s {
            "single" => Some(PollMode::Single),
            "pair" => Some(PollMode::Pair),
            _ => None,
        }
    }
}

pub struct Plan {
    pub room: String,
    pub start_cursor: i64,
    pub people: usize,
    pub post_rate: f64,
    /// Connections open over this long.
    pub ramp: Duration,
    /// The measured window, during which posts are sent.
    pub window: Duration,
    pub mode: PollMode,
    pub token: Arc<str>,
    /// Makes this run's client ids unique.
    pub tag: String,
}

/// Called when the measured window starts and when it ends (CPU samples).
pub type Probe<'a> = &'a (dyn Fn() + Sync);

#[derive(Default, Debug)]
pub struct Outcome {
    pub connected: usize,
    /// People whose connection could not be opened (they took no part).
    pub connect_failures: usize,
    /// Requests started in the window, of every kind, and those that failed
    /// or answered an error.
    pub requests: u64,
    pub errors: u64,
    /// What the errors were ("HTTP 503", "connection: ..."), with counts.
    pub error_kinds: BTreeMap<String, u64>,
    /// Latencies of the message polls started in the window.
    pub poll_latencies_us: Vec<u32>,
    pub due: usize,
    pub posted: usize,
    pub post_errors: usize,
    /// How long each answered post took, in ms.
    pub post_ms: Vec<f64>,
    /// Posts that started more than a second after they were due.
    pub late: usize,
    pub delivery_ms: Vec<f64>,
    pub undelivered: usize,
    /// The window as it was, measured.
    pub window: Duration,
}

/// What one person saw: message ids in order with when, and its counts.
#[derive(Default)]
struct Person {
    seen: Vec<(i64, Instant)>,
    requests: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    latencies_us: Vec<u32>,
    connected: bool,
}

/// A short name for what went wrong with a request.
fn kind(result: &Result<(u16, bytes::Bytes)>) -> String {
    match result {
        Ok((status, _)) => format!("HTTP {status}"),
        Err(e) => {
            let text = format!("{e:#}");
            format!("transport: {}", text.chars().take(60).collect::<String>())
        }
    }
}

fn ids_of(body: &[u8]) -> Option<(Vec<i64>, i64)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let ids = v["messages"]
        .as_array()?
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .collect();
    Some((ids, v["cursor"].as_i64()?))
}

/// When people may stop: once their cursor reaches `last` (the newest
/// post's id, set once posting is over; -1 before), or at `deadline`.
struct Stop {
    last: std::sync::atomic::AtomicI64,
    deadline: Instant,
}

async fn person(
    index: usize,
    base: String,
    plan: Arc<Plan>,
    t0: Instant,
    window: (Instant, Instant),
    stop: Arc<Stop>,
) -> Person {
    let mut me = Person::default();
    let opens_at = t0 + plan.ramp.mul_f64(index as f64 / plan.people.max(1) as f64);
    tokio::time::sleep_until(opens_at.into()).await;
    let mut conn = match Conn::open(&base).await {
        Ok(c) => c,
        Err(_) => return me,
    };
    me.connected = true;
    let first = t0 + plan.ramp + Duration::from_secs_f64(index as f64 / plan.people.max(1) as f64);
    let mut tick = tokio::time::interval_at(first.into(), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor = plan.start_cursor;
    let mut ticks = 0u64;
    loop {
        let last = stop.last.load(std::sync::atomic::Ordering::Relaxed);
        if (last >= 0 && cursor >= last) || Instant::now() >= stop.deadline {
            break;
        }
        tick.tick().await;
        let mut requests = vec![Req {
            method: http::Method::GET,
            path: match plan.mode {
                PollMode::Single => format!("/api/poll?room={}&after={cursor}", plan.room),
                PollMode::Pair => format!("/api/rooms/{}/messages?after={cursor}", plan.room),
            },
            body: None,
            token: None,
        }];
        if plan.mode == PollMode::Pair && ticks % 4 == index as u64 % 4 {
            requests.push(Req {
                method: http::Method::GET,
                path: "/api/rooms".into(),
                body: None,
                token: None,
            });
        }
        ticks += 1;
        for (n, req) in requests.iter().enumerate() {
            let t = Instant::now();
            let counted = t >= window.0 && t < window.1;
            let result = conn.send(req).await;
            let took = t.elapsed();
            let ok = matches!(&result, Ok((200, _)));
            if counted {
                me.requests += 1;
                if !ok {
                    me.errors += 1;
                    *me.error_kinds.entry(kind(&result)).or_default() += 1;
                }
            }
            match result {
                Ok((200, body)) if n == 0 => {
                    if counted {
                        me.latencies_us
                            .push(took.as_micros().min(u32::MAX as u128) as u32);
                    }
                    let now = Instant::now();
                    if let Some((ids, next)) = ids_of(&body) {
                        me.seen.extend(ids.into_iter().map(|id| (id, now)));
                        cursor = cursor.max(next);
                    }
                }
                Ok(_) => {}
                Err(_) => match Conn::open(&base).await {
                    Ok(c) => conn = c,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                },
            }
        }
    }
    me
}

/// Runs the plan against `base`; `probe` is called as the window starts
/// and as it ends.
pub async fn run(base: &str, plan: Plan, probe: Probe<'_>) -> Result<Outcome> {
    let plan = Arc::new(plan);
    let t0 = Instant::now();
    let window_start = t0 + plan.ramp + Duration::from_secs(1);
    let window_end = window_start + plan.window;
    let stop = Arc::new(Stop {
        last: std::sync::atomic::AtomicI64::new(-1),
        deadline: window_end + Duration::from_secs(20),
    });

    let people: Vec<_> = (0..plan.people)
        .map(|i| {
            tokio::spawn(person(
                i,
                base.to_string(),
                plan.clone(),
                t0,
                (window_start, window_end),
                stop.clone(),
            ))
        })
        .collect();

    // Poster connections: a few to start with, and one more whenever a post
    // is due and none is free.
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..8 {
        let _ = conn_tx.send(Conn::open(base).await.context("open a poster connection")?);
    }
    let acked: Arc<Mutex<Vec<(i64, Instant, f64)>>> = Arc::default();
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    tokio::time::sleep_until(window_start.into()).await;
    probe();
    let measured_from = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / plan.post_rate.max(0.01));
    let (mut due, mut late) = (0usize, 0usize);
    let mut posts = Vec::new();
    loop {
        let due_at = window_start + interval.mul_f64(due as f64);
        if due_at >= window_end {
            break;
        }
        tokio::time::sleep_until(due_at.into()).await;
        let mut conn = match conn_rx.try_recv() {
            Ok(conn) => conn,
            Err(_) => match Conn::open(base).await {
                Ok(conn) => conn,
                Err(_) => {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    due += 1;
                    continue;
                }
            },
        };
        if due_at.elapsed() > Duration::from_secs(1) {
            late += 1;
        }
        let seq = due;
        due += 1;
        let (plan, acked, failed, conn_tx) =
            (plan.clone(), acked.clone(), failed.clone(), conn_tx.clone());
        let base = base.to_string();
        posts.push(tokio::spawn(async move {
            let req = Req {
                method: http::Method::POST,
                path: format!("/api/rooms/{}/messages", plan.room),
                body: Some(format!(
                    r#"{{"body":"chat scenario message {seq}","client_id":"people-{}-{seq}"}}"#,
                    plan.tag
                )),
                token: Some(plan.token.clone()),
            };
            let sent = Instant::now();
            match conn.send(&req).await {
                Ok((201, body)) => {
                    let id = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["message"]["id"].as_i64());
                    let took = sent.elapsed().as_secs_f64() * 1000.0;
                    match id {
                        Some(id) => acked.lock().await.push((id, Instant::now(), took)),
                        None => {
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                Ok(_) => {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(_) => {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Ok(c) = Conn::open(&base).await {
                        conn = c;
                    }
                }
            }
            let _ = conn_tx.send(conn);
        }));
    }
    tokio::time::sleep_until(window_end.into()).await;
    probe();
    let measured = measured_from.elapsed();
    for p in posts {
        let _ = p.await;
    }
    // Everyone may stop once they have the last post.
    let last = acked
        .lock()
        .await
        .iter()
        .map(|(id, _, _)| *id)
        .max()
        .unwrap_or(0);
    stop.last.store(last, std::sync::atomic::Ordering::Relaxed);

    let mut out = Outcome {
        due,
        late,
        window: measured,
        ..Outcome::default()
    };
    let mut everyone = Vec::new();
    for p in people {
        let p = p.await?;
        if !p.connected {
            out.connect_failures += 1;
            continue;
        }
        out.connected += 1;
        out.requests += p.requests;
        out.errors += p.errors;
        for (k, n) in p.error_kinds {
            *out.error_kinds.entry(k).or_default() += n;
        }
        out.poll_latencies_us.extend(p.latencies_us);
        everyone.push(p.seen);
    }
    let acked = std::mem::take(&mut *acked.lock().await);
    out.posted = acked.len();
    out.post_errors = failed.load(std::sync::atomic::Ordering::Relaxed);
    out.post_ms = acked.iter().map(|(_, _, took)| *took).collect();
    for (id, at, _) in &acked {
        // When the last person saw it, if everyone did.
        let mut last = Some(*at);
        for seen in &everyone {
            match seen.binary_search_by_key(id, |(i, _)| *i) {
                Ok(k) => last = last.map(|l| l.max(seen[k].1)),
                Err(_) => {
                    last = None;
                    break;
                }
            }
        }
        match last {
            Some(t) => out
                .delivery_ms
                .push(t.saturating_duration_since(*at).as_secs_f64() * 1000.0),
            None => out.undelivered += 1,
        }
    }
    Ok(out)
}
