//! Sequential requests on one kept-alive connection, the way Traefik talks
//! to a host, for every route: none may wait for the client's delayed ACK.
//!
//! Spin's HTTP server does not set `TCP_NODELAY` on the connections it
//! accepts, and neither does the runner under `--strict`. A response that
//! leaves the host in more than one write then holds its last write back
//! (Nagle's algorithm) until the client acknowledges the earlier one, which a
//! Linux client delays by about 40 ms: every request after the first on a
//! connection takes 40-45 ms. The components therefore build every response
//! whole (status, headers and a body with its `Content-Length`), so it is
//! written at once. This test sends 20 requests per route on one connection
//! and fails when the median reaches 20 ms; with responses written in pieces
//! it is 44 ms every time.
//!
//! The client is `testkit::http1`, a plain socket speaking HTTP/1.1, so
//! nothing in a client library can hide the effect.

use e2e::{ADMIN_TOKEN, RunnerConfig, TestDb, json};
use std::time::{Duration, Instant};
use testkit::http1::Conn;

/// Requests per route, on one connection.
const REQUESTS: usize = 20;
/// The median above which a route is taken to wait for delayed ACKs.
const LIMIT: Duration = Duration::from_millis(20);

/// A request: method, path, headers, body.
type Request = (String, String, Vec<(String, String)>, Vec<u8>);

/// One route: a request to repeat, built anew each time (ids, cursors).
struct Case {
    name: String,
    /// The status every request gets; 0: whatever the first one gets.
    expect: u16,
    make: Box<dyn Fn(usize) -> Request>,
}

fn case(name: &'static str, expect: u16, make: impl Fn(usize) -> Request + 'static) -> Case {
    Case {
        name: name.to_string(),
        expect,
        make: Box::new(make),
    }
}

fn get(path: &str) -> Request {
    ("GET".into(), path.into(), Vec::new(), Vec::new())
}

fn post(path: &str, token: Option<&str>, body: &str) -> Request {
    let mut headers = vec![("content-type".into(), "application/json".into())];
    if let Some(t) = token {
        headers.push(("authorization".into(), format!("Bearer {t}")));
    }
    (
        "POST".into(),
        path.into(),
        headers,
        body.as_bytes().to_vec(),
    )
}

