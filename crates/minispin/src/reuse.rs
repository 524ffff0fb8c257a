//! Serving requests from reused component instances, as Spin 4 does for
//! WASIp3 components: an instance takes up to `max_requests` requests in its
//! life, at most `max_concurrent` at a time, and is dropped after being idle
//! for `idle_timeout`. Instantiation, store set-up and teardown are then paid
//! once per many requests instead of once per request.
//!
//! The scheduling itself (queueing, starting and retiring workers) is
//! `wasmtime_wasi_http::handler::ProxyHandler`; this module supplies the
//! policy and how to make a new instance.

use crate::app::{LoadedComponent, Log, State};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    pub log: Log,
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
        let log = self.log.clone();
        let shutting_down = self.shutting_down.clone();
        async move {
            let mut store = component.new_store(&engine);
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
                    log,
                    shutting_down,
                },
            })
        }
    }
}

/// Per-instance acceptance policy.
pub struct Limits {
    policy: ReusePolicy,
    name: String,
    log: Log,
    shutting_down: Arc<AtomicBool>,
}

impl WorkerState for Limits {
    type StoreData = State;
    type RequestData = ();

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
        _store: StoreContextMut<'_, State>,
        _data: (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        // No request timeout, as in Spin's default configuration.
        Box::pin(std::future::pending())
    }

    fn drop(&self, _store: Store<State>, result: wasmtime::Result<()>) {
        if let Err(e) = result
            && !self.shutting_down.load(Ordering::Relaxed)
        {
            (self.log)(&format!("an instance of `{}` failed: {e:?}", self.name));
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
