//! `ostchat-bench`: what one minispin host serves, measured side by side with
//! a native baseline and with the database's own ceiling, in one run.
//!
//! Steps: prepare a fresh database with `--messages` stored messages; start
//! `minispin up` on the real components and drive it from this process
//! (closed loop, keep-alive, `--clients` connections) through the poll,
//! catch-up, post and chat scenarios; stop it; do the same against the native
//! baseline (`native.rs`: same domain, same SQL, same pool, no wasm); run
//! `pgbench` with the poll query; print one table and write it as JSON under
//! `target/bench/`. Every figure is only meaningful next to its baseline from
//! the same run: this machine is shared and noisy.
//!
//! Modules: [`load`] drives HTTP load; [`native`] is the baseline server.

mod load;
mod native;

use anyhow::{Context, Result, bail};
use load::{Outcome, Req};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OWNER: &str = "postgres://ostchat_owner:ostchat_owner@127.0.0.1:5432";
const APP: &str = "postgres://ostchat_app:ostchat_app@127.0.0.1:5432";
const DB: &str = "ostchat_bench";
const SECRET: &str = "bench-secret-0123456789abcdef";
const ROOMS: [&str; 4] = [
    "general",
    "distributed-systems",
    "operating-systems",
    "secure-software",
];

const USAGE: &str = "\
ostchat-bench: throughput and latency of minispin vs a native baseline vs pgbench

USAGE:
    ostchat-bench [--messages N] [--clients N] [--duration SECS] [--warmup SECS]
                  [--post-rate PER_SEC] [--smoke] [--only runner|native]
                  [--runner-args ARGS]   (extra arguments for `minispin up`, one string)
    ostchat-bench native-server --listen ADDR --database URL --secret S

Run from the workspace root after building (the README's test command builds
everything). Needs Postgres with the ostchat roles, and pgbench.";

#[derive(Clone, Debug, Serialize)]
struct Settings {
    messages: u64,
    clients: usize,
    duration_s: f64,
    warmup_s: f64,
    post_rate: f64,
    smoke: bool,
}

#[derive(Debug, Serialize, Clone)]
struct Row {
    scenario: String,
    target: String,
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    cpu_s_per_1k: f64,
    peak_rss_mb: f64,
    errors: u64,
    /// Runner / native requests per second (runner rows only).
    vs_native: Option<f64>,
    /// Target / pgbench transactions per second (poll rows only).
    vs_pgbench: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ChatRow {
    target: String,
    pollers: usize,
    post_rate: f64,
    posted: usize,
    undelivered: usize,
    delivery_p50_ms: f64,
    delivery_p99_ms: f64,
    delivery_max_ms: f64,
    poll_p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    date_unix: u64,
    machine: String,
    settings: Settings,
    rows: Vec<Row>,
    chat: Vec<ChatRow>,
    pgbench_poll_tps: f64,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("ostchat-bench: error: {e:#}");
        std::process::exit(1);
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => {
            let v = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value\n\n{USAGE}"))?;
            v.parse()
                .map(Some)
                .map_err(|_| anyhow::anyhow!("bad value `{v}` for {name}\n\n{USAGE}"))
        }
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.first().map(String::as_str) == Some("native-server") {
        let listen: String = arg(&args, "--listen")?.context("--listen")?;
        let database: String = arg(&args, "--database")?.context("--database")?;
        let secret: String = arg(&args, "--secret")?.context("--secret")?;
        return runtime.block_on(native::serve(&listen, &database, &secret));
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let settings = Settings {
        messages: arg(&args, "--messages")?.unwrap_or(if smoke { 1_000 } else { 100_000 }),
        clients: arg(&args, "--clients")?.unwrap_or(if smoke { 8 } else { 64 }),
        duration_s: arg(&args, "--duration")?.unwrap_or(if smoke { 1.5 } else { 10.0 }),
        warmup_s: arg(&args, "--warmup")?.unwrap_or(if smoke { 0.5 } else { 2.0 }),
        post_rate: arg(&args, "--post-rate")?.unwrap_or(if smoke { 5.0 } else { 20.0 }),
        smoke,
    };
    let only: Option<String> = arg(&args, "--only")?;
    let runner_args: String = arg(&args, "--runner-args")?.unwrap_or_default();
    runtime.block_on(run(settings, only, runner_args))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn say(msg: &str) {
    eprintln!("==> {msg}");
}

async fn prepare_database(root: &Path, messages: u64) -> Result<()> {
    say(&format!(
        "preparing database {DB} with {messages} stored messages"
    ));
    let (admin, conn) = tokio_postgres::connect(&format!("{OWNER}/postgres?sslmode=disable"), tokio_postgres::NoTls)
        .await
        .context("cannot reach Postgres as ostchat_owner: run ./scripts/test.sh once (it starts Postgres and creates the roles)")?;
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .await?;
    let status = Command::new(root.join("target/release/minispin"))
        .args([
            "migrate",
            "--database",
            &format!("{OWNER}/{DB}?sslmode=disable"),
            "--dir",
        ])
        .arg(root.join("sql"))
        .env("RUST_LIB_BACKTRACE", "0")
        .stderr(Stdio::null())
        .status()
        .context("run minispin migrate (build it first)")?;
    if !status.success() {
        bail!("migrations failed");
    }
    let (db, conn) = tokio_postgres::connect(
        &format!("{OWNER}/{DB}?sslmode=disable"),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(conn);
    let per_room = (messages / ROOMS.len() as u64) as i64;
    for room in ROOMS {
        db.execute(
            "INSERT INTO chat.messages (room_id, id, author, body, client_id, sent_at)
             SELECT $1, g, 'seed-' || (g % 50), 'seeded message number ' || g, 'seed-' || g,
                    now() - (($2 - g) * interval '1 millisecond')
             FROM generate_series(1::bigint, $2) g",
            &[&room, &per_room],
        )
        .await?;
        db.execute(
            "UPDATE chat.rooms SET last_message_id = $2 WHERE id = $1",
            &[&room, &per_room],
        )
        .await?;
    }
    // One statement each: VACUUM may not run in the implicit transaction of
    // a multi-statement batch.
    db.batch_execute("VACUUM ANALYZE chat.messages").await?;
    db.batch_execute("VACUUM ANALYZE chat.rooms").await?;
    Ok(())
}

/// A server process under test, with its CPU time and peak RSS readable from /proc.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(mut cmd: Command, ready_prefix: &str) -> Result<Server> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .context("start server")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix(ready_prefix) {
                        break url.trim().to_string();
                    }
                }
                _ => bail!("the server exited before it was ready"),
            }
            if Instant::now() > deadline {
                bail!("the server did not get ready in 60 s");
            }
        };
        Ok(Server { child, base })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// (utime + stime) seconds a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / clock_ticks()
}