#[test]
fn every_route_answers_sequential_requests_on_one_connection_without_a_delayed_ack_stall() {
    let db = TestDb::new();
    // --strict: no TCP_NODELAY, as under Spin.
    let runner = RunnerConfig::chat(&db).start();
    let base = runner.base.clone();

    // A session, and the newest message id of `general`, for the cases.
    let mut setup = Conn::open(&base).unwrap();
    let login = setup.send(
        "POST",
        "/api/session",
        &[("content-type", "application/json")],
        br#"{"name":"keepalive"}"#,
    );
    assert_eq!(login.status, 201);
    let token: String = serde_json::from_slice::<e2e::Value>(&login.body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let rooms: e2e::Value =
        serde_json::from_slice(&setup.send("GET", "/api/rooms", &[], b"").body).unwrap();
    let newest = rooms["rooms"][0]["last_message_id"].as_i64().unwrap();
    let room = rooms["rooms"][0]["id"].as_str().unwrap().to_string();
    let page = setup.send("GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    let etag = page
        .header("etag")
        .expect("the page has an ETag")
        .to_string();

    // Messages of this session, for the edit and removal cases.
    let auth = format!("Bearer {token}");
    let own: Vec<i64> = (0..REQUESTS)
        .map(|i| {
            let body = json!({"body": format!("own {i}"), "client_id": format!("own-{i}")});
            let r = setup.send(
                "POST",
                &format!("/api/rooms/{room}/messages"),
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                body.to_string().as_bytes(),
            );
            assert_eq!(r.status, 201);
            serde_json::from_slice::<e2e::Value>(&r.body).unwrap()["message"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let with_token = |method: &str, path: String, token: &str, body: String| -> Request {
        let mut headers = vec![("authorization".into(), format!("Bearer {token}"))];
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        (method.into(), path, headers, body.into_bytes())
    };
    let newest = newest.max(*own.last().unwrap());
    let poll = format!("/api/rooms/{room}/messages?after={newest}");
    let single = format!("/api/poll?room={room}&after={newest}");
    let messages = format!("/api/rooms/{room}/messages");
    let t = token.clone();
    let m = messages.clone();
    let t2 = token.clone();
    let m2 = messages.clone();
    let cases = vec![
        case("the page", 200, |_| get("/")),
        case("the page, revalidated", 304, move |_| {
            let headers = vec![("if-none-match".into(), etag.clone())];
            ("GET".into(), "/".into(), headers, Vec::new())
        }),
        case("a page asset", 200, |_| get("/app.js")),
        case("the contract", 200, |_| get("/api/openapi.json")),
        case("an unknown page", 404, |_| get("/missing.png")),
        case("health", 200, |_| get("/api/health")),
        case("health, wrong method", 405, |_| {
            (
                "DELETE".into(),
                "/api/health".into(),
                Vec::new(),
                Vec::new(),
            )
        }),
        case("a new session", 201, |i| {
            post("/api/session", None, &format!(r#"{{"name":"k{i}"}}"#))
        }),
        case("a session, bad JSON", 400, |_| {
            post("/api/session", None, "{nope")
        }),
        case("the room list", 200, |_| get("/api/rooms")),
        case("a new room", 201, |i| {
            post(
                "/api/rooms",
                Some(ADMIN_TOKEN),
                &format!(r#"{{"id":"keep-{i}","title":"Keep {i}"}}"#),
            )
        }),
        case("a room that exists", 409, |_| {
            post(
                "/api/rooms",
                Some(ADMIN_TOKEN),
                r#"{"id":"keep-0","title":"Keep 0"}"#,
            )
        }),
        case("an empty poll", 200, move |_| get(&poll)),
        case("the single poll", 200, move |_| get(&single)),
        case("the single poll, bad cursor", 400, |_| {
            get("/api/poll?room=general&after=x")
        }),
        case("the newest messages", 200, move |_| get(&messages)),
        case("a post", 201, move |i| {
            let body = json!({"body": format!("keepalive {i}"), "client_id": format!("ka-{i}")});
            post(&m, Some(&t), &body.to_string())
        }),
        case("a replayed post", 200, move |_| {
            let body = json!({"body": "keepalive 0", "client_id": "ka-0"});
            post(&m2, Some(&t2), &body.to_string())
        }),
        case("a post without a token", 401, |_| {
            post(
                "/api/rooms/general/messages",
                None,
                r#"{"body":"x","client_id":"y"}"#,
            )
        }),
        case("a bad cursor", 400, |_| {
            get("/api/rooms/general/messages?after=x")
        }),
        case("an unknown room", 404, |_| get("/api/rooms/nope/messages")),
        case("an edit", 200, {
            let (t, r, own) = (token.clone(), room.clone(), own.clone());
            move |i| {
                let body = json!({"body": format!("edited {i}")}).to_string();
                with_token(
                    "PATCH",
                    format!("/api/rooms/{r}/messages/{}", own[i]),
                    &t,
                    body,
                )
            }
        }),
        case("a removal", 200, {
            let (t, r, own) = (token.clone(), room.clone(), own.clone());
            move |i| {
                with_token(
                    "DELETE",
                    format!("/api/rooms/{r}/messages/{}", own[i]),
                    &t,
                    String::new(),
                )
            }
        }),
        case("presence, here", 200, {
            let (t, r) = (token.clone(), room.clone());
            move |_| with_token("PUT", format!("/api/rooms/{r}/presence"), &t, String::new())
        }),
        case("presence, gone", 200, {
            let (t, r) = (token.clone(), room.clone());
            move |_| {
                with_token(
                    "DELETE",
                    format!("/api/rooms/{r}/presence"),
                    &t,
                    String::new(),
                )
            }
        }),
        case("a mute", 200, move |i| {
            let body = json!({"name": format!("muted-{i}"), "duration_secs": 60}).to_string();
            with_token("POST", "/api/mutes".into(), ADMIN_TOKEN, body)
        }),
        case("an unknown API path", 404, |_| get("/api/nope")),
    ];

    // Every method of every route in the API's table has a case: the ones
    // above, else one made here (the session's token and an empty JSON
    // object, whatever status that gets), so a route is covered by being
    // listed there. (HEAD is GET without the body; this client reads bodies.)
    let mut cases = cases;
    for route in chat::api::ROUTES {
        for (method, _) in route.methods.iter().filter(|(m, _)| *m != "HEAD") {
            let covered = cases.iter().any(|c| {
                let (m, path, _, _) = (c.make)(0);
                let path = path.split('?').next().unwrap_or_default();
                m == *method && chat::api::find(path).is_some_and(|(r, _)| r.path == route.path)
            });
            if !covered {
                let path = route.fill(chat::api::routes::Params {
                    room: &room,
                    id: "1",
                });
                let name = format!("{method} {} (listed)", route.path);
                let (method, t) = (method.to_string(), token.clone());
                let mut c = case("", 0, move |_| {
                    with_token(&method, path.clone(), &t, "{}".into())
                });
                c.name = name;
                cases.push(c);
            }
        }
    }

    let mut report = Vec::new();
    let mut slow = Vec::new();
    for c in &cases {
        let mut conn = Conn::open(&base).unwrap();
        let mut took = Vec::with_capacity(REQUESTS);
        let mut first = 0;
        for i in 0..REQUESTS {
            let (method, path, headers, body) = (c.make)(i);
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let t0 = Instant::now();
            let answer = conn.send(&method, &path, &headers, &body);
            took.push(t0.elapsed());
            if i == 0 {
                first = answer.status;
            }
            let expect = if c.expect == 0 { first } else { c.expect };
            assert_eq!(
                answer.status,
                expect,
                "{} (request {i}): {}",
                c.name,
                String::from_utf8_lossy(&answer.body)
            );
        }
        took.sort();
        let median = took[REQUESTS / 2];
        report.push(format!(
            "{:<26} median {:>6.2} ms, max {:>6.2} ms",
            c.name,
            median.as_secs_f64() * 1e3,
            took[REQUESTS - 1].as_secs_f64() * 1e3
        ));
        if median >= LIMIT {
            slow.push(c.name.clone());
        }
    }
    eprintln!(
        "{REQUESTS} sequential requests per route on one connection:\n{}",
        report.join("\n")
    );
    assert!(
        slow.is_empty(),
        "these routes wait for the client's delayed ACK on a kept-alive connection (median >= {LIMIT:?}): {slow:?}\n{}",
        report.join("\n")
    );
}
