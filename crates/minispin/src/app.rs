//! Loading an app: manifest -> variables -> compiled, pre-instantiated components.
//!
//! All of the expensive and fallible work happens here, once, before the
//! server accepts a connection: each `source` is compiled once and linked once
//! (`ServicePre`), so a request only pays for instantiation.

use crate::component::{LoadedComponent, linker};
use crate::manifest::Manifest;
use crate::metrics::Metrics;
use crate::outbound::{AllowedHost, OutboundPolicy};
use crate::pg::pool::Pools;
use crate::pg::{Compat, PgCtx};
use crate::reuse::{ComponentHandler, ReusePolicy};
use crate::routes::Router;
use crate::variables::AppVariables;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::handler::ProxyHandler;
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// How an app is hosted, beyond its manifest.
#[derive(Clone)]
pub struct Options {
    pub reuse: ReusePolicy,
    /// Fail requests that would hang under some real Spin releases instead
    /// of only warning (see `pg`).
    pub strict: bool,
    /// How long a client has to send a request's headers, and then its
    /// whole body; past it the connection is closed (a slow sender cannot
    /// hold a connection and an instance forever).
    pub read_timeout: Duration,
    /// Set `TCP_NODELAY` on accepted connections. Off by default, as in
    /// Spin, whose HTTP server does not set it: a response that leaves in
    /// more than one write then waits for the client's delayed ACK (about
    /// 40 ms on Linux) before its last write, and the runner must show that
    /// as Spin would.
    pub tcp_nodelay: bool,
    /// Postgres connections the whole host may hold open at once (each
    /// component's pool per address holds up to 64, as Spin's); `None`: no
    /// cap, as Spin without `[outbound_pg] max_connections` in its runtime
    /// config.
    pub max_pg_connections: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reuse: ReusePolicy::default(),
            strict: false,
            read_timeout: Duration::from_secs(30),
            tcp_nodelay: false,
            max_pg_connections: None,
        }
    }
}

/// A loaded app: the components, their instance schedulers and the routes.
pub struct App {
    pub components: Vec<Arc<LoadedComponent>>,
    /// One per component, same index: hands requests to (reused) instances.
    pub handlers: Vec<ProxyHandler<ComponentHandler>>,
    pub router: Router,
    /// What the host counts (served by `scrape::serve`).
    pub metrics: Arc<Metrics>,
    /// The host-wide cap on Postgres connections, if any, and its size.
    pg_cap: Option<(Arc<tokio::sync::Semaphore>, usize)>,
    /// See [`Options::read_timeout`].
    pub read_timeout: Duration,
    /// See [`Options::tcp_nodelay`].
    pub tcp_nodelay: bool,
    /// Set once the server has drained: instances still alive then are
    /// dropped with the runtime, which is not a failure worth logging.
    pub shutting_down: Arc<AtomicBool>,
}

pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("cannot create the WebAssembly engine")
}

impl App {
    /// Compiles (or loads from the cache), links and pre-instantiates every
    /// component of the manifest.
    pub fn load(manifest: &Manifest, vars: &AppVariables, options: &Options) -> Result<App> {
        let engine = engine()?;
        let linker = linker(&engine)?;
        let cache = crate::cache::Cache::open(&engine);
        let permits = options
            .max_pg_connections
            .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
        let metrics = Arc::new(Metrics::default());
        let mut components = Vec::new();
        let mut index = BTreeMap::new();
        for (name, decl) in &manifest.components {
            let path = manifest.base_dir.join(&decl.source);
            let started = Instant::now();
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "component `{name}`: cannot read {}; build the components first (`spin build`, or the README's build command)",
                    path.display()
                )
            })?;
            let component = match &cache {
                Some(cache) => cache.load(&engine, &path, &bytes),
                None => wasmtime::component::Component::new(&engine, &bytes),
            }
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "component `{name}`: {} is not a valid component",
                    path.display()
                )
            })?;
            let instance_pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!(
                        "component `{name}` imports an interface this runner does not provide \
                         (it provides WASI, wasi:http 0.3, spin:postgres 4.2 and spin:variables 3)"
                    )
                })?;
            let pre = ServicePre::new(instance_pre)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component `{name}` does not export wasi:http/handler@0.3.0 (build it with spin-sdk 7)")
                })?;
            let hosts = decl
                .allowed_outbound_hosts
                .iter()
                .map(|entry| AllowedHost::parse(&vars.render(entry)?))
                .collect::<Result<Vec<_>>>()
                .with_context(|| format!("component `{name}`: allowed_outbound_hosts"))?;
            let resolved = vars
                .for_component(&decl.variables)
                .with_context(|| format!("component `{name}`"))?;
            tracing::info!(
                component = %name,
                "loaded from {} in {:.1?}",
                decl.source.display(),
                started.elapsed()
            );
            index.insert(name.clone(), components.len());
            components.push(Arc::new(LoadedComponent {
                name: name.clone(),
                output_name: name.as_str().into(),
                pre,
                pg: PgCtx {
                    // A pool per component (and address), as Spin keeps
                    // them: a host can hold this many connections per
                    // component that uses Postgres.
                    pools: Arc::new(Pools::default()),
                    permits: permits.clone(),
                    policy: Arc::new(OutboundPolicy::new(hosts)),
                    compat: Arc::new(Compat::new(name, options.strict)),
                    wait: metrics
                        .pg_wait
                        .get_or_create_owned(&Metrics::component(name)),
                },
                vars: Arc::new(resolved),
                environment: decl
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }));
        }
        let router = Router::new(
            manifest
                .routes
                .iter()
                .map(|t| (t.route.clone(), index[&t.component])),
        )?;
        let shutting_down = Arc::new(AtomicBool::new(false));
        let handlers = components
            .iter()
            .map(|component| {
                ProxyHandler::new(ComponentHandler {
                    engine: engine.clone(),
                    component: component.clone(),
                    policy: options.reuse,
                    metrics: metrics.clone(),
                    shutting_down: shutting_down.clone(),
                })
            })
            .collect();
        Ok(App {
            components,
            handlers,
            router,
            metrics,
            pg_cap: permits.zip(options.max_pg_connections),
            read_timeout: options.read_timeout,
            tcp_nodelay: options.tcp_nodelay,
            shutting_down,
        })
    }
}

impl App {
    /// Connections counted against the host-wide cap now (0 without one).
    /// Every component's Postgres pools and the connections in use under
    /// the host's cap, now (for a metrics scrape).
    pub fn pool_snapshot(&self) -> crate::metrics::PoolSnapshot {
        crate::metrics::PoolSnapshot {
            components: self
                .components
                .iter()
                .map(|c| (c.name.clone(), c.pool_status()))
                .collect(),
            cap_in_use: self.pg_cap_in_use(),
        }
    }

    pub fn pg_cap_in_use(&self) -> usize {
        self.pg_cap.as_ref().map_or(0, |(permits, size)| {
            size.saturating_sub(permits.available_permits())
        })
    }
}
