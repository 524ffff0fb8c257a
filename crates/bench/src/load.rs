//! Closed-loop load: N clients, each on its own keep-alive connection, send a
//! request, wait for the answer, send the next. Latencies are recorded per
//! request after the warm-up; nothing is dropped or sampled.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
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
            anyhow::Ok(out)
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        let out = t.await??;
        total.latencies_us.extend(out.latencies_us);
        total.errors += out.errors;
    }
    total.elapsed = duration;
    Ok(total)
}

/// The chat scenario's result: delivery latency from a POST's answer to the
/// moment every poller has seen the message.
pub struct ChatOutcome {
    pub polls: Outcome,
    pub delivery_ms: Vec<f64>,
    pub undelivered: usize,
    pub posted: usize,
}

/// What the chat scenario does.
pub struct ChatPlan {
    pub room: String,
    pub start_cursor: i64,
    pub pollers: usize,
    pub post_rate: f64,
    pub duration: Duration,
    pub token: Arc<str>,
    /// Makes this run's client ids unique.
    pub tag: String,
}

/// `pollers` clients poll `room` once a second each (phases spread evenly)
/// while one poster sends `post_rate` messages a second.
pub async fn chat(base: &str, plan: ChatPlan) -> Result<ChatOutcome> {
    let ChatPlan {
        room,
        start_cursor,
        pollers,
        post_rate,
        duration,
        token,
        tag,
    } = plan;
    let room = room.as_str();
    let stop_posting = Instant::now() + duration;
    // Pollers run a little longer so the last messages can reach everyone.
    let stop_polling = stop_posting + Duration::from_millis(2500);
    let mut poll_tasks = Vec::new();
    for p in 0..pollers {
        let base = base.to_string();
        let room = room.to_string();
        poll_tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&base).await?;
            let mut seen: HashMap<i64, Instant> = HashMap::new();
            let mut cursor = start_cursor;
            let mut out = Outcome::default();
            let phase = Duration::from_millis((1000 * p / pollers.max(1)) as u64);
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + phase,
                Duration::from_secs(1),
            );
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < stop_polling {
                tick.tick().await;
                let req = Req {
                    method: http::Method::GET,
                    path: format!("/api/rooms/{room}/messages?after={cursor}"),
                    body: None,
                    token: None,
                };
                let t0 = Instant::now();
                match conn.send(&req).await {
                    Ok((200, body)) => {
                        let now = Instant::now();
                        out.latencies_us.push(t0.elapsed().as_micros() as u32);
                        let v: serde_json::Value = serde_json::from_slice(&body)?;
                        for m in v["messages"].as_array().into_iter().flatten() {
                            if let Some(id) = m["id"].as_i64() {
                                seen.entry(id).or_insert(now);
                            }
                        }
                        cursor = v["cursor"].as_i64().unwrap_or(cursor);
                    }
                    _ => out.errors += 1,
                }
            }
            anyhow::Ok((seen, out))
        }));
    }
    // The poster: open loop at the given rate.
    let mut acked: Vec<(i64, Instant)> = Vec::new();
    let mut conn = Conn::open(base).await?;
    let interval = Duration::from_secs_f64(1.0 / post_rate.max(0.1));
    let mut tick = tokio::time::interval(interval);
    let mut seq = 0u64;
    while Instant::now() < stop_posting {
        tick.tick().await;
        seq += 1;
        let req = Req {
            method: http::Method::POST,
            path: format!("/api/rooms/{room}/messages"),
            body: Some(format!(
                r#"{{"body":"chat scenario message {seq}","client_id":"chat-{tag}-{seq}"}}"#
            )),
            token: Some(token.clone()),
        };
        let (status, body) = conn.send(&req).await?;
        if status != 201 {
            bail!("chat scenario: a POST answered {status}");
        }
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        let id = v["message"]["id"].as_i64().context("message id")?;
        acked.push((id, Instant::now()));
    }
    let mut polls = Outcome::default();
    let mut seen_by_all: Vec<HashMap<i64, Instant>> = Vec::new();
    for t in poll_tasks {
        let (seen, out) = t.await??;
        polls.latencies_us.extend(out.latencies_us);
        polls.errors += out.errors;
        seen_by_all.push(seen);
    }
    polls.elapsed = duration;
    let mut delivery_ms = Vec::new();
    let mut undelivered = 0;
    for (id, acked_at) in &acked {
        let last_seen = seen_by_all
            .iter()
            .map(|s| s.get(id))
            .collect::<Option<Vec<_>>>();
        match last_seen.and_then(|v| v.into_iter().max().copied()) {
            Some(at) => {
                delivery_ms.push(at.saturating_duration_since(*acked_at).as_secs_f64() * 1000.0)
            }
            None => undelivered += 1,
        }
    }
    Ok(ChatOutcome {
        polls,
        delivery_ms,
        undelivered,
        posted: acked.len(),
    })
}
