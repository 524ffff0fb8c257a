//! The runner behaves as Spin does where components can tell: the `spin-*`
//! headers, variables, and the Postgres host's strict conversions and errors,
//! including where each query form reports an error and the synchronous
//! `query`'s zero-row hang of Spin releases without spinframework/spin#3673,
//! which `--strict` turns into a failed request and lenient mode into a
//! warning. Driven through a probe component (`crates/e2e/probe`) that
//! reports what its host gives it.

use e2e::{RunnerConfig, TestDb, Value, agent, json, send, workspace_root};

fn probe(db: &TestDb) -> RunnerConfig {
    RunnerConfig {
        manifest: workspace_root().join("crates/e2e/fixtures/probe.toml"),
        vars: vec![
            ("db_host".into(), db.host().to_string()),
            ("suffix".into(), "world".into()),
        ],
        listen: None,
        strict: true,
        args: Vec::new(),
    }
}

/// Runs `sql` through the probe with the query form `form` ("sync" or
/// "async"); the probe's reply, whatever its status.
fn probe_query(base: &str, address: &str, form: &str, sql: &str, params: Value) -> e2e::Reply {
    let body = json!({"address": address, "sql": sql, "params": params, "form": form}).to_string();
    send(
        &agent(),
        "POST",
        &format!("{base}/probe/query"),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
}

/// A synchronous `query` through the probe, which must answer.
fn query(base: &str, address: &str, sql: &str, params: Value) -> Value {
    let r = probe_query(base, address, "sync", sql, params);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A `query-async` through the probe, which must answer.
fn query_async(base: &str, address: &str, sql: &str) -> Value {
    let r = probe_query(base, address, "async", sql, json!([]));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Waits until the runner's log has `needle` (it is read by another thread).
fn log_shows(runner: &e2e::Server, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !runner.stderr().contains(needle) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    runner.stderr()
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

    // An empty result carries no column metadata (Spin before spin#3673).
    let r = query_async(base, &addr, "SELECT 1 AS n WHERE false");
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

/// A set-returning function that raises, as the chat's 0001 functions did
/// for an unknown room: the error is met while rows are read.
fn create_raising_function(db: &TestDb) {
    db.connect()
        .batch_execute(
            "CREATE FUNCTION public.probe_raise() RETURNS SETOF bigint LANGUAGE plpgsql AS $$
             BEGIN
                 RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'unknown room';
             END $$;
             GRANT EXECUTE ON FUNCTION public.probe_raise() TO ostchat_app;",
        )
        .expect("create probe_raise()");
}

#[test]
fn errors_while_reading_rows_arrive_as_spin_sends_them() {
    let db = TestDb::new();
    create_raising_function(&db);
    let runner = probe(&db).start();
    let (base, addr) = (&runner.base, db.app_url());

    // Synchronous `query`: as text, with the structured error's debug form
    // (and so the SQLSTATE) inside it, not as a `db-error`.
    let r = query(base, &addr, "SELECT * FROM public.probe_raise()", json!([]));
    let e = r["error"].as_str().unwrap();
    assert!(e.starts_with("Error::QueryFailed(QueryError::Text("), "{e}");
    assert!(e.contains(r#"code: \"P0002\""#), "{e}");

    // `query-async`: the call succeeds and the structured error comes
    // through the completion future.
    let r = query_async(base, &addr, "SELECT * FROM public.probe_raise()");
    assert_eq!(r["at"], "result", "{r}");
    let e = r["error"].as_str().unwrap();
    assert!(
        e.starts_with("Error::QueryFailed(QueryError::DbError(") && e.contains("P0002"),
        "{e}"
    );
    // The rows sent before the error still arrive (a plpgsql function sends
    // none: it returns its rows only at its end; a plain SELECT streams).
    let r = query_async(
        base,
        &addr,
        "SELECT (1 / (2 - g))::int8 AS n FROM generate_series(1, 3) AS g",
    );
    assert_eq!(r["rows"], json!([["DbValue::Int64(1)"]]), "{r}");
    assert_eq!(r["at"], "result", "{r}");
    assert!(r["error"].as_str().unwrap().contains("22012"), "{r}");

    // An error before the first row (here: no such table) is the call's own,
    // and structured, in both forms.
    let r = query_async(base, &addr, "SELECT * FROM no_such_table");
    assert_eq!(r["at"], "call", "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("QueryError::DbError("),
        "{r}"
    );

    // A value that does not convert is a query failure in text, met while
    // reading rows: the future's error in the async form.
    let r = query_async(base, &addr, "SELECT now() AS t");
    assert_eq!(r["at"], "result", "{r}");
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("QueryError::Text(") && e.contains("timestamptz"),
        "{e}"
    );
}

#[test]
fn a_sync_query_with_zero_rows_fails_under_strict_and_warns_otherwise() {
    let db = TestDb::new();
    let addr = db.app_url();
    let empty = "SELECT 1 AS n WHERE false";

    // Strict: the request fails (the instance is trapped, as a real Spin
    // without spin#3673 would block it), and the log says why.
    let strict = probe(&db).start();
    let r = probe_query(&strict.base, &addr, "sync", empty, json!([]));
    assert_eq!(r.status, 500, "{}", r.body);
    let log = log_shows(&strict, "spinframework/spin#3671");
    assert!(
        log.contains("spinframework/spin#3671") && log.contains("component `probe`"),
        "{log}"
    );
    // The component keeps serving: the next request gets a new instance.
    let r = query(&strict.base, &addr, "SELECT 1::int8 AS n", json!([]));
    assert_eq!(r["rows"], json!([["DbValue::Int64(1)"]]));
    // The asynchronous form is fine with zero rows.
    assert_eq!(
        query_async(&strict.base, &addr, empty),
        json!({"columns": [], "rows": []})
    );

    // Lenient: the call answers, and one warning per component is logged.
    let lenient = probe(&db).lenient().start();
    for _ in 0..3 {
        let r = query(&lenient.base, &addr, empty, json!([]));
        assert_eq!(r, json!({"columns": [], "rows": []}));
    }
    let log = log_shows(&lenient, "spinframework/spin#3671");
    assert_eq!(log.matches("spinframework/spin#3671)").count(), 1, "{log}");
    assert!(log.contains("warning"), "{log}");
}
