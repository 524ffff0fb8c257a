//! Everything the chat components share that touches Spin.
//!
//! The domain crate (`chat`) knows nothing of Spin; the components should be
//! a few lines each. This crate sits between them:
//! - [`PgStore`]: [`chat::Store`] over Spin's outbound Postgres, calling the
//!   `chat.*` SQL functions (all data access goes through them);
//! - [`read`]: a Spin request into a [`chat::api::Request`], with the body
//!   size capped before it is read;
//! - [`respond`]: a [`chat::api::Reply`] into a Spin response, whole (see
//!   [`whole`]);
//! - [`config`]: the chat configuration from Spin variables.

use chat::StoreError;
use chat::sql::{self, Failure, Param, Statement, Value};
use http_body_util::BodyExt;
use spin_sdk::http::{Request, Response};
use spin_sdk::pg::wit::postgres::{
    Connection, DbValue, Error as PgError, ParameterValue, QueryError,
};
use spin_sdk::wit_bindgen::StreamResult;
use std::cell::OnceCell;

/// A lazily opened connection: a request that fails validation never takes a
/// connection from the pool.
pub struct PgStore {
    /// None when the component has no `database_url`.
    address: Option<String>,
    conn: OnceCell<Connection>,
}

/// A row as Spin hands it over, read by position (see [`chat::sql`]).
pub struct SpinRow(Vec<DbValue>);

impl sql::Row for SpinRow {
    fn value(&self, column: usize) -> Value<'_> {
        match self.0.get(column) {
            Some(DbValue::DbNull) => Value::Null,
            Some(DbValue::Int64(v)) => Value::Int(*v),
            Some(DbValue::Str(s)) => Value::Text(s),
            Some(DbValue::Boolean(b)) => Value::Bool(*b),
            _ => Value::Other,
        }
    }
}

/// A host error as the store's error: classified (see
/// [`chat::sql::Failure::passes`]), and kept whole as the cause, which
/// [`respond`] logs.
fn failed(e: PgError) -> StoreError {
    let passes = match &e {
        PgError::ConnectionFailed(t) => Failure::Connect(t).passes(),
        PgError::QueryFailed(QueryError::DbError(db)) => Failure::Db {
            code: &db.code,
            text: &db.as_text,
        }
        .passes(),
        PgError::QueryFailed(QueryError::Text(t)) => Failure::Text(t).passes(),
        PgError::BadParameter(t) | PgError::ValueConversionFailed(t) | PgError::Other(t) => {
            Failure::Bug(t).passes()
        }
    };
    StoreError::new(passes, e)
}

fn param(p: &Param) -> ParameterValue {
    match *p {
        Param::Text(s) => ParameterValue::Str(s.to_string()),
        Param::Int(i) => ParameterValue::Int64(i),
        Param::Null | Param::NullText => ParameterValue::DbNull,
    }
}

impl PgStore {
    pub fn new(address: Option<String>) -> Self {
        PgStore {
            address,
            conn: OnceCell::new(),
        }
    }

    async fn conn(&self) -> Result<&Connection, StoreError> {
        if self.conn.get().is_none() {
            let address = self.address.clone().ok_or_else(|| {
                StoreError::new(
                    true,
                    "the `database_url` variable is not set for this component",
                )
            })?;
            let conn = Connection::open_async(address).await.map_err(failed)?;
            let _ = self.conn.set(conn);
        }
        self.conn
            .get()
            .ok_or_else(|| StoreError::new(true, "no connection"))
    }
}

/// The whole `chat::Store` follows (see `chat::sql::Runner`).
impl sql::Runner for PgStore {
    type Row = SpinRow;

