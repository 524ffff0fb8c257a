//! The test harness the end-to-end tests (`crates/e2e`) and the benchmark
//! (`crates/bench`) share, so that a test database, the runner's start and
//! stop, migrations, seeding and credentials are written once.
//!
//! - [`db`]: the roles and passwords the scripts create, fresh databases
//!   with the migrations applied, seeding;
//! - [`server`]: a server process under test (`minispin up`, or any process
//!   that prints its address), its log, CPU time and memory, and a graceful
//!   stop; [`server::RunnerConfig`] starts `minispin up` on a manifest;
//! - [`http`]: the tests' HTTP client: a request and its [`http::Reply`],
//!   whatever the status, and what kind of failure it met when there was
//!   no answer;
//! - [`http1`]: one raw HTTP/1.1 connection, kept alive, for what a server
//!   puts on the wire (latency on a reused connection, keep-alive);
//! - [`native`]: [`native::NativeStore`], the chat's store over
//!   tokio-postgres, calling the same SQL functions as the components (the
//!   benchmark's native baseline, and the real-Postgres side of the store
//!   test suite);
//! - [`patroni`]: a Patroni cluster on loopback (etcd, Postgres members,
//!   HAProxy's entry points to the leader and the replicas), whose leader
//!   the failover tests kill;
//! - [`traefik`]: a real Traefik on loopback in front of servers, as in the
//!   production stack;
//! - [`varnish`]: a real Varnish on loopback in front of servers, with the
//!   stack's VCL and the cache image's entrypoint;
//! - [`readme_help`]: the documents' copy of a command's `--help`, which
//!   tests hold to the real output.
//!
//! Prerequisites (the README's test command does all of this): Postgres
//! running with the `ostchat_owner` and `ostchat_app` roles, and the runner
//! and components built in release mode. `OSTCHAT_TEST_PG` overrides the
//! owner's URL and `MINISPIN_BIN` the runner.

pub mod db;
pub mod http;
pub mod http1;
pub mod native;
pub mod patroni;
pub mod server;
pub mod traefik;
pub mod varnish;

pub use db::TestDb;
pub use server::{RunnerConfig, Server, free_port};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The workspace's root directory (where `spin.toml` and `sql/` are): the
/// first directory holding `spin.toml` above the package cargo runs (its
/// `CARGO_MANIFEST_DIR` at run time), else above the current directory
/// (`swarm-check`, run from the checkout), else where this crate was built.
/// The build's path comes last because a shared target directory may keep a
/// build made in another checkout (cargo does not rebuild a moved
/// workspace).
pub fn workspace_root() -> PathBuf {
    let root_above = |dir: PathBuf| {
        dir.ancestors()
            .find(|d| d.join("spin.toml").is_file())
            .map(Path::to_path_buf)
    };
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|d| root_above(PathBuf::from(d)))
        .or_else(|| std::env::current_dir().ok().and_then(root_above))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .nth(2)
                .expect("crates/testkit sits two levels below the workspace root")
                .to_path_buf()
        })
}

/// The runner binary: `MINISPIN_BIN`, or the release build in `target/`.
pub fn minispin_bin() -> PathBuf {
    std::env::var_os("MINISPIN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/minispin"))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `{prefix}{pid}_{n}_{nanos}`: unique across tests in this process and
/// across test processes running at once (databases, browser profiles).
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// The documents that may hold a copy of a command's `-h`: the README,
/// BENCHMARKS.md and the pages under `docs/`.
fn help_documents() -> Vec<std::path::PathBuf> {
    let root = workspace_root();
    let mut docs = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        let mut pages: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        pages.sort();
        docs.extend(pages);
    }
    docs
}

/// The documents' copy of `command -h`: the fenced block after the line
/// `<!-- help: command -->` (README.md, BENCHMARKS.md or docs/*.md), with
/// the file it is in; `None` when no document has one.
pub fn readme_help(command: &str) -> Option<(String, std::path::PathBuf)> {
    let marker = format!("<!-- help: {command} -->");
    help_documents().into_iter().find_map(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        let rest = &text[text.find(&marker)? + marker.len()..];
        let block = rest.trim_start().strip_prefix("```text\n")?;
        Some((block[..block.find("\n```")?].to_string(), path))
    })
}

/// Holds the documents' copy of `command -h` to `actual`, with a message
/// that says how to bring it up to date.
pub fn assert_readme_help(command: &str, actual: &str) {
    let actual = actual.trim_end();
    match readme_help(command) {
        Some((copy, _)) if copy.trim_end() == actual => {}
        Some((copy, path)) => panic!(
            "{}'s copy of `{command} -h` is out of date; replace the block after <!-- help: {command} --> with:\n{actual}\n\n(it has:\n{copy})",
            path.display()
        ),
        None => panic!(
            "no document has a copy of `{command} -h`; add a line <!-- help: {command} --> and a ```text block with:\n{actual} to the page that describes the command (README.md, BENCHMARKS.md or docs/)"
        ),
    }
}

/// Every series name starting with `prefix` that the Grafana dashboard
/// (`deploy/grafana/ostchat.json`) asks for.
fn dashboard_series(prefix: &str) -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("deploy/grafana/ostchat.json"))
        .expect("read deploy/grafana/ostchat.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut names = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let mut rest = target["expr"].as_str().expect("an expression");
            while let Some(at) = rest.find(prefix) {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                names.push(name);
            }
        }
    }
    names
}

/// The series starting with `prefix` that the Grafana dashboard asks for
/// and `metrics` (an exporter's Prometheus text) does not serve, and how
/// many it asks for in all.
pub fn dashboard_series_missing(prefix: &str, metrics: &str) -> (Vec<String>, usize) {
    let names = dashboard_series(prefix);
    let missing = names
        .iter()
        .filter(|name| {
            !metrics
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        })
        .cloned()
        .collect();
    (missing, names.len())
}

/// Holds the dashboard to an exporter: every series starting with `prefix`
/// that it asks for (at least `at_least` of them) is in `metrics`, the
/// exporter's Prometheus text.
pub fn assert_dashboard_served(prefix: &str, at_least: usize, metrics: &str) {
    let (missing, asked) = dashboard_series_missing(prefix, metrics);
    assert!(
        asked >= at_least,
        "the dashboard asks for {asked} series starting with {prefix}"
    );
    assert!(
        missing.is_empty(),
        "the dashboard asks for {missing:?}, which is not served:\n{metrics}"
    );
}

/// Calls `probe` every 200 ms until it finds something (its value), or
/// fails once `limit` has passed, saying that `what` did not happen.
pub fn wait_for<T>(
    what: &str,
    limit: std::time::Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return Ok(found);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{what} did not happen within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
