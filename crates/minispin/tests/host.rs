//! The host's behaviour, in-process: minispin as a library serving a probe
//! component (`crates/minispin/probe`, manifest `fixtures/probe.toml`) that
//! reports what its host gives it, against a real Postgres. It behaves as
//! Spin does where components can tell: the `spin-*` headers, variables,
//! the Postgres host's strict conversions and errors (where each query form
//! reports them), the zero-row hang of the synchronous `query` on Spin
//! releases without spinframework/spin#3673 (a failed request under
//! `--strict`, a warning otherwise); and it refuses what it cannot do, and
//! drains before it stops. (`crates/e2e/tests/runner.rs` keeps one test of
//! the binary itself, its signals and exit.)

use minispin::{Drain, Options};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{TestDb, workspace_root};

/// A server running in this process, on a runtime of its own.
struct Host {
    base: String,
    log: Arc<Mutex<String>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

fn probe_manifest() -> PathBuf {
    workspace_root().join("crates/minispin/tests/fixtures/probe.toml")
}

/// The probe's variables for `db`.
fn probe_vars(db: &TestDb) -> Vec<(String, String)> {
    vec![
        ("db_host".into(), db.host().to_string()),
        ("suffix".into(), "world".into()),
    ]
}

fn env_of(vars: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    |key| {
        vars.iter()
            .find(|(n, _)| format!("SPIN_VARIABLE_{}", n.to_uppercase()) == key)
            .map(|(_, v)| v.clone())
    }
}

fn options(strict: bool) -> Options {
    Options {
        strict,
        read_timeout: Duration::from_secs(30),
        ..Options::default()
    }
}

/// Writes log lines into a host's own buffer.
struct Sink(Arc<Mutex<String>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A log subscriber that writes text lines (as the binary's default) into
/// `log`. Each host installs it on its own threads, so hosts running in
/// parallel keep their logs apart.
fn capture(log: &Arc<Mutex<String>>) -> tracing::Dispatch {
    let log = log.clone();
    tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(log.clone()))
            .finish(),
    )
}

impl Host {
    fn start(manifest: &Path, vars: Vec<(String, String)>, strict: bool, drain: Drain) -> Host {
        Host::start_with(manifest, vars, strict, drain, |_| {})
    }

    /// As [`Host::start`], with `tune` changing the runner's options.
    fn start_with(
        manifest: &Path,
        vars: Vec<(String, String)>,
        strict: bool,
        drain: Drain,
        tune: impl FnOnce(&mut Options),
    ) -> Host {
        let log = Arc::new(Mutex::new(String::new()));
        let dispatch = capture(&log);
        let mut options = options(strict);
        tune(&mut options);
        let manifest = manifest.to_path_buf();
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let _log = tracing::dispatcher::set_default(&dispatch);
            let on_workers = dispatch.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .on_thread_start(move || {
                    // The runtime's threads live as long as the runtime,
                    // and log to this host's buffer all along.
                    std::mem::forget(tracing::dispatcher::set_default(&on_workers));
                })
                .build()?;
            let app = match minispin::load(&manifest, env_of(&vars), &options) {
                Ok((_, app)) => app,
                Err(e) => {
                    let _ = ready.send(Err(format!("{e:#}")));
                    return Ok(());
                }
            };
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let _ = ready.send(Ok(format!("http://{}", listener.local_addr()?)));
                minispin::serve(
                    Arc::new(app),
                    listener,
                    async {
                        let _ = stopped.await;
                    },
                    drain,
                )
                .await
            })
        });
        let base = started
            .recv_timeout(Duration::from_secs(60))
            .expect("the host starts within 60 s")
            .unwrap_or_else(|e| panic!("the host did not start: {e}"));
        Host {
            base,
            log,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn probe(db: &TestDb, strict: bool) -> Host {
        Host::start(&probe_manifest(), probe_vars(db), strict, Drain::default())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (10 s at most) until the log has `needle`; the log.
    fn log_shows(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log().contains(needle) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log()
    }

    /// Signals the shutdown (what SIGTERM is to the binary).
    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `serve` to return.
    fn join(mut self) -> anyhow::Result<()> {
        self.signal_stop();
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the server thread")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if std::thread::panicking() {
            eprintln!("--- the host's log ---\n{}", self.log());
        }
    }
}

