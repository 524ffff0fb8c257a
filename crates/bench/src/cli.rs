//! The command line (clap): settings with their defaults, and nothing
//! else. An argument it does not know is refused, so a typo (`--mesages`)
//! cannot run the defaults unnoticed.

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;

/// Throughput and latency of minispin against a native baseline and pgbench.
///
/// Run from the workspace root after building (the README's test command
/// builds everything). Needs Postgres with the ostchat roles, and pgbench.
#[derive(Parser, Debug)]
#[command(
    name = "ostchat-bench",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Messages stored before the run [default: 100000; 1000 with --smoke].
    #[arg(long, value_name = "N")]
    messages: Option<u64>,
    /// Concurrent clients of the closed loops, and people of the chat step
    /// [default: 64; 8 with --smoke].
    #[arg(long, value_name = "N")]
    clients: Option<usize>,
    /// Seconds per scenario [default: 10; 1.5 with --smoke].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Seconds of warm-up before each scenario [default: 2; 0.5 with --smoke].
    #[arg(long, value_name = "SECS")]
    warmup: Option<f64>,
    /// Posts a second in the chat steps [default: 20; 5 with --smoke].
    #[arg(long, value_name = "PER_SEC")]
    post_rate: Option<f64>,
    /// A second chat step where this share of the events are edits and
    /// removals (0: none) [default: 0.05; 0.25 with --smoke, so its short
    /// step has some].
    #[arg(long, value_name = "F")]
    edit_share: Option<f64>,
    /// A short run that checks every step works (CI runs it).
    #[arg(long)]
    smoke: bool,
    /// Only this target.
    #[arg(long, value_name = "TARGET", value_parser = ["runner", "native"])]
    only: Option<String>,
    /// Extra arguments for `minispin up`, as one string.
    #[arg(
        long,
        value_name = "ARGS",
        allow_hyphen_values = true,
        default_value = ""
    )]
    runner_args: String,
    /// The app the runner serves [default: spin.toml], e.g. another build
    /// of the components.
    #[arg(long, value_name = "PATH")]
    manifest: Option<String>,
    /// Traefik's binary: also measure through Traefik.
    #[arg(
        long,
        value_name = "PATH",
        env = "OSTCHAT_TRAEFIK",
        hide_env_values = true
    )]
    traefik: Option<String>,
    /// Only the chat as people use it, at each of these numbers of people,
    /// e.g. 1000,2000,3000,5000.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..))]
    people: Vec<u64>,
    /// How the simulated page polls: one GET /api/poll a second (single),
    /// or messages each second and the room list every four (pair, as the
    /// page did before).
    #[arg(long, value_name = "MODE", value_parser = ["single", "pair"], default_value = "single")]
    poll: String,
    /// With --people: how the people reach the runner, each number of
    /// people measured each way in turn: direct; through the shared cache
    /// (a real Varnish with the stack's VCL: cache); Traefik, then the
    /// cache, as in the stack (traefik-cache); Traefik alone (traefik).
    /// The ways through Traefik need its binary (--traefik).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "direct,cache,traefik-cache",
          value_parser = ["direct", "cache", "traefik-cache", "traefik"])]
    ways: Vec<String>,
    /// With --people: the rooms people and posts are spread over (the
    /// first N of the rooms; a fifth, `random`, is made for the benchmark).
    #[arg(long, value_name = "N", default_value = "5", value_parser = clap::value_parser!(u64).range(1..=5))]
    rooms: u64,
    /// With --people: measure this server, which the benchmark did not
    /// start (a real Spin host, say), instead of starting the runner. It
    /// must serve the chat's API on its own database: people log in
    /// through it, and its host CPU is not measured.
    #[arg(long, value_name = "http://HOST:PORT")]
    url: Option<String>,
    /// With --people: N runner processes behind the cache or Traefik, as in
    /// the stack.
    #[arg(long, value_name = "N", default_value = "1")]
    hosts: usize,
    /// The runner reads polls from this streaming replica of the
    /// benchmark's Postgres (HOST:PORT); its CPU is reported.
    #[arg(long, value_name = "HOST:PORT")]
    replica: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Serve the native baseline (the benchmark starts it itself).
    NativeServer {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        database: String,
        #[arg(long)]
        secret: String,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub messages: u64,
    pub clients: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub post_rate: f64,
    /// The share of edits and removals in the second chat step (0: no
    /// such step).
    pub edit_share: f64,
    pub smoke: bool,
    /// The manifest the runner serves (`None`: the workspace's spin.toml).
    pub manifest: Option<String>,
    /// Traefik's binary, for the steps through Traefik (`None`: skipped).
    pub traefik: Option<String>,
    /// Numbers of people for the chat steps at scale (empty: the standard
    /// run).
    pub people: Vec<usize>,
    pub poll_mode: crate::people::PollMode,
    /// How people reach the hosts in the steps at scale, each in turn.
    pub ways: Vec<String>,
    /// Rooms of the steps at scale.
    pub rooms: usize,
    /// A server to measure that the benchmark did not start.
    pub url: Option<String>,
    /// Runner processes behind the cache or Traefik for the steps at scale.
    pub hosts: usize,
    /// A streaming replica (`host:port`) the runner reads polls from.
    pub replica: Option<String>,
    /// The port of the benchmark's Postgres, for its CPU figures (set from
    /// the database's address, not the command line).
    pub pg_port: Option<u16>,
}

/// What to do.
pub enum Command {
    /// Serve the native baseline (started by the benchmark itself).
    NativeServer {
        listen: String,
        database: String,
        secret: String,
    },
    Run {
        settings: Settings,
        only: Option<String>,
        runner_args: String,
    },
}

