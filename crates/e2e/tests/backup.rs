//! Backups and point-in-time recovery, with the restore drill.
//!
//! A Patroni cluster on loopback (`testkit::patroni`, with the stack's
//! settings) archives its WAL with pgBackRest into an encrypted repository
//! (`deploy/backup/`). The chat runs on it; messages are posted through the
//! API and each acknowledgement is kept. A full backup, then an incremental
//! one; then a moment, and a careless operator deletes a room's messages by
//! hand; then more posts, a failover (the leader killed), and more posts on
//! the new leader.
//!
//! `deploy/backup/restore-drill.sh` then restores into a throwaway Postgres:
//! - to the moment: every message acknowledged before it is there (the
//!   deleted room's too), gapless per room, and nothing after it; the chat,
//!   served from the restored database, lists them;
//! - to the latest: every acknowledged message, those the new leader took
//!   after the failover too (no gap in the archive across it).
//!
//! The times taken (backups, restores) are printed; BENCHMARKS.md has them
//! for a database of a million messages.

use e2e::{Client, RunnerConfig, TestDb, workspace_root};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::patroni::Cluster;

const ROOMS: [&str; 2] = ["general", "operating-systems"];

/// Posts `body` to `room` until it is acknowledged (a failover answers 503
/// for a while); its id.
fn post(api: &Client, token: &str, room: &str, body: &str) -> i64 {
    let started = Instant::now();
    loop {
        let r = api.send_message(token, room, body, body);
        if r.status == 201 || r.status == 200 {
            return r.json()["message"]["id"].as_i64().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{body}: not acknowledged within 90 s (last {} {})",
            r.status,
            r.body
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Posts `n` messages to each room, keeping each acknowledgement.
fn send(api: &Client, token: &str, acked: &mut Vec<(String, i64, String)>, label: &str, n: usize) {
    for i in 0..n {
        for room in ROOMS {
            let body = format!("{label}-{room}-{i}");
            let id = post(api, token, room, &body);
            acked.push((room.to_string(), id, body));
        }
    }
}

/// Runs the restore drill; what it printed.
fn drill(cluster: &Cluster, args: &[&str]) -> String {
    let (ok, text) = run_drill(cluster, args);
    assert!(ok, "the restore drill failed:\n{text}");
    text
}

/// Runs the restore drill: whether it passed, and what it printed.
fn run_drill(cluster: &Cluster, args: &[&str]) -> (bool, String) {
    let out = Command::new(workspace_root().join("deploy/backup/restore-drill.sh"))
        .args(args)
        .envs(cluster.repository_env())
        .output()
        .expect("run deploy/backup/restore-drill.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Each room's messages (id -> body) in a restored database.
fn messages_in(url: &str) -> BTreeMap<String, BTreeMap<i64, String>> {
    let mut c =
        postgres::Client::connect(url, postgres::NoTls).expect("connect to the restored database");
    let mut out: BTreeMap<String, BTreeMap<i64, String>> = BTreeMap::new();
    for row in c
        .query(
            "SELECT room_id, id, body FROM chat.messages WHERE kind = 'message'",
            &[],
        )
        .unwrap()
    {
        out.entry(row.get(0))
            .or_default()
            .insert(row.get(1), row.get(2));
    }
    out
}

/// A directory the drill keeps a restored server in: stopped and removed
/// when dropped, also when the test fails.
struct Kept(String);

impl Drop for Kept {
    fn drop(&mut self) {
        let _ = Command::new(workspace_root().join("deploy/backup/restore-drill.sh"))
            .args(["--remove", &self.0])
            .output();
    }
}

/// The restored server's URL: the drill's last line (`--keep`).
fn kept_url(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| l.starts_with("postgres://"))
        .expect("the drill prints the kept server's URL")
        .to_string()
}

#[test]
fn a_restore_brings_back_every_acknowledged_message_up_to_the_moment_asked() {
    let mut cluster = Cluster::start_with_backups(3).unwrap_or_else(|e| panic!("{e:#}"));
    let db = TestDb::on(&cluster.owner_url());
    let host = RunnerConfig::chat(&db).start();
    let api = Client::new(&host);
    let token = api.login("alice");
    // room -> (id, body) of every acknowledged message, and when.
    let mut acked: Vec<(String, i64, String)> = Vec::new();

    send(&api, &token, &mut acked, "first", 20);
    let leader = cluster.leader().expect("a leader");
    let t = Instant::now();
    cluster
        .pgbackrest_ok(leader, &["--type=full", "backup"])
        .unwrap();
    let full = t.elapsed();
    send(&api, &token, &mut acked, "second", 20);
    let t = Instant::now();
    cluster
        .pgbackrest_ok(leader, &["--type=incr", "backup"])
        .unwrap();
    let incr = t.elapsed();

    // The moment, then a careless operator's DELETE of a whole room.
    std::thread::sleep(Duration::from_millis(1200));
    let mut su = postgres::Client::connect(&db.owner_url(), postgres::NoTls).unwrap();
    let moment: String = su
        .query_one("SELECT clock_timestamp()::text", &[])
        .unwrap()
        .get(0);
    let before_moment = acked.len();
    std::thread::sleep(Duration::from_millis(1200));
    let deleted = su
        .execute(
            "DELETE FROM chat.messages WHERE room_id = 'operating-systems'",
            &[],
        )
        .unwrap();
    assert!(
        deleted >= 40,
        "the careless DELETE took the room's messages ({deleted})"
    );
    drop(su);
    send(&api, &token, &mut acked, "after", 5);

    // A failover: the leader killed; posts go on on the new leader.
    let old = cluster.leader().expect("a leader");
    cluster.kill_member(old);
    send(&api, &token, &mut acked, "failover", 5);
    let new = cluster.leader().expect("a new leader");
    assert_ne!(new, old, "another member leads");
    // Everything so far archived (check switches the WAL segment and waits).
    cluster.pgbackrest_ok(new, &["check"]).unwrap();

    // To the moment: all before it, the deleted room whole, nothing after.
    let dir = std::env::temp_dir().join(e2e::unique_name("ostchat-drill-"));
    let dir_s = dir.display().to_string();
    let _kept = Kept(dir_s.clone());
    let t = Instant::now();
    let out = drill(
        &cluster,
        &[
            "--target",
            &moment,
            "--database",
            &db.name,
            "--keep",
            &dir_s,
        ],
    );
    let to_moment = t.elapsed();
    let url = kept_url(&out);
    let restored = messages_in(&url);
    for (room, id, body) in &acked[..before_moment] {
        assert_eq!(
            restored.get(room).and_then(|m| m.get(id)),
            Some(body),
            "{room} {id} ({body}), acknowledged before the moment, is restored"
        );
    }
    for (room, id, body) in &acked[before_moment..] {
        assert!(
            restored.get(room).is_none_or(|m| !m.contains_key(id)),
            "{room} {id} ({body}) came after the moment and is not restored"
        );
    }
    // The chat serves from the restored database.
    let port = url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .unwrap()
        .to_string();
    let served = RunnerConfig::chat(&db)
        .set(
            "database_url",
            &format!(
                "postgres://ostchat_app:ostchat_app@127.0.0.1:{port}/{}?sslmode=disable",
                db.name
            ),
        )
        .set("db_host", &format!("127.0.0.1:{port}"))
        .start();
    let page = Client::new(&served).get("/api/rooms/operating-systems/messages?limit=100");
    assert_eq!(page.status, 200, "{}", page.body);
    let ids = e2e::ids(&page.json());
    let want: Vec<i64> = acked[..before_moment]
        .iter()
        .filter(|(room, ..)| room == "operating-systems")
        .map(|(_, id, _)| *id)
        .collect();
    assert_eq!(ids, want, "the chat lists the deleted room again, in order");
    drop(served);
    drill(&cluster, &["--remove", &dir_s]);

    // To the latest: the drill finds the room the DELETE left with gaps
    // (and keeps the server for a look); every other acknowledged message
    // is there, the failover's too.
    let t = Instant::now();
    let (ok, out) = run_drill(&cluster, &["--database", &db.name, "--keep", &dir_s]);
    let to_latest = t.elapsed();
    assert!(
        !ok && out.contains("not gapless") && out.contains("operating-systems"),
        "the drill reports the damage in the latest state:\n{out}"
    );
    let restored = messages_in(&kept_url(&out));
    for (room, id, body) in &acked {
        if room == "operating-systems" && *id <= want.last().copied().unwrap_or(0) {
            continue;
        }
        assert_eq!(
            restored.get(room).and_then(|m| m.get(id)),
            Some(body),
            "{room} {id} ({body}) is in the latest restore"
        );
    }
    drill(&cluster, &["--remove", &dir_s]);
    eprintln!(
        "backups: full {:.1} s, incremental {:.1} s; restores: to a moment {:.1} s, to the latest {:.1} s ({} messages)",
        full.as_secs_f64(),
        incr.as_secs_f64(),
        to_moment.as_secs_f64(),
        to_latest.as_secs_f64(),
        acked.len()
    );
}
