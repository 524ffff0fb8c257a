//! The `backup` scenario: the stack's own backups (deploy/backup/), after
//! the other scenarios have killed, switched and cut off its leaders.
//!
//! - The backup agent has taken a full backup into the stack's repository,
//!   and Prometheus shows its age and the last archived WAL segment's; the
//!   alert rules load and pass their unit tests (`promtool test rules`).
//! - The restore drill, run in the leader's container on the stack's
//!   repository, restores the latest state: every room of every earlier
//!   scenario is gapless (no hole in the archive across their failovers).
//! - A careless operator deletes a room's messages by hand; the drill
//!   restores the database as it was a moment before: every message
//!   acknowledged before it is there and nothing posted after it. The lost
//!   rows are copied back into the live database (deploy/README.md), and the
//!   chat lists every acknowledged message of the room again.

use anyhow::{Context, Result, bail};
use e2e::http;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::Args;
use crate::cluster::{Cluster, psql_at};
use crate::docker::{a_container, docker, promql, wait_promql};
use crate::load::{Row, call, failed_row, new_room};

/// `docker exec` as the postgres user in a member's container: the
/// arguments for `program`.
fn exec_as_postgres<'a>(container: &'a str, program: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["exec", "-u", "postgres", container];
    all.extend_from_slice(program);
    all
}

/// As the postgres user in a member's container: `program`'s output.
fn as_postgres(container: &str, program: &[&str]) -> Result<String> {
    docker(&exec_as_postgres(container, program))
}

/// One good backup as `pgbackrest info` lists it.
#[derive(Debug)]
struct Backup {
    kind: String,
    /// The timeline of the last WAL segment it needs.
    timeline: i64,
}

/// The stack's good backups, oldest first.
fn backups(container: &str) -> Result<Vec<Backup>> {
    let info = as_postgres(
        container,
        &["pgbackrest", "--stanza=ostchat", "--output=json", "info"],
    )?;
    let info: Value = serde_json::from_str(&info).context("pgbackrest info's JSON")?;
    Ok(info[0]["backup"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| !b["error"].as_bool().unwrap_or(false))
        .map(|b| Backup {
            kind: b["type"].as_str().unwrap_or_default().to_string(),
            timeline: b["archive"]["stop"]
                .as_str()
                .and_then(|wal| i64::from_str_radix(wal.get(..8)?, 16).ok())
                .unwrap_or(0),
        })
        .collect())
}

/// Runs the drill in `container`; its output, or an error with it.
fn drill(container: &str, args: &[&str]) -> Result<String> {
    let mut program = vec!["ostchat-restore-drill"];
    program.extend_from_slice(args);
    // Not `docker()`: a failed drill's report is on stdout and stderr both.
    let out = std::process::Command::new("docker")
        .args(exec_as_postgres(container, &program))
        .output()
        .context("run docker exec")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("the restore drill failed:\n{text}");
    }
    Ok(text)
}

/// Posts `body` as `client_id` until acknowledged (two minutes at most);
/// the message's id.
fn post(agent: &ureq::Agent, url: &str, auth: &str, body: &str) -> Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = call(
            agent,
            "POST",
            url,
            &[("authorization", auth)],
            Some(&json!({ "body": body, "client_id": body })),
        );
        if let Ok(reply) = &r
            && (reply.status == 201 || reply.status == 200)
        {
            return reply.json()["message"]["id"]
                .as_i64()
                .context("the acknowledgement's message id");
        }
        if Instant::now() > deadline {
            bail!(
                "{body}: not acknowledged in 2 minutes: {}",
                http::describe(&r)
            );
        }
        // Paced below the post limits (Traefik's and the app's).
        std::thread::sleep(Duration::from_millis(700));
    }
}

pub(crate) fn backup(args: &Args) -> Row {
    match check(args) {
        Ok(row) => row,
        Err(e) => failed_row("backup", format!("{e:#}")),
    }
}

