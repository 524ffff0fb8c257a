//! Everything the chat components share that touches Spin.
//!
//! The domain crate (`chat`) knows nothing of Spin; the components should be
//! a few lines each. This crate sits between them:
//! - [`PgStore`]: [`chat::Store`] over Spin's outbound Postgres, calling the
//!   `chat.*` SQL functions (all data access goes through them);
//! - [`read`]: a Spin request into a [`chat::api::Request`], with the body
//!   size capped before it is read;
//! - [`respond`]: a [`chat::api::Reply`] into a Spin response;
//! - [`config`]: the chat configuration from Spin variables.

use chat::model::{Message, Room};
use chat::{Page, Store, StoreError};
use http_body_util::BodyExt;
use spin_sdk::http::{Request, Response};
use spin_sdk::pg::wit::postgres::Connection;
use spin_sdk::pg::{self, DbValue, ParameterValue, QueryError};
use std::cell::OnceCell;

/// SQLSTATE the chat SQL functions raise for an unknown room.
const UNKNOWN_ROOM: &str = "P0002";

/// A lazily opened connection: a request that fails validation never takes a
/// connection from the pool.
pub struct PgStore {
    address: String,
    conn: OnceCell<Connection>,
}

enum Failure {
    UnknownRoom,
    Store(StoreError),
}

impl From<pg::Error> for Failure {
    fn from(e: pg::Error) -> Self {
        match &e {
            pg::Error::PgError(pg::PgError::QueryFailed(QueryError::DbError(db)))
                if db.code == UNKNOWN_ROOM =>
            {
                Failure::UnknownRoom
            }
            pg::Error::PgError(pg::PgError::ConnectionFailed(_)) => {
                Failure::Store(StoreError::Unavailable(e.to_string()))
            }
            // A query that fails without a structured database error lost its
            // connection mid-way (server restart, network): retryable.
            pg::Error::PgError(pg::PgError::QueryFailed(QueryError::Text(_))) => {
                Failure::Store(StoreError::Unavailable(e.to_string()))
            }
            _ => Failure::Store(StoreError::Failed(e.to_string())),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// The client only ever sees a generic 503; the operator needs the reason,
/// so it goes to the component's stderr (the host's log).
fn logged(e: StoreError) -> StoreError {
    eprintln!("chat: {e}");
    e
}

/// `Ok(None)` for an unknown room; every other failure stays an error.
fn room_scoped<T>(r: Result<T, Failure>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Failure::UnknownRoom) => Ok(None),
        Err(Failure::Store(e)) => Err(logged(e)),
    }
}

fn plain<T>(r: Result<T, Failure>) -> Result<T, StoreError> {
    match r {
        Ok(v) => Ok(v),
        Err(Failure::UnknownRoom) => Err(logged(StoreError::Failed(
            "unexpected unknown-room error".into(),
        ))),
        Err(Failure::Store(e)) => Err(logged(e)),
    }
}

/// One row of a result, with the column names to look values up by.
struct Row<'a> {
    columns: &'a [pg::Column],
    values: &'a [DbValue],
}

fn rows_of(set: &pg::wit::postgres::RowSet) -> Vec<Row<'_>> {
    set.rows
        .iter()
        .map(|values| Row {
            columns: &set.columns,
            values,
        })
        .collect()
}

fn col<T: pg::Decode>(row: &Row, name: &str) -> Result<T, StoreError> {
    row.columns
        .iter()
        .position(|c| c.name == name)
        .and_then(|i| row.values.get(i))
        .and_then(|v| T::decode(v).ok())
        .ok_or_else(|| StoreError::Failed(format!("column `{name}` missing or of another type")))
}

fn room(row: &Row) -> Result<Room, StoreError> {
    Ok(Room {
        id: col(row, "id")?,
        title: col(row, "title")?,
        last_message_id: col(row, "last_message_id")?,
    })
}

fn message(row: &Row) -> Result<Message, StoreError> {
    Ok(Message {
        id: col(row, "id")?,
        room: col(row, "room")?,
        author: col(row, "author")?,
        body: col(row, "body")?,
        client_id: col(row, "client_id")?,
        sent_at: col(row, "sent_at")?,
    })
}

