//! The `minispin` command line; everything else is the library (`lib.rs`).

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use minispin::{check, migrate, server};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Run a Spin app's HTTP components (a small Spin-compatible host).
///
/// Variables come from SPIN_VARIABLE_<NAME> environment variables over the
/// manifest's defaults, as with `spin up`; SPIN_VARIABLE_<NAME>_FILE names a
/// file that holds the value (a Docker secret). Every option of `up` can
/// also be set by the environment variable shown with it.
#[derive(Parser)]
#[command(name = "minispin", version, propagate_version = true)]
struct Cli {
    /// How log lines are written: text (for a terminal) or json (one
    /// object per line, for a log collector; the images' default).
    #[arg(long, global = true, env = "MINISPIN_LOG_FORMAT", hide_env_values = true, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app of a manifest.
    ///
    /// On SIGTERM, keeps serving for --drain-delay while answering
    /// --drain-health-path with 503, then stops accepting and gives
    /// in-flight requests --drain-timeout to finish.
    Up(Up),
    /// Apply each NNNN_name.sql of a directory once, under a lock (safe to
    /// run several at once).
    Migrate(Migrate),
    /// Exit 0 when URL answers 2xx (a health probe for containers that have
    /// no shell or curl).
    Check {
        /// The URL to get, e.g. http://127.0.0.1/api/health.
        url: String,
        /// How long to wait for the answer, in seconds.
        #[arg(long, value_name = "SECS", default_value = "2", value_parser = seconds)]
        timeout: Duration,
    },
}

#[derive(Args)]
struct Up {
    /// The app's manifest.
    #[arg(
        long,
        env = "MINISPIN_MANIFEST",
        hide_env_values = true,
        value_name = "PATH",
        default_value = "spin.toml"
    )]
    manifest: PathBuf,
    /// The app's address (host:port; port 0 picks a free one).
    #[arg(
        long,
        env = "MINISPIN_LISTEN",
        hide_env_values = true,
        value_name = "ADDR",
        default_value = "127.0.0.1:3000"
    )]
    listen: String,
    /// Serve Prometheus metrics at http://ADDR/metrics, an address of its
    /// own (never the app's port). Off when not given.
    #[arg(
        long,
        env = "MINISPIN_METRICS_LISTEN",
        hide_env_values = true,
        value_name = "ADDR"
    )]
    metrics_listen: Option<String>,
    /// Fail requests that would hang under some real Spin releases (a
    /// synchronous postgres `query` with zero rows, spinframework/spin#3671)
    /// instead of only logging a warning once per component.
    #[arg(long, env = "MINISPIN_STRICT", hide_env_values = true)]
    strict: bool,
    /// Requests one instance serves before it retires (Spin 4's default).
    #[arg(long, env = "MINISPIN_MAX_INSTANCE_REUSE_COUNT", hide_env_values = true, value_name = "N", default_value = "128", value_parser = positive)]
    max_instance_reuse_count: usize,
    /// Requests one instance serves at once (Spin 4's default).
    #[arg(long, env = "MINISPIN_MAX_INSTANCE_CONCURRENT_REUSE_COUNT", hide_env_values = true, value_name = "N", default_value = "16", value_parser = positive)]
    max_instance_concurrent_reuse_count: usize,
    /// After SIGTERM, seconds to keep serving (health path answering 503)
    /// before no longer accepting.
    #[arg(long, env = "MINISPIN_DRAIN_DELAY", hide_env_values = true, value_name = "SECS", default_value = "0", value_parser = seconds)]
    drain_delay: Duration,
    /// The path load balancers check, answered with 503 while draining.
    #[arg(
        long,
        env = "MINISPIN_DRAIN_HEALTH_PATH",
        hide_env_values = true,
        value_name = "PATH"
    )]
    drain_health_path: Option<String>,
    /// Seconds in-flight requests get to finish once accepting has stopped.
    #[arg(long, env = "MINISPIN_DRAIN_TIMEOUT", hide_env_values = true, value_name = "SECS", default_value = "30", value_parser = seconds)]
    drain_timeout: Duration,
    /// Seconds a client has to send a request's headers, and then its whole
    /// body; past it the connection is closed, and the log says so.
    #[arg(long, env = "MINISPIN_READ_TIMEOUT", hide_env_values = true, value_name = "SECS", default_value = "30", value_parser = seconds)]
    read_timeout: Duration,
    /// Set TCP_NODELAY on accepted connections. Spin does not: a response
    /// that leaves in more than one write then waits about 40 ms for the
    /// client's delayed ACK, as it would under Spin. Not with --strict.
    #[arg(
        long,
        env = "MINISPIN_TCP_NODELAY",
        hide_env_values = true,
        conflicts_with = "strict"
    )]
    tcp_nodelay: bool,
    /// Postgres connections the host holds at once, all components together
    /// (Spin's `[outbound_pg] max_connections`; default: no cap, each
    /// component pooling up to 64 per address). Hosts that share a
    /// database must stay, together, under its connection limit.
    #[arg(long, env = "PG_MAX_CONNECTIONS", hide_env_values = true, value_name = "N", value_parser = positive)]
    max_pg_connections: Option<usize>,
}

