//! `minispin`: a small Spin-compatible host, as a library with a thin binary
//! (`main.rs`, the command line), so its behaviour is tested in-process.
//!
//! It runs the same `spin.toml` and the same `.wasm` components that real Spin
//! runs (the README's "Minimum Spin" says which releases), for machines
//! where Spin cannot be installed. It knows
//! nothing of any particular app. What it provides, and nothing more:
//! HTTP triggers (`wasi:http/handler@0.3.0`), `spin:variables@3.0.0`, and
//! outbound Postgres (`spin:postgres@4.2.0`), plus the WASI 0.2/0.3 interfaces
//! Rust's std uses.
//!
//! Layout, one module per concern. What reads outside text before any
//! component runs lives in the small crate `minispin-config` (re-exported
//! here), which builds without wasmtime and is fuzzed (`fuzz/`):
//! - [`manifest`]: parse `spin.toml`, refusing features it does not implement;
//! - [`variables`]: resolve application variables (config); the variables host;
//! - [`routes`]: Spin's route matching; [`headers`]: the `spin-*` headers;
//! - [`outbound`]: the `allowed_outbound_hosts` policy;
//! - [`pg`]: the Postgres host (pools, interface, queries, conversions);
//! - [`app`]: load an app: compile and pre-instantiate its components;
//! - [`component`]: a loaded component and each instance's host state;
//! - [`cache`]: keep compiled components across starts;
//! - [`reuse`]: serve requests from reused instances, as Spin 4 does;
//! - [`server`]: the HTTP server and graceful shutdown (drain, then stop),
//!   and each request's log line and counts;
//! - [`metrics`]: what the host counts, rendered for Prometheus;
//! - [`scrape`]: serves those metrics on an address of its own;
//! - [`stdio`]: components' stdout and stderr as log lines with their name;
//! - [`migrate`]: apply numbered `.sql` files to a database;
//! - [`check`]: a health probe for containers that have no shell or curl.
//!
//! Nothing is global but the log: an [`App`] holds everything a server
//! needs (its metrics too), and [`serve`] stops when the future it is given
//! completes. The log is `tracing`'s: the binary installs a subscriber
//! (text or JSON, filtered by `RUST_LOG`), and tests install one per host.

pub mod app;
pub mod cache;
pub mod check;
pub mod component;
pub mod headers;
pub mod metrics;
pub mod migrate;
pub mod pg;
pub mod reuse;
pub mod scrape;
pub mod server;
pub mod stdio;
pub mod variables;

pub use minispin_config::{manifest, outbound, routes};

pub use app::{App, Options};
pub use reuse::ReusePolicy;
pub use server::{Drain, serve, shutdown_signal};

use anyhow::Result;
use std::path::Path;

/// Loads the app of the manifest at `manifest_path`: variables from `env`
/// (`SPIN_VARIABLE_<NAME>` and `..._FILE`, over the manifest's defaults),
/// every component compiled (or loaded from the cache) and linked. Blocking.
pub fn load(
    manifest_path: &Path,
    env: impl Fn(&str) -> Option<String>,
    options: &Options,
) -> Result<(manifest::Manifest, App)> {
    let manifest = manifest::Manifest::load(manifest_path)?;
    let vars = variables::AppVariables::resolve(&manifest, env)?;
    tracing::info!(
        "loading app `{}` ({} components)",
        manifest.name,
        manifest.components.len()
    );
    let app = App::load(&manifest, &vars, options)?;
    Ok((manifest, app))
}