fn text(s: &str) -> ParameterValue {
    ParameterValue::Str(s.to_string())
}

impl PgStore {
    pub fn new(address: String) -> Self {
        PgStore {
            address,
            conn: OnceCell::new(),
        }
    }

    async fn conn(&self) -> Result<&Connection, Failure> {
        if self.conn.get().is_none() {
            let conn = Connection::open_async(self.address.clone())
                .await
                .map_err(pg::Error::PgError)?;
            let _ = self.conn.set(conn);
        }
        self.conn
            .get()
            .ok_or_else(|| Failure::Store(StoreError::Unavailable("no connection".into())))
    }

    /// Runs a query and returns the whole row set from one host call.
    ///
    /// Spin's interface offers a streamed `query-async` too (what
    /// `spin_sdk::pg::Connection::query` uses), but a host-side stream costs
    /// per row, and our results are small pages: the one-call form costs
    /// about half the host CPU per request.
    async fn rows(
        &self,
        sql: &str,
        params: Vec<ParameterValue>,
    ) -> Result<pg::wit::postgres::RowSet, Failure> {
        let conn = self.conn().await?;
        conn.query(sql, &params)
            .map_err(|e| Failure::from(pg::Error::PgError(e)))
    }

    async fn message_rows(
        &self,
        sql: &str,
        params: Vec<ParameterValue>,
    ) -> Result<Vec<Message>, Failure> {
        let set = self.rows(sql, params).await?;
        Ok(rows_of(&set)
            .iter()
            .map(message)
            .collect::<Result<_, _>>()?)
    }
}

impl Store for PgStore {
    async fn list_rooms(&self) -> Result<Vec<Room>, StoreError> {
        let rows = plain(
            self.rows(
                "SELECT id, title, last_message_id FROM chat.list_rooms()",
                vec![],
            )
            .await,
        )?;
        rows_of(&rows).iter().map(room).collect()
    }

    async fn create_room(&self, id: &str, title: &str) -> Result<Option<Room>, StoreError> {
        let rows = plain(
            self.rows(
                "SELECT id, title, last_message_id FROM chat.create_room($1, $2)",
                vec![text(id), text(title)],
            )
            .await,
        )?;
        rows_of(&rows).first().map(room).transpose()
    }

    async fn messages(&self, room: &str, page: Page) -> Result<Option<Vec<Message>>, StoreError> {
        const COLS: &str = "id, room, author, body, client_id, sent_at";
        let r = match page {
            Page::Latest { limit } => {
                self.message_rows(
                    &format!("SELECT {COLS} FROM chat.get_latest_messages($1, $2)"),
                    vec![text(room), limit.into()],
                )
                .await
            }
            Page::After { after, limit } => {
                self.message_rows(
                    &format!("SELECT {COLS} FROM chat.get_messages_after($1, $2, $3)"),
                    vec![text(room), after.into(), limit.into()],
                )
                .await
            }
            Page::Before { before, limit } => {
                self.message_rows(
                    &format!("SELECT {COLS} FROM chat.get_messages_before($1, $2, $3)"),
                    vec![text(room), before.into(), limit.into()],
                )
                .await
            }
        };
        room_scoped(r)
    }

    async fn send_message(
        &self,
        room: &str,
        author: &str,
        body: &str,
        client_id: &str,
    ) -> Result<Option<(Message, bool)>, StoreError> {
        let r = self
            .rows(
                "SELECT id, room, author, body, client_id, sent_at, created \
                 FROM chat.send_message($1, $2, $3, $4)",
                vec![text(room), text(author), text(body), text(client_id)],
            )
            .await;
        match room_scoped(r)? {
            None => Ok(None),
            Some(set) => {
                let rows = rows_of(&set);
                let row = rows
                    .first()
                    .ok_or_else(|| StoreError::Failed("send_message returned no row".into()))?;
                Ok(Some((message(row)?, col::<bool>(row, "created")?)))
            }
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        let set = plain(self.rows("SELECT chat.health() AS ok", vec![]).await)?;
        match set.rows.first().and_then(|r| r.first()) {
            Some(DbValue::Int64(1)) => Ok(()),
            _ => Err(StoreError::Failed(
                "health check returned an unexpected value".into(),
            )),
        }
    }
}

/// The parts of a request the domain needs; the body already read.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Incoming {
    pub fn as_request(&self) -> chat::api::Request<'_> {
        chat::api::Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            authorization: self.authorization.as_deref(),
            content_type: self.content_type.as_deref(),
            body: &self.body,
        }
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Bodies past the API's limit are still read (and thrown away) up to this
/// size, so that the client, which is usually still sending, gets to read
/// the 413 instead of a reset connection. Past it, answer at once.
const DRAIN_MAX: usize = 1024 * 1024;

