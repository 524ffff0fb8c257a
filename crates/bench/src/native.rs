//! The native baseline: the same chat domain (`chat::api`), the same SQL
//! function calls and the same kind of pool as the runner's Postgres host
//! (deadpool-postgres, 64 connections, unprepared statements), served by a
//! plain hyper server with no WebAssembly. What the runner costs is the
//! difference between the two.

use anyhow::{Context, Result};
use bytes::Bytes;
use chat::model::{Message, Room};
use chat::{Page, Store, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;

const COLS: &str = "id, room, author, body, client_id, sent_at";

struct NativeStore {
    pool: Pool,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn message(row: &tokio_postgres::Row) -> Message {
    Message {
        id: row.get("id"),
        room: row.get("room"),
        author: row.get("author"),
        body: row.get("body"),
        client_id: row.get("client_id"),
        sent_at: row.get("sent_at"),
    }
}

/// `Ok(None)` for the SQL functions' unknown-room error, as the component does.
fn room_scoped<T>(r: Result<T, tokio_postgres::Error>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(|c| c.code() == "P0002") => Ok(None),
        Err(e) => Err(StoreError::Failed(e.to_string())),
    }
}

impl Store for NativeStore {
    async fn list_rooms(&self) -> Result<Vec<Room>, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let rows = client
            .query(
                "SELECT id, title, last_message_id FROM chat.list_rooms()",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| Room {
                id: r.get(0),
                title: r.get(1),
                last_message_id: r.get(2),
            })
            .collect())
    }

    async fn create_room(&self, _id: &str, _title: &str) -> Result<Option<Room>, StoreError> {
        Err(StoreError::Failed("not part of the baseline".into()))
    }

    async fn messages(&self, room: &str, page: Page) -> Result<Option<Vec<Message>>, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let rows = match page {
            Page::Latest { limit } => {
                client
                    .query(
                        &format!("SELECT {COLS} FROM chat.get_latest_messages($1, $2)"),
                        &[&room, &limit],
                    )
                    .await
            }
            Page::After { after, limit } => {
                client
                    .query(
                        &format!("SELECT {COLS} FROM chat.get_messages_after($1, $2, $3)"),
                        &[&room, &after, &limit],
                    )
                    .await
            }
            Page::Before { before, limit } => {
                client
                    .query(
                        &format!("SELECT {COLS} FROM chat.get_messages_before($1, $2, $3)"),
                        &[&room, &before, &limit],
                    )
                    .await
            }
        };
        Ok(room_scoped(rows)?.map(|rows| rows.iter().map(message).collect()))
    }

    async fn send_message(
        &self,
        room: &str,
        author: &str,
        body: &str,
        client_id: &str,
    ) -> Result<Option<(Message, bool)>, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let rows = client
            .query(
                &format!("SELECT {COLS}, created FROM chat.send_message($1, $2, $3, $4)"),
                &[&room, &author, &body, &client_id],
            )
            .await;
        Ok(room_scoped(rows)?.and_then(|rows| {
            rows.first()
                .map(|r| (message(r), r.get::<_, bool>("created")))
        }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        client
            .query_one("SELECT chat.health()", &[])
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

struct Server {
    store: NativeStore,
    config: chat::api::Config,
}

async fn handle(server: &Server, req: Request<Incoming>) -> Response<Full<Bytes>> {
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
    };
    let path = parts.uri.path();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let reply = if path == "/api/session" {
        chat::api::session(&request, &server.config, now)
    } else if path == "/api/rooms" {
        chat::api::rooms(&request, &server.config, &server.store).await
    } else if path.starts_with("/api/rooms/") {
        chat::api::messages(&request, &server.config, now, &server.store).await
    } else if path == "/api/health" {
        chat::api::health(&server.store).await
    } else {
        chat::api::not_found(path)
    };
    let mut res = Response::new(Full::new(Bytes::from(reply.body)));
    *res.status_mut() = http::StatusCode::from_u16(reply.status).unwrap_or_default();
    for (name, value) in reply.headers {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
    res
}

/// `ostchat-bench native-server --listen ADDR --database URL --secret S`
pub async fn serve(listen: &str, database: &str, secret: &str) -> Result<()> {
    let config: tokio_postgres::Config = database.parse().context("database URL")?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Clean,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(64)
        .runtime(Runtime::Tokio1)
        .build()?;
    let server = Arc::new(Server {
        store: NativeStore { pool },
        config: chat::api::Config {
            session_secret: secret.as_bytes().to_vec(),
            admin_token: String::new(),
            session_ttl_secs: 86400,
        },
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("native: serving http://{}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => a?,
            _ = term.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(handle(&server, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
