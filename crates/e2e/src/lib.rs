//! Test harness: a fresh Postgres database per test and real `minispin`
//! processes serving the real `.wasm` components of `spin.toml`.
//!
//! Prerequisites (the README's test command does all of this): Postgres
//! running with the `ostchat_owner` and `ostchat_app` roles, the components
//! built for `wasm32-wasip2` and `minispin` built, all in release mode.
//! Override the database with `OSTCHAT_TEST_PG` (an owner URL) and the runner
//! with `MINISPIN_BIN`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use serde_json::{Value, json};

pub mod webdriver;

/// Owner role: may create databases; runs migrations.
const DEFAULT_ADMIN_URL: &str =
    "postgres://ostchat_owner:ostchat_owner@127.0.0.1:5432/postgres?sslmode=disable";
/// The least-privilege role the app connects as.
const APP_USER: &str = "ostchat_app:ostchat_app";
pub const SESSION_SECRET: &str = "test-secret-0123456789abcdef";
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/e2e sits two levels below the workspace root")
        .to_path_buf()
}

pub fn minispin_bin() -> PathBuf {
    let bin = std::env::var_os("MINISPIN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/minispin"));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --release -p minispin` (the README's test command does)",
        bin.display()
    );
    bin
}

fn admin_url() -> String {
    std::env::var("OSTCHAT_TEST_PG").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// `postgres://user:pw@host:port/db?query` -> (host:port, rest after host) pieces.
fn split_url(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("postgres://").expect("a postgres:// URL");
    let (creds_host, path) = rest.split_once('/').expect("a URL with a database");
    let host = creds_host.rsplit_once('@').map_or(creds_host, |(_, h)| h);
    let (_, query) = path.split_once('?').unwrap_or((path, ""));
    (host.to_string(), path.to_string(), query.to_string())
}

/// A database created for one test, dropped at the end.
pub struct TestDb {
    pub name: String,
    host: String,
    query: String,
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
            .unwrap()
            .subsec_nanos()
    )
}

