//! The measured steps: the closed-loop scenarios (poll, catch-up, post) and
//! the chat scenario against one server, and pgbench on the poll query.

use crate::cli::Settings;
use crate::load::{self, Outcome, Req, room_cursors};
use crate::people::{self, PollMode};
use crate::report::{ChatRow, RouteRow, Row, percentile, sorted_ms, summarize};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::Server;

/// The rooms the migrations create; the load spreads over all of them.
pub const ROOMS: [&str; 4] = [
    "general",
    "distributed-systems",
    "operating-systems",
    "secure-software",
];

pub fn say(msg: &str) {
    eprintln!("==> {msg}");
}

/// One closed-loop run against `base` (the server itself, or a proxy in
/// front of it), with the server's CPU seconds over the measured window only
/// (sampled when the warm-up ends and when the run ends).
async fn measured(
    base: &str,
    server: &Server,
    s: &Settings,
    make: Arc<dyn Fn(usize, u64) -> Req + Send + Sync>,
) -> Result<(Outcome, f64)> {
    let warmup = Duration::from_secs_f64(s.warmup_s);
    let duration = Duration::from_secs_f64(s.duration_s);
    let pid = server.pid();
    let at_warm = tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        // The scenario's own peak memory, from here on.
        testkit::server::reset_peak_rss(pid);
        testkit::server::cpu_seconds(pid)
    });
    let out = load::closed_loop(base, s.clients, warmup, duration, make).await?;
    let cpu = server.cpu_seconds() - at_warm.await?;
    Ok((out, cpu))
}