/// Reads the request. The body is kept up to one byte past the API's limit,
/// so the domain's own check can tell "at the limit" from "over it"; memory
/// stays bounded whatever the client sends.
pub async fn read(req: Request) -> Result<Incoming, chat::api::Reply> {
    let limit = chat::model::MAX_BODY_BYTES;
    let too_large = || {
        chat::api::Reply::from(chat::ApiError::payload_too_large(
            "body_too_large",
            format!(
                "request bodies are limited to {} KiB; send less",
                limit / 1024
            ),
        ))
    };
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_MAX as u64) {
        return Err(too_large());
    }
    let mut incoming = Incoming {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        authorization: header(&req, "authorization"),
        content_type: header(&req, "content-type"),
        body: Vec::new(),
    };
    let mut body = req.into_body();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(too_large());
        };
        if let Some(data) = frame.data_ref() {
            seen += data.len();
            let room = (limit + 1).saturating_sub(incoming.body.len());
            incoming
                .body
                .extend_from_slice(&data[..data.len().min(room)]);
        }
        if seen > DRAIN_MAX {
            break;
        }
    }
    Ok(incoming)
}

/// A domain reply as a Spin response.
pub fn respond(reply: chat::api::Reply) -> Response<String> {
    let mut builder = spin_sdk::http::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(reply.body).unwrap_or_else(|_| {
        let mut fallback = Response::new(String::from(
            r#"{"error":{"code":"internal","message":"the server could not build its reply; try again"}}"#,
        ));
        *fallback.status_mut() = spin_sdk::http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// Chat configuration from Spin variables.
pub mod config {
    use spin_sdk::variables;

    /// The database address (`database_url`); `None` when unset.
    pub async fn database_url() -> Option<String> {
        variables::get("database_url").await.ok()
    }

    /// The configuration a request with this method needs. Reads use no
    /// secret, so a poll (the hot path) skips three host calls; writes get
    /// everything.
    pub async fn for_method(method: &str) -> chat::api::Config {
        if method == "GET" || method == "HEAD" {
            chat::api::Config {
                session_secret: Vec::new(),
                admin_token: String::new(),
                session_ttl_secs: DEFAULT_TTL_SECS,
            }
        } else {
            chat().await
        }
    }

    const DEFAULT_TTL_SECS: i64 = 24 * 60 * 60;

    /// Session and admin settings. Missing values fall back to values that
    /// keep the feature safely off: no admin token disables room creation,
    /// and an empty secret is refused by the domain (`check_secret`).
    pub async fn chat() -> chat::api::Config {
        let secret = variables::get("session_secret").await.unwrap_or_default();
        let admin_token = variables::get("admin_token").await.unwrap_or_default();
        let ttl = variables::get("session_ttl_seconds")
            .await
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(DEFAULT_TTL_SECS);
        chat::api::Config {
            session_secret: secret.into_bytes(),
            admin_token,
            session_ttl_secs: ttl,
        }
    }
}

/// Seconds since the Unix epoch, from the WASI clock.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A store for the configured database, or the 503 to answer when the
/// database address is not configured.
pub async fn store() -> Result<PgStore, chat::api::Reply> {
    match config::database_url().await {
        Some(url) if !url.is_empty() => Ok(PgStore::new(url)),
        _ => {
            eprintln!("chat: the `database_url` variable is not set for this component");
            Err(chat::ApiError::database_unavailable().into())
        }
    }
}
