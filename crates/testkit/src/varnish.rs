//! A real Varnish on loopback in front of chat hosts, as the stack's cache
//! service puts it in front of every Spin host: started by the cache image's
//! own entrypoint (`deploy/cache/entrypoint.sh`) with the stack's VCL
//! (`deploy/cache/ostchat.vcl`), so the tests hold the shipped files, not a
//! copy.
//!
//! `varnishd` is Debian's `varnish` (the README's test command installs it;
//! `scripts/lib.sh`, `ensure_varnish`).

use crate::server::{Server, children_of, cpu_seconds, free_port};
use crate::workspace_root;
use anyhow::Context;
use std::process::Command;
use std::time::Duration;

/// A running cache; stopped (with its `varnishd`) on drop.
pub struct Cache {
    pub server: Server,
}

impl Cache {
    /// Starts the cache on a free loopback port in front of `hosts` (their
    /// `http://host:port`), and waits (60 s at most) until its health check
    /// answers 200: Varnish is up and has found a healthy host.
    pub fn start(hosts: &[&str]) -> anyhow::Result<Cache> {
        let backends: Vec<&str> = hosts
            .iter()
            .map(|h| h.trim_start_matches("http://").trim_end_matches('/'))
            .collect();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let entrypoint = workspace_root().join("deploy/cache/entrypoint.sh");
        // The entrypoint prints no address; announce it for `Server::start`.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("echo 'cache: serving {base}'; exec \"$0\""))
            .arg(&entrypoint)
            .env("CACHE_LISTEN", format!("127.0.0.1:{port}"))
            .env("CACHE_BACKENDS", backends.join(","))
            .env("CACHE_SIZE", "32M")
            .env("CACHE_RESOLVE_SECONDS", "1")
            .env("CACHE_DRAIN_DELAY", "0");
        let server = Server::start(cmd, "cache: serving ")
            .with_context(|| format!("starting the cache ({})", entrypoint.display()))?;
        let cache = Cache { server };
        crate::wait_for(
            "the cache's health check to answer 200",
            Duration::from_secs(60),
            || {
                let mut conn = crate::http1::Conn::open(&cache.server.base).ok()?;
                (conn.send("GET", "/cache/health", &[], b"").status == 200).then_some(())
            },
        )
        .with_context(|| format!("the cache's log:\n{}", cache.server.stderr()))?;
        Ok(cache)
    }

    pub fn base(&self) -> &str {
        &self.server.base
    }

    /// CPU seconds Varnish (its manager and worker processes) has used.
    pub fn cpu_seconds(&self) -> f64 {
        self.varnishd().into_iter().map(cpu_seconds).sum()
    }

    /// The `varnishd` processes under the entrypoint: the manager and its
    /// worker.
    fn varnishd(&self) -> Vec<u32> {
        let managers = children_of(self.server.pid());
        let workers = managers.iter().flat_map(|m| children_of(*m));
        managers.iter().copied().chain(workers).collect()
    }
}

impl Drop for Cache {
    /// Varnish runs under the entrypoint, which a kill would orphan it from:
    /// stop it first.
    fn drop(&mut self) {
        for pid in self.varnishd() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}
