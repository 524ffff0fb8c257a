//! What the host counts, for the operator who scales hosts: requests by
//! component, route and status; how long they took; instances alive and how
//! many requests each served; the Postgres pools (open, in use, waiting,
//! how long a request waited for a connection); whether the host is
//! draining. Rendered in the Prometheus (OpenMetrics) text format; served
//! by `scrape`, on a listen address of its own and never on the app's port:
//! the app's routes belong to the app, and metrics are for the operator's
//! network only.
//!
//! Counters and histograms are updated as requests run; the pool gauges
//! are read from the pools when scraped, so they are never stale.

use crate::pg::pool::PoolStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The Postgres pools at the moment of a scrape: each component's, and
/// the host's connections in use under its cap.
#[derive(Debug, Default)]
pub struct PoolSnapshot {
    pub components: Vec<(String, PoolStatus)>,
    pub cap_in_use: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub component: String,
    /// The manifest's route (`/api/rooms/...`), not the path: a bounded set.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub component: String,
}

type Histograms = Family<ComponentLabels, Histogram, fn() -> Histogram>;

/// Request latencies: 0.5 ms to about 16 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Requests one instance served in its life: 1 to 512.
fn per_instance() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 10))
}

/// The host's metrics (one set per [`App`]).
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub duration: Histograms,
    pub instances: Family<ComponentLabels, Gauge>,
    pub instances_started: Family<ComponentLabels, Counter>,
    pub instance_requests: Histograms,
    pub pg_wait: Histograms,
    pg_open: Family<ComponentLabels, Gauge>,
    pg_in_use: Family<ComponentLabels, Gauge>,
    pg_waiting: Family<ComponentLabels, Gauge>,
    pg_cap_in_use: Gauge,
    pub draining: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("minispin");
        let m = Metrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency),
            instances: Family::default(),
            instances_started: Family::default(),
            instance_requests: Family::new_with_constructor(per_instance),
            pg_wait: Family::new_with_constructor(latency),
            pg_open: Family::default(),
            pg_in_use: Family::default(),
            pg_waiting: Family::default(),
            pg_cap_in_use: Gauge::default(),
            draining: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "HTTP requests answered, by component, manifest route and status",
            m.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response head, by component",
            m.duration.clone(),
        );
        registry.register(
            "instances",
            "Component instances alive (each serves many requests, as under Spin 4)",
            m.instances.clone(),
        );
        registry.register(
            "instances_started",
            "Component instances started",
            m.instances_started.clone(),
        );
        registry.register(
            "instance_requests",
            "Requests an instance served before it retired",
            m.instance_requests.clone(),
        );
        registry.register(
            "pg_wait_seconds",
            "Time a Postgres open waited for a pooled connection (and the host-wide cap)",
            m.pg_wait.clone(),
        );
        registry.register(
            "pg_connections_open",
            "Postgres connections the component's pools hold",
            m.pg_open.clone(),
        );
        registry.register(
            "pg_connections_in_use",
            "Postgres connections lent to instances",
            m.pg_in_use.clone(),
        );
        registry.register(
            "pg_waiting",
            "Opens waiting for a pooled connection",
            m.pg_waiting.clone(),
        );
        registry.register(
            "pg_cap_in_use",
            "Connections counted against --max-pg-connections (0 without a cap)",
            m.pg_cap_in_use.clone(),
        );
        registry.register(
            "draining",
            "1 while the host drains before it stops (its health path answers 503)",
            m.draining.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn component(name: &str) -> ComponentLabels {
        ComponentLabels {
            component: name.to_string(),
        }
    }

    /// Counts one answered request.
    pub fn request(&self, component: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                component: component.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&Self::component(component))
            .observe(took.as_secs_f64());
    }

    /// The text a scrape gets, with the pool gauges set from `pools`
    /// (read by the caller at the moment of the scrape).
    pub fn render(&self, pools: &PoolSnapshot) -> String {
        for (name, status) in &pools.components {
            let labels = Self::component(name);
            self.pg_open.get_or_create(&labels).set(status.open as i64);
            self.pg_in_use
                .get_or_create(&labels)
                .set(status.in_use as i64);
            self.pg_waiting
                .get_or_create(&labels)
                .set(status.waiting as i64);
        }
        self.pg_cap_in_use.set(pools.cap_in_use as i64);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