impl TestDb {
    pub fn new() -> TestDb {
        let name = unique_name("ostchat_t");
        let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap_or_else(|e| {
            panic!("cannot reach Postgres as the owner role ({e}); run the README's test command, which starts Postgres and creates the roles")
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let (host, _, query) = split_url(&admin_url());
        let db = TestDb { name, host, query };
        let out = Command::new(minispin_bin())
            .args(["migrate", "--database", &db.owner_url(), "--dir"])
            .arg(workspace_root().join("sql"))
            .env("RUST_LIB_BACKTRACE", "0")
            .output()
            .expect("run minispin migrate");
        assert!(
            out.status.success(),
            "migrations failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }

    fn url_for(&self, creds: &str) -> String {
        let q = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        format!("postgres://{creds}@{}/{}{q}", self.host, self.name)
    }

    pub fn owner_url(&self) -> String {
        let admin = admin_url();
        let creds = admin
            .strip_prefix("postgres://")
            .and_then(|r| r.split_once('@'))
            .map(|(c, _)| c.to_string())
            .unwrap_or_default();
        self.url_for(&creds)
    }

    /// What the components connect with.
    pub fn app_url(&self) -> String {
        self.url_for(APP_USER)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// A direct connection as the owner, for checks behind the API's back.
    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.owner_url(), postgres::NoTls).expect("connect to test db")
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&admin_url(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A running `minispin up`.
pub struct Runner {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<String>>,
}

/// How to start a runner: variables, manifest and listening address.
pub struct RunnerConfig {
    pub manifest: PathBuf,
    pub vars: Vec<(String, String)>,
    /// `host:port` to listen on; `None` picks a free port (`127.0.0.1:0`).
    pub listen: Option<String>,
    /// `minispin up --strict` (the default here): a request that would hang
    /// under some real Spin releases fails instead of passing quietly.
    pub strict: bool,
}

/// A TCP port that was free a moment ago on 127.0.0.1 (for a runner that must
/// come back on the same address after a restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

impl RunnerConfig {
    /// The chat app against `db`, with an admin token.
    pub fn chat(db: &TestDb) -> RunnerConfig {
        RunnerConfig {
            manifest: workspace_root().join("spin.toml"),
            vars: vec![
                ("database_url".into(), db.app_url()),
                ("db_host".into(), db.host().to_string()),
                ("session_secret".into(), SESSION_SECRET.into()),
                ("admin_token".into(), ADMIN_TOKEN.into()),
            ],
            listen: None,
            strict: true,
        }
    }

    /// Without `--strict`: such requests only log a warning.
    pub fn lenient(mut self) -> Self {
        self.strict = false;
        self
    }

    /// Listen on this `host:port` instead of a free port.
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = Some(addr.into());
        self
    }

    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.into(), value.into()));
        self
    }

    pub fn unset(mut self, name: &str) -> Self {
        self.vars.retain(|(n, _)| n != name);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(minispin_bin());
        cmd.arg("up")
            .arg("--manifest")
            .arg(&self.manifest)
            .arg("--listen")
            .arg(self.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .args(self.strict.then_some("--strict"))
            .env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only the variables given here: none leak in from the caller's shell.
        for (k, _) in std::env::vars() {
            if k.starts_with("SPIN_VARIABLE_") {
                cmd.env_remove(k);
            }
        }
        for (name, value) in &self.vars {
            cmd.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
        }
        cmd
    }

    /// Runs the runner expecting it to fail at start-up; returns its stderr.
    pub fn start_failure(&self) -> String {
        let out = self
            .command()
            .stdout(Stdio::null())
            .output()
            .expect("run minispin");
        assert!(
            !out.status.success(),
            "minispin was expected to refuse to start"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn start(&self) -> Runner {
        let mut child = self.command().spawn().expect("spawn minispin");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push_str(&text);
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("minispin: serving ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("minispin did not start: {}", stderr.lock().unwrap());
            }
        };
        Runner {
            child,
            base,
            stderr,
        }
    }
}

impl Runner {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "minispin did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the runner logged: the cause of a 5xx
        // is there, never in the reply.
        if std::thread::panicking() {
            eprintln!("--- minispin's log ({}) ---\n{}", self.base, self.stderr());
        }
    }
}

/// A response, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The machine code of an error reply.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error reply: {}", self.body))
            .to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// Sends a request; 4xx/5xx are replies, not errors.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut req = agent.request(method, url);
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = match body {
        Some(bytes) => req.send_bytes(bytes),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_string();
            (n, v)
        })
        .collect();
    let body = resp.into_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// A small client for the chat API.
pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(runner: &Runner) -> Client {
        Client {
            agent: agent(),
            base: runner.base.clone(),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        send(
            &self.agent,
            "GET",
            &format!("{}{path}", self.base),
            &[],
            None,
        )
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        send(
            &self.agent,
            "POST",
            &format!("{}{path}", self.base),
            &headers,
            Some(body.to_string().as_bytes()),
        )
    }

    /// A session token for `name`.
    pub fn login(&self, name: &str) -> String {
        let r = self.post_json("/api/session", None, &json!({ "name": name }));
        assert_eq!(r.status, 201, "login: {}", r.body);
        r.json()["token"].as_str().unwrap().to_string()
    }

    pub fn send_message(&self, token: &str, room: &str, body: &str, client_id: &str) -> Reply {
        self.post_json(
            &format!("/api/rooms/{room}/messages"),
            Some(token),
            &json!({ "body": body, "client_id": client_id }),
        )
    }

    /// Posts `count` messages `"{body_prefix}{i}"` (client ids
    /// `"{body_prefix}-{i}"`), i = 1..=count, each of which must be stored.
    pub fn post_many(&self, token: &str, room: &str, count: usize, body_prefix: &str) {
        for i in 1..=count {
            let r = self.send_message(
                token,
                room,
                &format!("{body_prefix}{i}"),
                &format!("{}-{i}", body_prefix.trim().replace(' ', "-")),
            );
            assert_eq!(r.status, 201, "posting {body_prefix}{i}: {}", r.body);
        }
    }

    /// Messages after `after`; returns (ids, cursor).
    pub fn poll(&self, room: &str, after: i64, limit: u32) -> (Vec<Value>, i64) {
        let r = self.get(&format!(
            "/api/rooms/{room}/messages?after={after}&limit={limit}"
        ));
        assert_eq!(r.status, 200, "poll: {}", r.body);
        let v = r.json();
        let messages = v["messages"].as_array().unwrap().clone();
        (messages, v["cursor"].as_i64().unwrap())
    }
}
