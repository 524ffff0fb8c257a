//! `ostchat-bench`: what one minispin host serves, measured side by side with
//! a native baseline and with the database's own ceiling, in one run.
//!
//! Steps: prepare a fresh database with `--messages` stored messages; start
//! `minispin up --strict` on the real components (no `TCP_NODELAY`, as
//! under Spin) and drive it from this process (closed loop, keep-alive,
//! `--clients` connections) through the poll, catch-up, post and chat
//! scenarios, and each route's latency on one kept-alive connection; stop
//! it; do the same against the native baseline (`native.rs`: same domain,
//! same SQL, same pool, no wasm); with a Traefik binary, poll and post
//! through a real Traefik on loopback in front of the runner, as the stack
//! serves them; run `pgbench` with the poll query; print one table and write
//! it as JSON under `target/bench/`. A step that fails is reported as failed and every other
//! figure is kept. Every figure is only meaningful next to its baseline from
//! the same run: this machine is shared and noisy.
//!
//! Modules: [`cli`] reads the command line (and refuses what it does not
//! know); [`scenarios`] runs the measured steps; [`load`] drives HTTP load
//! (closed loops); [`people`] simulates thousands of people polling;
//! [`report`] holds, prints and writes the figures; [`native`] is the
//! baseline server. Databases and server processes come from `testkit`,
//! shared with the end-to-end tests.

mod cli;
mod load;
mod native;
mod people;
mod report;
mod scenarios;
mod wire;

use anyhow::{Result, bail};
use report::Report;
use scenarios::{ROOMS, say};
use std::process::Command;
use testkit::db::SESSION_SECRET;
use testkit::{RunnerConfig, Server, TestDb};

/// The benchmark's database, made anew each run and kept for a look after.
const DB: &str = "ostchat_bench";

fn main() {
    raise_fd_limit();
    if let Err(e) = real_main() {
        eprintln!("ostchat-bench: error: {e:#}");
        std::process::exit(1);
    }
}

/// Thousands of simulated people hold a connection each: lift the soft
/// limit on open files to the hard one (the native baseline server, started
/// from this same binary, needs it too).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn real_main() -> Result<()> {
    let cli = <cli::Cli as clap::Parser>::parse();
    match cli::command(cli)? {
        cli::Command::NativeServer {
            listen,
            database,
            secret,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(native::serve(&listen, &database, &secret)),
        cli::Command::Run {
            settings,
            only,
            runner_args,
        } => run(settings, only, runner_args),
    }
}

