//! Outbound Postgres: the `spin:postgres/postgres@4.2.0` interface.
//!
//! Reproduces what Spin's host does, because a component that works here must
//! work under `spin up`:
//! - one connection pool per address (at most 64 connections), shared by all
//!   requests of all components; a connection returns to its pool when the
//!   guest drops the `connection` resource;
//! - TLS (native-tls, system roots) unless the address says `sslmode=disable`;
//! - statements go to the server unprepared-and-uncached, so parameter types
//!   are those the server infers, checked strictly (an `int32` does not bind to
//!   an `int8` column; a `datetime` binds only to `timestamp`);
//! - reading a `timestamptz` column fails with a conversion error, as in Spin;
//! - an empty result carries no column metadata (as before spin#3673);
//! - an address not allowed by the component's `allowed_outbound_hosts` fails
//!   with `connection-failed("address ... is not permitted")`;
//! - errors are reported where Spin reports them: an error before the first
//!   row (syntax, binding) is the call's structured `db-error`; an error met
//!   while rows are read (a RAISE in a function, a value that does not
//!   convert) comes as `query-error::text` from the synchronous `query`, and
//!   through the completion future of `query-async`.
//!
//! Where a real Spin is harsher than this runner can be, it says so: the
//! synchronous `query` never returns for zero rows on Spin releases without
//! spinframework/spin#3673 (it blocks the whole instance), so here such a
//! call logs a warning once per component, and in `--strict` mode traps the
//! instance (the request fails with 500) instead.

// The interface's `error` carries Postgres' structured error fields, so it is
// large; its shape is fixed by the WIT, not ours to box.
#![allow(clippy::result_large_err)]

use crate::outbound::OutboundPolicy;
use bindings::spin::postgres::postgres::{
    self as pg, Column, DbDataType, DbError, DbValue, Error, Interval, ParameterValue, QueryError,
    RowSet,
};
use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::TryStreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use wasmtime::component::{
    Accessor, FutureReader, HasData, Linker, Resource, ResourceTable, StreamReader,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/spin-postgres.wit",
        world: "spin:postgres/host",
        imports: { default: async | trappable },
        with: {
            "spin:postgres/postgres.connection": super::Connection,
            "spin:postgres/postgres.connection-builder": super::ConnectionBuilder,
        },
    });
}

/// Spin's per-address pool size.
const MAX_POOL_SIZE: usize = 64;
/// How long a request waits for a pooled connection or a new one before the
/// component sees `connection-failed` (and can answer 503) instead of hanging.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// The host side of a `connection` resource: a pooled client. Dropping the
/// last `Arc` returns the client to its pool.
pub struct Connection {
    client: Arc<deadpool_postgres::Object>,
}

/// The host side of a `connection-builder` resource.
pub struct ConnectionBuilder {
    address: String,
    ca_root: Option<String>,
}

/// Pools keyed by address (and custom CA root), shared by every store.
#[derive(Default)]
pub struct Pools {
    pools: Mutex<HashMap<(String, Option<String>), Pool>>,
}

impl Pools {
    fn get_or_create(&self, address: &str, ca_root: Option<&str>) -> Result<Pool, Error> {
        let key = (address.to_string(), ca_root.map(str::to_string));
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(&key) {
            return Ok(pool.clone());
        }
        let config: tokio_postgres::Config = address
            .parse()
            .map_err(|e| Error::ConnectionFailed(format!("invalid address: {e}")))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Clean,
        };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            let mut tls = native_tls::TlsConnector::builder();
            if let Some(pem) = ca_root {
                let cert = native_tls::Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| Error::ConnectionFailed(format!("invalid CA root: {e}")))?;
                tls.add_root_certificate(cert);
            }
            let tls = tls
                .build()
                .map_err(|e| Error::ConnectionFailed(format!("TLS setup failed: {e}")))?;
            Manager::from_config(
                config,
                postgres_native_tls::MakeTlsConnector::new(tls),
                manager_config,
            )
        };
        let pool = Pool::builder(manager)
            .max_size(MAX_POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| Error::ConnectionFailed(format!("cannot build pool: {e}")))?;
        pools.insert(key, pool.clone());
        Ok(pool)
    }
}

