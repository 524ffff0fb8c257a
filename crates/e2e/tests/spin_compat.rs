//! The runner behaves as Spin does where components can tell: the `spin-*`
//! headers, variables, and the Postgres host's strict conversions and errors.
//! Driven through a probe component (`crates/e2e/probe`) that reports what its
//! host gives it.

use e2e::{RunnerConfig, TestDb, Value, agent, json, send, workspace_root};

fn probe(db: &TestDb) -> RunnerConfig {
    RunnerConfig {
        manifest: workspace_root().join("crates/e2e/fixtures/probe.toml"),
        vars: vec![
            ("db_host".into(), db.host().to_string()),
            ("suffix".into(), "world".into()),
        ],
        listen: None,
    }
}

fn query(base: &str, address: &str, sql: &str, params: Value) -> Value {
    let body = json!({"address": address, "sql": sql, "params": params}).to_string();
    let r = send(
        &agent(),
        "POST",
        &format!("{base}/probe/query"),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn spin_headers_and_variables() {
    let db = TestDb::new();
    let runner = probe(&db).start();
    let r = send(
        &agent(),
        "GET",
        &runner.url("/probe/headers?x=1"),
        &[],
        None,
    );
    let h = r.json();
    assert_eq!(h["spin-path-info"], "/headers");
    assert_eq!(h["spin-matched-route"], "/probe/...");
    assert_eq!(h["spin-raw-component-route"], "/probe/...");
    assert_eq!(h["spin-component-route"], "/probe");
    assert_eq!(h["spin-base-path"], "/");
    assert_eq!(
        h["spin-full-url"],
        format!("{}/probe/headers?x=1", runner.base)
    );
    assert_eq!(h["uri"], format!("{}/probe/headers?x=1", runner.base));
    assert!(
        h["spin-client-addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    let get = |name: &str| {
        send(
            &agent(),
            "GET",
            &runner.url(&format!("/probe/var?{name}")),
            &[],
            None,
        )
        .json()
    };
    assert_eq!(get("greeting"), json!({"value": "hello, world!"}));
    // Only the component's own variables are visible, as in Spin.
    let undefined = get("db_host");
    assert!(
        undefined["error"].as_str().unwrap().contains("Undefined"),
        "{undefined}"
    );
    let invalid = get("Not-A-Name");
    assert!(
        invalid["error"].as_str().unwrap().contains("InvalidName"),
        "{invalid}"
    );
}

#[test]
fn postgres_conversions_are_as_strict_as_spin() {
    let db = TestDb::new();
    let runner = probe(&db).start();
    let base = &runner.base;
    let addr = db.app_url();

    // A timestamptz column cannot be read; cast it in SQL.
    let r = query(base, &addr, "SELECT now() AS t", json!([]));
    assert!(r["error"].as_str().unwrap().contains("timestamptz"), "{r}");
    let r = query(base, &addr, "SELECT now()::timestamp AS t", json!([]));
    assert!(
        r["columns"][0].as_str().unwrap().ends_with(":Datetime"),
        "{r}"
    );

    // Parameter types are strict: an int32 does not bind to an int8.
    let r = query(base, &addr, "SELECT $1::int8 AS n", json!([{"int32": 5}]));
    assert!(r["error"].as_str().unwrap().contains("int8"), "{r}");
    let r = query(base, &addr, "SELECT $1::int8 AS n", json!([{"int64": 5}]));
    assert_eq!(r["rows"], json!([["DbValue::Int64(5)"]]));
    // A datetime binds only to timestamp; a timestamp (seconds) to timestamptz.
    let dt = json!([{"datetime": [2026, 11, 28, 4, 6, 8, 0]}]);
    let r = query(base, &addr, "SELECT $1::timestamp::text AS t", dt.clone());
    assert_eq!(
        r["rows"],
        json!([["DbValue::Str(\"2026-11-28 04:06:08\")"]]),
        "{r}"
    );
    let r = query(base, &addr, "SELECT $1::timestamptz::text AS t", dt);
    assert!(r.get("error").is_some(), "{r}");
    let r = query(
        base,
        &addr,
        "SELECT extract(epoch FROM $1::timestamptz)::int8 AS t",
        json!([{"timestamp": 1_795_838_768}]),
    );
    assert_eq!(r["rows"], json!([["DbValue::Int64(1795838768)"]]), "{r}");
    // NULL binds to anything and reads back as db-null.
    let r = query(base, &addr, "SELECT $1::text AS t", json!([{"null": true}]));
    assert_eq!(r["rows"], json!([["DbValue::DbNull"]]));

    // An empty result carries no column metadata.
    let r = query(base, &addr, "SELECT 1 AS n WHERE false", json!([]));
    assert_eq!(r, json!({"columns": [], "rows": []}));

    // Database errors come back structured, with the SQLSTATE.
    let r = query(base, &addr, "SELECT * FROM no_such_table", json!([]));
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("QueryFailed(QueryError::DbError(") && e.contains("42P01"),
        "{e}"
    );
}

#[test]
fn addresses_outside_allowed_outbound_hosts_are_refused() {
    let db = TestDb::new();
    let runner = probe(&db).start();
    // Same server, but through a host name the manifest does not allow.
    let other = db.app_url().replace(db.host(), "localhost:5432");
    let r = query(&runner.base, &other, "SELECT 1", json!([]));
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("ConnectionFailed(") && e.contains("is not permitted"),
        "{e}"
    );
}

#[test]
fn a_missing_required_variable_of_any_app_stops_start_up() {
    let db = TestDb::new();
    let err = probe(&db).unset("suffix").start_failure();
    assert!(err.contains("SPIN_VARIABLE_SUFFIX"), "{err}");
}
