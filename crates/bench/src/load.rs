//! Closed-loop load: N clients, each on its own keep-alive connection, send a
//! request, wait for the answer, send the next. Latencies are recorded per
//! request after the warm-up; nothing is dropped or sampled.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to make; built per request so ids and cursors can vary.
pub struct Req {
    pub method: http::Method,
    pub path: String,
    pub body: Option<String>,
    pub token: Option<Arc<str>>,
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn open(base: &str) -> Result<Conn> {
        let host = base.trim_start_matches("http://").to_string();
        let stream = tokio::net::TcpStream::connect(&host)
            .await
            .with_context(|| format!("connect to {host}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { sender, host })
    }

    /// Sends one request; returns the status and the body.
    pub async fn send(&mut self, req: &Req) -> Result<(u16, Bytes)> {
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(&req.path)
            .header("host", &self.host);
        if let Some(t) = &req.token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let body = match &req.body {
            Some(b) => {
                builder = builder.header("content-type", "application/json");
                Full::new(Bytes::from(b.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await?;
        let res = self.sender.send_request(builder.body(body)?).await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

#[derive(Default)]
pub struct Outcome {
    /// Latencies in microseconds of the measured requests.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub elapsed: Duration,
}

/// Runs `clients` closed loops for `warmup + duration`; `make(client, seq)`
/// builds each request.
pub async fn closed_loop(
    base: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    make: Arc<dyn Fn(usize, u64) -> Req + Send + Sync>,
) -> Result<Outcome> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let base = base.to_string();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&base).await?;
            let mut out = Outcome::default();
            let mut seq = 0u64;
            let mut last_done = measure_from;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let req = make(client, seq);
                seq += 1;
                let t0 = Instant::now();
                let result = conn.send(&req).await;
                let took = t0.elapsed();
                if t0 < measure_from {
                    continue;
                }
                last_done = Instant::now();
                match result {
                    Ok((status, _)) if status < 300 => out
                        .latencies_us
                        .push(took.as_micros().min(u32::MAX as u128) as u32),
                    Ok(_) => out.errors += 1,
                    Err(_) => {
                        out.errors += 1;
                        conn = Conn::open(&base).await?;
                    }
                }
            }
            out.elapsed = last_done.saturating_duration_since(measure_from);
            anyhow::Ok(out)
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        let out = t.await??;
        total.latencies_us.extend(out.latencies_us);
        total.errors += out.errors;
        // The window as it was: until the last measured request ended
        // (requests started before the end may finish after it).
        total.elapsed = total.elapsed.max(out.elapsed);
    }
    if total.elapsed.is_zero() {
        total.elapsed = duration;
    }
    Ok(total)
}

/// Each room with its newest message id.
pub async fn room_cursors(base: &str) -> Result<Vec<(String, i64)>> {
    let mut conn = Conn::open(base).await?;
    let (status, body) = conn
        .send(&Req {
            method: http::Method::GET,
            path: "/api/rooms".into(),
            body: None,
            token: None,
        })
        .await?;
    if status != 200 {
        anyhow::bail!("GET /api/rooms answered {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(v["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["last_message_id"].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

/// `room`'s newest message id in a list from [`room_cursors`].
pub fn newest_of(cursors: &[(String, i64)], room: &str) -> Result<i64> {
    cursors
        .iter()
        .find(|(id, _)| id == room)
        .map(|(_, newest)| *newest)
        .with_context(|| format!("room {room} is not in the room list"))
}