/// For a server the benchmark did not start (`--url`): a session token
/// from it, and the ids of its first `rooms` rooms.
pub async fn login_and_rooms(url: &str, rooms: usize) -> Result<(Arc<str>, Vec<String>)> {
    let mut conn = load::Conn::open(url).await?;
    let (status, body) = conn
        .send(&Req {
            method: http::Method::POST,
            path: "/api/session".into(),
            body: Some(r#"{"name":"bench-poster"}"#.into()),
            token: None,
        })
        .await?;
    if status != 201 {
        bail!(
            "POST /api/session answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let token = v["token"]
        .as_str()
        .context("the session answer has no token")?;
    let ids: Vec<String> = room_cursors(url)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .take(rooms)
        .collect();
    if ids.is_empty() {
        bail!("{url} lists no rooms");
    }
    Ok((token.into(), ids))
}

/// The session id of the benchmark's token: its messages are this
/// session's, so it may edit and remove them.
pub fn session() -> String {
    let mut seed = [0u8; 16];
    seed[..4].copy_from_slice(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    seed[4..].copy_from_slice(&now.to_le_bytes()[..12]);
    chat::token::session_id(seed)
}

/// A bearer token for the benchmark's posts, of session `session`.
pub fn token(secret: &str, session: &str) -> Result<Arc<str>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    Ok(
        chat::token::issue_session("bench", Some(session), secret.as_bytes(), now, 86400)
            .token
            .into(),
    )
}

/// Messages of `session` for the edit and remove scenarios, `count` spread
/// over the rooms, posted through `chat.post_message` (so ids and the
/// rooms' counters are as a post leaves them) with the limits off; their
/// rooms and ids, interleaved by room.
pub fn prepost(
    db: &mut postgres::Client,
    session: &str,
    tag: &str,
    count: usize,
) -> Result<Vec<(String, i64)>> {
    say(&format!(
        "posting {count} messages to edit and remove ({tag})"
    ));
    let per_room = count.div_ceil(ROOMS.len()) as i64;
    let mut by_room = Vec::new();
    for room in ROOMS {
        let ids: Vec<i64> = db
            .query(
                "SELECT p.id FROM generate_series(1::bigint, $4) g,
                        LATERAL chat.post_message($1, 'bench', 'to edit or remove ' || g,
                                                  'pre-' || $3 || '-' || g, $2, 0, 0) p
                 WHERE p.status = 'created' ORDER BY p.id",
                &[&room, &session, &tag, &per_room],
            )
            .with_context(|| format!("post the messages to edit and remove in {room}"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        by_room.push(ids);
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..per_room as usize {
        for (room, ids) in ROOMS.iter().zip(&by_room) {
            if let Some(id) = ids.get(i) {
                out.push((room.to_string(), *id));
            }
        }
    }
    out.truncate(count);
    Ok(out)
}

/// Edits or removals a second no server here reaches (posts peak below
/// 2,000): the messages the edit and remove scenarios may use up.
const CHANGES_PER_SEC_CEILING: f64 = 3000.0;

/// How many messages [`prepost`] should make for one target: a half for
/// the edit scenario, a half for the remove scenario, each more than a fast
/// server changes in the warm-up and the run.
pub fn owned_needed(s: &Settings) -> usize {
    2 * ((s.warmup_s + s.duration_s) * CHANGES_PER_SEC_CEILING).ceil() as usize
}

/// A closed loop where every request changes a different message of
/// `owned` (as people edit or remove a message once, not the same one over
/// and over, which would measure a row's growing chain of versions). Fails
/// rather than change a message twice if they run out.
async fn change_each(
    name: &str,
    target: &str,
    server: &Server,
    s: &Settings,
    owned: &[(String, i64)],
    request: impl Fn(&str, i64, u64) -> Req + Send + Sync + 'static,
) -> Result<Row> {
    say(&format!(
        "{target}: {name} ({} clients, {:.1} s, a different message each time)",
        s.clients, s.duration_s
    ));
    anyhow::ensure!(!owned.is_empty(), "no messages to {name}");
    let messages: Arc<Vec<(String, i64)>> = Arc::new(owned.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let taken = next.clone();
    let make = Arc::new(move |_client: usize, seq: u64| {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (room, id) = &messages[i % messages.len()];
        request(room, *id, seq)
    });
    let (out, cpu) = measured(&server.base, server, s, make).await?;
    let used = taken.load(std::sync::atomic::Ordering::Relaxed);
    if used > owned.len() {
        bail!(
            "the {name} scenario ran out of messages ({used} requests, {} messages): raise scenarios::CHANGES_PER_SEC_CEILING",
            owned.len()
        );
    }
    Ok(summarize(name, target, &out, cpu, server.peak_rss_mb()))
}

/// What the edit and remove scenarios do to a message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Edit,
    Remove,
}

/// The edit scenario (each edit is an event of the room, as a post is) or
/// the remove scenario: every client changes messages of its own session,
/// back to back; the edits take the first half of `owned`, the removals
/// the other.
pub async fn change(
    what: Change,
    target: &str,
    server: &Server,
    s: &Settings,
    token: Arc<str>,
    owned: &[(String, i64)],
) -> Result<Row> {
    let (edits, removals) = owned.split_at(owned.len() / 2);
    let (name, messages) = match what {
        Change::Edit => ("edit", edits),
        Change::Remove => ("remove", removals),
    };
    change_each(name, target, server, s, messages, move |room, id, seq| {
        Req {
            method: match what {
                Change::Edit => http::Method::PATCH,
                Change::Remove => http::Method::DELETE,
            },
            path: format!("/api/rooms/{room}/messages/{id}"),
            body: (what == Change::Edit).then(|| format!(r#"{{"body":"bench edit {seq}"}}"#)),
            token: Some(token.clone()),
        }
    })
    .await
}

/// The post scenario: every client posts, round the rooms, back to back,
/// to `base` (the server, or a proxy in front of it).
pub async fn post(
    target: &str,
    base: &str,
    server: &Server,
    s: &Settings,
    token: Arc<str>,
) -> Result<Row> {
    say(&format!(
        "{target}: post ({} clients, {:.1} s)",
        s.clients, s.duration_s
    ));
    let run = format!("{}-{target}", std::process::id());
    let make = Arc::new(move |client: usize, seq: u64| Req {
        method: http::Method::POST,
        path: format!("/api/rooms/{}/messages", ROOMS[client % ROOMS.len()]),
        body: Some(format!(
            r#"{{"body":"bench message {seq}","client_id":"b-{run}-{client}-{seq}"}}"#
        )),
        token: Some(token.clone()),
    });
    let (out, cpu) = measured(base, server, s, make).await?;
    Ok(summarize("post", target, &out, cpu, server.peak_rss_mb()))
}

/// The poll scenario (`behind` = 0: nothing new after the cursor) or the
/// catch-up scenario (50 behind): every client reads one room, round the
/// rooms, back to back, from `base`.
pub async fn poll(
    name: &str,
    behind: i64,
    target: &str,
    base: &str,
    server: &Server,
    s: &Settings,
) -> Result<Row> {
    let cursors = Arc::new(room_cursors(base).await?);
    say(&format!(
        "{target}: {name} ({} clients, {:.1} s)",
        s.clients, s.duration_s
    ));
    let make = Arc::new(move |client: usize, _seq: u64| {
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
    });
    let (out, cpu) = measured(base, server, s, make).await?;
    Ok(summarize(name, target, &out, cpu, server.peak_rss_mb()))
}

/// Every scenario against one server: its rows and its chat row (the
/// per-route latencies are a step of their own, [`routes`]).
pub async fn run(
    target: &str,
    server: &Server,
    s: &Settings,
    token: Arc<str>,
    owned: &[(String, i64)],
) -> Result<(Vec<Row>, Vec<ChatRow>)> {
    let mut rows = Vec::new();

    let base = server.base.as_str();
    for (name, behind) in [("poll", 0), ("catch-up", 50)] {
        rows.push(poll(name, behind, target, base, server, s).await?);
    }
    rows.push(post(target, base, server, s, token.clone()).await?);
    for what in [Change::Edit, Change::Remove] {
        rows.push(change(what, target, server, s, token.clone(), owned).await?);
    }

    let under = Under::one(server);
    let mut chat = Vec::new();
    for share in chat_shares(s) {
        chat.push(
            chat_step(
                target,
                &under,
                s,
                s.clients,
                s.poll_mode,
                share,
                token.clone(),
            )
            .await?,
        );
    }
    Ok((rows, chat))
}

/// The chat steps of a standard run: posts only, and, with an edit share,
/// the same with that share of edits and removals.
pub fn chat_shares(s: &Settings) -> Vec<f64> {
    let mut shares = vec![0.0];
    if s.edit_share > 0.0 {
        shares.push(s.edit_share);
    }
    shares
}

/// What a chat step drives: one or more hosts (none when the server was
/// not started here: `--url`), alone, behind the shared cache, or behind
/// Traefik (in front of the cache or of the hosts).
pub struct Under<'a> {
    /// How the people reach the hosts: "direct", "cache", "traefik-cache",
    /// "traefik".
    pub way: &'a str,
    /// Where the people connect: the host, the cache, or the proxy.
    pub base: String,
    pub hosts: &'a [Server],
    pub proxy: Option<&'a Server>,
    pub cache: Option<&'a testkit::varnish::Cache>,
    /// The rooms people are spread over, and posts go to in turn.
    pub rooms: &'a [&'a str],
}

impl<'a> Under<'a> {
    pub fn one(server: &'a Server) -> Under<'a> {
        Under {
            way: "direct",
            base: server.base.clone(),
            hosts: std::slice::from_ref(server),
            proxy: None,
            cache: None,
            rooms: &["general"],
        }
    }

    fn cpu_seconds(&self) -> f64 {
        self.hosts.iter().map(Server::cpu_seconds).sum()
    }
}

/// CPU counters at one moment: the hosts, the proxy, Postgres, this
/// process, the machine (busy, total).
#[derive(Clone, Copy)]
struct Sample {
    host: f64,
    proxy: Option<f64>,
    cache: Option<f64>,
    postgres: Option<f64>,
    replica: Option<f64>,
    own: f64,
    machine: (f64, f64),
}

fn sample(under: &Under<'_>, pg_port: Option<u16>, replica_port: Option<u16>) -> Sample {
    Sample {
        host: under.cpu_seconds(),
        proxy: under.proxy.map(Server::cpu_seconds),
        cache: under.cache.map(testkit::varnish::Cache::cpu_seconds),
        postgres: pg_port.and_then(testkit::server::postgres_cpu_seconds),
        replica: replica_port.and_then(testkit::server::postgres_cpu_seconds),
        own: testkit::server::own_cpu_seconds(),
        machine: testkit::server::machine_cpu_seconds(),
    }
}

/// The chat as `people` people use it (`people.rs`), polling as `mode`
/// says, with `s.post_rate` posts a second, against `server` (whose
/// Postgres listens on `s.pg_port`).
pub async fn chat_step(
    target: &str,
    under: &Under<'_>,
    s: &Settings,
    people: usize,
    mode: PollMode,
    edit_share: f64,
    token: Arc<str>,
) -> Result<ChatRow> {
    let window = if s.smoke { 3.0 } else { s.duration_s.max(10.0) };
    let ramp = Duration::from_secs_f64((people as f64 / 1000.0).max(1.0));
    let changes = if edit_share > 0.0 {
        format!(" ({:.0} % of them edits and removals)", edit_share * 100.0)
    } else {
        String::new()
    };
    say(&format!(
        "{target}, {}: chat, {people} people in {} room(s) polling once a second ({mode:?}), {} posts/s{changes}, {window:.0} s after a {:.0} s ramp",
        under.way,
        under.rooms.len(),
        s.post_rate,
        ramp.as_secs_f64()
    ));
    let cursors = room_cursors(&under.base).await?;
    let rooms: Vec<(String, i64)> = under
        .rooms
        .iter()
        .map(|room| Ok((room.to_string(), load::newest_of(&cursors, room)?)))
        .collect::<Result<_>>()?;
    let room_count = rooms.len();
    let samples = std::sync::Mutex::new(Vec::new());
    let probe = || {
        if samples.lock().map(|v| v.is_empty()).unwrap_or(false) {
            under.hosts.iter().for_each(Server::reset_peak_rss);
        }
        let replica_port = s
            .replica
            .as_deref()
            .and_then(|r| r.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok());
        let now = sample(under, s.pg_port, replica_port);
        if let Ok(mut v) = samples.lock() {
            v.push(now);
        }
    };
    let out = people::run(
        &under.base,
        people::Plan {
            rooms,
            people,
            post_rate: s.post_rate,
            ramp,
            window: Duration::from_secs_f64(window),
            mode,
            token,
            edit_share,
            tag: format!(
                "{}-{target}-{}-{people}-{mode:?}-{}",
                std::process::id(),
                under.way,
                (edit_share * 1000.0) as u32
            ),
        },
        &probe,
    )
    .await?;
    let samples = samples.into_inner().unwrap_or_default();
    let (a, b) = match samples.as_slice() {
        [a, b, ..] => (*a, *b),
        _ => anyhow::bail!("the chat step took no CPU samples"),
    };
    let secs = out.window.as_secs_f64().max(1e-9);
    let pct = |x: f64| x / secs * 100.0;
    let requests = out.requests.max(1) as f64;
    let host_cpu = b.host - a.host;
    let proxy_cpu = b.proxy.zip(a.proxy).map(|(b, a)| b - a);
    let cache_cpu = b.cache.zip(a.cache).map(|(b, a)| b - a);
    let pg_cpu = b.postgres.zip(a.postgres).map(|(b, a)| b - a);
    let machine = (b.machine.0 - a.machine.0) / (b.machine.1 - a.machine.1).max(1e-9) * 100.0;
    let mut delivery = out.delivery_ms.clone();
    delivery.sort_by(f64::total_cmp);
    let polls = sorted_ms(&out.poll_latencies_us);
    let mut row = ChatRow {
        target: target.into(),
        way: under.way.into(),
        rooms: room_count,
        people,
        mode,
        post_rate: s.post_rate,
        connect_failures: out.connect_failures,
        requests_per_s: out.requests as f64 / secs,
        requests_per_person_s: out.requests as f64 / secs / out.connected.max(1) as f64,
        poll_p50_ms: percentile(&polls, 0.5),
        poll_p99_ms: percentile(&polls, 0.99),
        errors: out.errors + out.post_errors as u64,
        error_kinds: out.error_kinds.clone(),
        edit_share,
        due: out.due,
        posted: out.posted,
        changes: out.changes,
        late: out.late,
        post_p99_ms: {
            let mut p = out.post_ms.clone();
            p.sort_by(f64::total_cmp);
            percentile(&p, 0.99)
        },
        undelivered: out.undelivered,
        delivery_p50_ms: percentile(&delivery, 0.5),
        delivery_p99_ms: percentile(&delivery, 0.99),
        delivery_max_ms: delivery.last().copied().unwrap_or(0.0),
        hosts: under.hosts.len(),
        host_cpu_pct: pct(host_cpu),
        proxy_cpu_pct: proxy_cpu.map(pct),
        cache_cpu_pct: cache_cpu.map(pct),
        cache_hit_pct: under
            .cache
            .map(|_| out.cache_hits as f64 / out.polls_ok.max(1) as f64 * 100.0),
        loadgen_cpu_ms_per_req: (b.own - a.own) / requests * 1000.0,
        postgres_cpu_pct: pg_cpu.map(pct),
        replica_cpu_pct: b.replica.zip(a.replica).map(|(b, a)| pct(b - a)),
        loadgen_cpu_pct: pct(b.own - a.own),
        machine_busy_pct: machine,
        host_cpu_ms_per_req: host_cpu / requests * 1000.0,
        postgres_cpu_ms_per_req: pg_cpu.map(|c| c / requests * 1000.0),
        host_peak_rss_mb: under.hosts.iter().map(Server::peak_rss_mb).sum(),
        verdict: String::new(),
    };
    row.verdict = verdict(&row);
    Ok(row)
}

/// "ok" when the step met the targets (every message to every person,
/// every due post sent in time, delivery p99 under 1.5 s, no error, no
/// refused connection); otherwise what fell short and what gave out.
pub fn verdict(r: &ChatRow) -> String {
    let mut missed = Vec::new();
    if r.connect_failures > 0 {
        missed.push(format!("{} people could not connect", r.connect_failures));
    }
    if r.errors > 0 {
        let kinds: Vec<String> = r
            .error_kinds
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        missed.push(format!("{} errors ({})", r.errors, kinds.join(", ")));
    }
    if r.posted < r.due || r.late > 0 {
        missed.push(format!(
            "posted {} of {} due ({} late)",
            r.posted, r.due, r.late
        ));
    }
    if r.undelivered > 0 {
        missed.push(format!("{} messages not seen by everyone", r.undelivered));
    }
    if r.delivery_p99_ms >= 1500.0 {
        missed.push(format!("delivery p99 {:.0} ms", r.delivery_p99_ms));
    }
    if missed.is_empty() {
        return "ok".into();
    }
    let mut users = vec![
        ("the hosts", r.host_cpu_pct),
        ("the load generator", r.loadgen_cpu_pct),
    ];
    if let Some(proxy) = r.proxy_cpu_pct {
        users.push(("Traefik", proxy));
    }
    if let Some(pg) = r.postgres_cpu_pct {
        users.push(("Postgres", pg));
    }
    users.sort_by(|a, b| b.1.total_cmp(&a.1));
    let users: Vec<String> = users
        .iter()
        .map(|(who, pct)| format!("{who} {pct:.0} %"))
        .collect();
    let limit = if r.machine_busy_pct >= 90.0 {
        format!(
            "CPU: the machine {:.0} % busy ({} of a core)",
            r.machine_busy_pct,
            users.join(", ")
        )
    } else if r.connect_failures > 0 {
        "connections".to_string()
    } else {
        format!(
            "no resource saturated (machine {:.0} % busy; {})",
            r.machine_busy_pct,
            users.join(", ")
        )
    };
    format!("missed: {}; limit: {limit}", missed.join(", "))
}

/// pgbench's clients: the benchmark's, but never more than the server has
/// connections free (leaving a margin of 5), so pgbench cannot be refused
/// for exceeding `max_connections`.
pub fn pgbench_clients(wanted: usize, db: &mut postgres::Client) -> Result<usize> {
    let max: i64 = db
        .query_one("SELECT current_setting('max_connections')::int8", &[])?
        .get(0);
    let used: i64 = db
        .query_one("SELECT count(*) FROM pg_stat_activity", &[])?
        .get(0);
    let free = usize::try_from(max - used - 5).unwrap_or(1).max(1);
    Ok(wanted.min(free))
}

/// pgbench on the very statement the components run for a poll with nothing
/// new after `after`; its transactions per second.
pub fn pgbench(
    s: &Settings,
    clients: usize,
    owner_url: &str,
    after: i64,
    dir: &Path,
) -> Result<f64> {
    say(&format!(
        "pgbench: the poll query ({clients} clients, {:.1} s)",
        s.duration_s
    ));
    std::fs::create_dir_all(dir)?;
    let script = dir.join("poll.sql");
    use chat::store::Operation;
    let page = chat::store::ReadPage {
        room: "general",
        page: chat::Page::After { after, limit: 100 },
    };
    let poll = page.statement().sql;
    let poll = poll
        .replace("$1", "'general'")
        .replace("$2", &after.to_string())
        .replace("$3", "NULL")
        .replace("$4", "100");
    std::fs::write(&script, format!("{poll};\n"))?;
    let out = Command::new("pgbench")
        .args(["-n", "-j", "2", "-c", &clients.to_string(), "-T"])
        .arg(format!("{}", s.duration_s.ceil().max(1.0) as u64))
        .arg("-f")
        .arg(&script)
        .arg(owner_url)
        .output()
        .context("run pgbench (Debian: apt-get install postgresql-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| {
            format!(
                "pgbench printed no tps: {text}{}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

/// Each route's latency on one kept-alive connection, requests one after
/// another: the pattern a proxy (Traefik) uses towards a host. `page` is
/// false for a server that serves only the API (the native baseline).
pub async fn routes(
    target: &str,
    base: &str,
    s: &Settings,
    token: Arc<str>,
    page: bool,
) -> Result<Vec<RouteRow>> {
    let requests = if s.smoke { 20 } else { 200 };
    say(&format!(
        "{target}: each route on one connection ({requests} requests one after another)"
    ));
    let last = room_cursors(base)
        .await?
        .into_iter()
        .find(|(r, _)| r == "general")
        .map_or(0, |(_, c)| c);
    let run = format!("{}-{target}", std::process::id());
    let get = |path: String| {
        move |_: u64| Req {
            method: http::Method::GET,
            path: path.clone(),
            body: None,
            token: None,
        }
    };
    type Make = Box<dyn Fn(u64) -> Req>;
    let mut cases: Vec<(&str, u16, Make)> = Vec::new();
    if page {
        cases.push(("page", 200, Box::new(get("/".into()))));
    }
    cases.push(("health", 200, Box::new(get("/api/health".into()))));
    cases.push((
        "session",
        201,
        Box::new(|i| Req {
            method: http::Method::POST,
            path: "/api/session".into(),
            body: Some(format!(r#"{{"name":"bench{i}"}}"#)),
            token: None,
        }),
    ));
    cases.push(("rooms", 200, Box::new(get("/api/rooms".into()))));
    cases.push((
        "poll (nothing new)",
        200,
        Box::new(get(format!("/api/rooms/general/messages?after={last}"))),
    ));
    let post_run = run.clone();
    cases.push((
        "post",
        201,
        Box::new(move |i| Req {
            method: http::Method::POST,
            path: "/api/rooms/general/messages".into(),
            body: Some(format!(
                r#"{{"body":"route latency {i}","client_id":"r-{post_run}-{i}"}}"#
            )),
            token: Some(token.clone()),
        }),
    ));
    cases.push((
        "unknown room (404)",
        404,
        Box::new(get("/api/rooms/no-such-room/messages".into())),
    ));

    let mut rows = Vec::new();
    for (route, expect, make) in cases {
        let mut conn = load::Conn::open(base).await?;
        let mut latencies_us = Vec::with_capacity(requests);
        let mut errors = 0;
        for i in 0..requests as u64 {
            let t0 = std::time::Instant::now();
            match conn.send(&make(i)).await {
                Ok((status, _)) if status == expect => {
                    latencies_us.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32)
                }
                Ok(_) => errors += 1,
                Err(_) => {
                    errors += 1;
                    conn = load::Conn::open(base).await?;
                }
            }
        }
        let ms = sorted_ms(&latencies_us);
        rows.push(RouteRow {
            route: route.into(),
            target: target.into(),
            requests: ms.len(),
            p50_ms: percentile(&ms, 0.5),
            p99_ms: percentile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
            errors,
        });
    }
    Ok(rows)
}

/// What one sign-in costs: `n` sign-ins with the right password, one after
/// another, on `server` (a runner with the sign-in limit off), and the same
/// Argon2id verification natively. Returns (runner CPU ms per sign-in, its
/// wall ms per sign-in, native ms per verification).
pub fn login_cost(server: &Server, n: u32) -> Result<(f64, f64, f64)> {
    use testkit::http::{agent, try_send_json};
    let agent = agent();
    let body = serde_json::json!({"name": "bench-login", "password": "a benchmark passphrase"});
    let claimed = try_send_json(
        &agent,
        "POST",
        &server.url("/api/accounts"),
        &[],
        Some(&body),
    )
    .map_err(|e| anyhow::anyhow!("POST /api/accounts: {e}"))?;
    anyhow::ensure!(
        claimed.status == 201,
        "POST /api/accounts answered {}: {}",
        claimed.status,
        claimed.body
    );
    let sign_in = || -> Result<()> {
        let r = try_send_json(
            &agent,
            "POST",
            &server.url("/api/session"),
            &[],
            Some(&body),
        )
        .map_err(|e| anyhow::anyhow!("POST /api/session: {e}"))?;
        anyhow::ensure!(r.status == 201, "sign-in answered {}: {}", r.status, r.body);
        Ok(())
    };
    sign_in()?;
    let (cpu, started) = (server.cpu_seconds(), Instant::now());
    for _ in 0..n {
        sign_in()?;
    }
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    let cpu_ms = (server.cpu_seconds() - cpu) * 1000.0 / f64::from(n);
    let hash = chat::password::hash("a benchmark passphrase", [7; 16])
        .ok_or_else(|| anyhow::anyhow!("argon2 refused to hash"))?;
    let started = Instant::now();
    for _ in 0..n.min(20) {
        anyhow::ensure!(chat::password::verify(
            "a benchmark passphrase",
            Some(&hash)
        ));
    }
    let native_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(n.min(20));
    Ok((cpu_ms, wall_ms, native_ms))
}
