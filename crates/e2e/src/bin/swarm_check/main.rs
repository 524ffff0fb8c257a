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
//! - `failover`: `docker kill` of the database cluster's leader, kept down
//!   until another member leads, then back as a replica;
//! - `switchover`: a planned `patronictl switchover` under load;
//! - `etcd`: `docker kill` of one etcd member (nothing else may happen);
//! - `replica`: `docker kill` of a Postgres replica (no request may fail);
//! - `isolate`: the leader cut off from the network: it must stop taking
//!   writes before another member leads, and rejoin as a replica;
//! - `metrics`: the stack's Prometheus sees every host, Traefik and the
//!   database members, and a scale to 5 hosts and back shows in its series;
//! - `backup`: the stack's backups and their metrics and alerts; the restore
//!   drill on its repository; a careless DELETE restored (`backups`).
//!
//! Layout: `docker` (the Swarm through the docker CLI), `cluster` (the
//! database cluster through `patronictl` in its containers), `load` (the
//! load and one scenario's figures), `scenarios` (each scenario but the
//! backups'), `backups` (theirs), and this file
//! (the command line and the table). HTTP goes through `testkit::http`,
//! the tests' one client.
//!
//! Load: posting clients (each message retried with the same `client_id`
//! until acknowledged, as the browser does) and polling clients (following
//! the cursor, checking every id arrives exactly once and in order). Bounded
//! in clients and time. The table: requests, failed requests, messages
//! acknowledged / seen by every poller / duplicated, and the longest time a
//! client went without a successful answer.

mod backups;
mod cluster;
mod docker;
mod load;
mod scenarios;

use anyhow::Context;
use std::process::ExitCode;

use load::{Row, failed_row};

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
    /// The stack's name (its services are NAME_chat, NAME_pg1, ...).
    #[arg(long, value_name = "NAME")]
    stack: String,
    /// A file holding the admin token (a Docker secret of the stack).
    #[arg(long, value_name = "PATH")]
    admin_token_file: std::path::PathBuf,
    /// The scenarios to run, in order.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "api,kill,cache,update,scale,failover,switchover,etcd,replica,isolate,metrics,backup",
          value_parser = ["api", "kill", "cache", "update", "scale", "failover", "switchover", "etcd", "replica", "isolate", "metrics", "backup"])]
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

pub(crate) struct Args {
    pub(crate) url: String,
    pub(crate) connect: String,
    pub(crate) http_url: String,
    pub(crate) stack: String,
    pub(crate) admin_token: String,
    pub(crate) scenarios: Vec<String>,
    pub(crate) posters: usize,
    pub(crate) pollers: usize,
    pub(crate) replicas: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let cli = <Cli as clap::Parser>::parse();
    let admin_token = std::fs::read_to_string(&cli.admin_token_file)
        .with_context(|| {
            format!(
                "cannot read --admin-token-file {}; give the file the stack's admin token is in",
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

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("swarm-check: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut rows: Vec<Row> = Vec::new();
    for scenario in &args.scenarios {
        say(&format!("scenario {scenario}"));
        let row = match scenario.as_str() {
            "api" => scenarios::api(&args),
            "kill" => scenarios::kill(&args),
            "cache" => scenarios::cache(&args),
            "update" => scenarios::update(&args),
            "scale" => scenarios::scale(&args),
            "failover" => scenarios::failover(&args),
            "switchover" => scenarios::switchover(&args),
            "etcd" => scenarios::etcd(&args),
            "replica" => scenarios::replica(&args),
            "isolate" => scenarios::isolate(&args),
            "metrics" => scenarios::metrics(&args),
            "backup" => backups::backup(&args),
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
        "{:<10} {:>8} {:>7} {:>6} {:>9} {:>6} {:>7} {:>9}  {:<6} note",
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
            "{:<10} {:>8} {:>7} {:>6} {:>9} {:>6} {:>7} {:>8.1}s  {:<6} {}{}",
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
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
