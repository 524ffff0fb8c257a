//! The command line: settings with their defaults, and nothing else. An
//! argument it does not know is refused, so a typo (`--mesages`) cannot run
//! the defaults unnoticed.

use anyhow::{Result, bail};
use serde::Serialize;

pub const USAGE: &str = "\
ostchat-bench: throughput and latency of minispin vs a native baseline vs pgbench

USAGE:
    ostchat-bench [--messages N] [--clients N] [--duration SECS] [--warmup SECS]
                  [--post-rate PER_SEC] [--smoke] [--only runner|native]
                  [--runner-args ARGS]   (extra arguments for `minispin up`, one string)
                  [--manifest PATH]      (the app the runner serves; default spin.toml,
                                          e.g. another build of the components)
                  [--traefik PATH]       (Traefik binary: also measure through Traefik;
                                          default $OSTCHAT_TRAEFIK)
                  [--people N,N,...]     (only the chat as people use it, at each of these
                                          numbers of people, e.g. 1000,2000,3000,5000)
                  [--poll single|pair]   (how the simulated page polls: one GET /api/poll a
                                          second (default), or messages each second and the
                                          room list every four, as the page did before)
                  [--hosts N]            (with --people and --traefik: N runner processes
                                          behind Traefik, as in the stack; default 1)
                  [--replica HOST:PORT]  (the runner reads polls from this streaming replica
                                          of the benchmark's Postgres; its CPU is reported)
    ostchat-bench native-server --listen ADDR --database URL --secret S

Run from the workspace root after building (the README's test command builds
everything). Needs Postgres with the ostchat roles, and pgbench.";

#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub messages: u64,
    pub clients: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub post_rate: f64,
    pub smoke: bool,
    /// The manifest the runner serves (`None`: the workspace's spin.toml).
    pub manifest: Option<String>,
    /// Traefik's binary, for the steps through Traefik (`None`: skipped).
    pub traefik: Option<String>,
    /// Numbers of people for the chat steps at scale (empty: the standard
    /// run).
    pub people: Vec<usize>,
    pub poll_mode: crate::people::PollMode,
    /// Runner processes behind Traefik for the steps at scale.
    pub hosts: usize,
    /// A streaming replica (`host:port`) the runner reads polls from.
    pub replica: Option<String>,
    /// The port of the benchmark's Postgres, for its CPU figures (set from
    /// the database's address, not the command line).
    pub pg_port: Option<u16>,
}

/// What to do.
pub enum Command {
    Help,
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

/// `--name value` pairs and switches, each known name at most once.
struct Args {
    values: Vec<(String, String)>,
    switches: Vec<String>,
}

fn split(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Args> {
    let mut out = Args {
        values: Vec::new(),
        switches: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if with_value.contains(&a.as_str()) {
            let Some(v) = it.next() else {
                bail!("{a} needs a value\n\n{USAGE}");
            };
            out.values.push((a.clone(), v.clone()));
        } else if switches.contains(&a.as_str()) {
            out.switches.push(a.clone());
        } else {
            bail!("unknown argument `{a}`\n\n{USAGE}");
        }
    }
    Ok(out)
}

impl Args {
    fn get<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.values.iter().rev().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, v)) => match v.parse() {
                Ok(x) => Ok(Some(x)),
                Err(_) => bail!("bad value `{v}` for {name}\n\n{USAGE}"),
            },
        }
    }

    fn need(&self, name: &str) -> Result<String> {
        self.get(name)?
            .ok_or_else(|| anyhow::anyhow!("{name} is required\n\n{USAGE}"))
    }
}

pub fn parse(args: &[String]) -> Result<Command> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    if args.first().map(String::as_str) == Some("native-server") {
        let a = split(&args[1..], &["--listen", "--database", "--secret"], &[])?;
        return Ok(Command::NativeServer {
            listen: a.need("--listen")?,
            database: a.need("--database")?,
            secret: a.need("--secret")?,
        });
    }
    let a = split(
        args,
        &[
            "--messages",
            "--clients",
            "--duration",
            "--warmup",
            "--post-rate",
            "--only",
            "--runner-args",
            "--manifest",
            "--traefik",
            "--people",
            "--poll",
            "--hosts",
            "--replica",
        ],
        &["--smoke"],
    )?;
    let smoke = a.switches.iter().any(|s| s == "--smoke");
    let only: Option<String> = a.get("--only")?;
    if let Some(o) = &only
        && o != "runner"
        && o != "native"
    {
        bail!("--only takes runner or native, not `{o}`\n\n{USAGE}");
    }
    let settings = Settings {
        messages: a
            .get("--messages")?
            .unwrap_or(if smoke { 1_000 } else { 100_000 }),
        clients: a.get("--clients")?.unwrap_or(if smoke { 8 } else { 64 }),
        duration_s: a
            .get("--duration")?
            .unwrap_or(if smoke { 1.5 } else { 10.0 }),
        warmup_s: a.get("--warmup")?.unwrap_or(if smoke { 0.5 } else { 2.0 }),
        post_rate: a
            .get("--post-rate")?
            .unwrap_or(if smoke { 5.0 } else { 20.0 }),
        smoke,
        manifest: a.get("--manifest")?,
        traefik: a
            .get("--traefik")?
            .or_else(|| testkit::traefik::from_env().map(|p| p.display().to_string())),
        people: match a.get::<String>("--people")? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|n| match n.trim().parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => bail!("--people takes numbers above 0 separated by commas, e.g. 1000,3000, not `{list}`\n\n{USAGE}"),
                })
                .collect::<Result<_>>()?,
        },
        poll_mode: match a.get::<String>("--poll")? {
            None => crate::people::PollMode::Single,
            Some(m) => crate::people::PollMode::parse(&m).ok_or_else(|| {
                anyhow::anyhow!("--poll takes single or pair, not `{m}`\n\n{USAGE}")
            })?,
        },
        hosts: a.get("--hosts")?.unwrap_or(1),
        replica: a.get("--replica")?,
        pg_port: None,
    };
    if settings.clients == 0 || settings.duration_s <= 0.0 {
        bail!("--clients and --duration must be above 0\n\n{USAGE}");
    }
    if settings.hosts == 0
        || (settings.hosts > 1 && (settings.traefik.is_none() || settings.people.is_empty()))
    {
        bail!(
            "--hosts takes 1 or more, and more than 1 needs --people and --traefik (the hosts stand behind it)\n\n{USAGE}"
        );
    }
    Ok(Command::Run {
        settings,
        only,
        runner_args: a.get("--runner-args")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn unknown_arguments_are_refused() {
        let err = parse(&args("--mesages 10")).err().unwrap().to_string();
        assert!(err.contains("unknown argument `--mesages`"), "{err}");
        assert!(parse(&args("--clients")).is_err());
        assert!(parse(&args("--clients many")).is_err());
        assert!(parse(&args("--only both")).is_err());
        assert!(parse(&args("native-server --listen x --database y")).is_err());
        assert!(parse(&args("--people 100,x")).is_err());
        assert!(parse(&args("--people 0")).is_err());
        assert!(parse(&args("--poll both")).is_err());
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
        let Ok(Command::Run { settings, .. }) = parse(&[]) else {
            panic!("a run");
        };
        assert_eq!((settings.clients, settings.messages), (64, 100_000));
        let Ok(Command::Run { settings, .. }) = parse(&args("--people 1000,3000 --poll pair"))
        else {
            panic!("a run");
        };
        assert_eq!(settings.people, [1000, 3000]);
        assert_eq!(settings.poll_mode, crate::people::PollMode::Pair);
    }
}
