//! Server processes under test: `minispin up` on a manifest, or any process
//! that prints the address it serves on (the benchmark's native baseline).
//! Their log is collected (and printed when a test fails), their CPU time and
//! peak memory can be read, and they stop gracefully or are killed on drop.

use crate::db::{ADMIN_TOKEN, SESSION_SECRET, TestDb, UNREACHED_LIMIT};
use crate::{minispin_bin, workspace_root};
use anyhow::{Context, anyhow, bail};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running server process.
pub struct Server {
    child: Child,
    /// `http://host:port`, as the server printed it.
    pub base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `cmd` and waits (60 s at most) for a line on its stdout that
    /// starts with `ready_prefix`; the rest of that line is its address.
    pub fn start(mut cmd: Command, ready_prefix: &str) -> anyhow::Result<Server> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {cmd:?}"))?;
        let log = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let prefix = ready_prefix.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix(&prefix) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Ok(Server { child, base, log }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
                bail!("{cmd:?} did not say it serves within 60 s; its log:\n{log}")
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) it has used so far, from /proc.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    /// Starts its peak resident memory afresh (Linux's `clear_refs` 5), so
    /// [`Server::peak_rss_mb`] then reports the peak since this moment: the
    /// memory of one scenario, not of the process's whole life.
    pub fn reset_peak_rss(&self) {
        reset_peak_rss(self.pid());
    }

    /// Its peak resident memory so far (or since [`Server::reset_peak_rss`]),
    /// in MB, from /proc.
    pub fn peak_rss_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    /// Sends SIGTERM and waits (40 s at most) for it to exit; its exit
    /// status and log.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                // Let the log reader catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    /// A test that fails half-way must not leave servers (and their pooled
    /// connections) behind; and it shows what the server logged, since the
    /// cause of a 5xx is there, never in the reply.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- the server's log ({}) ---\n{}",
                self.base,
                self.stderr()
            );
        }
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in
/// parentheses and may hold spaces): index 0 is the state, 1 the parent's
/// pid, 11 and 12 utime and stime, 13 and 14 the reaped children's.
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace().map(str::to_string).collect()
}

fn field(fields: &[String], i: usize) -> f64 {
    fields
        .get(i)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) process `pid` has used so far, from /proc.
pub fn cpu_seconds(pid: u32) -> f64 {
    let f = stat_fields(pid);
    (field(&f, 11) + field(&f, 12)) / clock_ticks()
}

/// Starts process `pid`'s peak resident memory afresh (Linux's
/// `clear_refs` 5); a no-op where that is not allowed.
pub fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// CPU seconds this process has used so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id())
}

/// CPU seconds a whole Postgres server has used so far: its postmaster,
/// the children it has reaped (backends that ended) and those alive. The
/// postmaster of `port` is found from its socket's lock file. `None` when
/// no server of that port is found on this machine.
pub fn postgres_cpu_seconds(port: u16) -> Option<f64> {
    let pid: u32 = ["/var/run/postgresql", "/tmp"]
        .iter()
        .find_map(|dir| std::fs::read_to_string(format!("{dir}/.s.PGSQL.{port}.lock")).ok())?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()?;
    let own = stat_fields(pid);
    if own.is_empty() {
        return None;
    }
    let mut ticks = field(&own, 11) + field(&own, 12) + field(&own, 13) + field(&own, 14);
    for child in children_of(pid) {
        let f = stat_fields(child);
        ticks += field(&f, 11) + field(&f, 12);
    }
    Some(ticks / clock_ticks())
}

/// The pids of the live children of process `parent`, from /proc.
pub(crate) fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat_fields(*pid).get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent))
        .collect()
}

/// The whole machine's CPU time so far, from /proc/stat: (busy, total)
/// seconds over all cores.
pub fn machine_cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = values.iter().sum();
    // idle and iowait are fields 4 and 5.
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    ((total - idle) / clock_ticks(), total / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A TCP port that was free a moment ago on 127.0.0.1 (for a runner that must
/// come back on the same address after a restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// How to start `minispin up`: manifest, variables, address and options.
pub struct RunnerConfig {
    pub manifest: PathBuf,
    pub vars: Vec<(String, String)>,
    /// `host:port` to listen on; `None` picks a free port (`127.0.0.1:0`).
    pub listen: Option<String>,
    /// `--strict` (the default here): a request that would hang under some
    /// real Spin releases fails instead of passing quietly.
    pub strict: bool,
    /// Further arguments for `minispin up`.
    pub args: Vec<String>,
}

impl RunnerConfig {
    /// The chat app (`spin.toml`, or the manifest `OSTCHAT_MANIFEST` names:
    /// another build of the components) against `db`, with an admin token.
    pub fn chat(db: &TestDb) -> RunnerConfig {
        RunnerConfig {
            manifest: std::env::var_os("OSTCHAT_MANIFEST")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("spin.toml")),
            vars: vec![
                ("database_url".into(), db.app_url()),
                ("db_host".into(), db.host().to_string()),
                ("session_secret".into(), SESSION_SECRET.into()),
                ("admin_token".into(), ADMIN_TOKEN.into()),
                ("post_burst".into(), UNREACHED_LIMIT.burst.to_string()),
                (
                    "posts_per_minute".into(),
                    UNREACHED_LIMIT.per_minute.to_string(),
                ),
                ("session_burst".into(), UNREACHED_LIMIT.burst.to_string()),
                (
                    "sessions_per_minute".into(),
                    UNREACHED_LIMIT.per_minute.to_string(),
                ),
            ],
            listen: None,
            strict: true,
            args: Vec::new(),
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

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(minispin_bin());
        cmd.arg("up")
            .arg("--manifest")
            .arg(&self.manifest)
            .arg("--listen")
            .arg(self.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .args(self.strict.then_some("--strict"))
            .args(&self.args)
            .env("RUST_LIB_BACKTRACE", "0");
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

    /// Runs the runner expecting it to refuse to start; its stderr.
    pub fn start_failure(&self) -> String {
        let out = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .expect("run minispin");
        assert!(
            !out.status.success(),
            "minispin was expected to refuse to start"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Starts the runner; panics with its log if it does not start.
    pub fn start(&self) -> Server {
        Server::start(self.command(), "minispin: serving ")
            .unwrap_or_else(|e| panic!("minispin did not start: {e:#}"))
    }
}
