//! The chat through a real Varnish with the stack's VCL and entrypoint
//! (`testkit::varnish`), in front of two runner hosts: what a shared cache
//! may and may not do to the cursor reads.
//!
//! - pollers through the cache, writers on both hosts: every event exactly
//!   once, in order, while most polls are answered by the cache and no
//!   answer is older than the hosts' max-age plus the cache's grace;
//! - a writer that polls with `known=` sees its own post at once;
//! - an edit reaches every poller within the max-age plus one poll;
//! - a request with `Authorization` never gets, or leaves, a shared answer;
//! - a 503 is never kept.

use e2e::{Client, RunnerConfig, Server, TestDb, Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::varnish::Cache;

/// The hosts' default `shared_cache_ms` and the VCL's grace, in seconds.
const MAX_AGE: f64 = 0.25;
const GRACE: f64 = 0.25;
const ROOM: &str = "general";

fn hosts(db: &TestDb) -> [Server; 2] {
    [
        RunnerConfig::chat(db).start(),
        RunnerConfig::chat(db).start(),
    ]
}

fn cache_for(hosts: &[Server]) -> Cache {
    let bases: Vec<&str> = hosts.iter().map(|h| h.base.as_str()).collect();
    Cache::start(&bases).unwrap_or_else(|e| panic!("{e:#}"))
}

/// One GET through `base`; (status, X-Cache, X-Cache-Age, body).
fn get(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, String, f64, Value) {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    let r = e2e::send(agent, "GET", &format!("{base}{path}"), &headers, None);
    assert!(
        r.header("surrogate-control").is_none(),
        "the cache strips Surrogate-Control"
    );
    let cache = r.header("x-cache").unwrap_or("").to_string();
    let age = r
        .header("x-cache-age")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0.0);
    (r.status, cache, age, r.json_or_null())
}

fn poll_path(after: i64) -> String {
    format!("/api/poll?room={ROOM}&after={after}&limit=50")
}

