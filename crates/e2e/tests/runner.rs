//! The runner's own behaviour: refusing what it cannot do, clearly, and
//! shutting down gracefully.

use e2e::{Client, RunnerConfig, TestDb, workspace_root};
use std::time::Duration;

fn manifest_with(tmp_name: &str, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    // Keep `source` paths valid by writing next to the real manifest's target dir.
    let dir = workspace_root().join("target").join("e2e-manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let text = text.replace("source = \"target/", "source = \"../");
    let path = dir.join(tmp_name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

#[test]
fn a_missing_required_variable_stops_start_up() {
    let db = TestDb::new();
    let err = RunnerConfig::chat(&db)
        .unset("session_secret")
        .start_failure();
    assert!(err.contains("session_secret"), "{err}");
    assert!(err.contains("SPIN_VARIABLE_SESSION_SECRET"), "{err}");
}

#[test]
fn an_unsupported_manifest_feature_is_named() {
    let db = TestDb::new();
    let mut config = RunnerConfig::chat(&db);
    config.manifest = manifest_with("kv.toml", |t| {
        t.replace(
            "[component.rooms.variables]",
            "key_value_stores = [\"default\"]\n[component.rooms.variables]",
        )
    });
    let err = config.start_failure();
    assert!(err.contains("component.rooms.key_value_stores"), "{err}");

    config.manifest = manifest_with("redis.toml", |t| {
        format!("{t}\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"rooms\"\n")
    });
    let err = config.start_failure();
    assert!(err.contains("trigger.redis"), "{err}");

    config.manifest = manifest_with("params.toml", |t| {
        t.replace("route = \"/api/health\"", "route = \"/api/health/:check\"")
    });
    let err = config.start_failure();
    assert!(err.contains("route parameters"), "{err}");
}

#[test]
fn a_manifest_that_works_under_the_runner_is_the_real_one() {
    // The copied manifest (only `source` rewritten) starts and serves.
    let db = TestDb::new();
    let mut config = RunnerConfig::chat(&db);
    config.manifest = manifest_with("copy.toml", |t| t);
    let runner = config.start();
    assert_eq!(Client::new(&runner).get("/api/health").status, 200);
}

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
        for _ in 0..400 {
            match c.agent.get(&format!("{}/api/rooms", c.base)).call() {
                Ok(r) => {
                    let body = r.into_string().unwrap();
                    assert!(body.starts_with("{\"rooms\":"), "{body}");
                    ok += 1;
                }
                Err(_) => break, // refused once the listener is closed
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