fn check(args: &Args) -> Result<Row> {
    let cluster = Cluster { stack: &args.stack };
    let leader = cluster.leader()?;
    let member = cluster.container(&leader.name)?;

    // The agent's schedule: a full backup once the cluster was made, and
    // one on the leader's timeline (taken after each failover), so a
    // restore never needs WAL a dead leader had not archived.
    let timeline = leader.timeline.unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs(180);
    let taken = loop {
        let taken = backups(&member).unwrap_or_default();
        if taken.iter().any(|b| b.kind == "full") && taken.iter().any(|b| b.timeline == timeline) {
            break taken;
        }
        if Instant::now() > deadline {
            bail!(
                "the stack's repository has no full backup, or none on timeline {timeline}, after 3 minutes: \
                 {taken:?}; see the leader's log (backup-agent lines)"
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    };

    // Prometheus: the backup's age and the archive's, and the alert rules.
    let (prometheus, _) = a_container(&format!("{}_prometheus", args.stack))?;
    let limit = Duration::from_secs(60);
    wait_promql(&prometheus, "sum(ostchat_backup_leader)", 1.0, limit)?;
    wait_promql(&prometheus, "max(ostchat_backup_repository_ok)", 1.0, limit)?;
    wait_promql(
        &prometheus,
        "time() - max(ostchat_backup_last_success_timestamp_seconds) < bool 3600",
        1.0,
        limit,
    )?;
    wait_promql(
        &prometheus,
        "time() - max(ostchat_wal_last_archived_timestamp_seconds) < bool 3600",
        1.0,
        limit,
    )?;
    let backup_age = promql(
        &prometheus,
        "time() - max(ostchat_backup_last_success_timestamp_seconds)",
    )?
    .unwrap_or(f64::NAN);
    // Every backup series the dashboard asks for, the leader's agent serves.
    let served = docker(&[
        "exec",
        &member,
        "python3",
        "-c",
        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9854/metrics', timeout=5).read().decode())",
    ])?;
    let (missing, asked) = testkit::dashboard_series_missing("ostchat_", &served);
    if asked < 3 || !missing.is_empty() {
        bail!(
            "the dashboard asks for {missing:?} (of {asked} backup series), which the agent does not serve:\n{served}"
        );
    }
    let rules = e2e::workspace_root().join("deploy/prometheus");
    for file in ["alerts.yml", "alerts.test.yml"] {
        docker(&[
            "cp",
            &rules.join(file).display().to_string(),
            &format!("{prometheus}:/tmp/{file}"),
        ])?;
    }
    docker(&[
        "exec",
        &prometheus,
        "promtool",
        "test",
        "rules",
        "/tmp/alerts.test.yml",
    ])
    .context("the alert rules' unit tests")?;

    // The drill on the latest state: every earlier scenario's room whole.
    let t = Instant::now();
    let latest = drill(&member, &[])?;
    let latest_secs = t.elapsed().as_secs_f64();
    let rooms = latest.lines().filter(|l| l.ends_with(" events")).count();

    // A room, its messages, the moment, the careless DELETE, more posts.
    let agent = http::agent_via(&args.connect);
    let room = new_room(args, &agent, "backup")?;
    let session = call(
        &agent,
        "POST",
        &format!("{}/api/session", args.url),
        &[],
        Some(&json!({ "name": "careful" })),
    );
    let token = match &session {
        Ok(r) if r.status == 201 => r.json()["token"].as_str().unwrap_or_default().to_string(),
        _ => bail!("cannot sign in: {}", http::describe(&session)),
    };
    let auth = format!("Bearer {token}");
    let url = format!("{}/api/rooms/{room}/messages", args.url);
    let mut before = BTreeMap::new();
    for i in 0..12 {
        let body = format!("before-{i}");
        before.insert(post(&agent, &url, &auth, &body)?, body);
    }
    std::thread::sleep(Duration::from_millis(1200));
    let moment = psql_at(&member, "SELECT clock_timestamp()::text")?;
    std::thread::sleep(Duration::from_millis(1200));
    let deleted = psql_at(
        &member,
        &format!(
            "WITH d AS (DELETE FROM chat.messages WHERE room_id = '{room}' RETURNING 1) SELECT count(*) FROM d"
        ),
    )?;
    if deleted.trim() != before.len().to_string() {
        bail!(
            "the careless DELETE took {deleted} rows, not {}",
            before.len()
        );
    }
    let mut after = BTreeMap::new();
    for i in 0..4 {
        let body = format!("after-{i}");
        after.insert(post(&agent, &url, &auth, &body)?, body);
    }
    // Everything so far archived (check switches the segment and waits).
    as_postgres(&member, &["pgbackrest", "--stanza=ostchat", "check"])?;

    // Restored as it was at the moment, kept for the checks.
    let kept = format!("/tmp/ostchat-drill-{}", std::process::id());
    let t = Instant::now();
    let out = drill(&member, &["--target", moment.trim(), "--keep", &kept]);
    let to_moment_secs = t.elapsed().as_secs_f64();
    let result = (|| -> Result<String> {
        let out = out?;
        let restored_url = out
            .lines()
            .rev()
            .find(|l| l.starts_with("postgres://"))
            .context("the drill prints the kept server's URL")?
            .to_string();
        let restored = as_postgres(
            &member,
            &[
                "psql",
                &restored_url,
                "-XAtq",
                "-F",
                "\t",
                "-c",
                &format!(
                    "SELECT id, body FROM chat.messages WHERE room_id = '{room}' AND kind = 'message' ORDER BY id"
                ),
            ],
        )?;
        let restored: BTreeMap<i64, String> = restored
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(id, body)| Some((id.parse().ok()?, body.to_string())))
            .collect();
        if restored != before {
            bail!(
                "restored to the moment, the room holds {restored:?}; acknowledged before it: {before:?}"
            );
        }
        // The lost rows back into the live database, as the guide says.
        as_postgres(
            &member,
            &[
                "sh",
                "-c",
                &format!(
                    "psql '{restored_url}' -XAtqc \"COPY (SELECT * FROM chat.messages WHERE room_id = '{room}') TO STDOUT\" \
                 | psql -Xq -d ostchat -c 'COPY chat.messages FROM STDIN'"
                ),
            ],
        )?;
        Ok(restored_url)
    })();
    let _ = drill(&member, &["--remove", &kept]);
    result?;

    // The chat lists the room whole again: before and after, in order.
    let page = call(
        &agent,
        "GET",
        &format!("{}/api/rooms/{room}/messages?limit=100", args.url),
        &[],
        None,
    );
    let listed: BTreeMap<i64, String> = match &page {
        Ok(r) if r.status == 200 => r.json()["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| Some((m["id"].as_i64()?, m["body"].as_str()?.to_string())))
            .collect(),
        _ => bail!("cannot list the room: {}", http::describe(&page)),
    };
    let mut acked = before.clone();
    acked.extend(after.clone());
    if listed != acked {
        bail!("the chat lists {listed:?} after the copy back; acknowledged: {acked:?}");
    }
    Ok(Row {
        acked: acked.len(),
        seen_by_all: listed.len(),
        passed: true,
        ..failed_row(
            "backup",
            format!(
                "{} backups ({} full), the last {backup_age:.0} s old, one on timeline {timeline}; drill latest {latest_secs:.1} s, \
                 {rooms} rooms gapless; DELETE of {} messages restored to the moment in {to_moment_secs:.1} s \
                 ({} after it absent) and copied back",
                taken.len(),
                taken.iter().filter(|b| b.kind == "full").count(),
                before.len(),
                after.len()
            ),
        )
    })
}
