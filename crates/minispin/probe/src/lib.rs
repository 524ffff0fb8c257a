//! A probe for host behaviour, used only by `crates/e2e/tests/spin_compat.rs`.
//!
//! - `GET  /probe/headers`: the `spin-*` request headers and the URL, as JSON;
//! - `GET  /probe/var?NAME`: `spin:variables` get of NAME (value or error);
//! - `POST /probe/query`: `{"address", "sql", "params": [{"int32": 1}, ...],
//!   "form": "sync" | "async"}` run with the synchronous one-call `query`
//!   (the default) or with `query-async` (columns, a row stream, then a
//!   completion future); answers columns and rows, or the error in Rust debug
//!   form so tests can match Spin's error variants by name, with `"at"`
//!   saying where an async error came: the `call` or the `result` future;
//! - `GET  /probe/pieces?MS`: a body written in two pieces, MS milliseconds
//!   apart (default 5), so the host sends it in two writes: on a connection
//!   without `TCP_NODELAY` the second waits for the client's delayed ACK.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::pg::DbValue;
use spin_sdk::pg::wit::postgres::{Column, Connection, ParameterValue};

fn json(value: serde_json::Value) -> Response<String> {
    let mut res = Response::new(value.to_string());
    res.headers_mut().insert(
        "content-type",
        spin_sdk::http::HeaderValue::from_static("application/json"),
    );
    res
}

fn param(v: &serde_json::Value) -> Result<ParameterValue, String> {
    let (kind, value) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or("a parameter is an object with one key")?;
    let int = || value.as_i64().ok_or(format!("{kind} needs an integer"));
    Ok(match kind.as_str() {
        "int32" => ParameterValue::Int32(int()? as i32),
        "int64" => ParameterValue::Int64(int()?),
        "str" => ParameterValue::Str(value.as_str().ok_or("str needs a string")?.to_string()),
        "bool" => ParameterValue::Boolean(value.as_bool().ok_or("bool needs a boolean")?),
        "timestamp" => ParameterValue::Timestamp(int()?),
        "null" => ParameterValue::DbNull,
        "datetime" => {
            let p: Vec<i64> = value
                .as_array()
                .ok_or("datetime needs [y, mo, d, h, mi, s, ns]")?
                .iter()
                .filter_map(|x| x.as_i64())
                .collect();
            if p.len() != 7 {
                return Err("datetime needs 7 numbers".into());
            }
            ParameterValue::Datetime((
                p[0] as i32,
                p[1] as u8,
                p[2] as u8,
                p[3] as u8,
                p[4] as u8,
                p[5] as u8,
                p[6] as u32,
            ))
        }
        other => return Err(format!("unknown parameter kind {other}")),
    })
}

async fn query(body: &[u8]) -> serde_json::Value {
    let Ok(req) = serde_json::from_slice::<serde_json::Value>(body) else {
        return serde_json::json!({"error": "body must be JSON"});
    };
    let address = req["address"].as_str().unwrap_or_default().to_string();
    let sql = req["sql"].as_str().unwrap_or_default();
    let params: Result<Vec<_>, _> = req["params"]
        .as_array()
        .map(|a| a.iter().map(param).collect())
        .unwrap_or(Ok(Vec::new()));
    let params = match params {
        Ok(p) => p,
        Err(e) => return serde_json::json!({"error": e}),
    };
    let conn = match Connection::open_async(address).await {
        Ok(c) => c,
        Err(e) => return serde_json::json!({"error": format!("{e:?}")}),
    };
    if req["form"] == "async" {
        let (columns, rows, done) = match conn.query_async(sql.to_string(), params).await {
            Ok(started) => started,
            Err(e) => return serde_json::json!({"error": format!("{e:?}"), "at": "call"}),
        };
        let rows = rows.collect().await;
        let mut reply = result_json(&columns, &rows);
        if let Err(e) = done.await {
            reply["error"] = format!("{e:?}").into();
            reply["at"] = "result".into();
        }
        return reply;
    }
    match conn.query(sql, &params) {
        Ok(set) => result_json(&set.columns, &set.rows),
        Err(e) => serde_json::json!({"error": format!("{e:?}")}),
    }
}

fn result_json(columns: &[Column], rows: &[Vec<DbValue>]) -> serde_json::Value {
    serde_json::json!({
        "columns": columns.iter().map(|c| format!("{}:{:?}", c.name, c.data_type)).collect::<Vec<_>>(),
        "rows": rows.iter().map(|r| r.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

/// A body in two pieces, `pause_ms` apart.
fn pieces(pause_ms: u64) -> impl IntoResponse {
    let (mut tx, body) = spin_sdk::http::body::stream::<&'static str>();
    let _ = tx.try_send("first piece, ");
    spin_sdk::wit_bindgen::spawn(async move {
        spin_sdk::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        let _ = tx.try_send("second piece");
    });
    Response::new(body)
}

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    // Mounted anywhere (`/x/probe/...`): a test app may route several
    // copies of the probe, as components of their own.
    let full = req.uri().path();
    let path = full[full.rfind("/probe/").unwrap_or(0)..].to_string();
    if path == "/probe/pieces" {
        let pause_ms = req.uri().query().and_then(|q| q.parse().ok()).unwrap_or(5);
        return pieces(pause_ms).into_response();
    }
    let res = match path.as_str() {
        "/probe/headers" => {
            let mut map = serde_json::Map::new();
            for (name, value) in req.headers() {
                if name.as_str().starts_with("spin-") {
                    map.insert(
                        name.to_string(),
                        value.to_str().unwrap_or_default().to_string().into(),
                    );
                }
            }
            map.insert("uri".into(), req.uri().to_string().into());
            json(map.into())
        }
        "/probe/var" => {
            let name = req.uri().query().unwrap_or_default().to_string();
            match spin_sdk::variables::get(&name).await {
                Ok(v) => json(serde_json::json!({"value": v})),
                Err(e) => json(serde_json::json!({"error": format!("{e:?}")})),
            }
        }
        "/probe/query" => {
            use spin_sdk::http::body::IncomingBodyExt;
            let body = req.into_body().bytes().await.unwrap_or_default();
            json(query(&body).await)
        }
        _ => json(serde_json::json!({"error": "no such probe"})),
    };
    res.into_response()
}