/// What one store (one component instance) needs: the shared pools, the
/// component's own allow list and how to treat calls that hang under Spin.
#[derive(Clone)]
pub struct PgCtx {
    pub pools: Arc<Pools>,
    pub policy: Arc<OutboundPolicy>,
    pub compat: Arc<Compat>,
}

/// The Spin bugs this runner cannot reproduce without hanging, per component.
pub struct Compat {
    component: String,
    strict: bool,
    warned: AtomicBool,
}

/// The upstream issue behind the zero-row check, named in every message.
const SPIN_3671: &str = "spinframework/spin#3671";

impl Compat {
    pub fn new(component: &str, strict: bool) -> Compat {
        Compat {
            component: component.to_string(),
            strict,
            warned: AtomicBool::new(false),
        }
    }

    /// A synchronous `query` returned zero rows. Strict: an error that traps
    /// the instance; otherwise a warning, logged once for the component.
    fn zero_rows_from_sync_query(&self) -> wasmtime::Result<()> {
        let what = format!(
            "component `{}` called the synchronous postgres `query` and got zero rows; \
             on Spin releases without spinframework/spin#3673 that call never returns and \
             blocks every request of the instance ({SPIN_3671})",
            self.component
        );
        if self.strict {
            // The trap ends the instance; its failure, with this text, is
            // logged where every failed instance is.
            return Err(wasmtime::Error::msg(format!(
                "{what}: use `query-async` (spin_sdk::pg::Connection::query) instead"
            )));
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "minispin: warning: {what}; use `query-async` (spin_sdk::pg::Connection::query) \
                 instead (logged once per component; `minispin up --strict` fails such requests)"
            );
        }
        Ok(())
    }
}

impl PgCtx {
    fn check_allowed(&self, address: &str) -> Result<(), Error> {
        let denied = || Error::ConnectionFailed(format!("address {address} is not permitted"));
        let config: tokio_postgres::Config = address
            .parse()
            .map_err(|e| Error::ConnectionFailed(format!("invalid address: {e}")))?;
        let ports = config.get_ports();
        let hosts = config.get_hosts();
        if hosts.is_empty() {
            return Err(denied());
        }
        for (i, host) in hosts.iter().enumerate() {
            let tokio_postgres::config::Host::Tcp(name) = host else {
                return Err(denied());
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            if !self.policy.allows("postgres", name, port) {
                return Err(denied());
            }
        }
        Ok(())
    }

    async fn open(&self, address: &str, ca_root: Option<&str>) -> Result<Connection, Error> {
        self.check_allowed(address)?;
        let pool = self.pools.get_or_create(address, ca_root)?;
        let client = pool
            .get()
            .await
            .map_err(|e| Error::ConnectionFailed(format!("{e}")))?;
        Ok(Connection {
            client: Arc::new(client),
        })
    }
}

/// The borrowed view the generated traits are implemented on.
pub struct PgView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a PgCtx,
}

/// Marker that ties the bindings to [`PgView`].
pub struct PgHost;

impl HasData for PgHost {
    type Data<'a> = PgView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> PgView<'_>,
) -> wasmtime::Result<()> {
    pg::add_to_linker::<T, PgHost>(linker, get)
}

fn push_connection(
    table: &mut ResourceTable,
    conn: Connection,
) -> wasmtime::Result<Resource<Connection>> {
    Ok(table.push(conn)?)
}

fn client_of(
    table: &ResourceTable,
    conn: &Resource<Connection>,
) -> wasmtime::Result<Arc<deadpool_postgres::Object>> {
    Ok(table.get(conn)?.client.clone())
}

impl pg::Host for PgView<'_> {}