    /// Runs a statement and returns all its rows.
    ///
    /// Only the asynchronous `query-async` is used, never the synchronous
    /// `query`: a synchronous host call blocks the whole instance, and on
    /// Spin releases without spinframework/spin#3673 the synchronous `query`
    /// never returns for a statement with zero rows, so one empty poll would
    /// hang every request the instance serves. The rows are read from the
    /// stream in batches sized by the statement's row bound, so a page
    /// usually arrives in one read instead of one host call per row; then the
    /// completion future says whether the query ended cleanly (an error met
    /// while reading rows arrives there).
    async fn query(&self, statement: Statement<'_>) -> Result<Vec<SpinRow>, StoreError> {
        let conn = self.conn().await?;
        let params = statement.params.iter().map(param).collect::<Vec<_>>();
        let (_columns, mut stream, done) = conn
            .query_async(statement.sql.to_string(), params)
            .await
            .map_err(failed)?;
        let mut rows: Vec<Vec<DbValue>> = Vec::with_capacity(statement.max_rows.max(1));
        loop {
            if rows.len() == rows.capacity() {
                rows.reserve(rows.capacity());
            }
            let (result, buffer) = stream.read(rows).await;
            rows = buffer;
            if matches!(result, StreamResult::Dropped | StreamResult::Cancelled) {
                break;
            }
        }
        done.await.map_err(failed)?;
        Ok(rows.into_iter().map(SpinRow).collect())
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
    /// `spin-client-addr`: the peer, as the host saw it.
    pub client_addr: Option<String>,
    pub forwarded_for: Option<String>,
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
            client_addr: self.client_addr.as_deref(),
            forwarded_for: self.forwarded_for.as_deref(),
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
            "payload_too_large",
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
        client_addr: header(&req, "spin-client-addr"),
        forwarded_for: header(&req, "x-forwarded-for"),
    };
    let mut body = req.into_body();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // The client went away or broke the stream mid-body.
            return Err(chat::ApiError::bad_request(
                "unreadable_body",
                "the request body could not be read to its end; send the request again",
            )
            .into());
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

/// A domain reply as a Spin response. The one place a server fault is
/// logged: a reply of 500 or above carries its status, code and cause, which
/// go to the component's stderr (the host's log), never to the client.
pub fn respond(reply: chat::api::Reply) -> Response<String> {
    if let Some(line) = reply.log_line() {
        eprintln!("chat: {line}");
    }
    let mut builder = spin_sdk::http::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value.as_str());
    }
    whole(builder.body(reply.body).unwrap_or_else(|e| {
        eprintln!("chat: 500 internal: building the response: {e}");
        let mut fallback = Response::new(String::from(
            r#"{"error":{"code":"internal","message":"the server could not build its reply; try again"}}"#,
        ));
        *fallback.status_mut() = spin_sdk::http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    }))
}

/// A response whose body is known in full, marked so with its
/// `Content-Length`, so the host writes it at once.
///
/// Why it matters: Spin's HTTP server does not set `TCP_NODELAY`. Without a
/// length, the host sends the body chunked and can end it only when the
/// body stream and its trailers future close, a moment after the data; that
/// last small write ("0\r\n\r\n") then waits under Nagle's algorithm until
/// the client acknowledges what came before, which a Linux client delays by
/// about 40 ms. With the length, the response is complete with its last
/// byte of data and leaves in one write.
pub fn whole(mut res: Response<String>) -> Response<String> {
    let length = res.body().len();
    res.headers_mut().insert(
        spin_sdk::http::HeaderName::from_static("content-length"),
        spin_sdk::http::HeaderValue::from(length),
    );
    res
}

/// Chat configuration from Spin variables.
pub mod config {
    use chat::config::{Settings, VARIABLES};
    use spin_sdk::variables;
    use std::sync::OnceLock;

    static SETTINGS: OnceLock<Settings> = OnceLock::new();

    /// The chat's configuration, read once per instance (an instance serves
    /// many requests, and variables do not change under a running app), so
    /// a request pays no variable lookup after an instance's first. Every
    /// variable is read whatever the request (a variable the component
    /// does not declare reads as absent, and takes its default); each value
    /// [`chat::config::load`] refuses is logged, once per instance, naming
    /// the variable.
    pub async fn settings() -> &'static Settings {
        if let Some(settings) = SETTINGS.get() {
            return settings;
        }
        let mut values = Vec::with_capacity(VARIABLES.len());
        for (name, _) in VARIABLES {
            if let Ok(value) = variables::get(name).await {
                values.push((name, value));
            }
        }
        let (settings, warnings) = chat::config::load(|name| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        });
        for warning in &warnings {
            eprintln!("chat: configuration: {warning}");
        }
        SETTINGS.get_or_init(|| settings)
    }
}

