//! Connection pools, one per address (and custom CA root) for each
//! component, as Spin's host keeps them (a client factory per component);
//! and the TLS set-up the pools and
//! `minispin migrate` share (native-tls with the system's roots, unless the
//! address says `sslmode=disable`).

use super::bindings::spin::postgres::postgres::Error;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use postgres_native_tls::MakeTlsConnector;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Spin's per-address pool size.
const MAX_POOL_SIZE: usize = 64;
/// How long a request waits for a pooled connection or a new one before the
/// component sees `connection-failed` (and can answer 503) instead of hanging.
pub const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// The TLS connector for connections that use TLS: the system's roots, plus
/// `ca_root` (PEM) when given.
pub fn tls(ca_root: Option<&str>) -> anyhow::Result<MakeTlsConnector> {
    use anyhow::Context;
    let mut tls = native_tls::TlsConnector::builder();
    if let Some(pem) = ca_root {
        let cert = native_tls::Certificate::from_pem(pem.as_bytes()).context("invalid CA root")?;
        tls.add_root_certificate(cert);
    }
    let tls = tls.build().context("TLS setup failed")?;
    Ok(MakeTlsConnector::new(tls))
}

/// One component's pools, keyed by address (and custom CA root), shared by
/// its instances.
#[derive(Default)]
pub struct Pools {
    pools: Mutex<HashMap<(String, Option<String>), Pool>>,
}

/// One component's pools, summed (for the metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub open: usize,
    pub in_use: usize,
    pub waiting: usize,
}

impl Pools {
    /// How many connections the pools hold, lend and are waited for.
    pub fn status(&self) -> PoolStatus {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.values().fold(PoolStatus::default(), |mut sum, pool| {
            let s = pool.status();
            sum.open += s.size;
            sum.in_use += s.size.saturating_sub(s.available);
            sum.waiting += s.waiting;
            sum
        })
    }

    pub(super) fn get_or_create(
        &self,
        address: &str,
        ca_root: Option<&str>,
    ) -> Result<Pool, Error> {
        let key = (address.to_string(), ca_root.map(str::to_string));
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(&key) {
            return Ok(pool.clone());
        }
        let config: tokio_postgres::Config = address
            .parse()
            .map_err(|e| Error::ConnectionFailed(format!("invalid address: {e}")))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Clean,
        };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            // The interface carries text: the error and its causes, on one line.
            let tls = tls(ca_root).map_err(|e| Error::ConnectionFailed(format!("{e:#}")))?;
            Manager::from_config(config, tls, manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(MAX_POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| Error::ConnectionFailed(format!("cannot build pool: {e}")))?;
        pools.insert(key, pool.clone());
        Ok(pool)
    }
}
