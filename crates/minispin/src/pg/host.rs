//! The interface's functions, bound to the pools: connections are resources
//! in the instance's table, opened through one helper; queries run in
//! [`super::query`], which reports their errors as Spin does.

use super::bindings::spin::postgres::postgres::{
    self as pg, Column, DbValue, Error, ParameterValue, QueryError, RowSet,
};
use super::query::{Rows, run_execute, run_query};
use super::{Connection, ConnectionBuilder, PgCtx, PgHost, PgView};
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, Resource, ResourceTable, StreamReader};

/// Opens a connection for the guest: the connection as a new resource, or
/// the interface's error (not allowed, unreachable, pool timeout).
async fn open(
    ctx: &PgCtx,
    address: &str,
    ca_root: Option<&str>,
    table: impl FnOnce(Connection) -> wasmtime::Result<Resource<Connection>>,
) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
    match ctx.open(address, ca_root).await {
        Ok(conn) => Ok(Ok(table(conn)?)),
        Err(e) => Ok(Err(e)),
    }
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
        let table = &mut *self.table;
        open(self.ctx, &address, ca_root.as_deref(), |c| {
            Ok(table.push(c)?)
        })
        .await
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
        open(&ctx, &address, ca_root.as_deref(), |c| {
            accessor.with(|mut access| Ok(access.get().table.push(c)?))
        })
        .await
    }
}

impl pg::HostConnection for PgView<'_> {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let table = &mut *self.table;
        open(self.ctx, &address, None, |c| Ok(table.push(c)?)).await
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
        open(&ctx, &address, None, |c| {
            accessor.with(|mut access| Ok(access.get().table.push(c)?))
        })
        .await
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
