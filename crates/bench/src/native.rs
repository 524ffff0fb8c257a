//! The native baseline: the same chat domain (`chat::api`), the same SQL
//! function calls and the same kind of pool as the runner's Postgres host
//! (deadpool-postgres, 64 connections, unprepared statements), served by a
//! plain hyper server with no WebAssembly. What the runner costs is the
//! difference between the two.

use anyhow::{Context, Result};
use bytes::Bytes;
use chat::model::{Message, Room};
use chat::sql::{self, Failure, Param, Statement, Value};
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
use tokio_postgres::types::{ToSql, Type};

struct NativeStore {
    pool: Pool,
}

/// A tokio-postgres row, read by position as the component reads Spin's.
struct NativeRow(tokio_postgres::Row);

impl sql::Row for NativeRow {
    fn value(&self, column: usize) -> Value<'_> {
        let row = &self.0;
        let Some(c) = row.columns().get(column) else {
            return Value::Other;
        };
        let value = match *c.type_() {
            Type::INT8 => row
                .try_get::<_, Option<i64>>(column)
                .map(|v| v.map(Value::Int)),
            Type::TEXT => row
                .try_get::<_, Option<&str>>(column)
                .map(|v| v.map(Value::Text)),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(column)
                .map(|v| v.map(Value::Bool)),
            _ => return Value::Other,
        };
        value.map_or(Value::Other, |v| v.unwrap_or(Value::Null))
    }
}

fn failed(e: tokio_postgres::Error) -> StoreError {
    let text = e.to_string();
    match e.code() {
        Some(code) => sql::classify(Failure::Db {
            code: code.code(),
            text: &text,
        }),
        None => sql::classify(Failure::Text(&text)),
    }
}

impl NativeStore {
    async fn run(&self, statement: Statement<'_>) -> Result<Vec<NativeRow>, StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| sql::classify(Failure::Connect(&e.to_string())))?;
        let params: Vec<Box<dyn ToSql + Sync + Send>> = statement
            .params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match *p {
                    Param::Text(s) => Box::new(s.to_string()),
                    Param::Int(i) => Box::new(i),
                    Param::Null => Box::new(None::<i64>),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
        let rows = client.query(statement.sql, &refs).await.map_err(failed)?;
        Ok(rows.into_iter().map(NativeRow).collect())
    }
}

impl Store for NativeStore {
    async fn list_rooms(&self) -> Result<Vec<Room>, StoreError> {
        sql::rooms(&self.run(sql::list_rooms()).await?)
    }

    async fn create_room(&self, id: &str, title: &str) -> Result<Option<Room>, StoreError> {
        sql::added_room(&self.run(sql::add_room(id, title)).await?)
    }

    async fn messages(&self, room: &str, page: Page) -> Result<Option<Vec<Message>>, StoreError> {
        sql::page_rows(&self.run(sql::page(room, page)).await?)
    }

    async fn send_message(
        &self,
        room: &str,
        author: &str,
        body: &str,
        client_id: &str,
    ) -> Result<Option<(Message, bool)>, StoreError> {
        sql::posted(
            &self
                .run(sql::post_message(room, author, body, client_id))
                .await?,
        )
    }

    async fn health(&self) -> Result<(), StoreError> {
        sql::healthy(&self.run(sql::health()).await?)
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
