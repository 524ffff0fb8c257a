//! `swarm-check`: the chat deployed as a Swarm stack, driven through Traefik
//! under load while hosts and the database are killed, replaced and scaled.
//! `deploy/test/swarm-test.sh` deploys the stack and runs this.
//!
//! Scenarios (each in a room of its own, so counts do not mix):
//! - `api`: the whole API once through Traefik, plus the proxy's own duties
//!   (HTTP to HTTPS redirect, security headers, compression);
//! - `kill`: `docker kill` of one chat task under load;
//! - `update`: a rolling update (`docker service update --force`) under load;
//! - `scale`: scale to 5 hosts and back to 2 under load;
//! - `postgres`: a restart of the Postgres task under load;
//! - `metrics`: the stack's Prometheus sees every host and Traefik, and a
//!   scale to 5 hosts and back shows in its series.
//!
//! Load: posting clients (each message retried with the same `client_id`
//! until acknowledged, as the browser does) and polling clients (following
//! the cursor, checking every id arrives exactly once and in order). Bounded
//! in clients and time. The table: requests, failed requests, messages
//! acknowledged / seen by every poller / duplicated, and the longest time a
//! client went without a successful answer.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The chat on a Swarm, under load, while hosts die and get replaced.
#[derive(clap::Parser)]
#[command(name = "swarm-check", version)]
struct Cli {
    /// The chat's HTTPS address through Traefik (its host name must match
    /// the stack's MY_DOMAIN).
    #[arg(long, value_name = "https://HOST:PORT")]
    url: String,
    /// Where to connect for --url (no DNS needed).
    #[arg(long, value_name = "IP:PORT")]
    connect: String,
    /// The plain-HTTP entrypoint (checked to redirect).
    #[arg(long, value_name = "http://HOST:PORT")]
    http_url: String,
    /// The stack's name (its services are NAME_chat, NAME_postgres, ...).
    #[arg(long, value_name = "NAME")]
    stack: String,
    /// A file holding the admin token (a Docker secret of the stack).
    #[arg(long, value_name = "PATH")]
    admin_token_file: std::path::PathBuf,
    /// The scenarios to run, in order.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "api,kill,update,scale,replica,postgres,metrics",
          value_parser = ["api", "kill", "update", "scale", "replica", "postgres", "metrics"])]
    scenarios: Vec<String>,
    /// Posting clients of the load.
    #[arg(long, value_name = "N", default_value = "3")]
    posters: usize,
    /// Polling clients of the load.
    #[arg(long, value_name = "N", default_value = "4")]
    pollers: usize,
    /// Chat hosts the stack runs.
    #[arg(long, value_name = "N", default_value = "3")]
    replicas: usize,
}

struct Args {
    url: String,
    connect: String,
    http_url: String,
    stack: String,
    admin_token: String,
    scenarios: Vec<String>,
    posters: usize,
    pollers: usize,
    replicas: usize,
}

fn parse_args() -> Result<Args, String> {
    let cli = <Cli as clap::Parser>::parse();
    let admin_token = std::fs::read_to_string(&cli.admin_token_file)
        .map_err(|e| {
            format!(
                "cannot read --admin-token-file {}: {e}; give the file the stack's admin token is in",
                cli.admin_token_file.display()
            )
        })?
        .trim()
        .to_string();
    Ok(Args {
        url: cli.url.trim_end_matches('/').to_string(),
        connect: cli.connect,
        http_url: cli.http_url.trim_end_matches('/').to_string(),
        stack: cli.stack,
        admin_token,
        scenarios: cli.scenarios,
        posters: cli.posters,
        pollers: cli.pollers,
        replicas: cli.replicas,
    })
}

fn say(text: &str) {
    println!("==> {text}");
}

/// An HTTPS client that reaches `url`'s host at `connect` and accepts
/// Traefik's self-signed default certificate (the test turns ACME off).
fn agent(connect: &str) -> ureq::Agent {
    let tls = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .expect("a TLS connector");
    let connect = connect.to_string();
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .tls_connector(Arc::new(tls))
        .resolver(move |_: &str| {
            use std::net::ToSocketAddrs;
            connect.to_socket_addrs().map(|a| a.collect::<Vec<_>>())
        })
        .build()
}