impl Server {
    fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    /// A run that fails half-way must not leave servers (and their pooled
    /// connections) behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summarize(scenario: &str, target: &str, out: &Outcome, cpu_s: f64, rss: f64) -> Row {
    let mut ms: Vec<f64> = out
        .latencies_us
        .iter()
        .map(|u| *u as f64 / 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len() as f64;
    Row {
        scenario: scenario.into(),
        target: target.into(),
        requests_per_s: n / out.elapsed.as_secs_f64(),
        p50_ms: percentile(&ms, 0.50),
        p99_ms: percentile(&ms, 0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
        cpu_s_per_1k: if n > 0.0 { cpu_s / n * 1000.0 } else { 0.0 },
        peak_rss_mb: rss,
        errors: out.errors,
        vs_native: None,
        vs_pgbench: None,
    }
}

async fn room_cursors(base: &str) -> Result<Vec<(String, i64)>> {
    let mut conn = load::Conn::open(base).await?;
    let (status, body) = conn
        .send(&Req {
            method: http::Method::GET,
            path: "/api/rooms".into(),
            body: None,
            token: None,
        })
        .await?;
    if status != 200 {
        bail!("GET /api/rooms answered {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(v["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["last_message_id"].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

/// One closed-loop run, with the server's CPU seconds over the measured
/// window only (sampled when the warm-up ends and when the run ends).
async fn measured(
    server: &Server,
    s: &Settings,
    make: Arc<dyn Fn(usize, u64) -> Req + Send + Sync>,
) -> Result<(Outcome, f64)> {
    let warmup = Duration::from_secs_f64(s.warmup_s);
    let duration = Duration::from_secs_f64(s.duration_s);
    let pid = server.pid();
    let at_warm = tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        cpu_seconds(pid)
    });
    let out = load::closed_loop(&server.base, s.clients, warmup, duration, make).await?;
    let cpu = cpu_seconds(pid) - at_warm.await?;
    Ok((out, cpu))
}

/// Runs every scenario against one server; returns its rows and chat row.
async fn scenarios(target: &str, server: &Server, s: &Settings) -> Result<(Vec<Row>, ChatRow)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let token: Arc<str> = chat::token::issue("bench", SECRET.as_bytes(), now, 86400)
        .token
        .into();
    let mut rows = Vec::new();

    let kinds: [(&str, i64); 2] = [("poll", 0), ("catch-up", 50)];
    for (name, behind) in kinds {
        let cursors = Arc::new(room_cursors(&server.base).await?);
        say(&format!(
            "{target}: {name} ({} clients, {:.1} s)",
            s.clients, s.duration_s
        ));
        let make = {
            let cursors = cursors.clone();
            Arc::new(move |client: usize, _seq: u64| {
                let (room, last) = &cursors[client % cursors.len()];
                Req {
                    method: http::Method::GET,
                    path: format!(
                        "/api/rooms/{room}/messages?after={}",
                        (last - behind).max(0)
                    ),
                    body: None,
                    token: None,
                }
            })
        };
        let (out, cpu) = measured(server, s, make).await?;
        rows.push(summarize(name, target, &out, cpu, server.peak_rss_mb()));
    }

    say(&format!(
        "{target}: post ({} clients, {:.1} s)",
        s.clients, s.duration_s
    ));
    let run = format!("{}-{target}", std::process::id());
    let make = {
        let token = token.clone();
        Arc::new(move |client: usize, seq: u64| Req {
            method: http::Method::POST,
            path: format!("/api/rooms/{}/messages", ROOMS[client % ROOMS.len()]),
            body: Some(format!(
                r#"{{"body":"bench message {seq}","client_id":"b-{run}-{client}-{seq}"}}"#
            )),
            token: Some(token.clone()),
        })
    };
    let (out, cpu) = measured(server, s, make).await?;
    rows.push(summarize("post", target, &out, cpu, server.peak_rss_mb()));

    let chat_secs = if s.smoke { 3.0 } else { s.duration_s.max(10.0) };
    say(&format!(
        "{target}: chat ({} pollers at 1 Hz, {} posts/s, {chat_secs:.0} s)",
        s.clients, s.post_rate
    ));
    let start = room_cursors(&server.base)
        .await?
        .into_iter()
        .find(|(r, _)| r == "general")
        .map(|(_, c)| c)
        .unwrap_or(0);
    let chat = load::chat(
        &server.base,
        load::ChatPlan {
            room: "general".into(),
            start_cursor: start,
            pollers: s.clients,
            post_rate: s.post_rate,
            duration: Duration::from_secs_f64(chat_secs),
            token,
            tag: format!("{}-{target}", std::process::id()),
        },
    )
    .await?;
    let mut d = chat.delivery_ms.clone();
    d.sort_by(f64::total_cmp);
    let mut polls: Vec<f64> = chat
        .polls
        .latencies_us
        .iter()
        .map(|u| *u as f64 / 1000.0)
        .collect();
    polls.sort_by(f64::total_cmp);
    let chat_row = ChatRow {
        target: target.into(),
        pollers: s.clients,
        post_rate: s.post_rate,
        posted: chat.posted,
        undelivered: chat.undelivered,
        delivery_p50_ms: percentile(&d, 0.5),
        delivery_p99_ms: percentile(&d, 0.99),
        delivery_max_ms: d.last().copied().unwrap_or(0.0),
        poll_p99_ms: percentile(&polls, 0.99),
    };
    Ok((rows, chat_row))
}

fn pgbench(s: &Settings, after: i64) -> Result<f64> {
    say(&format!(
        "pgbench: the poll query ({} clients, {:.1} s)",
        s.clients, s.duration_s
    ));
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("poll.sql");
    // The very statement the components run, with its parameters inlined.
    let poll = chat::sql::page("general", chat::Page::After { after, limit: 100 }).sql;
    let poll = poll
        .replace("$1", "'general'")
        .replace("$2", &after.to_string())
        .replace("$3", "NULL")
        .replace("$4", "100");
    std::fs::write(&script, format!("{poll};\n"))?;
    let out = Command::new("pgbench")
        .args(["-n", "-j", "2", "-c", &s.clients.to_string(), "-T"])
        .arg(format!("{}", s.duration_s.ceil().max(1.0) as u64))
        .arg("-f")
        .arg(&script)
        .arg(format!("{OWNER}/{DB}?sslmode=disable"))
        .output()
        .context("run pgbench (Debian: apt-get install postgresql-contrib or postgresql-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| {
            format!(
                "pgbench printed no tps: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn print_table(report: &Report) {
    println!();
    println!(
        "{:<9} {:<7} {:>9} {:>8} {:>8} {:>8} {:>11} {:>8} {:>7} {:>9} {:>10}",
        "scenario",
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU s/1k",
        "RSS MB",
        "errors",
        "/native",
        "/pgbench"
    );
    for r in &report.rows {
        let ratio = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2}x"));
        println!(
            "{:<9} {:<7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>11.3} {:>8.1} {:>7} {:>9} {:>10}",
            r.scenario,
            r.target,
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.cpu_s_per_1k,
            r.peak_rss_mb,
            r.errors,
            ratio(r.vs_native),
            ratio(r.vs_pgbench)
        );
    }
    println!("pgbench poll query: {:.0} tps", report.pgbench_poll_tps);
    println!();
    println!(
        "{:<7} {:>8} {:>9} {:>7} {:>11} {:>14} {:>14} {:>14} {:>12}",
        "chat",
        "pollers",
        "posts/s",
        "posted",
        "undelivered",
        "deliver p50 ms",
        "deliver p99 ms",
        "deliver max ms",
        "poll p99 ms"
    );
    for c in &report.chat {
        println!(
            "{:<7} {:>8} {:>9.1} {:>7} {:>11} {:>14.1} {:>14.1} {:>14.1} {:>12.2}",
            c.target,
            c.pollers,
            c.post_rate,
            c.posted,
            c.undelivered,
            c.delivery_p50_ms,
            c.delivery_p99_ms,
            c.delivery_max_ms,
            c.poll_p99_ms
        );
    }
}

async fn run(s: Settings, only: Option<String>, runner_args: String) -> Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    prepare_database(&root, s.messages).await?;
    let mut rows = Vec::new();
    let mut chats = Vec::new();

    let want = |t: &str| only.as_deref().is_none_or(|o| o == t);
    if want("runner") {
        say("starting minispin on the real components");
        let mut cmd = Command::new(root.join("target/release/minispin"));
        cmd.args(["up", "--listen", "127.0.0.1:0"])
            .args(runner_args.split_whitespace())
            .env("RUST_LIB_BACKTRACE", "0")
            .env(
                "SPIN_VARIABLE_DATABASE_URL",
                format!("{APP}/{DB}?sslmode=disable"),
            )
            .env("SPIN_VARIABLE_DB_HOST", "127.0.0.1:5432")
            .env("SPIN_VARIABLE_SESSION_SECRET", SECRET);
        let server = Server::start(cmd, "minispin: serving ")?;
        let (r, c) = scenarios("runner", &server, &s).await?;
        rows.extend(r);
        chats.push(c);
        let mut server = server;
        server.stop();
    }
    if want("native") {
        say("starting the native baseline server");
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args([
            "native-server",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &format!("{APP}/{DB}?sslmode=disable"),
            "--secret",
            SECRET,
        ]);
        let server = Server::start(cmd, "native: serving ")?;
        let (r, c) = scenarios("native", &server, &s).await?;
        rows.extend(r);
        chats.push(c);
        let mut server = server;
        server.stop();
    }
    let (db, conn) = tokio_postgres::connect(
        &format!("{OWNER}/{DB}?sslmode=disable"),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(conn);
    let last: i64 = db
        .query_one(
            "SELECT last_message_id FROM chat.rooms WHERE id = 'general'",
            &[],
        )
        .await?
        .get(0);
    let pg_tps = pgbench(&s, last)?;

    // Ratios: runner against native for the same scenario; poll against pgbench.
    let native: Vec<Row> = rows
        .iter()
        .filter(|r| r.target == "native")
        .cloned()
        .collect();
    for r in rows.iter_mut() {
        if r.target == "runner" {
            r.vs_native = native
                .iter()
                .find(|n| n.scenario == r.scenario)
                .filter(|n| n.requests_per_s > 0.0)
                .map(|n| r.requests_per_s / n.requests_per_s);
        }
        if r.scenario == "poll" && pg_tps > 0.0 {
            r.vs_pgbench = Some(r.requests_per_s / pg_tps);
        }
    }
    let report = Report {
        date_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
        machine: format!(
            "{} cores, {}",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|c| c.lines().find_map(|l| l
                    .strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())))
                .unwrap_or_default()
        ),
        settings: s.clone(),
        rows,
        chat: chats,
        pgbench_poll_tps: pg_tps,
    };
    print_table(&report);
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let json = serde_json::to_string_pretty(&report)?;
    let file = dir.join(format!("bench-{}.json", report.date_unix));
    std::fs::write(&file, &json)?;
    std::fs::write(dir.join("latest.json"), &json)?;
    println!("\nwritten: {}", file.display());

    // A complete table or a failure: the smoke run in CI relies on this.
    let complete = report
        .rows
        .iter()
        .all(|r| r.requests_per_s > 0.0 && r.errors == 0)
        && report.rows.len() == 3 * report.chat.len()
        && report
            .chat
            .iter()
            .all(|c| c.posted > 0 && c.undelivered == 0)
        && pg_tps > 0.0;
    if !complete {
        bail!(
            "the benchmark table is incomplete (a scenario served nothing, had errors, or lost messages)"
        );
    }
    Ok(())
}