impl pg::HostConnectionBuilder for PgView<'_> {
    async fn new(&mut self, address: String) -> wasmtime::Result<Resource<ConnectionBuilder>> {
        Ok(self.table.push(ConnectionBuilder {
            address,
            ca_root: None,
        })?)
    }

    async fn set_ca_root(
        &mut self,
        builder: Resource<ConnectionBuilder>,
        certificate: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.table.get_mut(&builder)?.ca_root = Some(certificate);
        Ok(Ok(()))
    }

    async fn build(
        &mut self,
        builder: Resource<ConnectionBuilder>,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let b = self.table.get(&builder)?;
        let (address, ca_root) = (b.address.clone(), b.ca_root.clone());
        match self.ctx.open(&address, ca_root.as_deref()).await {
            Ok(conn) => Ok(Ok(push_connection(self.table, conn)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn drop(&mut self, builder: Resource<ConnectionBuilder>) -> wasmtime::Result<()> {
        self.table.delete(builder)?;
        Ok(())
    }
}

impl<T> pg::HostConnectionBuilderWithStore<T> for PgHost {
    async fn build_async(
        accessor: &Accessor<T, Self>,
        builder: Resource<ConnectionBuilder>,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let (ctx, address, ca_root) = accessor.with(
            |mut access| -> wasmtime::Result<(PgCtx, String, Option<String>)> {
                let view = access.get();
                let b = view.table.get(&builder)?;
                Ok((view.ctx.clone(), b.address.clone(), b.ca_root.clone()))
            },
        )?;
        match ctx.open(&address, ca_root.as_deref()).await {
            Ok(conn) => {
                accessor.with(|mut access| Ok(Ok(push_connection(access.get().table, conn)?)))
            }
            Err(e) => Ok(Err(e)),
        }
    }
}

impl pg::HostConnection for PgView<'_> {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        match self.ctx.open(&address, None).await {
            Ok(conn) => Ok(Ok(push_connection(self.table, conn)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn query(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let client = client_of(self.table, &conn)?;
        let Rows { columns, rows, end } = match run_query(&client, &statement, params).await {
            Ok(read) => read,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = end {
            // As Spin's synchronous `query` does: every error met while rows
            // are read becomes text (the structured error's debug form).
            return Ok(Err(Error::QueryFailed(QueryError::Text(format!("{e:?}")))));
        }
        if rows.is_empty() {
            self.ctx.compat.zero_rows_from_sync_query()?;
        }
        Ok(Ok(RowSet { columns, rows }))
    }

    async fn execute(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let client = client_of(self.table, &conn)?;
        Ok(run_execute(&client, &statement, params).await)
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

type QueryAsyncResult = Result<
    (
        Vec<Column>,
        StreamReader<Vec<DbValue>>,
        FutureReader<Result<(), Error>>,
    ),
    Error,
>;

impl<T> pg::HostConnectionWithStore<T> for PgHost {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let ctx = accessor.with(|mut access| access.get().ctx.clone());
        match ctx.open(&address, None).await {
            Ok(conn) => {
                accessor.with(|mut access| Ok(Ok(push_connection(access.get().table, conn)?)))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    async fn query_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<QueryAsyncResult> {
        let client = accessor.with(|mut access| client_of(access.get().table, &conn))?;
        // The rows are read in full before the stream is handed over (Spin
        // streams them; the guest sees the same rows in the same order). An
        // error met while reading rows ends the stream after the rows read
        // before it and arrives through the completion future, as in Spin.
        let Rows { columns, rows, end } = match run_query(&client, &statement, params).await {
            Ok(read) => read,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let stream = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async move {
                Ok::<Result<(), Error>, wasmtime::Error>(end)
            })?;
            Ok(Ok((columns, stream, done)))
        })
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let client = accessor.with(|mut access| client_of(access.get().table, &conn))?;
        Ok(run_execute(&client, &statement, params).await)
    }
}

/// What a query produced: the rows read, and how reading them ended.
struct Rows {
    columns: Vec<Column>,
    rows: Vec<Vec<DbValue>>,
    /// `Err` for an error met while reading rows; `rows` holds those before it.
    end: Result<(), Error>,
}

/// Prepares and starts a statement (errors here are the call's own, and
/// structured), then reads its rows (errors here end the rows: see [`Rows`]).
async fn run_query(
    client: &tokio_postgres::Client,
    statement: &str,
    params: Vec<ParameterValue>,
) -> Result<Rows, Error> {
    let params = to_sql_params(params)?;
    let prepared = client.prepare(statement).await.map_err(query_failed)?;
    let stream = client
        .query_raw(
            &prepared,
            params.iter().map(|p| &**p as &(dyn ToSql + Sync)),
        )
        .await
        .map_err(query_failed)?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = Vec::new();
    let end = loop {
        match stream.try_next().await {
            Ok(Some(row)) => match (0..row.len()).map(|i| db_value(&row, i)).collect() {
                Ok(values) => rows.push(values),
                Err(e) => break Err(e),
            },
            Ok(None) => break Ok(()),
            Err(e) => break Err(query_failed(e)),
        }
    };
    // Like Spin before spin#3673: column metadata comes with the first row,
    // so an empty result has none.
    let columns = if rows.is_empty() {
        Vec::new()
    } else {
        prepared
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name().to_string(),
                data_type: data_type(c.type_()),
            })
            .collect()
    };
    Ok(Rows { columns, rows, end })
}

async fn run_execute(
    client: &tokio_postgres::Client,
    statement: &str,
    params: Vec<ParameterValue>,
) -> Result<u64, Error> {
    let params = to_sql_params(params)?;
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    client.execute(statement, &refs).await.map_err(query_failed)
}

fn query_failed(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::QueryFailed(QueryError::DbError(DbError {
            as_text: e.to_string(),
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            extras: [
                ("hint", db.hint()),
                ("schema", db.schema()),
                ("table", db.table()),
                ("column", db.column()),
                ("constraint", db.constraint()),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
            .collect(),
        })),
        None => {
            // Connection-level failures (server gone, socket closed) come here;
            // the text of the source error is what tells an operator why.
            let mut text = e.to_string();
            if let Some(source) = std::error::Error::source(&e) {
                text = format!("{text}: {source}");
            }
            Error::QueryFailed(QueryError::Text(text))
        }
    }
}

fn data_type(t: &Type) -> DbDataType {
    match *t {
        Type::BOOL => DbDataType::Boolean,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::TIMESTAMP => DbDataType::Datetime,
        Type::TIMESTAMPTZ => DbDataType::Timestamp,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        ref other => DbDataType::Other(other.to_string()),
    }
}

/// A value that cannot be handed over: Spin reports it as a query failure in
/// text, met while reading rows.
fn conversion(e: impl std::fmt::Display) -> Error {
    Error::QueryFailed(QueryError::Text(e.to_string()))
}

fn get<'a, T: FromSql<'a>>(row: &'a tokio_postgres::Row, i: usize) -> Result<Option<T>, Error> {
    row.try_get::<_, Option<T>>(i).map_err(|e| {
        // The useful part ("cannot convert between the Rust type ... and the
        // Postgres type timestamptz") is the source of "error deserializing
        // column 0"; the component should see both, as under Spin.
        match std::error::Error::source(&e) {
            Some(source) => conversion(format!("{e}: {source}")),
            None => conversion(e),
        }
    })
}

fn db_value(row: &tokio_postgres::Row, i: usize) -> Result<DbValue, Error> {
    use chrono::{Datelike, Timelike};
    let t = row.columns()[i].type_().clone();
    let value = match t {
        Type::BOOL => get::<bool>(row, i)?.map(DbValue::Boolean),
        Type::INT2 => get::<i16>(row, i)?.map(DbValue::Int16),
        Type::INT4 => get::<i32>(row, i)?.map(DbValue::Int32),
        Type::INT8 => get::<i64>(row, i)?.map(DbValue::Int64),
        Type::FLOAT4 => get::<f32>(row, i)?.map(DbValue::Floating32),
        Type::FLOAT8 => get::<f64>(row, i)?.map(DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get::<String>(row, i)?.map(DbValue::Str),
        Type::BYTEA => get::<Vec<u8>>(row, i)?.map(DbValue::Binary),
        Type::DATE => get::<chrono::NaiveDate>(row, i)?
            .map(|d| DbValue::Date((d.year(), d.month() as u8, d.day() as u8))),
        Type::TIME => get::<chrono::NaiveTime>(row, i)?.map(|t| {
            DbValue::Time((
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
                t.nanosecond(),
            ))
        }),
        // Spin reads both timestamp kinds as a naive date-time, which fails
        // for `timestamptz`; reproduce that so components cast in SQL.
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get::<chrono::NaiveDateTime>(row, i)?.map(|d| {
            DbValue::Datetime((
                d.year(),
                d.month() as u8,
                d.day() as u8,
                d.hour() as u8,
                d.minute() as u8,
                d.second() as u8,
                d.nanosecond(),
            ))
        }),
        Type::UUID => get::<uuid::Uuid>(row, i)?.map(|u| DbValue::Uuid(u.to_string())),
        Type::JSONB => get::<serde_json::Value>(row, i)?
            .map(|v| serde_json::to_vec(&v).map(DbValue::Jsonb))
            .transpose()
            .map_err(conversion)?,
        Type::INT4_ARRAY => get::<Vec<Option<i32>>>(row, i)?.map(DbValue::ArrayInt32),
        Type::INT8_ARRAY => get::<Vec<Option<i64>>>(row, i)?.map(DbValue::ArrayInt64),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get::<Vec<Option<String>>>(row, i)?.map(DbValue::ArrayStr)
        }
        Type::INTERVAL => get::<PgInterval>(row, i)?.map(|v| DbValue::Interval(v.0)),
        Type::NUMERIC
        | Type::NUM_RANGE
        | Type::INT4_RANGE
        | Type::INT8_RANGE
        | Type::NUMERIC_ARRAY => {
            return Err(conversion(format!(
                "the runner does not convert Postgres type {t} yet; cast it to text in SQL"
            )));
        }
        _ => get::<RawBytes>(row, i)?.map(|b| DbValue::Unsupported(b.0)),
    };
    Ok(value.unwrap_or(DbValue::DbNull))
}

type Param = Box<dyn ToSql + Sync + Send>;

fn to_sql_params(params: Vec<ParameterValue>) -> Result<Vec<Param>, Error> {
    params.into_iter().map(to_sql).collect()
}

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::BadParameter(format!("invalid {what}: {e}"))
}

fn to_sql(p: ParameterValue) -> Result<Param, Error> {
    use ParameterValue as P;
    Ok(match p {
        P::Boolean(v) => Box::new(v),
        P::Int8(v) => Box::new(v),
        P::Int16(v) => Box::new(v),
        P::Int32(v) => Box::new(v),
        P::Int64(v) => Box::new(v),
        P::Floating32(v) => Box::new(v),
        P::Floating64(v) => Box::new(v),
        P::Str(v) => Box::new(v),
        P::Binary(v) => Box::new(v),
        P::Date((y, m, d)) => Box::new(
            chrono::NaiveDate::from_ymd_opt(y, m.into(), d.into())
                .ok_or_else(|| bad("date", format!("{y}-{m}-{d}")))?,
        ),
        P::Time((h, m, s, ns)) => Box::new(
            chrono::NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns)
                .ok_or_else(|| bad("time", format!("{h}:{m}:{s}.{ns}")))?,
        ),
        P::Datetime((y, mo, d, h, mi, s, ns)) => {
            let date = chrono::NaiveDate::from_ymd_opt(y, mo.into(), d.into())
                .ok_or_else(|| bad("datetime", "date out of range"))?;
            let time = chrono::NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns)
                .ok_or_else(|| bad("datetime", "time out of range"))?;
            Box::new(chrono::NaiveDateTime::new(date, time))
        }
        P::Timestamp(secs) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
                .ok_or_else(|| bad("timestamp", secs))?,
        ),
        P::Uuid(s) => Box::new(uuid::Uuid::parse_str(&s).map_err(|e| bad("uuid", e))?),
        P::Jsonb(bytes) => Box::new(
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| bad("jsonb", e))?,
        ),
        P::ArrayInt32(v) => Box::new(v),
        P::ArrayInt64(v) => Box::new(v),
        P::ArrayStr(v) => Box::new(v),
        P::Interval(i) => Box::new(PgInterval(i)),
        P::DbNull => Box::new(PgNull),
        P::Decimal(_)
        | P::RangeInt32(_)
        | P::RangeInt64(_)
        | P::RangeDecimal(_)
        | P::ArrayDecimal(_) => {
            return Err(Error::BadParameter(
                "the runner does not bind decimal or range parameters yet; pass them as text and cast in SQL"
                    .to_string(),
            ));
        }
    })
}

/// SQL NULL that binds to a parameter of any type.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// `interval` in Postgres' binary form: microseconds, days, months.
#[derive(Debug)]
struct PgInterval(Interval);

impl ToSql for PgInterval {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let raw: &[u8; 16] = raw.try_into().map_err(|_| "interval must be 16 bytes")?;
        let micros = i64::from_be_bytes(raw[0..8].try_into()?);
        let days = i32::from_be_bytes(raw[8..12].try_into()?);
        let months = i32::from_be_bytes(raw[12..16].try_into()?);
        Ok(PgInterval(Interval {
            micros,
            days,
            months,
        }))
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
}

/// Any other column, handed over as its raw binary encoding.
struct RawBytes(Vec<u8>);

impl<'a> FromSql<'a> for RawBytes {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawBytes(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}
