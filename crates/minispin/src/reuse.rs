//! Serving requests from reused component instances, as Spin 4 does for
//! WASIp3 components: an instance takes up to `max_requests` requests in its
//! life, at most `max_concurrent` at a time, and is dropped after being idle
//! for `idle_timeout`. Instantiation, store set-up and teardown are then paid
//! once per many requests instead of once per request.
//!
//! The scheduling itself (queueing, starting and retiring workers) is
//! `wasmtime_wasi_http::handler::ProxyHandler`; this module supplies the
//! policy and how to make a new instance.

use crate::component::{LoadedComponent, State};
use crate::metrics::Metrics;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, Proxy, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};

/// How instances are reused. `max_requests = 1` gives a fresh instance per
/// request.
#[derive(Debug, Clone, Copy)]
pub struct ReusePolicy {
    pub max_requests: usize,
    pub max_concurrent: usize,
    pub idle_timeout: Duration,
}

impl Default for ReusePolicy {
    /// Spin 4's defaults for WASIp3 components.
    fn default() -> Self {
        ReusePolicy {
            max_requests: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

/// Makes instances of one component.
pub struct ComponentHandler {
    pub engine: Engine,
    pub component: Arc<LoadedComponent>,
    pub policy: ReusePolicy,
    pub metrics: Arc<Metrics>,
    /// Set once the server has drained (see `App::shutting_down`).
    pub shutting_down: Arc<AtomicBool>,
}

impl HandlerState for ComponentHandler {
    type StoreData = State;
    type WorkerExpiration = IdleExpiry;
    type WorkerState = Limits;

    fn instantiate(
        &self,
    ) -> impl Future<Output = wasmtime::Result<Instance<State, IdleExpiry, Limits>>> + Send {
        let engine = self.engine.clone();
        let component = self.component.clone();
        let policy = self.policy;
        let metrics = self.metrics.clone();
        let shutting_down = self.shutting_down.clone();
        async move {
            let mut store = component.new_store(&engine);
            let instance = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
            store.data_mut().instance = instance;
            let service = component.pre().instantiate_async(&mut store).await?;
            Ok(Instance {
                store,
                proxy: Proxy::P3(service),
                view: |state: &mut State| state.http(),
                expiration: IdleExpiry {
                    idle_timeout: policy.idle_timeout,
                    timer: None,
                },
                state: Limits {
                    policy,
                    name: component.name.clone(),
                    served: AtomicU64::new(0),
                    metrics: alive(&metrics, &component.name),
                    shutting_down,
                },
            })
        }
    }
}

/// Instance numbers, unique in the process (they name instances in the
/// request log).
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Counts a new instance alive; the metrics it retires into.
fn alive(metrics: &Arc<Metrics>, component: &str) -> Arc<Metrics> {
    let labels = Metrics::component(component);
    metrics.instances.get_or_create(&labels).inc();
    metrics.instances_started.get_or_create(&labels).inc();
    metrics.clone()
}

/// Which instance served a request: set when the instance takes it, read
/// by the server for the request's log line (0: none took it).
pub type ServedBy = Arc<AtomicU64>;

/// Per-instance acceptance policy, and its counts.
pub struct Limits {
    policy: ReusePolicy,
    name: String,
    /// Requests this instance took.
    served: AtomicU64,
    metrics: Arc<Metrics>,
    shutting_down: Arc<AtomicBool>,
}

impl WorkerState for Limits {
    type StoreData = State;
    type RequestData = ServedBy;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.policy.max_requests {
            ShouldAccept::Never
        } else if concurrent >= self.policy.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        store: StoreContextMut<'_, State>,
        served_by: ServedBy,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        served_by.store(store.data().instance, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
        // No request timeout, as in Spin's default configuration.
        Box::pin(std::future::pending())
    }

    fn drop(&self, store: Store<State>, result: wasmtime::Result<()>) {
        let labels = Metrics::component(&self.name);
        self.metrics.instances.get_or_create(&labels).dec();
        self.metrics
            .instance_requests
            .get_or_create(&labels)
            .observe(self.served.load(Ordering::Relaxed) as f64);
        if let Err(e) = result
            && !self.shutting_down.load(Ordering::Relaxed)
        {
            tracing::error!(
                component = %self.name,
                instance = store.data().instance,
                "an instance failed: {e:?}"
            );
        }
    }
}

/// Retires an instance once it has been idle for `idle_timeout`.
pub struct IdleExpiry {
    idle_timeout: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WorkerExpiration for IdleExpiry {
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        since: Instant,
    ) -> Poll<()> {
        let this = self.get_mut();
        if status != WorkerStatus::Idle {
            this.timer = None;
            return Poll::Pending;
        }
        let deadline = tokio::time::Instant::from_std(since + this.idle_timeout);
        let timer = match &mut this.timer {
            Some(t) if t.deadline() == deadline => t,
            slot => slot.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        timer.as_mut().poll(cx)
    }
}
