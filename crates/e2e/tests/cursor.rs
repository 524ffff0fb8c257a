//! The gapless cursor under concurrency: writers on two runner processes post
//! into one room, and edit and remove some of their messages, while pollers
//! on both follow it with `after=<cursor>`. Every poller must see every
//! event (message, edit, removal) exactly once, in id order, with no gaps:
//! ids that committed out of order would make a poller skip one for good.

use e2e::{Client, RunnerConfig, TestDb};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const WRITERS_PER_RUNNER: usize = 4;
const MESSAGES_PER_WRITER: usize = 30;
const POLLERS_PER_RUNNER: usize = 2;

/// Each writer edits its messages number 1, 6, 11, ... and removes its
/// messages number 2, 9, 16, ... (16 is edited first).
fn edits(i: usize) -> bool {
    i % 5 == 1
}
fn removes(i: usize) -> bool {
    i % 7 == 2
}

#[test]
fn every_poller_sees_every_message_once_in_order() {
    let db = TestDb::new();
    let runners = [
        RunnerConfig::chat(&db).start(),
        RunnerConfig::chat(&db).start(),
    ];
    let bases: Vec<String> = runners.iter().map(|r| r.base.clone()).collect();
    let room = "distributed-systems";
    let total = 2 * WRITERS_PER_RUNNER * MESSAGES_PER_WRITER;
    let changes = (0..MESSAGES_PER_WRITER)
        .filter(|i| edits(*i))
        .chain((0..MESSAGES_PER_WRITER).filter(|i| removes(*i)))
        .count();
    let events = total + 2 * WRITERS_PER_RUNNER * changes;
    let writers_done = Arc::new(AtomicBool::new(false));

    let mut pollers = Vec::new();
    for (r, base) in bases.iter().enumerate() {
        for p in 0..POLLERS_PER_RUNNER {
            let base = base.clone();
            let done = writers_done.clone();
            pollers.push(std::thread::spawn(move || {
                let c = Client {
                    agent: e2e::agent(),
                    base,
                };
                let mut cursor = 0i64;
                let mut seen: Vec<(i64, String, String, Option<i64>)> = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    // A small page limit makes pollers page through bursts.
                    let finished = done.load(Ordering::SeqCst);
                    let (page, next) = c.messages_after(room, cursor, 7);
                    for m in &page {
                        seen.push((
                            m["id"].as_i64().unwrap(),
                            m["client_id"].as_str().unwrap().to_string(),
                            m["kind"].as_str().unwrap().to_string(),
                            m["target"].as_i64(),
                        ));
                    }
                    assert!(next >= cursor, "cursor went backwards");
                    cursor = next;
                    if finished && page.is_empty() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "poller {r}/{p} timed out");
                    if page.is_empty() {
                        std::thread::sleep(Duration::from_millis(3));
                    }
                }
                seen
            }));
        }
    }

    let mut writers = Vec::new();
    for (r, base) in bases.iter().enumerate() {
        for w in 0..WRITERS_PER_RUNNER {
            let base = base.clone();
            writers.push(std::thread::spawn(move || {
                let c = Client {
                    agent: e2e::agent(),
                    base,
                };
                let token = c.login(&format!("writer-{r}-{w}"));
                let mut acked = Vec::new();
                for i in 0..MESSAGES_PER_WRITER {
                    let cid = format!("w{r}-{w}-{i}");
                    let resp = c.send_message(&token, room, &format!("message {i}"), &cid);
                    assert_eq!(resp.status, 201, "{}", resp.body);
                    // Every third message is retried, as a browser would after
                    // a lost answer: it must come back as the same message.
                    if i % 3 == 0 {
                        let again = c.send_message(&token, room, "retry", &cid);
                        assert_eq!(again.status, 200);
                        assert_eq!(again.json()["message"], resp.json()["message"]);
                    }
                    let id = resp.json()["message"]["id"].as_i64().unwrap();
                    let url = format!("{}/api/rooms/{room}/messages/{id}", c.base);
                    let auth = format!("Bearer {token}");
                    let headers = [
                        ("authorization", auth.as_str()),
                        ("content-type", "application/json"),
                    ];
                    if edits(i) {
                        let body = format!(r#"{{"body": "edited {i}"}}"#);
                        let r = e2e::send(&c.agent, "PATCH", &url, &headers, Some(body.as_bytes()));
                        assert_eq!(r.status, 200, "{}", r.body);
                    }
                    if removes(i) {
                        let r = e2e::send(&c.agent, "DELETE", &url, &headers, None);
                        assert_eq!(r.status, 200, "{}", r.body);
                    }
                    acked.push(cid);
                }
                acked
            }));
        }
    }
    let acked: BTreeSet<String> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer panicked"))
        .collect();
    writers_done.store(true, Ordering::SeqCst);
    assert_eq!(acked.len(), total);

    for (n, poller) in pollers.into_iter().enumerate() {
        let seen = poller.join().expect("poller panicked");
        let ids: Vec<i64> = seen.iter().map(|(id, ..)| *id).collect();
        let expected: Vec<i64> = (1..=events as i64).collect();
        assert_eq!(
            ids, expected,
            "poller {n} missed, doubled or reordered events"
        );
        let mut messages = BTreeSet::new();
        for (id, _, kind, target) in &seen {
            match (kind.as_str(), target) {
                ("message", None) => {
                    messages.insert(*id);
                }
                // An edit or removal always follows its message.
                ("edit" | "removal", Some(t)) => {
                    assert!(
                        messages.contains(t),
                        "poller {n}: event {id} before its message {t}"
                    )
                }
                other => panic!("poller {n}: event {id} is {other:?}"),
            }
        }
        let cids: BTreeSet<String> = seen
            .into_iter()
            .filter(|(.., kind, _)| kind == "message")
            .map(|(_, c, ..)| c)
            .collect();
        assert_eq!(
            cids, acked,
            "poller {n} saw other messages than those acknowledged"
        );
    }
    let mut conn = db.connect();
    let stored: i64 = conn
        .query_one(
            "SELECT count(*) FROM chat.messages WHERE kind = 'message'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, total, "retries must not store duplicates");
    let stored: i64 = conn
        .query_one("SELECT count(*) FROM chat.messages", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, events, "one row per event");
}

#[test]
fn concurrent_identical_retries_store_one_message() {
    let db = TestDb::new();
    let runners = [
        RunnerConfig::chat(&db).start(),
        RunnerConfig::chat(&db).start(),
    ];
    let token = Client::new(&runners[0]).login("racer");
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let base = runners[i % 2].base.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                let c = Client {
                    agent: e2e::agent(),
                    base,
                };
                let r = c.send_message(&token, "general", "only once", "same-id");
                assert!(r.status == 200 || r.status == 201, "{}", r.body);
                (r.status, r.json()["message"]["id"].as_i64().unwrap())
            })
        })
        .collect();
    let results: Vec<(u16, i64)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|(_, id)| *id == 1), "{results:?}");
}