#[derive(Args)]
struct Migrate {
    /// The database, as postgres://user:password@host/db.
    #[arg(long, value_name = "URL")]
    database: String,
    /// A file holding the password (a Docker secret), instead of the URL's.
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// The directory of NNNN_name.sql files.
    #[arg(long, value_name = "DIR", default_value = "sql")]
    dir: PathBuf,
    /// Let this URL's user log in with its password.
    #[arg(long, value_name = "URL", conflicts_with = "ensure_login_file")]
    ensure_login: Option<String>,
    /// As --ensure-login, with the URL in a file (a Docker secret).
    #[arg(long, value_name = "PATH")]
    ensure_login_file: Option<PathBuf>,
    /// Seconds to keep retrying the connection.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = seconds)]
    wait: Duration,
}

fn seconds(value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "takes a number of seconds (0 or more), not `{value}`"
        )),
    }
}

fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("takes a whole number of at least 1, not `{value}`")),
    }
}

fn main() {
    let cli = Cli::parse();
    init_log(cli.log_format);
    if let Err(e) = run(cli.command) {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
}

/// The host's log on stderr: RUST_LOG filters it (default `info`), in the
/// format asked for.
fn init_log(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

fn run(command: Command) -> Result<()> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    };
    match command {
        Command::Up(up) => {
            let options = minispin::Options {
                strict: up.strict,
                reuse: minispin::ReusePolicy {
                    max_requests: up.max_instance_reuse_count,
                    max_concurrent: up.max_instance_concurrent_reuse_count,
                    ..minispin::ReusePolicy::default()
                },
                read_timeout: up.read_timeout,
                tcp_nodelay: up.tcp_nodelay,
                max_pg_connections: up.max_pg_connections,
            };
            let drain = server::Drain {
                delay: up.drain_delay,
                health_path: up.drain_health_path.clone(),
                timeout: up.drain_timeout,
            };
            runtime()?.block_on(serve(up, options, drain))
        }
        Command::Migrate(m) => {
            let ensure_login = match m.ensure_login_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| {
                            format!("cannot read --ensure-login-file {}", path.display())
                        })?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                None => m.ensure_login,
            };
            let options = migrate::Options {
                database: m.database,
                password_file: m.password_file,
                dir: m.dir,
                ensure_login,
                wait: m.wait,
            };
            runtime()?.block_on(migrate::run_with(&options))
        }
        Command::Check { url, timeout } => check::run(&url, timeout),
    }
}

/// Every connection is a file: lift the soft limit on open files to the
/// hard one (often 1024 against 500k+), so thousands of clients can be
/// served; says so when it moved.
fn open_files_as_allowed() {
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
    tracing::info!("open files: up to {after} (was {before})");
}

async fn serve(up: Up, options: minispin::Options, drain: server::Drain) -> Result<()> {
    open_files_as_allowed();
    let (manifest, app) = tokio::task::block_in_place(|| {
        minispin::load(&up.manifest, |k| std::env::var(k).ok(), &options)
    })?;
    if options.strict {
        tracing::info!("strict: requests that would hang under some Spin releases fail");
    }
    let listener = tokio::net::TcpListener::bind(&up.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another server using it? pick another with --listen",
                up.listen
            )
        })?;
    let addr = listener.local_addr()?;
    for t in &manifest.routes {
        tracing::info!("route {} -> {}", t.route, t.component);
    }
    let app = Arc::new(app);
    if let Some(metrics) = &up.metrics_listen {
        let metrics = minispin::scrape::bind(metrics).await?;
        let at = metrics.local_addr()?;
        if at.port() == addr.port() && (at.ip() == addr.ip() || at.ip().is_unspecified()) {
            bail!(
                "--metrics-listen must differ from --listen: metrics are never on the app's port"
            );
        }
        tracing::info!("metrics at http://{at}/metrics");
        // Tests read this line to learn the metrics port (with :0).
        println!("minispin: metrics http://{at}/metrics");
        tokio::spawn(minispin::scrape::serve(app.clone(), metrics));
    }
    // Tests and scripts read this line to learn the port (with --listen :0).
    println!("minispin: serving http://{addr}");
    minispin::serve(app, listener, minispin::shutdown_signal(), drain).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_come_from_flags_and_bad_values_say_what_is_wanted() {
        let cli = Cli::try_parse_from(["minispin", "up", "--drain-delay", "1.5", "--strict"])
            .expect("parses");
        let Command::Up(up) = cli.command else {
            panic!("up")
        };
        assert_eq!(up.drain_delay, Duration::from_millis(1500));
        assert!(up.strict);
        assert_eq!(up.listen, "127.0.0.1:3000");
        let err = Cli::try_parse_from(["minispin", "up", "--max-pg-connections", "0"])
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = Cli::try_parse_from(["minispin", "up", "--strict", "--tcp-nodelay"])
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("cannot be used with"), "{err}");
    }
}
