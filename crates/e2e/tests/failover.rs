//! The database fails over under load, and the chat loses nothing.
//!
//! A Patroni cluster on loopback (three Postgres members with the stack's
//! settings, one etcd, HAProxy's entry points to the leader and to the
//! replicas: `testkit::patroni`) serves two runner hosts, which read polls
//! from the replicas. Posters on both hosts post, each message retried with
//! its `client_id` until acknowledged, as the page does; pollers on both
//! follow the room with the page's poll. Then the leader is killed with no
//! warning (SIGKILL to Patroni, its server and every backend: a lost node).
//!
//! What must hold: every acknowledged message reaches every poller exactly
//! once, in id order, with no gap; none is stored twice; a post that fails
//! meanwhile is answered 503 with `Retry-After` (never 500); once the hosts
//! have reached the new leader, without a restart, no post fails again (no
//! host kept a dead connection); and the old leader, started again, comes
//! back as a replica. The figures (how long posts waited, how many polls
//! failed, how long the old leader took to rejoin) are printed, not
//! asserted: they belong to the Swarm test's table and the closing notes.

use e2e::{RunnerConfig, Server, TestDb, http};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::patroni::Cluster;

const ROOM: &str = "general";
const POSTERS_PER_HOST: usize = 2;

/// One post attempt that got no acknowledgement.
#[derive(Debug)]
struct Refused {
    at: Instant,
    status: Option<u16>,
    retry_after: bool,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// (client_id, id, when the acknowledged attempt was sent)
    acked: Mutex<Vec<(String, i64, Instant)>>,
    refused: Mutex<Vec<Refused>>,
    polls: AtomicU64,
    polls_failed: AtomicU64,
    /// The highest acknowledged id, once posting is over (-1 before).
    catch_up_to: AtomicI64,
}

