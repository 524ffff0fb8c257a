//! The native baseline: the same chat domain (`chat::api`) over
//! `testkit::native::NativeStore` (the same SQL function calls and the same
//! kind of pool as the runner's Postgres host), served by a plain hyper
//! server with no WebAssembly. What the runner costs is the difference
//! between the two.

use anyhow::Result;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use testkit::native::NativeStore;

struct Server {
    store: NativeStore,
    config: chat::api::Config,
}

async fn handle(server: &Server, req: Request<Incoming>, peer: String) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, chat::model::MAX_BODY_BYTES + 1)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let request = chat::api::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: &body,
        client_addr: Some(&peer),
        forwarded_for: header("x-forwarded-for"),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let cx = chat::api::Context {
        cfg: &server.config,
        now_unix: now,
        random: Some(random()),
        component: None,
    };
    let reply = chat::api::handle(&request, &cx, &server.store).await;
    // As the components do: a server fault's cause goes to the log.
    if let Some(line) = reply.log_line() {
        eprintln!("native: {line}");
    }
    let mut res = Response::new(Full::new(Bytes::from(reply.body)));
    *res.status_mut() = http::StatusCode::from_u16(reply.status).unwrap_or_default();
    for (name, value) in reply.headers {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
    res
}

/// Bytes that differ for every session this server issues: enough for the
/// benchmark's own sessions (their ids only need to differ, not be secret).
fn random() -> [u8; 32] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    bytes[8..16].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
    bytes[16..24].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    bytes
}

/// `ostchat-bench native-server --listen ADDR --database URL --secret S`
pub async fn serve(listen: &str, database: &str, secret: &str) -> Result<()> {
    let store = NativeStore::connect(database)?;
    // Configured as the components are, through the chat's one loader:
    // the secret and the same limits as the runner's in the benchmark
    // (counted, never reached), every other value its default.
    let limit = testkit::db::UNREACHED_LIMIT;
    let (settings, warnings) = chat::config::load(|name| match name {
        "session_secret" => Some(secret.to_string()),
        "post_burst" | "session_burst" => Some(limit.burst.to_string()),
        "posts_per_minute" | "sessions_per_minute" => Some(limit.per_minute.to_string()),
        _ => None,
    });
    if let Some(w) = warnings.first() {
        anyhow::bail!("the native server's configuration: {w}; pass a valid --secret");
    }
    let server = Arc::new(Server {
        store,
        config: settings.api,
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("native: serving http://{}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => a?,
            _ = term.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let server = server.clone();
                let peer = peer.to_string();
                async move { Ok::<_, Infallible>(handle(&server, req, peer).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
