//! The Swarm through the `docker` command line: a service's tasks, scaling
//! and rolling updates, and commands inside a task's container (`promtool`
//! in Prometheus').

use anyhow::{Context, Result, anyhow, bail};
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) fn docker(args: &[&str]) -> Result<String> {
    command("docker", args)
}

/// Runs `program` with `args` on this machine; its stdout, or an error
/// with its stderr.
pub(crate) fn command(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| {
        format!(
            "cannot run `{program} {}`; is it installed (docker, nsenter, iptables) and, for docker, running?",
            args.join(" ")
        )
    })?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The ids of the service's tasks that should run, and how many do.
pub(crate) fn running_tasks(service: &str) -> Result<(Vec<String>, usize)> {
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
pub(crate) fn wait_replicas_without(
    service: &str,
    want: usize,
    gone: &[String],
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let (ids, n) = running_tasks(service)?;
        if n == want && ids.len() == want && !ids.iter().any(|id| gone.contains(id)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{service}: {n} of {want} tasks running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until the service runs exactly `want` tasks.
pub(crate) fn wait_replicas(service: &str, want: usize, limit: Duration) -> Result<()> {
    wait_replicas_without(service, want, &[], limit)
}

/// `docker service update --force`: every task replaced as the service's
/// update_config says; returns once `want` tasks run again.
pub(crate) fn force_update(service: &str, want: usize) -> Result<()> {
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
pub(crate) fn scale_to(service: &str, n: usize) -> Result<()> {
    docker(&[
        "service",
        "scale",
        "--detach=false",
        &format!("{service}={n}"),
    ])?;
    wait_replicas(service, n, Duration::from_secs(120))
}

/// One running container of the service: (container id, task id).
pub(crate) fn a_container(service: &str) -> Result<(String, String)> {
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
        .ok_or_else(|| anyhow!("no running container of {service}"))
}

/// The value of a PromQL expression that yields one number, asked of the
/// stack's Prometheus with its own promtool; `None` when the result is
/// empty.
pub(crate) fn promql(container: &str, expr: &str) -> Result<Option<f64>> {
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
pub(crate) fn wait_promql(container: &str, expr: &str, want: f64, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let mut last: Result<Option<f64>> = Ok(None);
    while Instant::now() < deadline {
        last = promql(container, expr);
        if matches!(last, Ok(Some(v)) if v == want) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(anyhow!(
        "Prometheus: `{expr}` was {last:?} after {limit:?}, not {want}"
    ))
}