fn poster(base: String, index: usize, shared: Arc<Shared>) {
    let agent = http::agent_with_timeout(Duration::from_secs(10));
    let name = format!("poster-{index}");
    let token = loop {
        let r = http::try_send_json(
            &agent,
            "POST",
            &format!("{base}/api/session"),
            &[],
            Some(&serde_json::json!({ "name": name })),
        );
        match r {
            Ok(reply) if reply.status == 201 => {
                break reply.json()["token"].as_str().unwrap().to_string();
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let auth = format!("Bearer {token}");
    let url = format!("{base}/api/rooms/{ROOM}/messages");
    let mut seq = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        seq += 1;
        let client_id = format!("p{index}-{seq}");
        let body = serde_json::json!({ "body": format!("message {seq}"), "client_id": client_id });
        let give_up = Instant::now() + Duration::from_secs(120);
        loop {
            let sent = Instant::now();
            let r = http::try_send_json(
                &agent,
                "POST",
                &url,
                &[("authorization", &auth)],
                Some(&body),
            );
            match &r {
                Ok(reply) if reply.status == 201 || reply.status == 200 => {
                    let id = reply.json()["message"]["id"].as_i64().unwrap();
                    shared
                        .acked
                        .lock()
                        .unwrap()
                        .push((client_id.clone(), id, sent));
                    break;
                }
                _ => {
                    let (status, retry_after) = match &r {
                        Ok(reply) => (Some(reply.status), reply.header("retry-after").is_some()),
                        Err(_) => (None, false),
                    };
                    shared.refused.lock().unwrap().push(Refused {
                        at: Instant::now(),
                        status,
                        retry_after,
                    });
                    assert!(
                        Instant::now() < give_up,
                        "poster {index} could not post {client_id} for two minutes: {}",
                        http::describe(&r)
                    );
                    // The page waits as long as Retry-After says; the test
                    // keeps its pace (the figure is the outage, not the wait).
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(40));
    }
}

/// Follows the room with the page's poll; the client ids it saw, in order,
/// and how many ids it found missing or out of order.
fn poller(base: String, shared: Arc<Shared>) -> (Vec<String>, u64) {
    let agent = http::agent_with_timeout(Duration::from_secs(10));
    let mut cursor = 0i64;
    let mut seen = Vec::new();
    let mut wrong = 0u64;
    let mut deadline = None;
    loop {
        shared.polls.fetch_add(1, Ordering::Relaxed);
        let r = http::try_send(
            &agent,
            "GET",
            &format!("{base}/api/poll?room={ROOM}&after={cursor}&limit=100"),
            &[],
            None,
        );
        match r {
            Ok(reply) if reply.status == 200 => {
                for m in reply.json()["messages"].as_array().into_iter().flatten() {
                    let id = m["id"].as_i64().unwrap();
                    if id != cursor + 1 {
                        wrong += 1;
                    }
                    cursor = cursor.max(id);
                    seen.push(m["client_id"].as_str().unwrap_or_default().to_string());
                }
            }
            _ => {
                shared.polls_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let target = shared.catch_up_to.load(Ordering::SeqCst);
        if target >= 0 {
            let deadline = *deadline.get_or_insert(Instant::now() + Duration::from_secs(60));
            if cursor >= target || Instant::now() > deadline {
                return (seen, wrong);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn host(db: &TestDb, cluster: &Cluster) -> Server {
    let replicas = cluster.replica_host();
    RunnerConfig::chat(db)
        .set("database_read_url", &db.app_url_at(&replicas))
        .set("db_read_host", &replicas)
        .start()
}

#[test]
fn killing_the_leader_loses_no_acknowledged_message() {
    let mut cluster = Cluster::start(3).unwrap_or_else(|e| panic!("{e:#}"));
    let db = TestDb::on(&cluster.owner_url());
    let mut su = cluster.superuser().unwrap();
    let sync: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        sync, 1,
        "the leader must wait for a synchronous standby on every commit (synchronous_mode in deploy/patroni/patroni.yml)"
    );
    drop(su);
    // The dashboard's database panels ask for series Patroni serves.
    let leader = cluster.leader().expect("a leader");
    let metrics = cluster.metrics(leader).expect("the leader's /metrics");
    testkit::assert_dashboard_served("patroni_", 5, &metrics);
    let hosts = [host(&db, &cluster), host(&db, &cluster)];

    let shared = Arc::new(Shared {
        catch_up_to: AtomicI64::new(-1),
        ..Shared::default()
    });
    let mut posters = Vec::new();
    for (h, server) in hosts.iter().enumerate() {
        for p in 0..POSTERS_PER_HOST {
            let (base, shared) = (server.base.clone(), shared.clone());
            posters.push(std::thread::spawn(move || {
                poster(base, h * POSTERS_PER_HOST + p, shared)
            }));
        }
    }
    let pollers: Vec<_> = hosts
        .iter()
        .map(|server| {
            let (base, shared) = (server.base.clone(), shared.clone());
            std::thread::spawn(move || poller(base, shared))
        })
        .collect();

    std::thread::sleep(Duration::from_secs(3));
    let old = cluster.leader().expect("a leader before the kill");
    let timeline = cluster.state_of(old).and_then(|s| s.timeline);
    cluster.kill_member(old);
    // Taken once the leader is dead: a post sent a moment before, and
    // answered by the old leader as it died, must not count as one the
    // new leader took.
    let killed = Instant::now();

    // While no member leads, the hosts stay in rotation: their health says
    // they can serve reads (from the replicas), not that they are down.
    std::thread::sleep(Duration::from_secs(6));
    let health = e2e::send(
        &e2e::agent(),
        "GET",
        &hosts[0].url("/api/health"),
        &[],
        None,
    );
    // (The killed leader's lock lives on until its ttl runs out.)
    if cluster.leader().is_none_or(|i| i == old) {
        assert_eq!(
            (health.status, health.json()["status"].clone()),
            (200, serde_json::json!("read_only")),
            "a host whose primary is away but whose replicas answer: {}",
            health.body
        );
    }

    // Posts resume once a new leader is elected and HAProxy sends to it.
    let resumed = loop {
        let first = shared
            .acked
            .lock()
            .unwrap()
            .iter()
            .filter(|(.., sent)| *sent > killed)
            .map(|(.., sent)| *sent)
            .min();
        if let Some(at) = first {
            break at;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(90),
            "no post was acknowledged within 90 s of the leader's death\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let new_leader = cluster.leader().expect("a new leader");
    assert_ne!(new_leader, old, "the killed member cannot lead");
    // The old leader comes back, and rejoins as a replica of the new one.
    std::thread::sleep(Duration::from_secs(2));
    let restarted = Instant::now();
    cluster.start_member(old).unwrap();
    let rejoined = loop {
        let state = cluster.state_of(old);
        if let Some(s) = &state
            && s.role != "leader"
            && matches!(s.state.as_str(), "running" | "streaming")
            && s.timeline > timeline
        {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(120),
            "the old leader did not rejoin as a replica within 120 s (last seen: {state:?})\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(3));
    shared.stop.store(true, Ordering::SeqCst);
    for p in posters {
        p.join().expect("a poster panicked");
    }
    let acked = shared.acked.lock().unwrap().clone();
    let max_id = acked.iter().map(|(_, id, _)| *id).max().unwrap_or(0);
    shared.catch_up_to.store(max_id, Ordering::SeqCst);
    let seen: Vec<(Vec<String>, u64)> = pollers
        .into_iter()
        .map(|p| p.join().expect("a poller panicked"))
        .collect();

    let refused = shared.refused.lock().unwrap();
    let polls = shared.polls.load(Ordering::Relaxed);
    let polls_failed = shared.polls_failed.load(Ordering::Relaxed);
    let outage = resumed.duration_since(killed);
    println!(
        "failover: posts resumed {:.1} s after the leader was killed; {} post attempts refused meanwhile; \
         {polls_failed} of {polls} polls failed; the old leader was back as a replica {:.1} s after its restart; \
         {} messages acknowledged; health during the failover: {}",
        outage.as_secs_f64(),
        refused.len(),
        rejoined.as_secs_f64(),
        acked.len(),
        health.body
    );

    // Every acknowledged message, once, in order, on every poller.
    let acked_ids: HashSet<&String> = acked.iter().map(|(c, ..)| c).collect();
    assert_eq!(
        acked_ids.len(),
        acked.len(),
        "a client_id acknowledged twice"
    );
    for (n, (cids, wrong)) in seen.iter().enumerate() {
        assert_eq!(*wrong, 0, "poller {n} saw ids missing or out of order");
        let set: HashSet<&String> = cids.iter().collect();
        assert_eq!(set.len(), cids.len(), "poller {n} saw a message twice");
        let missing: Vec<_> = acked_ids.iter().filter(|c| !set.contains(**c)).collect();
        assert!(
            missing.is_empty(),
            "poller {n} never saw these acknowledged messages: {missing:?}"
        );
        assert_eq!(
            set.len(),
            acked_ids.len(),
            "poller {n} saw messages nobody had acknowledged"
        );
    }
    let stored: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM chat.messages WHERE room_id = $1 AND kind = 'message'",
            &[&ROOM],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        stored as usize,
        acked.len(),
        "the room holds other messages than those acknowledged (lost or doubled)"
    );

    // Refusals are 503s that say when to retry, and stop once the hosts
    // have found the new leader.
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in refused.iter() {
        *by_status
            .entry(format!("{:?} retry-after: {}", r.status, r.retry_after))
            .or_default() += 1;
    }
    assert!(
        refused
            .iter()
            .all(|r| r.status == Some(503) && r.retry_after),
        "every refused post must be a 503 with Retry-After: {by_status:?}"
    );
    let settled = resumed + Duration::from_secs(2);
    let late: Vec<_> = refused.iter().filter(|r| r.at > settled).collect();
    assert!(
        late.is_empty(),
        "posts failed after the hosts had reached the new leader (a dead pooled connection?): {late:?}"
    );
}
