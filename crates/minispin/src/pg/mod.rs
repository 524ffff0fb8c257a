//! Outbound Postgres: the `spin:postgres/postgres@4.2.0` interface.
//!
//! Reproduces what Spin's host does, because a component that works here must
//! work under `spin up`:
//! - one connection pool per address (at most 64 connections), shared by all
//!   requests of all components; a connection returns to its pool when the
//!   guest drops the `connection` resource;
//! - TLS (native-tls, system roots) unless the address says `sslmode=disable`;
//! - statements go to the server unprepared-and-uncached, so parameter types
//!   are those the server infers, checked strictly (an `int32` does not bind to
//!   an `int8` column; a `datetime` binds only to `timestamp`);
//! - reading a `timestamptz` column fails with a conversion error, as in Spin;
//! - an empty result carries no column metadata (as before spin#3673);
//! - an address not allowed by the component's `allowed_outbound_hosts` fails
//!   with `connection-failed("address ... is not permitted")`;
//! - errors are reported where Spin reports them: an error before the first
//!   row (syntax, binding) is the call's structured `db-error`; an error met
//!   while rows are read (a RAISE in a function, a value that does not
//!   convert) comes as `query-error::text` from the synchronous `query`, and
//!   through the completion future of `query-async`.
//!
//! Where a real Spin is harsher than this runner can be, it says so: the
//! synchronous `query` never returns for zero rows on Spin releases without
//! spinframework/spin#3673 (it blocks the whole instance), so here such a
//! call logs a warning once per component, and in `--strict` mode traps the
//! instance (the request fails with 500) instead.

//!
//! Layout: [`pool`] keeps the pools (and the TLS set-up `migrate` shares);
//! [`host`] binds the interface to them; [`query`] runs statements and reports
//! their errors as Spin does; [`convert`] turns values into Postgres' and back.

// The interface's `error` carries Postgres' structured error fields, so it is
// large; its shape is fixed by the WIT, not ours to box.
#![allow(clippy::result_large_err)]

mod convert;
mod host;
pub mod pool;
mod query;

use crate::outbound::OutboundPolicy;
use bindings::spin::postgres::postgres::{self as pg, Error};
use pool::Pools;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasmtime::component::{HasData, Linker, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/spin-postgres.wit",
        world: "spin:postgres/host",
        imports: { default: async | trappable },
        with: {
            "spin:postgres/postgres.connection": super::Connection,
            "spin:postgres/postgres.connection-builder": super::ConnectionBuilder,
        },
    });
}

/// The host side of a `connection` resource: a pooled client. Dropping the
/// last `Arc` returns the client to its pool, and the permit (if the host
/// caps its connections) to the host.
pub struct Connection {
    client: Arc<deadpool_postgres::Object>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// The host side of a `connection-builder` resource.
pub struct ConnectionBuilder {
    address: String,
    ca_root: Option<String>,
}

/// What one store (one component instance) needs: the component's pools,
/// the host's cap on connections, the component's own allow list and how
/// to treat calls that hang under Spin.
#[derive(Clone)]
pub struct PgCtx {
    pub pools: Arc<Pools>,
    /// Connections the whole host may hold at once (`--max-pg-connections`;
    /// Spin's `[outbound_pg] max_connections`): a guest's open connection
    /// holds a permit until it drops it. `None`: no cap.
    pub permits: Option<Arc<tokio::sync::Semaphore>>,
    pub policy: Arc<OutboundPolicy>,
    pub compat: Arc<Compat>,
    /// How long opens wait for a connection (this component's series of
    /// `minispin_pg_wait_seconds`).
    pub wait: prometheus_client::metrics::histogram::Histogram,
}

/// The Spin bugs this runner cannot reproduce without hanging, per component.
pub struct Compat {
    component: String,
    strict: bool,
    warned: AtomicBool,
}

/// The upstream issue behind the zero-row check, named in every message.
const SPIN_3671: &str = "spinframework/spin#3671";

impl Compat {
    pub fn new(component: &str, strict: bool) -> Compat {
        Compat {
            component: component.to_string(),
            strict,
            warned: AtomicBool::new(false),
        }
    }

    /// A synchronous `query` returned zero rows. Strict: an error that traps
    /// the instance; otherwise a warning, logged once for the component.
    fn zero_rows_from_sync_query(&self) -> wasmtime::Result<()> {
        let what = format!(
            "component `{}` called the synchronous postgres `query` and got zero rows; \
             on Spin releases without spinframework/spin#3673 that call never returns and \
             blocks every request of the instance ({SPIN_3671})",
            self.component
        );
        if self.strict {
            // The trap ends the instance; its failure, with this text, is
            // logged where every failed instance is.
            return Err(wasmtime::Error::msg(format!(
                "{what}: use `query-async` (spin_sdk::pg::Connection::query) instead"
            )));
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                component = %self.component,
                "{what}; use `query-async` (spin_sdk::pg::Connection::query) \
                 instead (logged once per component; `minispin up --strict` fails such requests)"
            );
        }
        Ok(())
    }
}

impl PgCtx {
    /// `connection-failed("address ... is not permitted")` unless every host
    /// of `address` is in the component's `allowed_outbound_hosts`.
    fn check_allowed(&self, address: &str) -> Result<(), Error> {
        let denied = || Error::ConnectionFailed(format!("address {address} is not permitted"));
        let config: tokio_postgres::Config = address
            .parse()
            .map_err(|e| Error::ConnectionFailed(format!("invalid address: {e}")))?;
        let ports = config.get_ports();
        let hosts = config.get_hosts();
        if hosts.is_empty() {
            return Err(denied());
        }
        for (i, host) in hosts.iter().enumerate() {
            let tokio_postgres::config::Host::Tcp(name) = host else {
                return Err(denied());
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            if !self.policy.allows("postgres", name, port) {
                return Err(denied());
            }
        }
        Ok(())
    }

    /// A pooled connection to `address`, if this component may reach it
    /// (and, with a cap, once the host has a connection to spare: waiting at
    /// most as long as for a pooled one).
    async fn open(&self, address: &str, ca_root: Option<&str>) -> Result<Connection, Error> {
        self.check_allowed(address)?;
        let started = std::time::Instant::now();
        let permit = match &self.permits {
            Some(permits) => Some(
                tokio::time::timeout(pool::POOL_TIMEOUT, permits.clone().acquire_owned())
                    .await
                    .map_err(|_| {
                        Error::ConnectionFailed(format!(
                            "all {} of this host's Postgres connections are in use (--max-pg-connections); timed out waiting for one",
                            pool::POOL_TIMEOUT.as_secs()
                        ))
                    })?
                    .map_err(|_| Error::ConnectionFailed("the host is shutting down".into()))?,
            ),
            None => None,
        };
        let pool = self.pools.get_or_create(address, ca_root)?;
        let client = pool
            .get()
            .await
            .map_err(|e| Error::ConnectionFailed(format!("{e}")))?;
        self.wait.observe(started.elapsed().as_secs_f64());
        Ok(Connection {
            client: Arc::new(client),
            _permit: permit,
        })
    }
}

/// The borrowed view the generated traits are implemented on.
pub struct PgView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a PgCtx,
}

/// Marker that ties the bindings to [`PgView`].
pub struct PgHost;

impl HasData for PgHost {
    type Data<'a> = PgView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> PgView<'_>,
) -> wasmtime::Result<()> {
    pg::add_to_linker::<T, PgHost>(linker, get)
}