fn run(mut s: cli::Settings, only: Option<String>, runner_args: String) -> Result<()> {
    let root = testkit::workspace_root();
    std::env::set_current_dir(&root)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = Report {
        date_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
        machine: report::machine(),
        settings: s.clone(),
        rows: Vec::new(),
        chat: Vec::new(),
        scale: Vec::new(),
        pgbench_poll_tps: None,
        pgbench_clients: 0,
        routes: Vec::new(),
        notes: Vec::new(),
        failed_steps: Vec::new(),
    };
    if s.url.is_some() {
        // A server started elsewhere, on its own database: nothing to
        // prepare or start here.
        let none = |_: &str| -> Result<Server> { bail!("nothing is started with --url") };
        scale(&s, &["url"], &none, &mut report, &runtime, "".into())?;
        return finish_scale(&report, &root);
    }
    say(&format!(
        "preparing database {DB} with {} stored messages",
        s.messages
    ));
    let db = TestDb::recreate(DB);
    let per_room = (s.messages / ROOMS.len() as u64) as i64;
    db.seed_messages(&ROOMS, per_room);
    if !s.people.is_empty() {
        // A fifth room for the steps at scale, with as much history.
        db.connect()
            .batch_execute("SELECT chat.create_room('random', 'Random')")?;
        db.seed_messages(&["random"], per_room);
    }
    s.pg_port = db.host().rsplit_once(':').and_then(|(_, p)| p.parse().ok());

    report.settings = s.clone();
    let targets: Vec<&str> = ["runner", "native"]
        .into_iter()
        .filter(|t| only.as_deref().is_none_or(|o| o == *t))
        .collect();
    // Both runner starts (limits on and off) take the same --runner-args,
    // so their rows compare like with like.
    let runner = || {
        let mut config = RunnerConfig::chat(&db);
        config.args = runner_args.split_whitespace().map(str::to_string).collect();
        if let Some(manifest) = &s.manifest {
            config.manifest = manifest.into();
        }
        if let Some(replica) = &s.replica {
            config = config
                .set("database_read_url", &db.app_url_at(replica))
                .set("db_read_host", replica);
        }
        config
    };
    let session = scenarios::session();
    let token = scenarios::token(SESSION_SECRET, &session)?;
    let start = |target: &str| -> anyhow::Result<Server> {
        if target == "runner" {
            say("starting minispin on the real components");
            Server::start(runner().command(), "minispin: serving ")
        } else {
            say("starting the native baseline server");
            let mut cmd = Command::new(std::env::current_exe()?);
            cmd.args(["native-server", "--listen", "127.0.0.1:0", "--database"])
                .arg(db.app_url())
                .args(["--secret", SESSION_SECRET]);
            Server::start(cmd, "native: serving ")
        }
    };

    // At scale: only the chat as people use it, at each number of people,
    // on each target, each way in turn. A step that fails is a line of the
    // report; the others are kept.
    if !s.people.is_empty() {
        scale(&s, &targets, &start, &mut report, &runtime, token)?;
        return finish_scale(&report, &root);
    }

    for target in &targets {
        let server = match start(target) {
            Ok(server) => server,
            Err(e) => {
                report.failed_steps.push(format!("{target}: start: {e:#}"));
                continue;
            }
        };
        // Messages of the benchmark's session for the edit and remove
        // scenarios, fresh for each target.
        let owned = scenarios::prepost(
            &mut db.connect(),
            &session,
            target,
            scenarios::owned_needed(&s),
        );
        let measured = owned.and_then(|owned| {
            runtime.block_on(scenarios::run(target, &server, &s, token.clone(), &owned))
        });
        match measured {
            Ok((rows, chat)) => {
                report.rows.extend(rows);
                report.chat.extend(chat);
            }
            Err(e) => report.failed_steps.push(format!("{target}: {e:#}")),
        }
        let page = *target == "runner";
        match runtime.block_on(scenarios::routes(
            target,
            &server.base,
            &s,
            token.clone(),
            page,
        )) {
            Ok(rows) => report.routes.extend(rows),
            Err(e) => report.failed_steps.push(format!("{target}: routes: {e:#}")),
        }
        server.terminate();
    }
    // What the rate limit costs a post: the same runner with limits off
    // (a burst of 0), post scenario only, next to the runner's own row.
    if targets.contains(&"runner") {
        say("starting minispin with the rate limits off");
        let config = runner().set("post_burst", "0");
        let measured = Server::start(config.command(), "minispin: serving ").and_then(|server| {
            let row = runtime.block_on(scenarios::post(
                "nolimit",
                &server.base,
                &server,
                &s,
                token.clone(),
            ));
            server.terminate();
            row
        });
        match measured {
            Ok(row) => report.rows.push(row),
            Err(e) => report.failed_steps.push(format!("nolimit: {e:#}")),
        }
    }

    // What a sign-in costs (Argon2id), under the runner and natively.
    if targets.contains(&"runner") {
        say("measuring what a sign-in costs (Argon2id)");
        let n = 50;
        let config = runner()
            .set("login_burst", "1000000")
            .set("logins_per_minute", "1000000");
        let measured = Server::start(config.command(), "minispin: serving ").and_then(|server| {
            let cost = scenarios::login_cost(&server, n);
            server.terminate();
            cost
        });
        match measured {
            Ok((cpu_ms, wall_ms, native_ms)) => report.notes.push(format!(
                "sign-in (Argon2id, m={} KiB, t={}, p={}): runner {cpu_ms:.1} ms CPU and {wall_ms:.1} ms wall per sign-in ({n} in a row); native verification {native_ms:.1} ms",
                chat::password::M_COST_KIB,
                chat::password::T_COST,
                chat::password::P_COST
            )),
            Err(e) => report.failed_steps.push(format!("sign-in cost: {e:#}")),
        }
    }

    // Through a real Traefik on loopback, which keeps its connections to
    // the host alive as in the stack: poll and post throughput, and each
    // route's latency on one connection.
    let mut traefik_rows = 0;
    match (&s.traefik, targets.contains(&"runner")) {
        (Some(bin), true) => {
            say("starting minispin behind Traefik");
            let measured = Server::start(runner().command(), "minispin: serving ")
                .and_then(|server| {
                    testkit::traefik::Traefik::start(
                        std::path::Path::new(bin),
                        std::slice::from_ref(&server.base),
                        "/api/health",
                    )
                    .map(|traefik| (server, traefik))
                })
                .and_then(|(server, traefik)| {
                    let base = traefik.server.base.clone();
                    let t = "traefik";
                    let result = runtime.block_on(async {
                        let poll = scenarios::poll("poll", 0, t, &base, &server, &s).await?;
                        let post = scenarios::post(t, &base, &server, &s, token.clone()).await?;
                        let routes = scenarios::routes(t, &base, &s, token.clone(), true).await?;
                        anyhow::Ok((vec![poll, post], routes))
                    });
                    server.terminate();
                    result
                });
            match measured {
                Ok((rows, routes)) => {
                    traefik_rows = rows.len();
                    report.rows.extend(rows);
                    report.routes.extend(routes);
                }
                Err(e) => report.failed_steps.push(format!("traefik: {e:#}")),
            }
        }
        (None, true) => report.notes.push(
            "the steps through Traefik were skipped: no Traefik binary (--traefik PATH or OSTCHAT_TRAEFIK; ./scripts/test.sh unpacks one)".into(),
        ),
        _ => {}
    }

    let pgbench = || -> Result<(usize, f64)> {
        let mut conn = db.connect();
        let clients = scenarios::pgbench_clients(s.clients, &mut conn)?;
        let last: i64 = conn
            .query_one(
                "SELECT last_message_id FROM chat.rooms WHERE id = 'general'",
                &[],
            )?
            .get(0);
        let tps = scenarios::pgbench(
            &s,
            clients,
            &db.owner_url(),
            last,
            &root.join("target/bench"),
        )?;
        Ok((clients, tps))
    };
    match pgbench() {
        Ok((clients, tps)) => {
            report.pgbench_clients = clients;
            report.pgbench_poll_tps = Some(tps);
        }
        Err(e) => report.failed_steps.push(format!("pgbench: {e:#}")),
    }

    report.add_ratios();
    report.print();
    report.write(&root.join("target/bench"))?;
    let expected_rows = 5 * targets.len() + usize::from(targets.contains(&"runner")) + traefik_rows;
    let chat_rows = targets.len() * scenarios::chat_shares(&s).len();
    if !report.complete(chat_rows, expected_rows) {
        bail!(
            "the benchmark table is incomplete (a step failed, a scenario served nothing or had errors, or a message was lost); see above"
        );
    }
    Ok(())
}