/// 32 random bytes from the host (WASI random): a new session's id and a
/// password hash's salt. Without them neither can be made safely: `None`,
/// and the caller answers 500.
pub fn random_bytes() -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok().map(|()| bytes)
}

/// Seconds since the Unix epoch, from the WASI clock.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A component's whole request: read it (a 4xx if it cannot be), hand it
/// to the API with the host's configuration, clock and randomness, and
/// write the reply. Every chat component is this one call: `spin.toml`
/// decides which requests reach which component, and the API's route table
/// ([`chat::api::routes`]) what each one does. `package` is the
/// component's crate name, `ostchat-<component>` (`env!("CARGO_PKG_NAME")`):
/// a route the table gives another component is a 404 here.
pub async fn serve(req: Request, package: &str) -> Response<String> {
    let incoming = match read(req).await {
        Ok(incoming) => incoming,
        Err(reply) => return respond(reply),
    };
    let settings = config::settings().await;
    let cx = chat::api::Context {
        cfg: &settings.api,
        now_unix: now_unix(),
        random: random_bytes(),
        component: Some(package.strip_prefix("ostchat-").unwrap_or(package)),
    };
    respond(chat::api::handle(&incoming.as_request(), &cx, &store(settings)).await)
}

/// The chat's store: writes to the primary (`database_url`), polls and room
/// lists from the replica (`database_read_url`) when one is configured and
/// fit to answer (see [`chat::replica`]).
pub type ChatStore = chat::replica::Replicated<PgStore, fn(&chat::replica::Fallback)>;

/// A store for the configured databases. Without `database_url` every call
/// fails as unavailable (a 503 naming the variable in the log), and a new
/// session is still issued (its limit cannot be counted).
pub fn store(settings: &chat::config::Settings) -> ChatStore {
    let read = settings
        .database_read_url
        .clone()
        .filter(|_| !replica::resting());
    chat::replica::Replicated {
        primary: PgStore::new(settings.database_url.clone()),
        replica: read.map(|url| PgStore::new(Some(url))),
        max_lag_ms: settings.replica_max_lag_ms,
        on_fallback: replica::fell_back,
    }
}

/// What an instance remembers of its replica between requests: only when
/// to try it again after it failed, and when it last said so in the log.
/// (Instances are reused for many requests; this is a courtesy to a replica
/// that is down and to the log, never needed for correctness.)
mod replica {
    use chat::replica::Fallback;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// After a failure, the replica is left alone this long.
    const REST: Duration = Duration::from_secs(5);
    /// At most one log line per kind of fallback this often.
    const LOG_EVERY: Duration = Duration::from_secs(10);

    static EPOCH: OnceLock<Instant> = OnceLock::new();
    static RESTING_UNTIL_MS: AtomicU64 = AtomicU64::new(0);
    /// Per kind (unreachable, not a replica, lagging): when last logged.
    static LOGGED_AT_MS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
    static SUPPRESSED: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

    fn now_ms() -> u64 {
        // +1 so that "never" (0) is always in the past.
        EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
    }

    /// Whether the replica failed a moment ago and is being left alone.
    pub fn resting() -> bool {
        now_ms() < RESTING_UNTIL_MS.load(Ordering::Relaxed)
    }

    /// Told by the store why a read went to the primary: logs it (rate
    /// limited), and rests an unreachable replica.
    pub fn fell_back(why: &Fallback) {
        let now = now_ms();
        let kind = match why {
            Fallback::Unreachable(_) => {
                RESTING_UNTIL_MS.store(now + REST.as_millis() as u64, Ordering::Relaxed);
                0
            }
            Fallback::NotAReplica => 1,
            Fallback::Lagging { .. } => 2,
        };
        let last = LOGGED_AT_MS[kind].load(Ordering::Relaxed);
        if last != 0 && now - last < LOG_EVERY.as_millis() as u64 {
            SUPPRESSED[kind].fetch_add(1, Ordering::Relaxed);
            return;
        }
        LOGGED_AT_MS[kind].store(now, Ordering::Relaxed);
        let more = SUPPRESSED[kind].swap(0, Ordering::Relaxed);
        let more = if more > 0 {
            format!(" ({more} more like it since the last line)")
        } else {
            String::new()
        };
        eprintln!("chat: reading from the primary: {why}{more}");
    }
}
