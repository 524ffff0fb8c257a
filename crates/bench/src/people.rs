//! The chat as people use it, at scale: each simulated person is a timer
//! task (not a thread) on its own kept-alive connection, polling once a
//! second as the page does, with the page's URL (`room`, `after`, `limit`
//! in that order, so people caught up in a room ask the same question),
//! while posters send messages at a fixed rate. People are spread over the
//! plan's rooms, and posts go to the rooms in turn. Thousands of people run
//! in this one process, on the lean client of [`crate::wire`].
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
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
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

/// The page's page size: its polls ask for at most this many events.
pub const PAGE: u32 = 100;

pub struct Plan {
    /// The rooms, each with the cursor people start from; person `i` is in
    /// room `i % rooms.len()`, post `n` goes to room `n % rooms.len()`.
    pub rooms: Vec<(String, i64)>,
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
    /// Of those polls answered 200, how many the shared cache answered
    /// (`X-Cache: hit`).
    pub polls_ok: u64,
    pub cache_hits: u64,
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

/// An event the benchmark caused, as a poller can recognise it: what it is,
/// the index of its room in the plan, and the message's id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Event {
    Message(usize, i64),
    Edit(usize, i64),
    Removal(usize, i64),
}

/// What the benchmark reads of a poll (or a page): the events and the
/// cursor, borrowed from the answer; the rest is skipped unread.
#[derive(Deserialize)]
struct Polled<'a> {
    #[serde(borrow)]
    messages: Vec<Item<'a>>,
    cursor: i64,
}

#[derive(Deserialize)]
struct Item<'a> {
    id: i64,
    #[serde(borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    target: Option<i64>,
}

impl Item<'_> {
    /// A message by its id, an edit or removal by the message it concerns.
    fn event(&self, room: usize) -> Option<Event> {
        match self.kind.unwrap_or("message") {
            "edit" => self.target.map(|t| Event::Edit(room, t)),
            "removal" => self.target.map(|t| Event::Removal(room, t)),
            _ => Some(Event::Message(room, self.id)),
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
    polls_ok: u64,
    cache_hits: u64,
    connected: bool,
}

/// A short name for what went wrong with a request.
fn kind(status: Option<u16>, error: Option<&anyhow::Error>) -> String {
    match (status, error) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(e)) => {
            let text = format!("{e:#}");
            format!("transport: {}", text.chars().take(60).collect::<String>())
        }
        (None, None) => "unknown".into(),
    }
}

