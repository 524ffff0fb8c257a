//! Reads from a real streaming replica: a second Postgres cluster made with
//! `pg_basebackup` that streams from the test server (the README's test
//! command makes it: `scripts/lib.sh`, `ensure_replica`; port 5433 or
//! `OSTCHAT_TEST_REPLICA`).
//!
//! The guarantee under test: a poller never skips or repeats a message,
//! whichever host answers it, while the replica's replay is paused and
//! resumed under writes; a replica only ever delays. And a replica that lags
//! too far, cannot be reached or is no replica costs no poll its answer: the
//! primary answers and the host's log says why.

use e2e::{Client, RunnerConfig, Server, TestDb, Value, ids, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use testkit::db::replica_host;

/// The tests pause the one replica's replay: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Waits (15 s at most) until the replica has replayed the creation and
/// migration of `db`.
fn replicated(db: &TestDb) {
    let url = db.owner_url_at(&replica_host());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rooms = postgres::Client::connect(&url, postgres::NoTls)
            .ok()
            .and_then(|mut c| c.query_one("SELECT count(*) FROM chat.rooms", &[]).ok())
            .map(|row| row.get::<_, i64>(0));
        if rooms == Some(4) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica at {} did not get database {} within 15 s; make it with ./scripts/test.sh (ensure_replica in scripts/lib.sh)",
            replica_host(),
            db.name
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The replica's replay, paused until this is dropped.
struct Paused(postgres::Client);

impl Paused {
    fn new(db: &TestDb) -> Paused {
        let mut c = postgres::Client::connect(&db.owner_url_at(&replica_host()), postgres::NoTls)
            .expect("connect to the replica");
        c.batch_execute("SELECT pg_wal_replay_pause()")
            .expect("pause the replica's replay (the owner needs EXECUTE on pg_wal_replay_pause; ensure_roles grants it)");
        Paused(c)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("SELECT pg_wal_replay_resume()");
    }
}

/// A host that reads from the replica when it is at most `max_lag_ms` behind.
fn replica_reader(db: &TestDb, read_host: &str, max_lag_ms: u64) -> Server {
    RunnerConfig::chat(db)
        .set("database_read_url", &db.app_url_at(read_host))
        .set("db_read_host", read_host)
        .set("replica_max_lag_ms", &max_lag_ms.to_string())
        .start()
}

fn poll(c: &Client, after: i64, known: Option<i64>) -> Value {
    let known = known.map_or(String::new(), |k| format!("&known={k}"));
    let r = c.get(&format!(
        "/api/poll?room=general&after={after}&limit=500{known}"
    ));
    assert_eq!(r.status, 200, "a poll: {}", r.body);
    r.json()
}

fn newest(v: &Value) -> i64 {
    v["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "general")
        .unwrap()["last_message_id"]
        .as_i64()
        .unwrap()
}

#[test]
fn pollers_across_primary_and_replica_hosts_never_skip_or_repeat_while_replay_pauses() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::new();
    replicated(&db);
    let primary = RunnerConfig::chat(&db).start();
    // Never falls back for lag: what a lagging replica does to pollers is
    // what is under test.
    let replica = replica_reader(&db, &replica_host(), 600_000);
    let bases = [primary.base.clone(), replica.base.clone()];
    let (writers, per_writer): (i64, i64) = (2, 80);
    let total = writers * per_writer;

    let pollers: Vec<_> = (0..4)
        .map(|p| {
            let bases = bases.clone();
            std::thread::spawn(move || {
                let clients = bases.map(|base| Client {
                    agent: e2e::agent(),
                    base,
                });
                let (mut cursor, mut got, mut polls) = (0, Vec::new(), 0usize);
                let deadline = Instant::now() + Duration::from_secs(30);
                while cursor < total && Instant::now() < deadline {
                    // Every other poll on the other host.
                    let v = poll(&clients[(polls + p) % 2], cursor, None);
                    polls += 1;
                    got.extend(ids(&v));
                    cursor = v["cursor"].as_i64().unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
                (got, polls)
            })
        })
        .collect();
    let writer_threads: Vec<_> = (0..writers)
        .map(|w| {
            let bases = bases.clone();
            std::thread::spawn(move || {
                let clients = bases.map(|base| Client {
                    agent: e2e::agent(),
                    base,
                });
                let token = clients[0].login(&format!("writer{w}"));
                for i in 0..per_writer {
                    let r = clients[((i + w) % 2) as usize].send_message(
                        &token,
                        "general",
                        &format!("w{w} m{i}"),
                        &format!("w{w}-{i}"),
                    );
                    assert_eq!(r.status, 201, "{}", r.body);
                    std::thread::sleep(Duration::from_millis(15));
                }
            })
        })
        .collect();

    // Pause the replay under the writes, see the replica host fall behind
    // the primary host, then let it catch up.
    std::thread::sleep(Duration::from_millis(300));
    let paused = Paused::new(&db);
    let (on_primary, on_replica) = (
        Client {
            agent: e2e::agent(),
            base: bases[0].clone(),
        },
        Client {
            agent: e2e::agent(),
            base: bases[1].clone(),
        },
    );
    let behind = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        newest(&poll(&on_replica, 0, None)) < newest(&poll(&on_primary, 0, None))
    });
    assert!(
        behind,
        "the replica host never lagged: is it reading the replica?"
    );
    std::thread::sleep(Duration::from_millis(1200));
    drop(paused);

    for w in writer_threads {
        w.join().unwrap();
    }
    let expected: Vec<i64> = (1..=total).collect();
    for (p, poller) in pollers.into_iter().enumerate() {
        let (got, polls) = poller.join().unwrap();
        assert_eq!(
            got, expected,
            "poller {p} ({polls} polls across both hosts) skipped or repeated a message"
        );
    }
    let log = replica.stderr();
    assert!(
        !log.contains("reading from the primary"),
        "the replica host read the replica throughout: {log}"
    );
}

#[test]
fn a_lagging_unreachable_or_promoted_replica_never_costs_a_poll() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::new();
    replicated(&db);
    let strict = replica_reader(&db, &replica_host(), 200);
    let patient = replica_reader(&db, &replica_host(), 600_000);
    let c = Client::new(&strict);
    let token = c.login("alice");
    c.post_many(&token, "general", 2, "before ");
    // Both caught up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while newest(&poll(&Client::new(&patient), 0, None)) < 2 {
        assert!(Instant::now() < deadline, "the replica did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }

    {
        let _paused = Paused::new(&db);
        for i in 1..=3 {
            let r = c.send_message(&token, "general", &format!("during {i}"), &format!("d{i}"));
            assert_eq!(r.status, 201, "writes go to the primary: {}", r.body);
        }
        // Past the 200 ms limit: the primary answers, the log says why.
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(ids(&poll(&c, 0, None)), [1, 2, 3, 4, 5]);
        let rooms = c.get("/api/rooms");
        assert_eq!(rooms.status, 200);
        assert_eq!(rooms.json()["rooms"][0]["last_message_id"], 5);
        let log = strict.stderr();
        assert!(
            log.contains("reading from the primary: the replica is") && log.contains("ms behind"),
            "{log}"
        );

        // Read your writes: a host that tolerates the lag reads the paused
        // replica, which lacks one's own post; with `known` the primary
        // answers instead.
        let p = Client::new(&patient);
        let r = p.send_message(&token, "general", "mine", "mine-1");
        assert_eq!(r.status, 201);
        let mine = r.json()["message"]["id"].as_i64().unwrap();
        assert_eq!(mine, 6);
        assert_eq!(ids(&poll(&p, 0, None)), [1, 2], "the paused replica");
        assert_eq!(ids(&poll(&p, 0, Some(mine))), [1, 2, 3, 4, 5, 6]);
        assert!(!patient.stderr().contains("reading from the primary"));
    }

    // A replica that cannot be reached, and one that is no replica (the
    // primary under another name, as a promoted replica would answer):
    // every read answers, from the primary.
    let down = replica_reader(&db, "127.0.0.1:9", 1000);
    let port = db.host().rsplit_once(':').map_or("5432", |(_, p)| p);
    let promoted = replica_reader(&db, &format!("localhost:{port}"), 1000);
    for (host, says) in [
        (&down, "reading from the primary: the replica failed"),
        (
            &promoted,
            "reading from the primary: the read database is not a replica",
        ),
    ] {
        let c = Client::new(host);
        assert_eq!(ids(&poll(&c, 0, None)), [1, 2, 3, 4, 5, 6]);
        for path in ["/api/rooms", "/api/rooms/general/messages?after=4"] {
            assert_eq!(c.get(path).status, 200, "{path}");
        }
        assert_eq!(c.get("/api/health").json(), json!({"status": "ok"}));
        let log = host.stderr();
        assert!(log.contains(says), "{log}");
        assert!(!log.contains("chat: 5"), "no server fault: {log}");
    }
}