/// Why the app at `manifest` does not load with `vars`.
fn load_failure(manifest: &Path, vars: &[(String, String)]) -> String {
    match minispin::load(manifest, env_of(vars), &options(true)) {
        Ok(_) => panic!("{} was expected not to load", manifest.display()),
        Err(e) => format!("{e:#}"),
    }
}

/// A reply: status and JSON body.
fn send(method: &str, url: &str, body: Option<Value>) -> (u16, String) {
    let agent = testkit::http::agent();
    let reply = testkit::http::try_send_json(&agent, method, url, &[], body.as_ref())
        .unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"));
    (reply.status, reply.body)
}

fn get_json(url: &str) -> Value {
    let (status, body) = send("GET", url, None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// Runs `sql` through the probe with the query form `form` ("sync" or
/// "async"); its status and JSON answer.
fn probe_query(host: &Host, address: &str, form: &str, sql: &str, params: Value) -> (u16, Value) {
    let body = json!({"address": address, "sql": sql, "params": params, "form": form});
    let (status, text) = send("POST", &host.url("/probe/query"), Some(body));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A synchronous `query` through the probe, which must answer.
fn query(host: &Host, address: &str, sql: &str, params: Value) -> Value {
    let (status, r) = probe_query(host, address, "sync", sql, params);
    assert_eq!(status, 200, "{r}");
    r
}

/// A `query-async` through the probe, which must answer.
fn query_async(host: &Host, address: &str, sql: &str) -> Value {
    let (status, r) = probe_query(host, address, "async", sql, json!([]));
    assert_eq!(status, 200, "{r}");
    r
}

#[test]
fn spin_headers_and_variables() {
    let db = TestDb::new();
    let host = Host::probe(&db, true);
    let h = get_json(&host.url("/probe/headers?x=1"));
    assert_eq!(h["spin-path-info"], "/headers");
    assert_eq!(h["spin-matched-route"], "/probe/...");
    assert_eq!(h["spin-raw-component-route"], "/probe/...");
    assert_eq!(h["spin-component-route"], "/probe");
    assert_eq!(h["spin-base-path"], "/");
    assert_eq!(
        h["spin-full-url"],
        format!("{}/probe/headers?x=1", host.base)
    );
    assert_eq!(h["uri"], format!("{}/probe/headers?x=1", host.base));
    assert!(
        h["spin-client-addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    let var = |name: &str| get_json(&host.url(&format!("/probe/var?{name}")));
    assert_eq!(var("greeting"), json!({"value": "hello, world!"}));
    // Only the component's own variables are visible, as in Spin.
    let undefined = var("db_host");
    assert!(
        undefined["error"].as_str().unwrap().contains("Undefined"),
        "{undefined}"
    );
    let invalid = var("Not-A-Name");
    assert!(
        invalid["error"].as_str().unwrap().contains("InvalidName"),
        "{invalid}"
    );
}

#[test]
fn postgres_conversions_are_as_strict_as_spin() {
    let db = TestDb::new();
    let host = Host::probe(&db, true);
    let addr = db.app_url();

    // A timestamptz column cannot be read; cast it in SQL.
    let r = query(&host, &addr, "SELECT now() AS t", json!([]));
    assert!(r["error"].as_str().unwrap().contains("timestamptz"), "{r}");
    let r = query(&host, &addr, "SELECT now()::timestamp AS t", json!([]));
    assert!(
        r["columns"][0].as_str().unwrap().ends_with(":Datetime"),
        "{r}"
    );

    // Parameter types are strict: an int32 does not bind to an int8.
    let r = query(&host, &addr, "SELECT $1::int8 AS n", json!([{"int32": 5}]));
    assert!(r["error"].as_str().unwrap().contains("int8"), "{r}");
    let r = query(&host, &addr, "SELECT $1::int8 AS n", json!([{"int64": 5}]));
    assert_eq!(r["rows"], json!([["DbValue::Int64(5)"]]));
    // A datetime binds only to timestamp; a timestamp (seconds) to timestamptz.
    let dt = json!([{"datetime": [2026, 11, 28, 4, 6, 8, 0]}]);
    let r = query(&host, &addr, "SELECT $1::timestamp::text AS t", dt.clone());
    assert_eq!(
        r["rows"],
        json!([["DbValue::Str(\"2026-11-28 04:06:08\")"]]),
        "{r}"
    );
    let r = query(&host, &addr, "SELECT $1::timestamptz::text AS t", dt);
    assert!(r.get("error").is_some(), "{r}");
    let r = query(
        &host,
        &addr,
        "SELECT extract(epoch FROM $1::timestamptz)::int8 AS t",
        json!([{"timestamp": 1_795_838_768}]),
    );
    assert_eq!(r["rows"], json!([["DbValue::Int64(1795838768)"]]), "{r}");
    // NULL binds to anything and reads back as db-null.
    let r = query(
        &host,
        &addr,
        "SELECT $1::text AS t",
        json!([{"null": true}]),
    );
    assert_eq!(r["rows"], json!([["DbValue::DbNull"]]));

    // An empty result carries no column metadata (Spin before spin#3673).
    let r = query_async(&host, &addr, "SELECT 1 AS n WHERE false");
    assert_eq!(r, json!({"columns": [], "rows": []}));

    // Database errors come back structured, with the SQLSTATE.
    let r = query(&host, &addr, "SELECT * FROM no_such_table", json!([]));
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("QueryFailed(QueryError::DbError(") && e.contains("42P01"),
        "{e}"
    );
}

#[test]
fn addresses_outside_allowed_outbound_hosts_are_refused() {
    let db = TestDb::new();
    let host = Host::probe(&db, true);
    // Same server, but through a host name the manifest does not allow.
    let other = db.app_url().replace(db.host(), "localhost:5432");
    let r = query(&host, &other, "SELECT 1", json!([]));
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("ConnectionFailed(") && e.contains("is not permitted"),
        "{e}"
    );
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
    let host = Host::probe(&db, true);
    let addr = db.app_url();

    // Synchronous `query`: as text, with the structured error's debug form
    // (and so the SQLSTATE) inside it, not as a `db-error`.
    let r = query(
        &host,
        &addr,
        "SELECT * FROM public.probe_raise()",
        json!([]),
    );
    let e = r["error"].as_str().unwrap();
    assert!(e.starts_with("Error::QueryFailed(QueryError::Text("), "{e}");
    assert!(e.contains(r#"code: \"P0002\""#), "{e}");

    // `query-async`: the call succeeds and the structured error comes
    // through the completion future.
    let r = query_async(&host, &addr, "SELECT * FROM public.probe_raise()");
    assert_eq!(r["at"], "result", "{r}");
    let e = r["error"].as_str().unwrap();
    assert!(
        e.starts_with("Error::QueryFailed(QueryError::DbError(") && e.contains("P0002"),
        "{e}"
    );
    // The rows sent before the error still arrive (a plpgsql function sends
    // none: it returns its rows only at its end; a plain SELECT streams).
    let r = query_async(
        &host,
        &addr,
        "SELECT (1 / (2 - g))::int8 AS n FROM generate_series(1, 3) AS g",
    );
    assert_eq!(r["rows"], json!([["DbValue::Int64(1)"]]), "{r}");
    assert_eq!(r["at"], "result", "{r}");
    assert!(r["error"].as_str().unwrap().contains("22012"), "{r}");

    // An error before the first row (here: no such table) is the call's own,
    // and structured, in both forms.
    let r = query_async(&host, &addr, "SELECT * FROM no_such_table");
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
    let r = query_async(&host, &addr, "SELECT now() AS t");
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
    let strict = Host::probe(&db, true);
    let (status, r) = probe_query(&strict, &addr, "sync", empty, json!([]));
    assert_eq!(status, 500, "{r}");
    let log = strict.log_shows("spinframework/spin#3671");
    assert!(
        log.contains("spinframework/spin#3671") && log.contains("component `probe`"),
        "{log}"
    );
    // The component keeps serving: the next request gets a new instance.
    let r = query(&strict, &addr, "SELECT 1::int8 AS n", json!([]));
    assert_eq!(r["rows"], json!([["DbValue::Int64(1)"]]));
    // The asynchronous form is fine with zero rows.
    assert_eq!(
        query_async(&strict, &addr, empty),
        json!({"columns": [], "rows": []})
    );

    // Lenient: the call answers, and one warning per component is logged.
    let lenient = Host::probe(&db, false);
    for _ in 0..3 {
        assert_eq!(
            query(&lenient, &addr, empty, json!([])),
            json!({"columns": [], "rows": []})
        );
    }
    let log = lenient.log_shows("spinframework/spin#3671");
    assert_eq!(log.matches("spinframework/spin#3671)").count(), 1, "{log}");
    assert!(log.contains(" WARN "), "{log}");
}

#[test]
fn a_missing_required_variable_of_any_app_stops_loading() {
    let db = TestDb::new();
    let vars: Vec<_> = probe_vars(&db)
        .into_iter()
        .filter(|(n, _)| n != "suffix")
        .collect();
    let err = load_failure(&probe_manifest(), &vars);
    assert!(err.contains("SPIN_VARIABLE_SUFFIX"), "{err}");
}

/// The chat's real manifest, edited, next to it (so `source` paths hold).
fn chat_manifest_with(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    let dir = workspace_root().join("target").join("host-test-manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let text = text.replace("source = \"target/", "source = \"../");
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn chat_vars(db: &TestDb) -> Vec<(String, String)> {
    vec![
        ("database_url".into(), db.app_url()),
        ("db_host".into(), db.host().to_string()),
        ("session_secret".into(), testkit::db::SESSION_SECRET.into()),
    ]
}

#[test]
fn unsupported_manifest_features_and_missing_variables_are_named() {
    let db = TestDb::new();
    let vars = chat_vars(&db);
    let without_secret: Vec<_> = vars
        .iter()
        .filter(|(n, _)| n != "session_secret")
        .cloned()
        .collect();
    let err = load_failure(&workspace_root().join("spin.toml"), &without_secret);
    assert!(
        err.contains("session_secret") && err.contains("SPIN_VARIABLE_SESSION_SECRET"),
        "{err}"
    );

    let kv = chat_manifest_with("kv.toml", |t| {
        t.replace(
            "[component.rooms.variables]",
            "key_value_stores = [\"default\"]\n[component.rooms.variables]",
        )
    });
    let err = load_failure(&kv, &vars);
    assert!(err.contains("component.rooms.key_value_stores"), "{err}");
    let redis = chat_manifest_with("redis.toml", |t| {
        format!("{t}\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"rooms\"\n")
    });
    assert!(load_failure(&redis, &vars).contains("trigger.redis"));
    let params = chat_manifest_with("params.toml", |t| {
        t.replace("route = \"/api/health\"", "route = \"/api/health/:check\"")
    });
    assert!(load_failure(&params, &vars).contains("route parameters"));
}

#[test]
fn a_copy_of_the_real_manifest_serves() {
    // The copied manifest (only `source` rewritten) loads and serves.
    let db = TestDb::new();
    let copy = chat_manifest_with("copy.toml", |t| t);
    let host = Host::start(&copy, chat_vars(&db), true, Drain::default());
    assert_eq!(send("GET", &host.url("/api/health"), None).0, 200);
}

#[test]
fn a_stopping_host_drains_first() {
    let db = TestDb::new();
    let drain = Drain {
        delay: Duration::from_millis(1500),
        health_path: Some("/probe/headers".into()),
        timeout: Duration::from_secs(5),
    };
    let mut host = Host::start(&probe_manifest(), probe_vars(&db), true, drain);
    assert_eq!(send("GET", &host.url("/probe/headers"), None).0, 200);
    let base = host.base.clone();
    let log = host.log.clone();
    host.signal_stop();
    // While draining: the health path answers 503, everything else is served.
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut saw_503 = false;
    while Instant::now() < deadline {
        let (status, body) = send("GET", &format!("{base}/probe/headers"), None);
        if status == 503 {
            assert!(body.contains("draining"), "{body}");
            saw_503 = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(saw_503, "the health path answered 503 while draining");
    assert_eq!(
        send("GET", &format!("{base}/probe/var?greeting"), None).0,
        200
    );
    // Then it stops accepting and returns.
    host.join().expect("serve returns Ok");
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("draining") && log.contains("all requests finished"),
        "{log}"
    );
    // Refused: not an error reply, which would mean something still listens.
    let after = testkit::http::try_send(
        &testkit::http::agent(),
        "GET",
        &format!("{base}/probe/headers"),
        &[],
        None,
    );
    assert_eq!(
        testkit::http::failure_kind(&after),
        "connection refused",
        "nothing listens once it has stopped: {}",
        testkit::http::describe(&after)
    );
}

/// Everything the server sends on `stream` until it closes the connection
/// (10 s at most).
fn read_until_closed(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn slow_senders_are_disconnected_and_logged() {
    use std::io::Write;
    let db = TestDb::new();
    let host = Host::start_with(
        &probe_manifest(),
        probe_vars(&db),
        true,
        Drain::default(),
        |o| o.read_timeout = Duration::from_millis(500),
    );
    let addr = host.base.trim_start_matches("http://").to_string();

    // Headers that never end.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /probe/headers HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    read_until_closed(&mut slow);
    let log = host.log_shows("request headers did not arrive");
    assert!(
        log.contains("request headers did not arrive within 500ms"),
        "{log}"
    );

    // A body that never ends: the component reads an error, answers, and
    // the connection is closed.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /probe/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"addr",
    )
    .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut slow);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    let log = host.log_shows("request body did not arrive");
    assert!(
        log.contains("request body did not arrive within 500ms"),
        "{log}"
    );

    // Prompt clients are served as before.
    assert_eq!(send("GET", &host.url("/probe/headers"), None).0, 200);
}

/// The median time of `n` sequential requests for `path` on one kept-alive
/// connection.
fn median_on_one_connection(host: &Host, path: &str, n: usize) -> Duration {
    let mut conn = testkit::http1::Conn::open(&host.base).unwrap();
    let mut took: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            let answer = conn.send("GET", path, &[], b"");
            assert_eq!(answer.status, 200, "{}", answer.text());
            assert_eq!(answer.text(), "first piece, second piece");
            t0.elapsed()
        })
        .collect();
    took.sort();
    took[n / 2]
}

/// Spin's HTTP server leaves Nagle's algorithm on for the connections it
/// accepts, so the runner does too (unless told otherwise): a response
/// that leaves in two writes then holds the second back until the client
/// acknowledges the first, which a Linux client delays by about 40 ms on a
/// kept-alive connection. This is the stall every chat route had under
/// Spin (`crates/e2e/tests/keepalive.rs` holds the components to one
/// write); here the runner must show it, and must not with `tcp_nodelay`.
#[test]
fn like_spin_a_response_written_in_two_pieces_waits_for_the_delayed_ack() {
    let db = TestDb::new();
    let harsh = Host::probe(&db, true);
    let median = median_on_one_connection(&harsh, "/probe/pieces?2", 15);
    eprintln!("a body in two pieces, no TCP_NODELAY: median {median:?}");
    assert!(
        median >= Duration::from_millis(30),
        "without TCP_NODELAY the second piece should wait for the delayed ACK (~40 ms), but the median was {median:?}"
    );
    drop(harsh);

    let kind = Host::start_with(
        &probe_manifest(),
        probe_vars(&db),
        false,
        Drain::default(),
        |o| o.tcp_nodelay = true,
    );
    let median = median_on_one_connection(&kind, "/probe/pieces?2", 15);
    eprintln!("a body in two pieces, TCP_NODELAY: median {median:?}");
    assert!(
        median < Duration::from_millis(20),
        "with TCP_NODELAY the second piece leaves at once, but the median was {median:?}"
    );
}

/// Spin's connection budget, as harsh as real Spin: `max_connections` (here
/// `--max-pg-connections`) counts the connections components hold *in use*,
/// while each component keeps a pool of its own whose idle connections stay
/// open. So a host's open connections grow to the sum of its components'
/// peaks: four components driven one after another under a cap of 5 leave
/// 20 open (real Spin 4.1 showed the same), and a burst of 10 on one of
/// them still uses at most 5 at once, so its pool does not grow.
#[test]
fn the_cap_counts_connections_in_use_and_each_component_keeps_idle_ones() {
    let db = TestDb::new();
    let dir = workspace_root().join("target").join("host-test-manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = String::from(
        "spin_manifest_version = 2\n[application]\nname = \"pools\"\n\
         [variables]\ndb_host = { default = \"127.0.0.1:5432\" }\nsuffix = { default = \"\" }\n",
    );
    for c in ["c1", "c2", "c3", "c4"] {
        manifest.push_str(&format!(
            "[[trigger.http]]\nroute = \"/{c}/...\"\ncomponent = \"{c}\"\n\
             [component.{c}]\nsource = \"../wasm32-wasip2/release/spin_probe.wasm\"\n\
             allowed_outbound_hosts = [\"postgres://{{{{ db_host }}}}\"]\n"
        ));
    }
    let path = dir.join("pools.toml");
    std::fs::write(&path, manifest).unwrap();
    let host = Host::start_with(&path, probe_vars(&db), true, Drain::default(), |o| {
        o.max_pg_connections = Some(5)
    });
    let address = db.app_url();
    // `n` requests at once to component `c`, each holding its connection
    // for 300 ms.
    let burst = |c: &str, n: usize| {
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let url = host.url(&format!("/{c}/probe/query"));
                let body = json!({"address": address, "form": "async",
                                  "sql": "SELECT 1::int8 AS one FROM pg_sleep(0.3)", "params": []});
                std::thread::spawn(move || send("POST", &url, Some(body)))
            })
            .collect();
        for t in threads {
            let (status, body) = t.join().unwrap();
            assert!(status == 200 && !body.contains("error"), "{status} {body}");
        }
    };
    let open = || -> i64 {
        db.connect()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = 'ostchat_app'",
                &[&db.name],
            )
            .unwrap()
            .get(0)
    };
    for c in ["c1", "c2", "c3", "c4"] {
        burst(c, 5);
    }
    assert_eq!(
        open(),
        20,
        "each of the 4 components keeps the 5 connections it needed open (Spin's pools)"
    );
    burst("c1", 10);
    assert_eq!(
        open(),
        20,
        "10 requests at once under a cap of 5 use 5 connections at a time"
    );
}

/// The README shows each command's real help (`-h`).
#[test]
fn the_readme_shows_the_real_help() {
    for command in ["up", "migrate", "check"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_minispin"))
            .args([command, "-h"])
            .env_remove("MINISPIN_LOG_FORMAT")
            .output()
            .expect("run minispin");
        assert!(out.status.success());
        testkit::assert_readme_help(
            &format!("minispin {command}"),
            &String::from_utf8_lossy(&out.stdout),
        );
    }
}