#[test]
fn pollers_through_the_cache_see_every_event_once_in_order_and_mostly_from_the_cache() {
    const POLLERS: usize = 8;
    const WRITERS_PER_HOST: usize = 2;
    const MESSAGES: usize = 60;
    let db = TestDb::new();
    let hosts = hosts(&db);
    let cache = cache_for(&hosts);
    // When the writers finished: an empty answer generated after it means
    // the poller has everything.
    let done: Arc<Mutex<Option<Instant>>> = Arc::default();

    let pollers: Vec<_> = (0..POLLERS)
        .map(|p| {
            let base = cache.base().to_string();
            let done = done.clone();
            std::thread::spawn(move || {
                let agent = e2e::agent();
                let (mut cursor, mut ids) = (0i64, Vec::new());
                let (mut hits, mut polls, mut oldest) = (0usize, 0usize, 0f64);
                let deadline = Instant::now() + Duration::from_secs(90);
                loop {
                    let finished = *done.lock().unwrap();
                    // Half of them read pages, half poll: both are cursor reads.
                    let path = if p % 2 == 0 {
                        poll_path(cursor)
                    } else {
                        format!("/api/rooms/{ROOM}/messages?after={cursor}&limit=50")
                    };
                    let (status, x_cache, age, v) = get(&agent, &base, &path, None);
                    assert_eq!(status, 200, "poller {p}: {v}");
                    polls += 1;
                    hits += usize::from(x_cache == "hit");
                    oldest = oldest.max(age);
                    let page = e2e::ids(&v);
                    let next = v["cursor"].as_i64().unwrap();
                    assert!(next >= cursor, "poller {p}: the cursor went back");
                    ids.extend(page.iter().copied());
                    cursor = next;
                    // Caught up: an empty answer that was generated (now
                    // minus its age in the cache) after the writers finished.
                    let generated = Instant::now() - Duration::from_secs_f64(age);
                    if page.is_empty() && finished.is_some_and(|d| generated > d) {
                        break;
                    }
                    assert!(Instant::now() < deadline, "poller {p} timed out");
                    std::thread::sleep(Duration::from_millis(50));
                }
                (ids, hits, polls, oldest)
            })
        })
        .collect();

    let writers: Vec<_> = hosts
        .iter()
        .flat_map(|h| (0..WRITERS_PER_HOST).map(move |w| (h.base.clone(), w)))
        .enumerate()
        .map(|(n, (base, _))| {
            std::thread::spawn(move || {
                let c = Client {
                    agent: e2e::agent(),
                    base,
                };
                let token = c.login(&format!("writer-{n}"));
                for i in 0..MESSAGES {
                    let r = c.send_message(&token, ROOM, &format!("m{i}"), &format!("w{n}-{i}"));
                    assert_eq!(r.status, 201, "{}", r.body);
                    if i % 6 == 0 {
                        let id = r.json()["message"]["id"].as_i64().unwrap();
                        let url = format!("{}/api/rooms/{ROOM}/messages/{id}", c.base);
                        let auth = format!("Bearer {token}");
                        let headers = [
                            ("authorization", auth.as_str()),
                            ("content-type", "application/json"),
                        ];
                        let r = e2e::send(
                            &c.agent,
                            "PATCH",
                            &url,
                            &headers,
                            Some(br#"{"body":"edited"}"#),
                        );
                        assert_eq!(r.status, 200, "{}", r.body);
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer panicked");
    }
    *done.lock().unwrap() = Some(Instant::now());

    let stored: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM chat.messages", &[])
        .unwrap()
        .get(0);
    let expected: Vec<i64> = (1..=stored).collect();
    let (mut hits, mut polls, mut oldest) = (0, 0, 0f64);
    for (p, poller) in pollers.into_iter().enumerate() {
        let (ids, h, n, o) = poller.join().expect("poller panicked");
        assert_eq!(
            ids, expected,
            "poller {p} missed, doubled or reordered events"
        );
        (hits, polls, oldest) = (hits + h, polls + n, oldest.max(o));
    }
    println!(
        "{polls} cursor reads through the cache: {hits} hits ({:.0} %), the oldest answer {oldest:.3} s old",
        100.0 * hits as f64 / polls as f64
    );
    assert!(
        hits * 2 > polls,
        "the cache answered only {hits} of {polls} reads: it is not sharing answers"
    );
    assert!(
        oldest <= MAX_AGE + GRACE + 0.01,
        "an answer {oldest:.3} s old was served: more than max-age {MAX_AGE} s plus grace {GRACE} s"
    );
}

#[test]
fn read_your_writes_credentials_edits_and_outages_bypass_or_expire_the_cache() {
    let db = TestDb::new();
    let hosts = hosts(&db);
    let cache = cache_for(&hosts);
    let agent = e2e::agent();
    let base = cache.base();
    let writer = Client::new(&hosts[1]);
    let token = writer.login("writer");
    writer.post_many(&token, ROOM, 3, "before ");

    // A shared answer: the second read of the same question is the cache's.
    let warm = poll_path(3);
    assert_eq!(get(&agent, base, &warm, None).0, 200);
    let (status, x_cache, ..) = get(&agent, base, &warm, None);
    assert_eq!(
        (status, x_cache.as_str()),
        (200, "hit"),
        "caught-up readers share one answer"
    );

    // Read-your-writes: with `known=` the writer's poll goes to a host, and
    // includes the post, however fresh the shared answer is.
    let r = writer.send_message(&token, ROOM, "mine", "mine-1");
    let mine = r.json()["message"]["id"].as_i64().unwrap();
    for _ in 0..2 {
        let (status, x_cache, _, v) = get(&agent, base, &format!("{warm}&known={mine}"), None);
        assert_eq!(
            (status, x_cache.as_str()),
            (200, "pass"),
            "known= is never answered by the cache"
        );
        assert!(
            e2e::ids(&v).contains(&mine),
            "the writer sees its post at once: {v}"
        );
    }

    // Credentials: never answered from, nor stored in, the shared cache.
    let fresh = poll_path(1);
    for _ in 0..2 {
        let (status, x_cache, ..) = get(&agent, base, &fresh, Some(&token));
        assert_eq!(
            (status, x_cache.as_str()),
            (200, "pass"),
            "a request with Authorization reaches a host"
        );
    }
    let (_, x_cache, ..) = get(&agent, base, &fresh, None);
    assert_eq!(
        x_cache, "miss",
        "the answer to a request with credentials was stored"
    );
    let (_, x_cache, ..) = get(&agent, base, &warm, Some(&token));
    assert_eq!(
        x_cache, "pass",
        "a request with Authorization got the shared answer"
    );

    // An edit reaches every reader of a shared answer within max-age plus
    // grace: after that, no answer from before it can be served.
    let caught_up = poll_path(mine);
    for _ in 0..3 {
        get(&agent, base, &caught_up, None);
    }
    assert_eq!(get(&agent, base, &caught_up, None).1, "hit");
    let url = writer.base.clone() + &format!("/api/rooms/{ROOM}/messages/{mine}");
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let r = e2e::send(
        &agent,
        "PATCH",
        &url,
        &headers,
        Some(br#"{"body":"mine, edited"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    std::thread::sleep(Duration::from_secs_f64(MAX_AGE + GRACE + 0.05));
    for reader in 0..4 {
        let (status, _, age, v) = get(&agent, base, &caught_up, None);
        assert_eq!(status, 200);
        let edit = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == json!("edit") && m["target"] == json!(mine));
        assert!(
            edit,
            "reader {reader} did not get the edit within max-age plus grace (answer {age} s old): {v}"
        );
    }

    // An outage: the hosts answer 503 while the app role may not connect.
    // Those answers are never kept, and the first answer after it is fresh.
    // (The owner may: it owns the database and has pg_signal_backend.)
    let mut su = db.connect();
    let name: String = su
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    su.batch_execute(&format!(
        "REVOKE CONNECT ON DATABASE \"{name}\" FROM PUBLIC, ostchat_app"
    ))
    .unwrap();
    su.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = 'ostchat_app'",
        &[&name],
    )
    .unwrap();
    let down = poll_path(0);
    let (status, ..) = testkit::wait_for("polls to fail with 503", Duration::from_secs(20), || {
        let r = get(&agent, base, &down, None);
        (r.0 == 503).then_some(r)
    })
    .unwrap();
    assert_eq!(status, 503);
    for _ in 0..3 {
        let (status, x_cache, ..) = get(&agent, base, &down, None);
        assert_eq!(status, 503);
        assert_ne!(x_cache, "hit", "a 503 was answered from the cache");
    }
    su.batch_execute(&format!(
        "GRANT CONNECT ON DATABASE \"{name}\" TO ostchat_app"
    ))
    .unwrap();
    let back = Instant::now();
    testkit::wait_for("polls to answer 200 again", Duration::from_secs(20), || {
        (get(&agent, base, &down, None).0 == 200).then_some(())
    })
    .unwrap();
    println!(
        "polls answered 200 {:.2} s after the database let the hosts in again",
        back.elapsed().as_secs_f64()
    );
}