/// When people may stop: once their cursor reaches `last` of their room
/// (the room's newest event id, set once posting is over; -1 before), or at
/// `deadline`.
struct Stop {
    last: Vec<std::sync::atomic::AtomicI64>,
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
    let mut conn = match crate::wire::Conn::open(&base).await {
        Ok(c) => c,
        Err(_) => return me,
    };
    me.connected = true;
    let room_index = index % plan.rooms.len();
    let (room, start) = &plan.rooms[room_index];
    let first = t0 + plan.ramp + Duration::from_secs_f64(index as f64 / plan.people.max(1) as f64);
    let mut tick = tokio::time::interval_at(first.into(), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor = *start;
    let mut ticks = 0u64;
    let mut path = String::with_capacity(96);
    loop {
        let last = stop.last[room_index].load(std::sync::atomic::Ordering::Relaxed);
        if (last >= 0 && cursor >= last) || Instant::now() >= stop.deadline {
            break;
        }
        tick.tick().await;
        // The page's poll, or the room list every four seconds besides
        // (the page before the single poll).
        let rooms_too = plan.mode == PollMode::Pair && ticks % 4 == index as u64 % 4;
        ticks += 1;
        for n in 0..1 + usize::from(rooms_too) {
            path.clear();
            let _ = match (n, plan.mode) {
                (1, _) => write!(path, "/api/rooms"),
                (_, PollMode::Single) => {
                    write!(path, "/api/poll?room={room}&after={cursor}&limit={PAGE}")
                }
                (_, PollMode::Pair) => {
                    write!(
                        path,
                        "/api/rooms/{room}/messages?after={cursor}&limit={PAGE}"
                    )
                }
            };
            let t = Instant::now();
            let counted = t >= window.0 && t < window.1;
            let result = conn.send("GET", &path, None, None).await;
            let took = t.elapsed();
            let status = result.as_ref().ok().map(|a| a.status);
            if counted {
                me.requests += 1;
                if status != Some(200) {
                    me.errors += 1;
                    let e = result.as_ref().err();
                    *me.error_kinds.entry(kind(status, e)).or_default() += 1;
                }
            }
            match result {
                Ok(answer) if answer.status == 200 && n == 0 => {
                    if counted {
                        me.latencies_us
                            .push(took.as_micros().min(u32::MAX as u128) as u32);
                        me.polls_ok += 1;
                        me.cache_hits += u64::from(answer.cache_hit);
                    }
                    if let Ok(polled) = serde_json::from_slice::<Polled>(answer.body) {
                        if !polled.messages.is_empty() {
                            let now = Instant::now();
                            me.seen.extend(
                                polled
                                    .messages
                                    .iter()
                                    .filter_map(|m| m.event(room_index))
                                    .map(|e| (e, now)),
                            );
                        }
                        cursor = cursor.max(polled.cursor);
                    }
                }
                Ok(_) => {}
                Err(_) => match crate::wire::Conn::open(&base).await {
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
        last: plan
            .rooms
            .iter()
            .map(|_| std::sync::atomic::AtomicI64::new(-1))
            .collect(),
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
    // Per room.
    let open: Arc<Mutex<Vec<std::collections::VecDeque<i64>>>> = Arc::new(Mutex::new(
        plan.rooms.iter().map(|_| Default::default()).collect(),
    ));
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
        let r = seq % plan.rooms.len();
        let messages = format!("/api/rooms/{}/messages", plan.rooms[r].0);
        let (req, event) = {
            let mut open = open.lock().await;
            let target = match (is_change, changes % 2) {
                (false, _) => None,
                (true, 0) => open[r].pop_back().map(|id| Event::Edit(r, id)),
                (true, _) => open[r].pop_front().map(|id| Event::Removal(r, id)),
            };
            match target {
                Some(Event::Edit(_, id)) => (
                    Req {
                        method: http::Method::PATCH,
                        path: format!("{messages}/{id}"),
                        body: Some(format!(r#"{{"body":"chat scenario edit {seq}"}}"#)),
                        token: Some(plan.token.clone()),
                    },
                    target,
                ),
                Some(Event::Removal(_, id)) => (
                    Req {
                        method: http::Method::DELETE,
                        path: format!("{messages}/{id}"),
                        body: None,
                        token: Some(plan.token.clone()),
                    },
                    target,
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
            let mut result = conn.send(&req).await;
            if result.is_err() {
                // A connection that went stale while it waited (a proxy
                // closes idle ones): sent again on a new one, as the page
                // resends a post with the same client_id.
                if let Ok(c) = Conn::open(&base).await {
                    conn = c;
                    result = conn.send(&req).await;
                }
            }
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
                                .push((Event::Message(r, id), Instant::now(), took));
                            open.lock().await[r].push_back(id);
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
    let newest = crate::load::room_cursors(base)
        .await
        .context("read the rooms' newest event ids after posting")?;
    for ((room, _), last) in plan.rooms.iter().zip(&stop.last) {
        let newest = crate::load::newest_of(&newest, room)?;
        last.store(newest, std::sync::atomic::Ordering::Relaxed);
    }

    let mut out = Outcome {
        due,
        late,
        window: measured,
        ..Outcome::default()
    };
    // Per room: what each person in it saw first, and when.
    let mut everyone: Vec<Vec<std::collections::HashMap<Event, Instant>>> =
        plan.rooms.iter().map(|_| Vec::new()).collect();
    for (index, p) in people.into_iter().enumerate() {
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
        out.polls_ok += p.polls_ok;
        out.cache_hits += p.cache_hits;
        // First sight of each event.
        let mut first = std::collections::HashMap::with_capacity(p.seen.len());
        for (event, at) in p.seen {
            first.entry(event).or_insert(at);
        }
        everyone[index % plan.rooms.len()].push(first);
    }
    let acked = std::mem::take(&mut *acked.lock().await);
    out.posted = acked.len();
    out.changes = acked
        .iter()
        .filter(|(e, _, _)| !matches!(e, Event::Message(..)))
        .count();
    out.post_errors = failed.load(std::sync::atomic::Ordering::Relaxed);
    out.post_ms = acked.iter().map(|(_, _, took)| *took).collect();
    for (event, at, _) in &acked {
        // When the last person in its room saw it, if everyone there did.
        let (Event::Message(room, _) | Event::Edit(room, _) | Event::Removal(room, _)) = *event;
        let mut last = Some(*at);
        for seen in &everyone[room] {
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
