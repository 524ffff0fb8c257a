//! Running statements as Spin's host does: prepared, then started (errors so
//! far are the call's own, structured), then read row by row (an error met
//! while reading ends the rows, and each query form reports it its own way).

use super::bindings::spin::postgres::postgres::{
    Column, DbError, DbValue, Error, ParameterValue, QueryError,
};
use super::convert::{data_type, db_value, to_sql_params};
use futures::TryStreamExt;
use tokio_postgres::types::ToSql;

/// What a query produced: the rows read, and how reading them ended.
pub(super) struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<DbValue>>,
    /// `Err` for an error met while reading rows; `rows` holds those before it.
    pub end: Result<(), Error>,
}

/// Prepares and starts a statement (errors here are the call's own, and
/// structured), then reads its rows (errors here end the rows: see [`Rows`]).
pub(super) async fn run_query(
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

pub(super) async fn run_execute(
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
