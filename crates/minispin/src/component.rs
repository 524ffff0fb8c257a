//! A loaded component and the host state of each of its instances: what
//! `app` builds once and `reuse` instantiates per request. (Apart from both,
//! so neither imports the other's module back.)

use crate::pg::{self, PgCtx, PgView};
use crate::stdio::{ComponentOutput, Stream};
use crate::variables::host::{self as vars_host, ComponentVariables};
use anyhow::Result;
use std::sync::Arc;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Per-store host state: one per component instance.
pub struct State {
    /// Which instance this is (for the request log): unique in the host.
    pub instance: u64,
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoOutboundHttp,
    pg: PgCtx,
    vars: ComponentVariables,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Outbound HTTP is not among the interfaces this runner provides; a
/// component that tries it gets `HTTP-request-denied`, as Spin answers for a
/// host missing from `allowed_outbound_hosts`.
struct NoOutboundHttp;

impl WasiHttpHooks for NoOutboundHttp {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// A component ready to serve: linked once, instantiated per request.
pub struct LoadedComponent {
    pub name: String,
    /// The component's name as its output lines carry it.
    pub(crate) output_name: Arc<str>,
    pub(crate) pre: ServicePre<State>,
    pub(crate) pg: PgCtx,
    pub(crate) vars: ComponentVariables,
    pub(crate) environment: Vec<(String, String)>,
}

impl LoadedComponent {
    /// A fresh store for one instance.
    pub fn new_store(&self, engine: &Engine) -> Store<State> {
        let mut wasi = WasiCtxBuilder::new();
        let output = |stream| ComponentOutput {
            component: self.output_name.clone(),
            stream,
        };
        wasi.stdout(output(Stream::Stdout))
            .stderr(output(Stream::Stderr));
        wasi.envs(&self.environment);
        let state = State {
            instance: 0,
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: NoOutboundHttp,
            pg: self.pg.clone(),
            vars: self.vars.clone(),
        };
        Store::new(engine, state)
    }

    pub fn pre(&self) -> &ServicePre<State> {
        &self.pre
    }

    /// This component's Postgres pools, summed.
    pub fn pool_status(&self) -> crate::pg::pool::PoolStatus {
        self.pg.pools.status()
    }
}

pub(crate) fn linker(engine: &Engine) -> Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    // Rust's std in a wasm32-wasip2 component imports the WASI 0.2 interfaces.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    pg::add_to_linker(&mut linker, |s: &mut State| PgView {
        table: &mut s.table,
        ctx: &s.pg,
    })?;
    vars_host::add_to_linker(&mut linker, |s: &mut State| &s.vars)?;
    Ok(linker)
}
