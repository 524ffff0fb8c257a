//! The runner binary itself, as a process: it serves, and on SIGTERM it
//! finishes in-flight requests and exits cleanly. (Everything else about the
//! host is tested in-process: `crates/minispin/tests/host.rs`.)

use e2e::{Client, RunnerConfig, TestDb};
use std::time::Duration;

/// Whether a transport error is the connection being refused (nothing
/// listens any more), as opposed to one broken after it was made.
fn refused(t: &ureq::Transport) -> bool {
    use std::error::Error;
    let mut cause: Option<&(dyn Error + 'static)> = t.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return t.kind() == ureq::ErrorKind::ConnectionFailed
                && io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        cause = e.source();
    }
    false
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
                // Refused once the listener is closed: the only failure a
                // graceful stop may cause. An error reply (a 5xx from a
                // request cut short) or a connection broken mid-answer is
                // not that, and fails the test.
                Err(ureq::Error::Transport(t)) if refused(&t) => break,
                Err(e) => panic!("a request during the shutdown failed: {e}"),
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