/// What `cli` asks for, its values checked together.
pub fn command(cli: Cli) -> Result<Command> {
    if let Some(Sub::NativeServer {
        listen,
        database,
        secret,
    }) = cli.command
    {
        return Ok(Command::NativeServer {
            listen,
            database,
            secret,
        });
    }
    let smoke = cli.smoke;
    let pick = |given: Option<f64>, full: f64, short: f64| {
        given.unwrap_or(if smoke { short } else { full })
    };
    let settings = Settings {
        messages: cli.messages.unwrap_or(if smoke { 1_000 } else { 100_000 }),
        clients: cli.clients.unwrap_or(if smoke { 8 } else { 64 }),
        duration_s: pick(cli.duration, 10.0, 1.5),
        warmup_s: pick(cli.warmup, 2.0, 0.5),
        post_rate: pick(cli.post_rate, 20.0, 5.0),
        edit_share: pick(cli.edit_share, 0.05, 0.25),
        smoke,
        manifest: cli.manifest,
        traefik: cli.traefik,
        people: cli.people.iter().map(|&n| n as usize).collect(),
        poll_mode: crate::people::PollMode::parse(&cli.poll)
            .unwrap_or(crate::people::PollMode::Single),
        ways: cli.ways,
        rooms: cli.rooms as usize,
        url: cli.url.map(|u| u.trim_end_matches('/').to_string()),
        hosts: cli.hosts,
        replica: cli.replica,
        pg_port: None,
    };
    if !(0.0..=0.5).contains(&settings.edit_share) {
        bail!("--edit-share takes a share from 0 to 0.5, e.g. 0.05; see --help");
    }
    if settings.clients == 0 || settings.duration_s <= 0.0 {
        bail!("--clients and --duration must be above 0; see --help");
    }
    if settings.hosts == 0
        || (settings.hosts > 1
            && (settings.people.is_empty() || settings.ways.iter().any(|w| w == "direct")))
    {
        bail!(
            "--hosts takes 1 or more, and more than 1 needs --people and --ways without direct (the hosts stand behind the cache or Traefik); see --help"
        );
    }
    if settings.url.is_some() && settings.people.is_empty() {
        bail!(
            "--url measures the chat at scale: give --people too, e.g. --people 1000,3000; see --help"
        );
    }
    Ok(Command::Run {
        settings,
        only: cli.only,
        runner_args: cli.runner_args,
    })
}

/// Parses `args` (without the program's name), as `main` does.
#[cfg(test)]
pub fn parse(args: &[&str]) -> Result<Command> {
    let cli = Cli::try_parse_from(std::iter::once("ostchat-bench").chain(args.iter().copied()))?;
    command(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn unknown_arguments_and_bad_values_are_refused() {
        let err = parse(&args("--mesages 10")).err().unwrap().to_string();
        assert!(err.contains("--mesages"), "{err}");
        assert!(parse(&args("--clients")).is_err());
        assert!(parse(&args("--clients many")).is_err());
        assert!(parse(&args("--only both")).is_err());
        assert!(parse(&args("native-server --listen x --database y")).is_err());
        assert!(parse(&args("--people 100,x")).is_err());
        assert!(parse(&args("--people 0")).is_err());
        assert!(parse(&args("--poll both")).is_err());
        assert!(parse(&args("--edit-share 0.9")).is_err());
        assert!(parse(&args("--hosts 2")).is_err());
        assert!(
            parse(&args("--people 10 --hosts 2")).is_err(),
            "direct to one of two hosts"
        );
        assert!(parse(&args("--people 10 --ways cdn")).is_err());
        assert!(parse(&args("--people 10 --rooms 6")).is_err());
        assert!(
            parse(&args("--url http://127.0.0.1:3000")).is_err(),
            "--url needs --people"
        );
    }

    #[test]
    fn defaults_and_values() {
        let Ok(Command::Run { settings, only, .. }) = parse(&args("--smoke --clients 4")) else {
            panic!("a run");
        };
        assert_eq!(
            (settings.clients, settings.messages, only),
            (4, 1_000, None)
        );
        assert_eq!(settings.edit_share, 0.25);
        let Ok(Command::Run { settings, .. }) = parse(&[]) else {
            panic!("a run");
        };
        assert_eq!((settings.clients, settings.messages), (64, 100_000));
        assert_eq!(settings.edit_share, 0.05);
        let Ok(Command::Run { settings, .. }) = parse(&args("--people 1000,3000 --poll pair"))
        else {
            panic!("a run");
        };
        assert_eq!(settings.people, [1000, 3000]);
        assert_eq!(settings.poll_mode, crate::people::PollMode::Pair);
        assert_eq!(settings.ways, ["direct", "cache", "traefik-cache"]);
        assert_eq!(settings.rooms, 5);
        let Ok(Command::Run { settings, .. }) = parse(&args(
            "--people 10 --hosts 2 --ways cache,traefik-cache --url http://h:1/",
        )) else {
            panic!("a run");
        };
        assert_eq!(
            (settings.hosts, settings.url.as_deref()),
            (2, Some("http://h:1"))
        );
        let Ok(Command::Run { runner_args, .. }) =
            parse(&["--runner-args", "--max-instance-reuse-count 1"])
        else {
            panic!("a run");
        };
        assert_eq!(runner_args, "--max-instance-reuse-count 1");
        assert!(matches!(
            parse(&args("native-server --listen a --database b --secret c")),
            Ok(Command::NativeServer { .. })
        ));
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// The README shows the real help (`-h`).
    #[test]
    fn the_readme_shows_the_real_help() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        testkit::assert_readme_help("ostchat-bench", &help);
    }
}
