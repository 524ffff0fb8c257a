//! What an operator sees of a host: its metrics (on their own address,
//! never on the app's port), its JSON log (a line per request, the
//! components' lines with their name), no secret in any of it, and a
//! malformed variable named in the log instead of ignored.

use e2e::{ADMIN_TOKEN, Client, RunnerConfig, SESSION_SECRET, TestDb, json, send};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A runner with metrics on a port of their own and JSON logs; the
/// metrics' base URL.
fn start(config: RunnerConfig) -> (testkit::Server, String) {
    let port = testkit::server::free_port();
    let mut config = config;
    config.args.extend([
        "--metrics-listen".to_string(),
        format!("127.0.0.1:{port}"),
        "--log-format".to_string(),
        "json".to_string(),
    ]);
    (config.start(), format!("http://127.0.0.1:{port}"))
}

/// The JSON lines of a log (every line must be one).
fn lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// Waits (10 s at most) for a log line that `matches`.
fn wait_for_line(runner: &testkit::Server, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = runner.stderr();
        if let Some(line) = lines(&log).into_iter().find(&matches) {
            return line;
        }
        assert!(Instant::now() < deadline, "no such line in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of one series in a Prometheus text exposition.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[test]
fn a_request_shows_in_the_metrics_and_the_json_log_and_metrics_stay_off_the_app_port() {
    let db = TestDb::new();
    let (runner, metrics) = start(RunnerConfig::chat(&db));
    let agent = e2e::agent();
    let r = send(
        &agent,
        "GET",
        &runner.url("/api/rooms"),
        &[("x-request-id", "req-4711")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let line = wait_for_line(&runner, |l| l["request_id"] == "req-4711");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["route"], "/api/rooms", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["component"], "rooms", "{line}");
    assert!(line["instance"].as_u64().is_some_and(|i| i > 0), "{line}");
    assert!(
        line["duration_ms"].as_f64().is_some_and(|d| d > 0.0),
        "{line}"
    );
    assert_eq!(line["level"], "INFO", "{line}");

    let scrape = send(&agent, "GET", &format!("{metrics}/metrics"), &[], None);
    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text")),
        "{:?}",
        scrape.headers
    );
    let text = scrape.body;
    let rooms = r#"minispin_requests_total{component="rooms",route="/api/rooms",status="200"}"#;
    assert_eq!(series(&text, rooms), Some(1.0), "{text}");
    assert!(
        series(
            &text,
            r#"minispin_request_duration_seconds_count{component="rooms"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        series(&text, r#"minispin_instances{component="rooms"}"#).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // The rooms component opened a pooled connection for the request.
    assert!(
        series(&text, r#"minispin_pg_connections_open{component="rooms"}"#)
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(series(&text, "minispin_draining"), Some(0.0), "{text}");

    // Two more requests count on.
    for _ in 0..2 {
        assert_eq!(Client::new(&runner).get("/api/rooms").status, 200);
    }
    let text = send(&agent, "GET", &format!("{metrics}/metrics"), &[], None).body;
    assert_eq!(series(&text, rooms), Some(3.0), "{text}");

    // Every series the Grafana dashboard (deploy/grafana/ostchat.json) asks
    // for exists. Instances retire after a second idle, which fills the
    // per-instance histogram.
    std::thread::sleep(Duration::from_millis(1500));
    let text = send(&agent, "GET", &format!("{metrics}/metrics"), &[], None).body;
    testkit::assert_dashboard_served("minispin_", 8, &text);

    // The app's port has no metrics: /metrics there is the app's (the page
    // component's 404), never the host's counts.
    let public = Client::new(&runner).get("/metrics");
    assert_ne!(public.status, 200, "{}", public.body);
    assert!(!public.body.contains("minispin_"), "{}", public.body);
    // And the metrics port serves nothing of the app.
    let other = send(&agent, "GET", &format!("{metrics}/api/rooms"), &[], None);
    assert_eq!(other.status, 404, "{}", other.body);
}

#[test]
fn no_secret_ever_appears_in_the_log() {
    let db = TestDb::new();
    // A database password of its own, so that finding it means a leak (the
    // shared test roles' passwords equal their names, which may be logged).
    let password = "db-pw-never-logged-5b1c";
    let mut owner = db.connect();
    owner
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ostchat_logtest') THEN
                 CREATE ROLE ostchat_logtest LOGIN PASSWORD '{password}' IN ROLE ostchat_app;
               ELSE
                 ALTER ROLE ostchat_logtest LOGIN PASSWORD '{password}';
               END IF;
             END $$"
        ))
        .expect("create a login role with a password of its own");
    let url = db.app_url().replacen(
        "ostchat_app:ostchat_app@",
        &format!("ostchat_logtest:{password}@"),
        1,
    );
    assert!(
        url.contains(password),
        "the app's URL has the shape assumed: {url}"
    );
    let (runner, metrics) = start(RunnerConfig::chat(&db).set("database_url", &url));
    let c = Client::new(&runner);

    // What a day brings: sessions, posts, an edit, a removal, a moderator
    // at work, and requests that fail.
    let token = c.login("alice");
    let sent = c.send_message(&token, "general", "hello", "c-1");
    assert_eq!(sent.status, 201, "{}", sent.body);
    let id = sent.json()["message"]["id"].as_i64().unwrap();
    let auth = format!("Bearer {token}");
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let message = runner.url(&format!("/api/rooms/general/messages/{id}"));
    let json_type = ("content-type", "application/json");
    let edit = br#"{"body":"hello again"}"#;
    let r = send(
        &c.agent,
        "PATCH",
        &message,
        &[("authorization", &auth), json_type],
        Some(edit),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        &c.agent,
        "DELETE",
        &message,
        &[("authorization", &admin)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mute = json!({"name": "mallory", "duration_secs": 60});
    let r = c.post_json("/api/mutes", Some(ADMIN_TOKEN), &mute);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.post_json(
        "/api/rooms",
        Some(ADMIN_TOKEN),
        &json!({"id": "ops-room", "title": "Ops"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c.post_json(
        "/api/rooms",
        Some("wrong-admin-token"),
        &json!({"id": "x", "title": "X"}),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    let r = c.post_json(
        "/api/rooms/general/messages",
        Some("not.a-token"),
        &json!({"body": "x", "client_id": "c-2"}),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    let _ = send(&c.agent, "GET", &format!("{metrics}/metrics"), &[], None);

    let (_, log) = runner.terminate();
    assert!(
        log.contains("/api/mutes"),
        "the requests were logged: {log}"
    );
    for (what, secret) in [
        ("the database password", password),
        ("the session secret", SESSION_SECRET),
        ("the admin token", ADMIN_TOKEN),
        ("a session token", token.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} is in the log:\n{log}");
    }
}

#[test]
fn a_malformed_variable_is_named_in_the_log_and_its_default_used() {
    let db = TestDb::new();
    let (runner, _) = start(
        RunnerConfig::chat(&db)
            .set("post_burst", "twenty")
            .set("posts_per_minute", "1")
            .set("trusted_proxies", "10.0.0.0/8, traefik"),
    );
    let c = Client::new(&runner);
    let token = c.login("bob");
    // The default burst (20) is what holds: twenty posts, then a refusal
    // (one a minute refills too slowly to matter here).
    for i in 1..=20 {
        let r = c.send_message(&token, "general", "still works", &format!("c-{i}"));
        assert_eq!(r.status, 201, "post {i}: {}", r.body);
    }
    let r = c.send_message(&token, "general", "one too many", "c-21");
    assert_eq!(r.status, 429, "the default burst of 20 holds: {}", r.body);
    let line = wait_for_line(&runner, |l| {
        l["component"] == "messages"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("variable `post_burst`"))
    });
    let text = line["message"].as_str().unwrap();
    assert!(
        text.contains("`twenty` is not a whole number; using the default 20"),
        "{line}"
    );
    assert_eq!(line["level"], "WARN", "{line}");
    wait_for_line(&runner, |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("variable `trusted_proxies`") && m.contains("traefik"))
    });
}
