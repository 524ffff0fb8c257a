//! The runner binary itself, as a process: it serves, and on SIGTERM it
//! finishes in-flight requests and exits cleanly. (Everything else about the
//! host is tested in-process: `crates/minispin/tests/host.rs`.)

use e2e::{Client, RunnerConfig, TestDb, http};
use std::time::Duration;

#[test]
fn sigterm_finishes_in_flight_requests_then_exits() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let base = runner.base.clone();
    // Keep requests flowing while the signal arrives: every request that got
    // an answer must have a complete, valid one.
    let load = std::thread::spawn(move || {
        let c = Client {
            agent: e2e::agent(),
            base,
        };
        let mut ok = 0;
        // Until the runner refuses: the signal must arrive while requests
        // are still being sent, or the test would prove nothing.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the runner still served 30 s after SIGTERM"
            );
            let r = http::try_send(&c.agent, "GET", &format!("{}/api/rooms", c.base), &[], None);
            match &r {
                Ok(reply) => {
                    assert_eq!(reply.status, 200, "{}", reply.describe());
                    assert!(reply.body.starts_with("{\"rooms\":"), "{}", reply.body);
                    ok += 1;
                }
                // Refused once the listener is closed: the only failure a
                // graceful stop may cause. An error reply (a 5xx from a
                // request cut short) or a connection broken mid-answer is
                // not that, and fails the test.
                Err(_) if http::failure_kind(&r) == "connection refused" => break,
                Err(_) => panic!(
                    "a request during the shutdown failed: {}",
                    http::describe(&r)
                ),
            }
        }
        ok
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = runner.terminate();
    let served = load.join().unwrap();
    assert!(status.success(), "exit status {status}: {stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(
        !stderr.contains("failed"),
        "a clean shutdown reports no failure: {stderr}"
    );
    assert!(served > 0, "no request was served before the signal");
}

/// The README shows swarm-check's real help (`-h`).
#[test]
fn the_readme_shows_swarm_checks_real_help() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarm-check"))
        .arg("-h")
        .output()
        .expect("run swarm-check");
    assert!(out.status.success());
    testkit::assert_readme_help("swarm-check", &String::from_utf8_lossy(&out.stdout));
}

/// `minispin migrate` on a database it migrated before: checksums recorded
/// by older releases (64-bit FNV-1a) are upgraded to SHA-256 in place, and
/// a migration edited after it was applied is refused, naming it.
#[test]
fn migrate_upgrades_old_checksums_and_refuses_an_edited_migration() {
    let db = TestDb::new();
    let mut owner = db.connect();
    let migrate = || {
        std::process::Command::new(testkit::minispin_bin())
            .args(["migrate", "--database", &db.owner_url(), "--dir"])
            .arg(testkit::workspace_root().join("sql"))
            .env("RUST_LIB_BACKTRACE", "0")
            .output()
            .expect("run minispin migrate")
    };
    let first = "0001_init.sql";
    let text = std::fs::read_to_string(testkit::workspace_root().join("sql").join(first))
        .expect("read the first migration");
    let fnv = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let set = |owner: &mut postgres::Client, sum: &str| {
        owner
            .execute(
                "UPDATE minispin_migrations SET checksum = $2 WHERE name = $1",
                &[&first, &sum],
            )
            .expect("set a checksum");
    };
    let stored = |owner: &mut postgres::Client| -> String {
        owner
            .query_one(
                "SELECT checksum FROM minispin_migrations WHERE name = $1",
                &[&first],
            )
            .expect("read the checksum")
            .get(0)
    };
    let sha256 = stored(&mut owner);
    assert_eq!(sha256.len(), 64, "{sha256}");

    set(&mut owner, &format!("{fnv:016x}"));
    let out = migrate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stored(&mut owner), sha256, "the old checksum was upgraded");

    set(&mut owner, &"0".repeat(64));
    let out = migrate();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "migration {first} was edited after it was applied"
        )),
        "{stderr}"
    );
}

/// A migration the database refuses is reported with its SQLSTATE and the
/// database's own message (the cause kept, not rebuilt from text), and
/// nothing of it is applied.
#[test]
fn a_failing_migration_names_its_sqlstate_and_cause() {
    let db = TestDb::new();
    let dir = std::env::temp_dir().join(e2e::unique_name("ostchat-bad-migration-"));
    std::fs::create_dir_all(&dir).expect("a directory for the migration");
    std::fs::write(
        dir.join("0001_bad.sql"),
        "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n",
    )
    .expect("write the migration");
    let out = std::process::Command::new(testkit::minispin_bin())
        .args(["migrate", "--database", &db.owner_url(), "--dir"])
        .arg(&dir)
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("run minispin migrate");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("migration 0001_bad.sql failed; nothing of it was applied: SQLSTATE 42P01: ")
            && stderr.contains("relation \"no_such_table\" does not exist"),
        "{stderr}"
    );
    let mut owner = db.connect();
    let half: Option<String> = owner
        .query_one("SELECT to_regclass('half_done')::text", &[])
        .expect("look for the table")
        .get(0);
    assert_eq!(
        half, None,
        "the migration's first statement was rolled back"
    );
}
