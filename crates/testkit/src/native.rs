//! The chat's store over tokio-postgres: the same SQL function calls, read
//! the same way (`chat::sql`), as the Spin components make through the
//! host, and the same kind of pool as the runner's (deadpool-postgres, 64
//! connections, unprepared statements). The benchmark's native baseline
//! serves the API with it; `crates/e2e/tests/store_suite.rs` holds it (and
//! so the SQL functions) to the store suite the in-memory store passes.

use anyhow::Context;
use chat::StoreError;
use chat::sql::{self, Param, Statement, Value};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::{ToSql, Type};

pub struct NativeStore {
    pool: Pool,
}

/// A tokio-postgres row, read by position as the component reads Spin's.
pub struct NativeRow(tokio_postgres::Row);

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

/// The driver's error as the store's, kept whole as the cause.
fn failed(e: tokio_postgres::Error) -> StoreError {
    let passes = match e.code() {
        Some(code) => sql::retryable(code.code()),
        // No SQLSTATE: the connection is gone (closed, reset, timed out).
        None => true,
    };
    StoreError::new(passes, e)
}

impl NativeStore {
    /// A pool of up to 64 connections (as the runner's and Spin's), to a
    /// server without TLS (`sslmode=disable`); connections are opened on
    /// first use. Needs a Tokio runtime.
    pub fn connect(url: &str) -> anyhow::Result<NativeStore> {
        let config: tokio_postgres::Config = url
            .parse()
            .with_context(|| format!("the database URL {url:?} is not valid"))?;
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
            .build()
            .context("cannot build the connection pool")?;
        Ok(NativeStore { pool })
    }
}

/// The whole `chat::Store` follows (see `chat::sql::Runner`).
impl sql::Runner for NativeStore {
    type Row = NativeRow;

    async fn query(&self, statement: Statement<'_>) -> Result<Vec<NativeRow>, StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::new(true, e))?;
        let params: Vec<Box<dyn ToSql + Sync + Send>> = statement
            .params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match *p {
                    Param::Text(s) => Box::new(s.to_string()),
                    Param::Int(i) => Box::new(i),
                    Param::Null => Box::new(None::<i64>),
                    Param::NullText => Box::new(None::<String>),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
        let rows = client.query(statement.sql, &refs).await.map_err(failed)?;
        Ok(rows.into_iter().map(NativeRow).collect())
    }
}
