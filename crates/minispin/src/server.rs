//! The HTTP front: accept connections, route each request to a component,
//! hand it to one of that component's instances (see `reuse`), answer.
//!
//! Stopping is graceful and, behind a load balancer, loses no request: on
//! SIGTERM or Ctrl-C the server first *drains* for [`Drain::delay`] (it keeps
//! serving, but answers its health path with 503, so load balancers stop
//! sending new requests here), then stops accepting, lets in-flight requests
//! finish (up to [`Drain::timeout`]) and returns.

use crate::app::App;
use crate::headers;
use crate::reuse::ServedBy;
use crate::routes::Route;
use anyhow::{Context, Result};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// How the server stops.
#[derive(Debug, Clone)]
pub struct Drain {
    /// After the stop signal, how long to keep serving while the health path
    /// answers 503. Longer than the load balancer's health-check interval
    /// plus its discovery interval, so it has stopped sending traffic here
    /// before the listener closes.
    pub delay: Duration,
    /// The path load balancers check (e.g. `/api/health`); `None`: none.
    pub health_path: Option<String>,
    /// How long in-flight requests may take once accepting has stopped.
    pub timeout: Duration,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            delay: Duration::ZERO,
            health_path: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What every request handler shares.
struct Front {
    app: Arc<App>,
    health_path: Option<String>,
    draining: AtomicBool,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains and
/// stops as `drain` says. The caller decides what a shutdown is: signals for
/// the binary (see [`shutdown_signal`]), a channel in tests.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    drain: Drain,
) -> Result<()> {
    let graceful = GracefulShutdown::new();
    let local = listener.local_addr()?;
    let shutting_down = app.shutting_down.clone();
    let front = Arc::new(Front {
        app,
        health_path: drain.health_path.clone(),
        draining: AtomicBool::new(false),
    });
    let mut shutdown = std::pin::pin!(shutdown);
    // Completes `drain.delay` after the stop signal; never before it.
    let mut stop_accepting = std::pin::pin!(async {
        (&mut shutdown).await;
        if !drain.delay.is_zero() {
            front.draining.store(true, Ordering::Relaxed);
            front.app.metrics.draining.set(1);
            tracing::info!(
                "draining: still serving for {:?}{}, then no longer accepting",
                drain.delay,
                match &drain.health_path {
                    Some(p) => format!(" with {p} answering 503"),
                    None => String::new(),
                }
            );
            tokio::time::sleep(drain.delay).await;
        }
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: keep serving
                        // the connections we have rather than exiting.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Spin leaves Nagle's algorithm on; so do we unless asked
                // (`Options::tcp_nodelay`), so a response written in pieces
                // stalls here as it would there.
                if front.app.tcp_nodelay {
                    let _ = stream.set_nodelay(true);
                }
                let read_timeout = front.app.read_timeout;
                let front = front.clone();
                let service = service_fn(move |req| {
                    let front = front.clone();
                    async move { Ok::<_, Infallible>(handle(&front, req, local, peer).await) }
                });
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    match conn.await {
                        Err(e) if e.is_timeout() => tracing::warn!(
                            %peer,
                            "closed the connection: its request headers did not arrive within {read_timeout:?}"
                        ),
                        Err(e) if !e.is_incomplete_message() => {
                            tracing::info!(%peer, "connection ended: {e}")
                        }
                        _ => {}
                    }
                });
            }
            _ = &mut stop_accepting => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no longer accepting, finishing in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all requests finished; bye"),
        _ = tokio::time::sleep(drain.timeout) => {
            tracing::warn!("gave up waiting for requests after {:?}", drain.timeout);
        }
    }
    shutting_down.store(true, Ordering::Relaxed);
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Response bodies: streamed from the guest, or a short text of our own.
type Body = UnsyncBoxBody<Bytes, anyhow::Error>;

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Where a request went: its component and the manifest's route, and the
/// instance that took it.
#[derive(Default)]
struct Served<'a> {
    route: Option<&'a Route>,
    by: ServedBy,
}

/// Answers one request, then counts it and logs its line: method, route,
/// status, duration, component, instance, and the request id a proxy in
/// front passed on (`X-Request-Id`).
async fn handle(
    front: &Front,
    req: Request<Incoming>,
    local: SocketAddr,
    peer: SocketAddr,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(128).collect::<String>());
    let mut served = Served::default();
    let res = dispatch(front, req, local, peer, &mut served).await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    let component = served
        .route
        .map(|r| front.app.components[r.component].name.as_str());
    let route = served.route.map_or("", |r| r.raw.as_str());
    front
        .app
        .metrics
        .request(component.unwrap_or(""), route, status, took);
    let instance = served.by.load(Ordering::Relaxed);
    tracing::info!(
        target: "minispin::request",
        method = %method,
        route,
        status,
        duration_ms = took.as_secs_f64() * 1000.0,
        component,
        instance = (instance > 0).then_some(instance),
        request_id,
        "{method} {route} {status}"
    );
    res
}

async fn dispatch<'a>(
    front: &'a Front,
    mut req: Request<Incoming>,
    local: SocketAddr,
    peer: SocketAddr,
    served: &mut Served<'a>,
) -> Response<Body> {
    let app = &*front.app;
    let path = req.uri().path().to_string();
    if front.draining.load(Ordering::Relaxed) && front.health_path.as_deref() == Some(&path) {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining: this host is shutting down; send requests to another one",
        );
    }
    let Some(found) = app.router.find(&path) else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let component = &app.components[found.route.component];
    served.route = Some(found.route);

    // Spin hands components an absolute URL and describes the routing in
    // `spin-*` headers; components may rely on both.
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_string());
    let full_url = headers::full_url(host, local, &path_and_query);
    match full_url.parse::<http::Uri>() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
    }
    for (name, value) in headers::spin_headers(&full_url, &found, peer) {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                req.headers_mut().insert(HeaderName::from_static(name), v);
            }
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
        }
    }

    match run(app, found.route.component, req, peer, served.by.clone()).await {
        Ok(res) => res,
        Err(e) => {
            // The details go to the operator's log, never to the client.
            tracing::error!(component = %component.name, %path, "the component failed: {e:#}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// Runs one request through an instance of the component (reused or new, as
/// the reuse policy allows). The body streams from the instance as the guest
/// writes it.
async fn run(
    app: &App,
    index: usize,
    req: Request<Incoming>,
    peer: SocketAddr,
    served_by: ServedBy,
) -> Result<Response<Body>> {
    let req = req.map(|body| {
        Deadline {
            inner: body,
            timer: Box::pin(tokio::time::sleep(app.read_timeout)),
            limit: app.read_timeout,
            peer,
            done: false,
        }
        .boxed_unsync()
    });
    let res = app.handlers[index]
        .handle(served_by, req)
        .await
        .map_err(anyhow::Error::from)
        .context("the component's instance failed")?;
    Ok(res.map(|body| body.map_err(anyhow::Error::from).boxed_unsync()))
}

/// A request body that must arrive in full within `limit` of the request's
/// start. Past it, the component reads an error (and answers as it answers
/// a broken body), the connection is closed, and the log says why.
struct Deadline {
    inner: Incoming,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    peer: SocketAddr,
    done: bool,
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Pending => {}
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            this.done = true;
            tracing::warn!(
                peer = %this.peer,
                "closing the connection: its request body did not arrive within {:?}",
                this.limit
            );
            return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
