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
//! - With an edit share (`Plan::edit_share`, e.g. 0.05), that share of the
//!   due events are edits and removals instead of new messages, alternately:
//!   an edit of the newest message not yet edited, a removal of the oldest
//!   one not yet removed (always the benchmark's own, within the edit
//!   window). They are delivered as events of the room like messages are.
//! - Delivery is measured from a post's (or edit's, or removal's) answer
//!   until every person has seen the event. After the window, people keep polling until each has
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
    /// The share of due events that are edits and removals (0: only posts).
    pub edit_share: f64,
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
    /// Events answered: messages, edits and removals.
    pub posted: usize,
    /// Of those, edits and removals.
    pub changes: usize,
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

/// An event the benchmark caused, as a poller can recognise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Event {
    Message(i64),
    Edit(i64),
    Removal(i64),
}

impl Event {
    /// What a poll's item is: a message by its id, an edit or removal by
    /// the message it concerns.
    fn of(item: &serde_json::Value) -> Option<Event> {
        let target = || item["target"].as_i64();
        match item["kind"].as_str().unwrap_or("message") {
            "edit" => target().map(Event::Edit),
            "removal" => target().map(Event::Removal),
            _ => item["id"].as_i64().map(Event::Message),
        }
    }
}

/// What one person saw: events in order with when, and its counts.
#[derive(Default)]
struct Person {
    seen: Vec<(Event, Instant)>,
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

fn events_of(body: &[u8]) -> Option<(Vec<Event>, i64)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let events = v["messages"]
        .as_array()?
        .iter()
        .filter_map(Event::of)
        .collect();
    Some((events, v["cursor"].as_i64()?))
}

/// When people may stop: once their cursor reaches `last` (the room's
/// newest event id, set once posting is over; -1 before), or at `deadline`.
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
                    if let Some((events, next)) = events_of(&body) {
                        me.seen.extend(events.into_iter().map(|e| (e, now)));
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
    let acked: Arc<Mutex<Vec<(Event, Instant, f64)>>> = Arc::default();
    // The benchmark's messages not yet edited or removed, oldest first.
    let open: Arc<Mutex<std::collections::VecDeque<i64>>> = Arc::default();
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    tokio::time::sleep_until(window_start.into()).await;
    probe();
    let measured_from = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / plan.post_rate.max(0.01));
    let (mut due, mut late, mut changes) = (0usize, 0usize, 0usize);
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
        // Spread evenly: event `seq` is a change when the running count of
        // changes owed steps up at it.
        let share = plan.edit_share.clamp(0.0, 1.0);
        let is_change = ((seq + 1) as f64 * share).floor() > (seq as f64 * share).floor();
        let messages = format!("/api/rooms/{}/messages", plan.room);
        let (req, event) = {
            let mut open = open.lock().await;
            let target = match (is_change, changes % 2) {
                (false, _) => None,
                (true, 0) => open.pop_back().map(Event::Edit),
                (true, _) => open.pop_front().map(Event::Removal),
            };
            match target {
                Some(Event::Edit(id)) => (
                    Req {
                        method: http::Method::PATCH,
                        path: format!("{messages}/{id}"),
                        body: Some(format!(r#"{{"body":"chat scenario edit {seq}"}}"#)),
                        token: Some(plan.token.clone()),
                    },
                    Some(Event::Edit(id)),
                ),
                Some(Event::Removal(id)) => (
                    Req {
                        method: http::Method::DELETE,
                        path: format!("{messages}/{id}"),
                        body: None,
                        token: Some(plan.token.clone()),
                    },
                    Some(Event::Removal(id)),
                ),
                // A message (also when a change is due but nothing is
                // acknowledged yet to change).
                _ => (
                    Req {
                        method: http::Method::POST,
                        path: messages,
                        body: Some(format!(
                            r#"{{"body":"chat scenario message {seq}","client_id":"people-{}-{seq}"}}"#,
                            plan.tag
                        )),
                        token: Some(plan.token.clone()),
                    },
                    None,
                ),
            }
        };
        changes += usize::from(event.is_some());
        let (acked, open, failed, conn_tx) =
            (acked.clone(), open.clone(), failed.clone(), conn_tx.clone());
        let base = base.to_string();
        posts.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result = conn.send(&req).await;
            let took = sent.elapsed().as_secs_f64() * 1000.0;
            match (result, event) {
                (Ok((201, body)), None) => {
                    let id = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["message"]["id"].as_i64());
                    match id {
                        Some(id) => {
                            acked
                                .lock()
                                .await
                                .push((Event::Message(id), Instant::now(), took));
                            open.lock().await.push_back(id);
                        }
                        None => {
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                (Ok((200, _)), Some(change)) => {
                    acked.lock().await.push((change, Instant::now(), took));
                }
                (Ok(_), _) => {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                (Err(_), _) => {
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
    // Everyone may stop once they have the room's newest event (an edit or
    // removal answered last can come after the newest message).
    let last = newest_event(base, &plan.room)
        .await
        .context("read the room's newest event id after posting")?;
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
        // First sight of each event.
        let mut first = std::collections::HashMap::with_capacity(p.seen.len());
        for (event, at) in p.seen {
            first.entry(event).or_insert(at);
        }
        everyone.push(first);
    }
    let acked = std::mem::take(&mut *acked.lock().await);
    out.posted = acked.len();
    out.changes = acked
        .iter()
        .filter(|(e, _, _)| !matches!(e, Event::Message(_)))
        .count();
    out.post_errors = failed.load(std::sync::atomic::Ordering::Relaxed);
    out.post_ms = acked.iter().map(|(_, _, took)| *took).collect();
    for (event, at, _) in &acked {
        // When the last person saw it, if everyone did.
        let mut last = Some(*at);
        for seen in &everyone {
            match seen.get(event) {
                Some(when) => last = last.map(|l| l.max(*when)),
                None => {
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
/// The room's newest event id, as the room list says it.
async fn newest_event(base: &str, room: &str) -> Result<i64> {
    crate::load::room_cursors(base)
        .await?
        .into_iter()
        .find(|(id, _)| id == room)
        .map(|(_, newest)| newest)
        .with_context(|| format!("room {room} is not in the room list"))
}
