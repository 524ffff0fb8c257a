//! The `minispin` command line; everything else is the library (`lib.rs`).

use anyhow::{Context, Result, bail};
use minispin::{check, migrate, server};
use std::path::PathBuf;
use std::sync::Arc;

const USAGE: &str = "\
minispin: run a Spin app's HTTP components (a small Spin-compatible host)

USAGE:
    minispin up [--manifest spin.toml] [--listen 127.0.0.1:3000] [--strict]
                [--max-instance-reuse-count 128] [--max-instance-concurrent-reuse-count 16]
                [--drain-delay SECS] [--drain-health-path PATH] [--drain-timeout SECS]
                [--read-timeout SECS] [--tcp-nodelay] [--max-pg-connections 64]
    minispin migrate --database URL [--password-file PATH] [--dir sql]
                     [--ensure-login URL | --ensure-login-file PATH] [--wait SECS]
    minispin check URL [--timeout SECS]

Variables come from SPIN_VARIABLE_<NAME> environment variables over the
manifest's defaults, as with `spin up`; SPIN_VARIABLE_<NAME>_FILE names a file
that holds the value (a Docker secret).

A client that has not sent a request's headers, or then its whole body,
within --read-timeout (default 30) is disconnected, and the log says so.

On SIGTERM, `up` keeps serving for --drain-delay (default 0) while answering
--drain-health-path with 503, then stops accepting and gives in-flight
requests --drain-timeout (default 30) to finish.

`migrate` applies each NNNN_name.sql once, under a lock (safe to run several
at once); --ensure-login lets that URL's user log in with its password;
--wait retries connecting that long. `check` exits 0 when URL answers 2xx.

--strict fails requests that would hang under some real Spin releases (a
synchronous postgres `query` with zero rows, spinframework/spin#3671) instead
of only logging a warning once per component.

Accepted connections keep Nagle's algorithm on, as under Spin (which does
not set TCP_NODELAY): a response that leaves in more than one write then
waits about 40 ms for the client's delayed ACK, as it would under Spin.
--tcp-nodelay sets TCP_NODELAY instead (kinder than Spin, so not allowed
with --strict).