/// Prints and writes the report of a run at scale; an error if a step
/// failed.
fn finish_scale(report: &Report, root: &std::path::Path) -> Result<()> {
    report.print();
    report.write(&root.join("target/bench"))?;
    if !report.failed_steps.is_empty() {
        bail!("a step of the benchmark failed (FAILED lines above); every other figure is kept");
    }
    Ok(())
}

/// The rooms of the steps at scale: the migrations' four and `random`.
const PEOPLE_ROOMS: [&str; 5] = [ROOMS[0], ROOMS[1], ROOMS[2], ROOMS[3], "random"];

/// The steps at scale (`--people`): for each target, its hosts (none for
/// `--url`), the fronts the ways need (the shared cache, Traefik), then each
/// number of people each way in turn, so the ways of one number are
/// measured side by side.
fn scale(
    s: &cli::Settings,
    targets: &[&str],
    start: &dyn Fn(&str) -> Result<Server>,
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    token: std::sync::Arc<str>,
) -> Result<()> {
    for target in targets {
        let (servers, token, rooms): (Vec<Server>, std::sync::Arc<str>, Vec<String>) =
            if let Some(url) = &s.url {
                // A server started elsewhere: log in through it, and use
                // the first of its rooms.
                let setup = runtime.block_on(scenarios::login_and_rooms(url, s.rooms));
                match setup {
                    Ok((token, rooms)) => (Vec::new(), token, rooms),
                    Err(e) => {
                        report.failed_steps.push(format!("{url}: {e:#}"));
                        continue;
                    }
                }
            } else {
                let count = if *target == "runner" { s.hosts } else { 1 };
                match (0..count)
                    .map(|_| start(target))
                    .collect::<Result<Vec<_>>>()
                {
                    Ok(servers) => (
                        servers,
                        token.clone(),
                        PEOPLE_ROOMS[..s.rooms]
                            .iter()
                            .map(|r| r.to_string())
                            .collect(),
                    ),
                    Err(e) => {
                        report.failed_steps.push(format!("{target}: start: {e:#}"));
                        continue;
                    }
                }
            };
        let bases: Vec<String> = match &s.url {
            Some(url) => vec![url.clone()],
            None => servers.iter().map(|s| s.base.clone()).collect(),
        };
        // The native baseline is measured direct only: the ways are about
        // the hosts the stack runs.
        let ways: Vec<&str> = s
            .ways
            .iter()
            .map(String::as_str)
            .filter(|w| *target != "native" || *w == "direct")
            .collect();
        let cache = if ways.iter().any(|w| w.contains("cache")) {
            say(&format!(
                "starting the shared cache (Varnish) in front of {target}"
            ));
            let hosts: Vec<&str> = bases.iter().map(String::as_str).collect();
            match testkit::varnish::Cache::start(&hosts) {
                Ok(cache) => Some(cache),
                Err(e) => {
                    report.failed_steps.push(format!(
                        "{target}: the shared cache: {e:#} (is Varnish installed? apt-get install varnish)"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let traefik = |with_cache: bool| -> Option<testkit::traefik::Traefik> {
            let bin = std::path::Path::new(s.traefik.as_deref()?);
            let started = if with_cache {
                testkit::traefik::Traefik::start_with_cache(
                    bin,
                    &bases,
                    cache.as_ref()?.base(),
                    "/api/health",
                )
            } else {
                testkit::traefik::Traefik::start(bin, &bases, "/api/health")
            };
            started
                .map_err(|e| say(&format!("{target}: Traefik did not start: {e:#}")))
                .ok()
        };
        let traefik_cache = if ways.contains(&"traefik-cache") {
            traefik(true)
        } else {
            None
        };
        let traefik_alone = if ways.contains(&"traefik") {
            traefik(false)
        } else {
            None
        };
        let room_refs: Vec<&str> = rooms.iter().map(String::as_str).collect();
        let mut faults = false;
        for &people in &s.people {
            for &way in &ways {
                let (base, proxy, front) = match way {
                    "direct" => (bases[0].clone(), None, None),
                    "cache" => match &cache {
                        Some(c) => (c.base().to_string(), None, Some(c)),
                        None => continue,
                    },
                    "traefik-cache" => match (&traefik_cache, &cache) {
                        (Some(t), Some(c)) => (t.server.base.clone(), Some(&t.server), Some(c)),
                        _ => {
                            report.notes.push(format!(
                                "{target}: the way traefik-cache was skipped: it needs the cache and a Traefik binary (--traefik PATH or OSTCHAT_TRAEFIK)"
                            ));
                            continue;
                        }
                    },
                    _ => match &traefik_alone {
                        Some(t) => (t.server.base.clone(), Some(&t.server), None),
                        None => {
                            report.notes.push(format!(
                                "{target}: the way traefik was skipped: no Traefik binary (--traefik PATH or OSTCHAT_TRAEFIK)"
                            ));
                            continue;
                        }
                    },
                };
                let under = scenarios::Under {
                    way,
                    base,
                    hosts: &servers,
                    proxy,
                    cache: front,
                    rooms: &room_refs,
                };
                let step = scenarios::chat_step(
                    target,
                    &under,
                    s,
                    people,
                    s.poll_mode,
                    0.0,
                    token.clone(),
                );
                match runtime.block_on(step) {
                    Ok(row) => {
                        faults |= row.errors > 0;
                        report.scale.push(row);
                    }
                    Err(e) => report
                        .failed_steps
                        .push(format!("{target}, {way}: chat with {people} people: {e:#}")),
                }
            }
        }
        drop(traefik_cache);
        drop(traefik_alone);
        drop(cache);
        for server in servers {
            let (_, log) = server.terminate();
            if faults {
                // Why requests failed is in the server's log, never in a reply.
                let lines: Vec<&str> = log
                    .lines()
                    .filter(|l| !l.contains("loaded component"))
                    .collect();
                say(&format!(
                    "{target} answered errors; the last lines of its log:"
                ));
                for line in &lines[lines.len().saturating_sub(15)..] {
                    eprintln!("    {line}");
                }
            }
        }
    }
    Ok(())
}