/// A reply, whatever its status; `Err` only when there was no HTTP answer.
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Reply, String> {
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req
            .set("content-type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or_default().to_string();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let body = resp.into_string().unwrap_or_default();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The ids of the service's tasks that should run, and how many do.
fn running_tasks(service: &str) -> Result<(Vec<String>, usize), String> {
    let tasks = docker(&[
        "service",
        "ps",
        service,
        "--filter",
        "desired-state=running",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.CurrentState}}",
    ])?;
    let ids = tasks
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let running = tasks.lines().filter(|l| l.contains(" Running")).count();
    Ok((ids, running))
}

/// Waits until the service runs exactly `want` tasks, none of them in
/// `gone` (tasks known to have been killed).
fn wait_replicas_without(
    service: &str,
    want: usize,
    gone: &[String],
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let (ids, n) = running_tasks(service)?;
        if n == want && ids.len() == want && !ids.iter().any(|id| gone.contains(id)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{service}: {n} of {want} tasks running after {limit:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until the service runs exactly `want` tasks.
fn wait_replicas(service: &str, want: usize, limit: Duration) -> Result<(), String> {
    wait_replicas_without(service, want, &[], limit)
}

/// `docker service update --force`: every task replaced as the service's
/// update_config says; returns once `want` tasks run again.
fn force_update(service: &str, want: usize) -> Result<(), String> {
    docker(&[
        "service",
        "update",
        "--force",
        "--detach=false",
        "--quiet",
        service,
    ])?;
    wait_replicas(service, want, Duration::from_secs(120))
}

/// Scales the service and waits until exactly `n` tasks run.
fn scale_to(service: &str, n: usize) -> Result<(), String> {
    docker(&[
        "service",
        "scale",
        "--detach=false",
        &format!("{service}={n}"),
    ])?;
    wait_replicas(service, n, Duration::from_secs(120))
}

/// Counters the load's clients share.
#[derive(Default)]
struct Shared {
    requests: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    /// (client_id, id) of every acknowledged message.
    acked: Mutex<Vec<(String, i64)>>,
    /// Longest time, in ms, any client went without a successful answer.
    longest_gap_ms: AtomicU64,
    stop_posting: AtomicBool,
    /// Set once posting is over: the highest acknowledged id to catch up to.
    catch_up_to: AtomicI64,
    /// Successful answers, with their time, for recovery measurements.
    last_success: Mutex<Option<Instant>>,
}

impl Shared {
    fn failure(&self, kind: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self.failures.lock().unwrap().entry(kind).or_default() += 1;
    }
}

/// Keeps a client's longest gap between successful answers.
struct Gap {
    last: Instant,
}

impl Gap {
    fn new() -> Gap {
        Gap {
            last: Instant::now(),
        }
    }
    fn success(&mut self, shared: &Shared) {
        let now = Instant::now();
        let gap = now.duration_since(self.last).as_millis() as u64;
        shared.longest_gap_ms.fetch_max(gap, Ordering::Relaxed);
        self.last = now;
        *shared.last_success.lock().unwrap() = Some(now);
    }
}

fn failure_kind(r: &Result<Reply, String>) -> String {
    match r {
        Ok(reply) => format!("HTTP {}", reply.status),
        Err(e) if e.contains("timed out") => "timeout".into(),
        Err(e) if e.contains("onnection refused") => "connection refused".into(),
        Err(e) if e.contains("reset") => "connection reset".into(),
        Err(_) => "network error".into(),
    }
}

struct Load {
    url: String,
    agent: ureq::Agent,
    room: String,
}

fn login(load: &Load, shared: &Shared, name: &str) -> String {
    let mut gap = Gap::new();
    loop {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let r = call(
            &load.agent,
            "POST",
            &format!("{}/api/session", load.url),
            &[],
            Some(&json!({ "name": name })),
        );
        match &r {
            Ok(reply) if reply.status == 201 => {
                gap.success(shared);
                return reply.json()["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            _ => shared.failure(failure_kind(&r)),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Posts until told to stop, each message retried with its `client_id`
/// until acknowledged (or for two minutes at most).
fn poster(load: &Load, shared: &Shared, index: usize, pace: Duration) {
    let token = login(load, shared, &format!("poster-{index}"));
    let auth = format!("Bearer {token}");
    let url = format!("{}/api/rooms/{}/messages", load.url, load.room);
    let mut gap = Gap::new();
    let mut seq = 0;
    while !shared.stop_posting.load(Ordering::Relaxed) {
        seq += 1;
        let client_id = format!("p{index}-{seq}");
        let body =
            json!({ "body": format!("message {seq} of poster {index}"), "client_id": client_id });
        let give_up = Instant::now() + Duration::from_secs(120);
        let mut backoff = Duration::from_millis(200);
        loop {
            shared.requests.fetch_add(1, Ordering::Relaxed);
            let r = call(
                &load.agent,
                "POST",
                &url,
                &[("authorization", &auth)],
                Some(&body),
            );
            match &r {
                Ok(reply) if reply.status == 201 || reply.status == 200 => {
                    gap.success(shared);
                    let id = reply.json()["message"]["id"].as_i64().unwrap_or(-1);
                    shared.acked.lock().unwrap().push((client_id.clone(), id));
                    break;
                }
                _ => {
                    shared.failure(failure_kind(&r));
                    if Instant::now() > give_up {
                        break;
                    }
                    let wait = match &r {
                        Ok(reply) => reply
                            .headers
                            .get("retry-after")
                            .and_then(|v| v.parse::<u64>().ok())
                            .map_or(backoff, |s| Duration::from_secs(s).min(backoff * 4)),
                        Err(_) => backoff,
                    };
                    std::thread::sleep(wait);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        std::thread::sleep(pace);
    }
}

/// What one poller saw.
#[derive(Default)]
struct Seen {
    client_ids: Vec<String>,
    skipped: u64,
    out_of_order: u64,
}

/// Follows the cursor until posting is over and it has caught up, with the
/// page's poll (which the hosts read from a replica when there is one).
fn poller(load: &Load, shared: &Shared, every: Duration) -> Seen {
    let url = format!("{}/api/poll?room={}", load.url, load.room);
    let mut seen = Seen::default();
    let mut cursor = 0i64;
    let mut gap = Gap::new();
    let mut catch_up_deadline = None;
    loop {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let r = call(
            &load.agent,
            "GET",
            &format!("{url}&after={cursor}&limit=100"),
            &[],
            None,
        );
        match &r {
            Ok(reply) if reply.status == 200 => {
                gap.success(shared);
                let page = reply.json();
                for m in page["messages"].as_array().into_iter().flatten() {
                    let id = m["id"].as_i64().unwrap_or(-1);
                    if id <= cursor {
                        seen.out_of_order += 1;
                        continue;
                    }
                    if id != cursor + 1 {
                        seen.skipped += (id - cursor - 1) as u64;
                    }
                    cursor = id;
                    seen.client_ids
                        .push(m["client_id"].as_str().unwrap_or_default().to_string());
                }
            }
            _ => shared.failure(failure_kind(&r)),
        }
        let target = shared.catch_up_to.load(Ordering::Relaxed);
        if target >= 0 {
            let deadline =
                *catch_up_deadline.get_or_insert(Instant::now() + Duration::from_secs(60));
            if cursor >= target || Instant::now() > deadline {
                return seen;
            }
        }
        std::thread::sleep(every);
    }
}

/// One scenario's figures.
struct Row {
    scenario: String,
    requests: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
    acked: usize,
    seen_by_all: usize,
    duplicated: usize,
    skipped: u64,
    longest_gap: Duration,
    note: String,
    passed: bool,
}

/// Runs the load in a fresh room while `action` runs; `action` returns a
/// note for the table (or an error, which fails the scenario).
fn under_load(
    args: &Args,
    name: &str,
    settle: Duration,
    action: impl FnOnce(&Shared) -> Result<String, String>,
) -> Row {
    let agent = agent(&args.connect);
    let room = format!("{name}-{}", std::process::id());
    let created = call(
        &agent,
        "POST",
        &format!("{}/api/rooms", args.url),
        &[("authorization", &format!("Bearer {}", args.admin_token))],
        Some(&json!({ "id": room, "title": format!("swarm test: {name}") })),
    );
    if !matches!(&created, Ok(r) if r.status == 201) {
        return failed_row(
            name,
            format!("cannot create the room: {}", describe(&created)),
        );
    }
    let shared = Arc::new(Shared {
        catch_up_to: AtomicI64::new(-1),
        ..Shared::default()
    });
    let load = Arc::new(Load {
        url: args.url.clone(),
        agent,
        room,
    });
    let mut posters = Vec::new();
    for i in 0..args.posters {
        let (load, shared) = (load.clone(), shared.clone());
        posters.push(std::thread::spawn(move || {
            // 40 posts a minute each: under the app's limit per author (60).
            poster(&load, &shared, i, Duration::from_millis(1500))
        }));
    }
    let mut pollers = Vec::new();
    for _ in 0..args.pollers {
        let (load, shared) = (load.clone(), shared.clone());
        pollers.push(std::thread::spawn(move || {
            poller(&load, &shared, Duration::from_millis(500))
        }));
    }
    std::thread::sleep(settle);
    let outcome = action(&shared);
    std::thread::sleep(settle);
    shared.stop_posting.store(true, Ordering::Relaxed);
    for p in posters {
        let _ = p.join();
    }
    let acked = shared.acked.lock().unwrap().clone();
    let max_id = acked.iter().map(|(_, id)| *id).max().unwrap_or(0);
    shared.catch_up_to.store(max_id, Ordering::Relaxed);
    let seen: Vec<Seen> = pollers
        .into_iter()
        .map(|p| p.join().unwrap_or_default())
        .collect();

    let acked_ids: HashSet<&String> = acked.iter().map(|(c, _)| c).collect();
    let seen_sets: Vec<HashSet<&String>> =
        seen.iter().map(|s| s.client_ids.iter().collect()).collect();
    let seen_by_all = acked_ids
        .iter()
        .filter(|c| seen_sets.iter().all(|s| s.contains(*c)))
        .count();
    // Stored twice = one client_id under two ids (every poller sees all ids).
    let duplicated = seen
        .iter()
        .map(|s| s.client_ids.len() - s.client_ids.iter().collect::<HashSet<_>>().len())
        .max()
        .unwrap_or(0);
    let skipped = seen.iter().map(|s| s.skipped + s.out_of_order).sum();
    let failures = shared.failures.lock().unwrap().clone();
    let (note, action_ok) = match outcome {
        Ok(note) => (note, true),
        Err(e) => (e, false),
    };
    Row {
        scenario: name.to_string(),
        requests: shared.requests.load(Ordering::Relaxed),
        failed: shared.failed.load(Ordering::Relaxed),
        failures,
        acked: acked_ids.len(),
        seen_by_all,
        duplicated,
        skipped,
        longest_gap: Duration::from_millis(shared.longest_gap_ms.load(Ordering::Relaxed)),
        note,
        passed: action_ok && seen_by_all == acked_ids.len() && duplicated == 0 && skipped == 0,
    }
}

fn describe(r: &Result<Reply, String>) -> String {
    match r {
        Ok(reply) => format!(
            "HTTP {} {}",
            reply.status,
            reply.body.chars().take(200).collect::<String>()
        ),
        Err(e) => e.clone(),
    }
}

fn failed_row(name: &str, note: String) -> Row {
    Row {
        scenario: name.to_string(),
        requests: 0,
        failed: 0,
        failures: BTreeMap::new(),
        acked: 0,
        seen_by_all: 0,
        duplicated: 0,
        skipped: 0,
        longest_gap: Duration::ZERO,
        note,
        passed: false,
    }
}

/// The whole API once, through Traefik, and what Traefik adds.
fn api(args: &Args) -> Row {
    let agent = agent(&args.connect);
    let mut checks = 0u64;
    let mut problems = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        checks += 1;
        if !ok {
            problems.push(format!("{what}: {detail}"));
        }
    };
    let u = |p: &str| format!("{}{p}", args.url);
    let get = |p: &str| call(&agent, "GET", &u(p), &[], None);

    let page = get("/");
    if let Ok(r) = &page {
        check("page", r.status == 200, format!("HTTP {}", r.status));
        let h = |n: &str| r.headers.get(n).cloned().unwrap_or_default();
        check(
            "CSP",
            h("content-security-policy").contains("frame-ancestors 'none'"),
            h("content-security-policy"),
        );
        check(
            "nosniff",
            h("x-content-type-options") == "nosniff",
            h("x-content-type-options"),
        );
        check(
            "HSTS",
            h("strict-transport-security").contains("max-age="),
            h("strict-transport-security"),
        );
    } else {
        check("page", false, describe(&page));
    }
    let js = call(
        &agent,
        "GET",
        &u("/app.js"),
        &[("accept-encoding", "gzip")],
        None,
    );
    check(
        "compression",
        matches!(&js, Ok(r) if r.headers.get("content-encoding").map(String::as_str) == Some("gzip")),
        describe(&js).chars().take(80).collect(),
    );
    // Plain HTTP only redirects to HTTPS.
    let host = args
        .url
        .trim_start_matches("https://")
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let plain = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(10))
        .build();
    let redirect = call(
        &plain,
        "GET",
        &format!("{}/api/rooms", args.http_url),
        &[("host", &host)],
        None,
    );
    check(
        "redirect",
        matches!(&redirect, Ok(r) if (301..=308).contains(&r.status)
            && r.headers.get("location").is_some_and(|l| l.starts_with("https://"))),
        describe(&redirect),
    );

    let health = get("/api/health");
    check(
        "health",
        matches!(&health, Ok(r) if r.status == 200),
        describe(&health),
    );
    let session = call(
        &agent,
        "POST",
        &u("/api/session"),
        &[],
        Some(&json!({"name": "api-check"})),
    );
    let token = match &session {
        Ok(r) if r.status == 201 => r.json()["token"].as_str().unwrap_or_default().to_string(),
        _ => {
            check("session", false, describe(&session));
            String::new()
        }
    };
    let auth = format!("Bearer {token}");
    let admin = format!("Bearer {}", args.admin_token);
    let room = format!("api-{}", std::process::id());
    let created = call(
        &agent,
        "POST",
        &u("/api/rooms"),
        &[("authorization", &admin)],
        Some(&json!({"id": room, "title": "API check"})),
    );
    check(
        "create room",
        matches!(&created, Ok(r) if r.status == 201),
        describe(&created),
    );
    let rooms = get("/api/rooms");
    check(
        "list rooms",
        matches!(&rooms, Ok(r) if r.json()["rooms"].as_array().is_some_and(|a| a.iter().any(|x| x["id"] == room.as_str()))),
        describe(&rooms),
    );
    let path = format!("/api/rooms/{room}/messages");
    for i in 1..=5 {
        let r = call(
            &agent,
            "POST",
            &u(&path),
            &[("authorization", &auth)],
            Some(&json!({"body": format!("m{i}"), "client_id": format!("c{i}")})),
        );
        check("post", matches!(&r, Ok(x) if x.status == 201), describe(&r));
    }
    let replay = call(
        &agent,
        "POST",
        &u(&path),
        &[("authorization", &auth)],
        Some(&json!({"body": "again", "client_id": "c1"})),
    );
    check(
        "replay",
        matches!(&replay, Ok(r) if r.status == 200 && r.json()["message"]["id"] == 1),
        describe(&replay),
    );
    let all = get(&format!("{path}?after=0"));
    check(
        "poll",
        matches!(&all, Ok(r) if r.json()["cursor"] == 5 && r.json()["messages"].as_array().map(Vec::len) == Some(5)),
        describe(&all),
    );
    let empty = get(&format!("{path}?after=5"));
    check(
        "empty poll",
        matches!(&empty, Ok(r) if r.status == 200 && r.json() == json!({"messages": [], "cursor": 5})),
        describe(&empty),
    );
    let before = get(&format!("{path}?before=4&limit=2"));
    check(
        "paging",
        matches!(&before, Ok(r) if r.json()["messages"].as_array().is_some_and(|m| m.len() == 2 && m[0]["id"] == 2)),
        describe(&before),
    );
    let unknown = get("/api/rooms/no-such-room/messages?after=0");
    check(
        "unknown room",
        matches!(&unknown, Ok(r) if r.status == 404 && r.json()["error"]["code"] == "unknown_room"),
        describe(&unknown),
    );
    let none = call(
        &agent,
        "POST",
        &u(&path),
        &[],
        Some(&json!({"body": "x", "client_id": "x"})),
    );
    check(
        "no token",
        matches!(&none, Ok(r) if r.status == 401),
        describe(&none),
    );

    // Posts have a stricter rate limit than reads (per client address). A
    // burst of posts (invalid ones: nothing is stored) hits it; as many
    // reads right after do not. Then the bucket refills for the scenarios.
    let burst: Vec<u16> = (0..40)
        .map(|_| {
            call(&agent, "POST", &u("/api/session"), &[], Some(&json!({}))).map_or(0, |r| r.status)
        })
        .collect();
    check(
        "post rate limit",
        burst.contains(&429) && burst.iter().all(|s| *s == 429 || *s == 400),
        format!("statuses {burst:?}"),
    );
    let reads: Vec<u16> = (0..40)
        .map(|_| get("/api/rooms").map_or(0, |r| r.status))
        .collect();
    check(
        "reads not limited",
        reads.iter().all(|s| *s == 200),
        format!("statuses {reads:?}"),
    );
    std::thread::sleep(Duration::from_secs(5));

    let passed = problems.is_empty();
    Row {
        scenario: "api".into(),
        requests: checks,
        failed: problems.len() as u64,
        failures: BTreeMap::new(),
        acked: 0,
        seen_by_all: 0,
        duplicated: 0,
        skipped: 0,
        longest_gap: Duration::ZERO,
        note: if passed {
            format!("{checks} checks: routes, errors, redirect, headers, gzip, rate limits")
        } else {
            problems.join("; ")
        },
        passed,
    }
}

/// One running container of the service: (container id, task id).
fn a_container(service: &str) -> Result<(String, String), String> {
    let containers = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
        "--format",
        "{{.ID}} {{.Label \"com.docker.swarm.task.id\"}}",
    ])?;
    containers
        .lines()
        .next()
        .and_then(|l| l.split_once(' '))
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .ok_or(format!("no running container of {service}"))
}

/// Runs `sql` as the superuser inside a Postgres container; its one value.
fn psql_in(container: &str, sql: &str) -> Result<String, String> {
    docker(&[
        "exec",
        container,
        "sh",
        "-c",
        &format!(
            "PGPASSWORD=$(cat /run/secrets/postgres_password) psql -h 127.0.0.1 -U postgres -d ostchat -tAc \"{sql}\""
        ),
    ])
}

fn kill(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let mut row = under_load(args, "kill", Duration::from_secs(5), |_| {
        let (victim, task) = a_container(&service)?;
        docker(&["kill", &victim])?;
        let started = Instant::now();
        let gone = [task.to_string()];
        wait_replicas_without(&service, args.replicas, &gone, Duration::from_secs(120))?;
        Ok(format!(
            "killed a host, replaced in {:.1} s",
            started.elapsed().as_secs_f64()
        ))
    });
    // A killed host may cost requests that were in flight on it; they are
    // retried by the clients. What must hold: nothing lost or doubled.
    row.passed &= row.acked > 0;
    row
}

/// The hosts read polls from a streaming replica; it is killed under load.
/// No request may fail (the hosts read the primary until the replica is
/// back), and nothing is lost, doubled or skipped.
fn replica(args: &Args) -> Row {
    let service = format!("{}_postgres-replica", args.stack);
    let mut row = under_load(args, "replica", Duration::from_secs(5), |_| {
        let (victim, task) = a_container(&service)?;
        let reading = psql_in(
            &victim,
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'ostchat_app'",
        )?;
        if reading.trim() == "0" {
            return Err("no host reads the replica: it has no connection of the app".into());
        }
        docker(&["kill", &victim])?;
        let started = Instant::now();
        wait_replicas_without(&service, 1, &[task], Duration::from_secs(120))?;
        // Back, and following the primary again.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let streaming = a_container(&service)
                .and_then(|(c, _)| psql_in(&c, "SELECT status FROM pg_stat_wal_receiver"))
                .is_ok_and(|s| s.trim() == "streaming");
            if streaming {
                break;
            }
            if Instant::now() > deadline {
                return Err("the replica did not stream again within 90 s of its restart".into());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(format!(
            "the hosts read it ({} connections); killed, streaming again in {:.1} s",
            reading.trim(),
            started.elapsed().as_secs_f64()
        ))
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    row
}

fn update(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let mut row = under_load(args, "update", Duration::from_secs(5), |_| {
        let started = Instant::now();
        force_update(&service, args.replicas)?;
        Ok(format!(
            "rolled {} hosts in {:.0} s",
            args.replicas,
            started.elapsed().as_secs_f64()
        ))
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    row
}

/// The value of a PromQL expression that yields one number, asked of the
/// stack's Prometheus with its own promtool; `None` when the result is
/// empty.
fn promql(container: &str, expr: &str) -> Result<Option<f64>, String> {
    let out = docker(&[
        "exec",
        container,
        "promtool",
        "query",
        "instant",
        "http://127.0.0.1:9090",
        expr,
    ])?;
    // One line per series: `{labels} => VALUE @[TIME]`.
    Ok(out.lines().find_map(|l| {
        l.split_once("=> ")?
            .1
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }))
}

/// Waits (`limit` at most) until `expr` is `want`; its last value.
fn wait_promql(container: &str, expr: &str, want: f64, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut last = Ok(None);
    while Instant::now() < deadline {
        last = promql(container, expr);
        if matches!(last, Ok(Some(v)) if v == want) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(format!(
        "Prometheus: `{expr}` was {last:?} after {limit:?}, not {want}"
    ))
}

/// Prometheus in the stack sees every chat host (found by Swarm DNS) and
/// Traefik, and a scale from the stack's count to 5 hosts and back shows in
/// its series.
fn metrics(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let prometheus = format!("{}_prometheus", args.stack);
    let up = r#"count(up{job="chat"} == 1)"#;
    let limit = Duration::from_secs(60);
    let check = || -> Result<String, String> {
        let (container, _) = a_container(&prometheus)?;
        wait_promql(&container, up, args.replicas as f64, limit)?;
        wait_promql(&container, r#"up{job="traefik"}"#, 1.0, limit)?;
        // The hosts count requests (the earlier scenarios sent plenty).
        match promql(&container, "sum(minispin_requests_total)")? {
            Some(n) if n > 0.0 => {}
            other => return Err(format!("Prometheus: no requests counted ({other:?})")),
        }
        scale_to(&service, 5)?;
        wait_promql(&container, up, 5.0, limit)?;
        // A new host has series once it has served a request: Traefik's
        // health checks reach it within seconds.
        wait_promql(
            &container,
            r#"count(count by (host) (minispin_instances_started_total))"#,
            5.0,
            limit,
        )?;
        scale_to(&service, args.replicas)?;
        wait_promql(
            &container,
            r#"count(up{job="chat"})"#,
            args.replicas as f64,
            limit,
        )?;
        Ok(format!(
            "Prometheus saw {0} -> 5 -> {0} hosts, and Traefik",
            args.replicas
        ))
    };
    match check() {
        Ok(note) => Row {
            passed: true,
            ..failed_row("metrics", note)
        },
        Err(e) => {
            let _ = scale_to(&service, args.replicas);
            failed_row("metrics", e)
        }
    }
}

fn scale(args: &Args) -> Row {
    let service = format!("{}_chat", args.stack);
    let mut row = under_load(args, "scale", Duration::from_secs(5), |_| {
        scale_to(&service, 5)?;
        std::thread::sleep(Duration::from_secs(5));
        scale_to(&service, 2)?;
        Ok("3 -> 5 -> 2 hosts".into())
    });
    row.passed &= row.failed == 0 && row.acked > 0;
    // Back to the stack's count, outside the measurement.
    if let Err(e) = scale_to(&service, args.replicas) {
        row.note.push_str(&format!("; scaling back failed: {e}"));
        row.passed = false;
    }
    row
}

fn postgres(args: &Args) -> Row {
    let service = format!("{}_postgres", args.stack);
    let mut back_at = None;
    let mut row = under_load(args, "postgres", Duration::from_secs(5), |shared| {
        let started = Instant::now();
        force_update(&service, 1)?;
        let up = Instant::now();
        back_at = Some(up);
        // Clients must recover by themselves: wait for a success after this.
        let deadline = up + Duration::from_secs(30);
        loop {
            if shared.last_success.lock().unwrap().is_some_and(|t| t > up) {
                break;
            }
            if Instant::now() > deadline {
                return Err("no client recovered within 30 s of Postgres being back".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(format!(
            "Postgres replaced in {:.1} s; clients recovered {:.1} s after",
            up.duration_since(started).as_secs_f64(),
            Instant::now().duration_since(up).as_secs_f64()
        ))
    });
    // While the database is down, requests fail with 503 (from the hosts, or
    // from Traefik once every host reports itself unhealthy); nothing else.
    let other: Vec<_> = row
        .failures
        .keys()
        .filter(|k| k.as_str() != "HTTP 503")
        .cloned()
        .collect();
    if !other.is_empty() {
        row.note
            .push_str(&format!("; failures other than 503: {other:?}"));
        row.passed = false;
    }
    row.passed &= back_at.is_some() && row.acked > 0;
    row
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("swarm-check: {e}");
            std::process::exit(2);
        }
    };
    let mut rows = Vec::new();
    for scenario in &args.scenarios {
        say(&format!("scenario {scenario}"));
        let row = match scenario.as_str() {
            "api" => api(&args),
            "kill" => kill(&args),
            "update" => update(&args),
            "scale" => scale(&args),
            "replica" => replica(&args),
            "postgres" => postgres(&args),
            "metrics" => metrics(&args),
            other => failed_row(other, "unknown scenario".into()),
        };
        say(&format!(
            "{}: {} ({})",
            row.scenario,
            if row.passed { "passed" } else { "FAILED" },
            row.note
        ));
        rows.push(row);
    }
    println!();
    println!(
        "{:<9} {:>8} {:>7} {:>6} {:>9} {:>6} {:>7} {:>9}  {:<6} note",
        "scenario",
        "requests",
        "failed",
        "acked",
        "seen/all",
        "dup",
        "skipped",
        "max gap",
        "result"
    );
    for r in &rows {
        println!(
            "{:<9} {:>8} {:>7} {:>6} {:>9} {:>6} {:>7} {:>8.1}s  {:<6} {}{}",
            r.scenario,
            r.requests,
            r.failed,
            r.acked,
            r.seen_by_all,
            r.duplicated,
            r.skipped,
            r.longest_gap.as_secs_f64(),
            if r.passed { "ok" } else { "FAILED" },
            r.note,
            if r.failures.is_empty() {
                String::new()
            } else {
                format!(" (failures: {:?})", r.failures)
            }
        );
    }
    if rows.iter().any(|r| !r.passed) {
        eprintln!("\nswarm-check: a scenario failed; the table above says which and why");
        std::process::exit(1);
    }
}