--max-pg-connections caps the Postgres connections the host holds at once,
all components together (PG_MAX_CONNECTIONS sets it too; default: no cap,
each component pooling up to 64 per address, as Spin does). It is Spin's
`[outbound_pg] max_connections`. Hosts that share a database must stay,
together, under its connection limit (the app role's is 80).";

struct Args(Vec<String>);

impl Args {
    /// Takes `--name value` out of the arguments.
    fn take(&mut self, name: &str) -> Result<Option<String>> {
        let Some(i) = self.0.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.0.len() {
            bail!("{name} needs a value\n\n{USAGE}");
        }
        let value = self.0.remove(i + 1);
        self.0.remove(i);
        Ok(Some(value))
    }

    /// Takes a `--name` switch out of the arguments.
    fn flag(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|a| a != name);
        self.0.len() != before
    }

    fn finish(self) -> Result<()> {
        if let Some(extra) = self.0.first() {
            bail!("unexpected argument `{extra}`\n\n{USAGE}");
        }
        Ok(())
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("minispin: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let command = argv.remove(0);
    let mut args = Args(argv);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    };
    match command.as_str() {
        "up" => {
            let manifest = PathBuf::from(args.take("--manifest")?.unwrap_or("spin.toml".into()));
            let listen = args.take("--listen")?.unwrap_or("127.0.0.1:3000".into());
            let strict = args.flag("--strict");
            let mut options = minispin::Options {
                strict,
                ..minispin::Options::default()
            };
            if let Some(n) = args.take("--max-instance-reuse-count")? {
                options.reuse.max_requests = positive(&n, "--max-instance-reuse-count")?;
            }
            if let Some(n) = args.take("--max-instance-concurrent-reuse-count")? {
                options.reuse.max_concurrent =
                    positive(&n, "--max-instance-concurrent-reuse-count")?;
            }
            let mut drain = server::Drain::default();
            if let Some(v) = args.take("--drain-delay")? {
                drain.delay = seconds(&v, "--drain-delay")?;
            }
            if let Some(v) = args.take("--drain-timeout")? {
                drain.timeout = seconds(&v, "--drain-timeout")?;
            }
            drain.health_path = args.take("--drain-health-path")?;
            if let Some(v) = args.take("--read-timeout")? {
                options.read_timeout = seconds(&v, "--read-timeout")?;
            }
            options.tcp_nodelay = args.flag("--tcp-nodelay");
            let from_env = std::env::var("PG_MAX_CONNECTIONS").ok();
            if let Some(n) = args.take("--max-pg-connections")?.or(from_env) {
                options.max_pg_connections = Some(positive(&n, "--max-pg-connections")?);
            }
            if options.tcp_nodelay && options.strict {
                bail!(
                    "--tcp-nodelay makes the runner kinder than Spin, which --strict must not be; drop one of them"
                );
            }
            args.finish()?;
            runtime()?.block_on(up(manifest, listen, options, drain))
        }
        "migrate" => {
            let database = args
                .take("--database")?
                .context("migrate needs --database postgres://user:password@host/db")?;
            let ensure_login = match (
                args.take("--ensure-login")?,
                args.take("--ensure-login-file")?,
            ) {
                (Some(_), Some(_)) => bail!("give --ensure-login or --ensure-login-file, not both"),
                (Some(url), None) => Some(url),
                (None, Some(path)) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read --ensure-login-file {path}"))?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                (None, None) => None,
            };
            let options = migrate::Options {
                database,
                password_file: args.take("--password-file")?.map(PathBuf::from),
                dir: PathBuf::from(args.take("--dir")?.unwrap_or("sql".into())),
                ensure_login,
                wait: match args.take("--wait")? {
                    Some(v) => seconds(&v, "--wait")?,
                    None => std::time::Duration::ZERO,
                },
            };
            args.finish()?;
            runtime()?.block_on(migrate::run_with(&options))
        }
        "check" => {
            let url = args
                .0
                .first()
                .filter(|a| !a.starts_with("--"))
                .cloned()
                .context("check needs a URL, e.g. minispin check http://127.0.0.1/api/health")?;
            args.0.remove(0);
            let timeout = match args.take("--timeout")? {
                Some(v) => seconds(&v, "--timeout")?,
                None => std::time::Duration::from_secs(2),
            };
            args.finish()?;
            check::run(&url, timeout)
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn seconds(value: &str, flag: &str) -> Result<std::time::Duration> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(std::time::Duration::from_secs_f64(s)),
        _ => bail!("{flag} takes a number of seconds (0 or more), not `{value}`"),
    }
}

fn positive(value: &str, flag: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} takes a whole number of at least 1, not `{value}`"),
    }
}

/// Every connection is a file: lift the soft limit on open files to the
/// hard one (often 1024 against 500k+), so thousands of clients can be
/// served; says so when it moved.
fn open_files_as_allowed(log: &minispin::Log) {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    let (before, after) = unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 || l.rlim_cur >= l.rlim_max {
            return;
        }
        let before = l.rlim_cur;
        l.rlim_cur = l.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
            return;
        }
        (before, l.rlim_cur)
    };
    log(&format!("open files: up to {after} (was {before})"));
}

async fn up(
    manifest_path: PathBuf,
    listen: String,
    options: minispin::Options,
    drain: server::Drain,
) -> Result<()> {
    open_files_as_allowed(&options.log);
    let (manifest, app) = tokio::task::block_in_place(|| {
        minispin::load(&manifest_path, |k| std::env::var(k).ok(), &options)
    })?;
    if options.strict {
        (options.log)("strict: requests that would hang under some Spin releases fail");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {listen}: is another server using it? pick another with --listen"
            )
        })?;
    let addr = listener.local_addr()?;
    for t in &manifest.routes {
        (options.log)(&format!("  {} -> {}", t.route, t.component));
    }
    // Tests and scripts read this line to learn the port (with --listen :0).
    println!("minispin: serving http://{addr}");
    minispin::serve(Arc::new(app), listener, minispin::shutdown_signal(), drain).await
}
