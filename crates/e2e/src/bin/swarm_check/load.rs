//! The load the scenarios run under: posting clients (each message retried
//! with the same `client_id` until acknowledged, as the browser does) and
//! polling clients (following the cursor, checking that every id arrives
//! exactly once and in order), in a room of the scenario's own; and the
//! figures of one scenario, a [`Row`] of the table.

use e2e::http;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Args;

/// A request with an optional JSON body.
pub(crate) use http::try_send_json as call;

/// Counters the load's clients share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) requests: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) failures: Mutex<BTreeMap<String, u64>>,
    /// (client_id, id) of every acknowledged message.
    pub(crate) acked: Mutex<Vec<(String, i64)>>,
    /// Longest time, in ms, any client went without a successful answer.
    pub(crate) longest_gap_ms: AtomicU64,
    pub(crate) stop_posting: AtomicBool,
    /// Set once posting is over: the highest acknowledged id to catch up to.
    pub(crate) catch_up_to: AtomicI64,
    /// Successful answers, with their time, for recovery measurements.
    pub(crate) last_success: Mutex<Option<Instant>>,
    /// When each acknowledged post was sent (the attempt that was
    /// acknowledged), for the time posts took to resume.
    pub(crate) posts_sent_ok: Mutex<Vec<Instant>>,
    pub(crate) posts_failed: AtomicU64,
    pub(crate) polls_failed: AtomicU64,
    /// Polls answered 200, and of those, answered by the shared cache
    /// (`X-Cache: hit`).
    pub(crate) polls_ok: AtomicU64,
    pub(crate) poll_hits: AtomicU64,
}

impl Shared {
    pub(crate) fn failure(&self, kind: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self.failures.lock().unwrap().entry(kind).or_default() += 1;
    }

    /// The first post acknowledged that was sent after `since`, if any.
    pub(crate) fn first_post_sent_after(&self, since: Instant) -> Option<Instant> {
        self.posts_sent_ok
            .lock()
            .unwrap()
            .iter()
            .filter(|t| **t > since)
            .min()
            .copied()
    }

    /// Waits (`limit` at most) for a post sent after `since` to be
    /// acknowledged; how long after `since` it was sent.
    pub(crate) fn wait_posts_resume(
        &self,
        since: Instant,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let deadline = since + limit;
        loop {
            if let Some(at) = self.first_post_sent_after(since) {
                return Ok(at.duration_since(since));
            }
            if Instant::now() > deadline {
                anyhow::bail!("no post was acknowledged within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Keeps a client's longest gap between successful answers.
pub(crate) struct Gap {
    last: Instant,
}

impl Gap {
    pub(crate) fn new() -> Gap {
        Gap {
            last: Instant::now(),
        }
    }
    pub(crate) fn success(&mut self, shared: &Shared) {
        let now = Instant::now();
        let gap = now.duration_since(self.last).as_millis() as u64;
        shared.longest_gap_ms.fetch_max(gap, Ordering::Relaxed);
        self.last = now;
        *shared.last_success.lock().unwrap() = Some(now);
    }
}

pub(crate) struct Load {
    pub(crate) url: String,
    pub(crate) agent: ureq::Agent,
    pub(crate) room: String,
}

pub(crate) fn login(load: &Load, shared: &Shared, name: &str) -> String {
    let mut gap = Gap::new();
    loop {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let r = call(
            &load.agent,
            "POST",
            &format!("{}/api/session", load.url),
            &[],
            Some(&json!({ "name": name })),
        );
        match &r {
            Ok(reply) if reply.status == 201 => {
                gap.success(shared);
                return reply.json_or_null()["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            _ => shared.failure(http::failure_kind(&r)),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Posts until told to stop, each message retried with its `client_id`
/// until acknowledged (or for two minutes at most).
pub(crate) fn poster(load: &Load, shared: &Shared, index: usize, pace: Duration) {
    let token = login(load, shared, &format!("poster-{index}"));
    let auth = format!("Bearer {token}");
    let url = format!("{}/api/rooms/{}/messages", load.url, load.room);
    let mut gap = Gap::new();
    let mut seq = 0;
    while !shared.stop_posting.load(Ordering::Relaxed) {
        seq += 1;
        let client_id = format!("p{index}-{seq}");
        let body =
            json!({ "body": format!("message {seq} of poster {index}"), "client_id": client_id });
        let give_up = Instant::now() + Duration::from_secs(120);
        let mut backoff = Duration::from_millis(200);
        loop {
            shared.requests.fetch_add(1, Ordering::Relaxed);
            let sent = Instant::now();
            let r = call(
                &load.agent,
                "POST",
                &url,
                &[("authorization", &auth)],
                Some(&body),
            );
            match &r {
                Ok(reply) if reply.status == 201 || reply.status == 200 => {
                    gap.success(shared);
                    let id = reply.json_or_null()["message"]["id"].as_i64().unwrap_or(-1);
                    shared.acked.lock().unwrap().push((client_id.clone(), id));
                    shared.posts_sent_ok.lock().unwrap().push(sent);
                    break;
                }
                _ => {
                    shared.failure(http::failure_kind(&r));
                    shared.posts_failed.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() > give_up {
                        break;
                    }
                    let wait = match &r {
                        Ok(reply) => reply
                            .header("retry-after")
                            .and_then(|v| v.parse::<u64>().ok())
                            .map_or(backoff, |s| Duration::from_secs(s).min(backoff * 4)),
                        Err(_) => backoff,
                    };
                    std::thread::sleep(wait);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        std::thread::sleep(pace);
    }
}

/// What one poller saw.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) client_ids: Vec<String>,
    pub(crate) skipped: u64,
    pub(crate) out_of_order: u64,
}

/// Follows the cursor until posting is over and it has caught up, with the
/// page's poll (which the hosts read from a replica when there is one).
pub(crate) fn poller(load: &Load, shared: &Shared, every: Duration) -> Seen {
    let url = format!("{}/api/poll?room={}", load.url, load.room);
    let mut seen = Seen::default();
    let mut cursor = 0i64;
    let mut gap = Gap::new();
    let mut catch_up_deadline = None;
    loop {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let r = call(
            &load.agent,
            "GET",
            &format!("{url}&after={cursor}&limit=100"),
            &[],
            None,
        );
        match &r {
            Ok(reply) if reply.status == 200 => {
                gap.success(shared);
                shared.polls_ok.fetch_add(1, Ordering::Relaxed);
                if reply.header("x-cache") == Some("hit") {
                    shared.poll_hits.fetch_add(1, Ordering::Relaxed);
                }
                let page = reply.json_or_null();
                for m in page["messages"].as_array().into_iter().flatten() {
                    let id = m["id"].as_i64().unwrap_or(-1);
                    if id <= cursor {
                        seen.out_of_order += 1;
                        continue;
                    }
                    if id != cursor + 1 {
                        seen.skipped += (id - cursor - 1) as u64;
                    }
                    cursor = id;
                    seen.client_ids
                        .push(m["client_id"].as_str().unwrap_or_default().to_string());
                }
            }
            _ => {
                shared.failure(http::failure_kind(&r));
                shared.polls_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let target = shared.catch_up_to.load(Ordering::Relaxed);
        if target >= 0 {
            let deadline =
                *catch_up_deadline.get_or_insert(Instant::now() + Duration::from_secs(60));
            if cursor >= target || Instant::now() > deadline {
                return seen;
            }
        }
        std::thread::sleep(every);
    }
}

/// One scenario's figures.
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) requests: u64,
    pub(crate) failed: u64,
    pub(crate) failures: BTreeMap<String, u64>,
    pub(crate) acked: usize,
    pub(crate) seen_by_all: usize,
    pub(crate) duplicated: usize,
    pub(crate) skipped: u64,
    pub(crate) longest_gap: Duration,
    pub(crate) note: String,
    pub(crate) passed: bool,
}

/// A fresh room for scenario `name` (made with the admin token): its id.
pub(crate) fn new_room(args: &Args, agent: &ureq::Agent, name: &str) -> anyhow::Result<String> {
    let room = format!("{name}-{}", std::process::id());
    let created = call(
        agent,
        "POST",
        &format!("{}/api/rooms", args.url),
        &[("authorization", &format!("Bearer {}", args.admin_token))],
        Some(&json!({ "id": room, "title": format!("swarm test: {name}") })),
    );
    if !matches!(&created, Ok(r) if r.status == 201) {
        anyhow::bail!("cannot create the room: {}", http::describe(&created));
    }
    Ok(room)
}

/// Runs the load in a fresh room while `action` runs; `action` returns a
/// note for the table (or an error, which fails the scenario).
pub(crate) fn under_load(
    args: &Args,
    name: &str,
    settle: Duration,
    action: impl FnOnce(&Shared) -> anyhow::Result<String>,
) -> Row {
    let agent = http::agent_via(&args.connect);
    let room = match new_room(args, &agent, name) {
        Ok(room) => room,
        Err(e) => return failed_row(name, format!("{e:#}")),
    };
    let shared = Arc::new(Shared {
        catch_up_to: AtomicI64::new(-1),
        ..Shared::default()
    });
    let load = Arc::new(Load {
        url: args.url.clone(),
        agent,
        room,
    });
    let mut posters = Vec::new();
    for i in 0..args.posters {
        let (load, shared) = (load.clone(), shared.clone());
        posters.push(std::thread::spawn(move || {
            // 40 posts a minute each: under the app's limit per author (60).
            poster(&load, &shared, i, Duration::from_millis(1500))
        }));
    }
    let mut pollers = Vec::new();
    for _ in 0..args.pollers {
        let (load, shared) = (load.clone(), shared.clone());
        pollers.push(std::thread::spawn(move || {
            poller(&load, &shared, Duration::from_millis(500))
        }));
    }
    std::thread::sleep(settle);
    let outcome = action(&shared);
    std::thread::sleep(settle);
    shared.stop_posting.store(true, Ordering::Relaxed);
    for p in posters {
        let _ = p.join();
    }
    let acked = shared.acked.lock().unwrap().clone();
    let max_id = acked.iter().map(|(_, id)| *id).max().unwrap_or(0);
    shared.catch_up_to.store(max_id, Ordering::Relaxed);
    let seen: Vec<Seen> = pollers
        .into_iter()
        .map(|p| p.join().unwrap_or_default())
        .collect();

    let acked_ids: HashSet<&String> = acked.iter().map(|(c, _)| c).collect();
    let seen_sets: Vec<HashSet<&String>> =
        seen.iter().map(|s| s.client_ids.iter().collect()).collect();
    let seen_by_all = acked_ids
        .iter()
        .filter(|c| seen_sets.iter().all(|s| s.contains(*c)))
        .count();
    // Stored twice = one client_id under two ids (every poller sees all ids).
    let duplicated = seen
        .iter()
        .map(|s| s.client_ids.len() - s.client_ids.iter().collect::<HashSet<_>>().len())
        .max()
        .unwrap_or(0);
    let skipped = seen.iter().map(|s| s.skipped + s.out_of_order).sum();
    let failures = shared.failures.lock().unwrap().clone();
    let (note, action_ok) = match outcome {
        Ok(note) => (note, true),
        Err(e) => (format!("{e:#}"), false),
    };
    Row {
        scenario: name.to_string(),
        requests: shared.requests.load(Ordering::Relaxed),
        failed: shared.failed.load(Ordering::Relaxed),
        failures,
        acked: acked_ids.len(),
        seen_by_all,
        duplicated,
        skipped,
        longest_gap: Duration::from_millis(shared.longest_gap_ms.load(Ordering::Relaxed)),
        note,
        passed: action_ok && seen_by_all == acked_ids.len() && duplicated == 0 && skipped == 0,
    }
}

pub(crate) fn failed_row(name: &str, note: String) -> Row {
    Row {
        scenario: name.to_string(),
        requests: 0,
        failed: 0,
        failures: BTreeMap::new(),
        acked: 0,
        seen_by_all: 0,
        duplicated: 0,
        skipped: 0,
        longest_gap: Duration::ZERO,
        note,
        passed: false,
    }
}
