//! The whole API under the runner's strict settings, in one walk: every
//! component, every route and every error path, as a real Spin host would
//! serve them, including the two that broke under Spin 4.1 (an empty poll,
//! which hung the instance, and an unknown room, which answered 503).
//!
//! The runner runs with `--strict` (a synchronous postgres `query` with zero
//! rows fails the request, as spinframework/spin#3671 would hang it) and with
//! instance reuse as Spin 4 does, so one stuck call would also stall the
//! requests that follow it. Every request has a short timeout, so a hang
//! fails the test instead of stalling it.

use e2e::{ADMIN_TOKEN, Reply, RunnerConfig, Server, TestDb, Value, ids, json};
use std::time::Duration;

struct Api {
    agent: ureq::Agent,
    base: String,
}

impl Api {
    fn new(runner: &Server) -> Api {
        Api {
            agent: e2e::http::agent_with_timeout(Duration::from_secs(10)),
            base: runner.base.clone(),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        e2e::send(
            &self.agent,
            method,
            &format!("{}{path}", self.base),
            headers,
            body,
        )
    }

    fn get(&self, path: &str) -> Reply {
        self.call("GET", path, &[], None)
    }

    /// A POST with this token, content type and raw body.
    fn post_raw(&self, path: &str, token: &str, content_type: &str, body: &[u8]) -> Reply {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", content_type),
        ];
        self.call("POST", path, &headers, Some(body))
    }

    fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> Reply {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        self.call("POST", path, &headers, Some(body.to_string().as_bytes()))
    }
}

/// An API error reply: the status, a JSON body with this code and a message,
/// the JSON content type, and nothing of the server's internals.
#[track_caller]
fn error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.error_code(), code, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    security_headers(r, &API_SECURITY);
    for internal in ["SQLSTATE", "postgres", "chat.", "127.0.0.1", "panicked"] {
        assert!(!r.body.contains(internal), "{internal} leaked: {}", r.body);
    }
}

#[track_caller]
fn ok(r: &Reply, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    security_headers(r, &API_SECURITY);
    r.json()
}

/// The API's security headers, written out here rather than taken from
/// `chat::api::API_HEADERS`: a weakened header there must fail this test.
const API_SECURITY: [(&str, &str); 4] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

/// The page's: only its own scripts, styles and API; nothing inline, no
/// frames, no plugins, no base or form targets elsewhere.
const PAGE_SECURITY: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
];

/// Every header of `expected`.
#[track_caller]
fn security_headers(r: &Reply, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert_eq!(r.header(name), Some(*value), "{name}: {:?}", r.headers);
    }
}

#[test]
fn whole_api_under_strict_spin_settings() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let api = Api::new(&runner);
    let json_ct = [("content-type", "application/json")];

    // --- health
    assert_eq!(ok(&api.get("/api/health"), 200), json!({"status": "ok"}));
    error(
        &api.call("POST", "/api/health", &[], Some(b"")),
        405,
        "method_not_allowed",
    );

    // --- static: the page, its assets, revalidation, unknown paths
    for path in ["/", "/index.html", "/app.js", "/style.css"] {
        let r = api.get(path);
        assert_eq!(r.status, 200, "{path}");
        security_headers(&r, &PAGE_SECURITY);
        let etag = r.header("etag").expect("an etag").to_string();
        let again = api.call("GET", path, &[("if-none-match", &etag)], None);
        assert_eq!(again.status, 304, "{path}");
        security_headers(&again, &PAGE_SECURITY);
    }
    security_headers(&api.get("/missing.png"), &PAGE_SECURITY);
    assert_eq!(api.get("/missing.png").status, 404);
    error(&api.get("/api/nope"), 404, "not_found");
    error(&api.get("/api"), 404, "not_found");

    // --- session
    let alice = ok(
        &api.post("/api/session", None, &json!({"name": "alice"})),
        201,
    );
    let alice = alice["token"].as_str().unwrap().to_string();
    let bob = ok(
        &api.post("/api/session", None, &json!({"name": "bob"})),
        201,
    );
    let bob = bob["token"].as_str().unwrap().to_string();
    error(
        &api.post("/api/session", None, &json!({"name": ""})),
        400,
        "invalid_name",
    );
    error(
        &api.post("/api/session", None, &json!({})),
        400,
        "invalid_json",
    );
    error(
        &api.call("POST", "/api/session", &json_ct, Some(b"{nope")),
        400,
        "invalid_json",
    );
    error(
        &api.call(
            "POST",
            "/api/session",
            &[("content-type", "text/plain")],
            Some(b"{}"),
        ),
        415,
        "unsupported_media_type",
    );
    let big = vec![b'x'; 17 * 1024];
    error(
        &api.call("POST", "/api/session", &json_ct, Some(&big)),
        413,
        "payload_too_large",
    );
    error(&api.get("/api/session"), 405, "method_not_allowed");

    // --- rooms
    let rooms = ok(&api.get("/api/rooms"), 200);
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 4);
    let rust = json!({"id": "rust", "title": "Rust"});
    error(&api.post("/api/rooms", None, &rust), 401, "missing_token");
    error(
        &api.post("/api/rooms", Some("wrong"), &rust),
        401,
        "invalid_token",
    );
    error(
        &api.post(
            "/api/rooms",
            Some(ADMIN_TOKEN),
            &json!({"id": "Bad Id", "title": "x"}),
        ),
        400,
        "invalid_room_id",
    );
    let created = ok(&api.post("/api/rooms", Some(ADMIN_TOKEN), &rust), 201);
    assert_eq!(
        created,
        json!({"id": "rust", "title": "Rust", "last_message_id": 0, "members_only": false})
    );
    // An id that is taken is an outcome of the same SQL call, not an error.
    let taken = json!({"id": "rust", "title": "Another title"});
    error(
        &api.post("/api/rooms", Some(ADMIN_TOKEN), &taken),
        409,
        "room_exists",
    );
    error(
        &api.call("DELETE", "/api/rooms", &[], None),
        405,
        "method_not_allowed",
    );

    // --- messages: an empty room, then posts, polls and pages
    let path = "/api/rooms/rust/messages";
    assert_eq!(
        ok(&api.get(path), 200),
        json!({"messages": [], "cursor": 0})
    );
    // An empty poll before anything was ever posted.
    assert_eq!(
        ok(&api.get(&format!("{path}?after=0")), 200),
        json!({"messages": [], "cursor": 0})
    );
    for i in 1..=5 {
        let m = json!({"body": format!("m{i}"), "client_id": format!("c-{i}")});
        let r = ok(&api.post(path, Some(&alice), &m), 201);
        assert_eq!(r["message"]["id"], i);
    }
    let replay = api.post(
        path,
        Some(&alice),
        &json!({"body": "m1 again", "client_id": "c-1"}),
    );
    assert_eq!(ok(&replay, 200)["message"]["body"], "m1");
    ok(
        &api.post(
            path,
            Some(&bob),
            &json!({"body": "bob", "client_id": "c-1"}),
        ),
        201,
    );

    let all = ok(&api.get(&format!("{path}?after=0")), 200);
    assert_eq!(
        (ids(&all), all["cursor"].as_i64()),
        ((1..=6).collect(), Some(6))
    );
    // The empty poll, the most common request of all: 200, no messages, the
    // cursor kept. Many at once, so they share reused instances.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..5 {
                    let r = ok(&api.get(&format!("{path}?after=6")), 200);
                    assert_eq!(r, json!({"messages": [], "cursor": 6}));
                }
            });
        }
    });
    let after = ok(&api.get(&format!("{path}?after=99")), 200);
    assert_eq!(after, json!({"messages": [], "cursor": 99}));
    let latest = ok(&api.get(&format!("{path}?limit=2")), 200);
    assert_eq!(
        (ids(&latest), latest["cursor"].as_i64()),
        (vec![5, 6], Some(6))
    );
    let before = ok(&api.get(&format!("{path}?before=3&limit=10")), 200);
    assert_eq!(ids(&before), [1, 2]);
    let none_before = ok(&api.get(&format!("{path}?before=1")), 200);
    assert_eq!(none_before, json!({"messages": [], "cursor": 1}));
    // A window (both cursors): from after on, below before (sql/0005).
    let window = ok(&api.get(&format!("{path}?after=2&before=6&limit=2")), 200);
    assert_eq!(
        (ids(&window), window["cursor"].as_i64()),
        (vec![3, 4], Some(4))
    );
    let rest = ok(&api.get(&format!("{path}?after=4&before=6")), 200);
    assert_eq!(ids(&rest), [5]);

    // Unknown rooms: 404 for every form of read and for a post.
    for query in ["", "?after=0", "?after=5", "?before=3", "?limit=1"] {
        error(
            &api.get(&format!("/api/rooms/no-such-room/messages{query}")),
            404,
            "unknown_room",
        );
    }
    let hello = json!({"body": "hello", "client_id": "c-x"});
    error(
        &api.post("/api/rooms/no-such-room/messages", Some(&alice), &hello),
        404,
        "unknown_room",
    );
    // A room id that cannot exist is the same 404, without a database call.
    error(
        &api.get("/api/rooms/Not_A_Room/messages"),
        404,
        "unknown_room",
    );
    error(
        &api.post("/api/rooms/Not_A_Room/messages", Some(&alice), &hello),
        404,
        "unknown_room",
    );

    // Every error path of posting, in the domain's check order.
    error(&api.post(path, None, &hello), 401, "missing_token");
    error(
        &api.post(path, Some("forged.token"), &hello),
        401,
        "invalid_token",
    );
    error(
        &api.post_raw(path, &alice, "text/html", b"{}"),
        415,
        "unsupported_media_type",
    );
    error(
        &api.post_raw(path, &alice, "application/json", b"["),
        400,
        "invalid_json",
    );
    error(
        &api.post(path, Some(&alice), &json!({"body": "", "client_id": "c-e"})),
        400,
        "invalid_body",
    );
    error(
        &api.post(path, Some(&alice), &json!({"body": "x", "client_id": ""})),
        400,
        "invalid_client_id",
    );
    let huge = vec![b'a'; 16 * 1024 + 1];
    error(
        &api.post_raw(path, &alice, "application/json", &huge),
        413,
        "payload_too_large",
    );
    error(
        &api.call("PUT", path, &[], Some(b"{}")),
        405,
        "method_not_allowed",
    );
    // Paging errors: each names the parameter it refuses.
    for (query, names) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("after=-1", "after"),
        ("after=x", "after"),
        ("before=1e3", "before"),
        ("after=1&after=2", "after"),
    ] {
        let r = api.get(&format!("{path}?{query}"));
        error(&r, 400, "invalid_query");
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(names), "{query}: {message}");
    }
    // Other paths under /api/rooms/ are unknown routes.
    error(&api.get("/api/rooms/rust/nope"), 404, "not_found");
    let r = api.get("/api/rooms/rust/messages/7");
    error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("PATCH, DELETE"));
    error(&api.get("/api/rooms/rust/messages/7/x"), 404, "not_found");

    // Nothing that failed was stored; the room's counter agrees.
    let rooms = ok(&api.get("/api/rooms"), 200);
    let rust_room = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "rust")
        .unwrap()
        .clone();
    assert_eq!(rust_room["last_message_id"], 6);

    // --- the single poll: the room's new messages and every room's newest
    // id, with the cursor rules of a page after a cursor.
    let polled = ok(&api.get("/api/poll?room=rust&after=4"), 200);
    assert_eq!(ids(&polled), [5, 6]);
    assert_eq!(
        (&polled["room"], &polled["cursor"]),
        (&json!("rust"), &json!(6))
    );
    // The rooms as GET /api/rooms lists them, less members_only (a
    // poll's rooms leave it out).
    let mut listed = rooms["rooms"].clone();
    for room in listed.as_array_mut().unwrap() {
        room.as_object_mut().unwrap().remove("members_only");
    }
    assert_eq!(
        polled["rooms"], listed,
        "the rooms, as GET /api/rooms lists them"
    );
    let polled = ok(&api.get("/api/poll?room=rust&after=6&rooms=rust,nope"), 200);
    assert_eq!(ids(&polled), Vec::<i64>::new());
    assert_eq!(polled["cursor"], 6, "nothing new: the cursor stays");
    let mut rust_polled = rust_room.clone();
    rust_polled.as_object_mut().unwrap().remove("members_only");
    assert_eq!(
        polled["rooms"],
        json!([rust_polled]),
        "only the listed rooms that exist"
    );
    let polled = ok(&api.get("/api/poll?room=rust&after=0&limit=2&known=6"), 200);
    assert_eq!((ids(&polled), &polled["cursor"]), (vec![1, 2], &json!(2)));
    error(&api.get("/api/poll?room=nope&after=0"), 404, "unknown_room");
    error(
        &api.get("/api/poll?room=No%20Such&after=0"),
        404,
        "unknown_room",
    );
    for (query, names) in [
        ("room=rust", "after"),
        ("after=0", "room"),
        ("room=rust&after=-1", "after"),
        ("room=rust&after=0&limit=501", "limit"),
        ("room=rust&after=0&known=x", "known"),
        ("room=rust&after=0&rooms=a,,b", "rooms"),
        ("room=rust&after=0&after=1", "after"),
    ] {
        let r = api.get(&format!("/api/poll?{query}"));
        error(&r, 400, "invalid_query");
        assert!(r.body.contains(names), "{query}: {}", r.body);
    }
    let many = (0..101)
        .map(|i| format!("r{i}"))
        .collect::<Vec<_>>()
        .join(",");
    error(
        &api.get(&format!("/api/poll?room=rust&after=0&rooms={many}")),
        400,
        "invalid_query",
    );
    let r = api.call("POST", "/api/poll?room=rust&after=0", &json_ct, Some(b"{}"));
    error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));

    events_moderation_and_presence(&api, &db, &alice, &bob);

    // A database failure that retrying will not fix (here the app role lost
    // its right to call the page function) is a 500 without internals; the
    // cause goes to the log.
    db.connect()
        .batch_execute(
            "REVOKE EXECUTE ON FUNCTION chat.room_events(text, bigint, bigint, bigint, boolean) FROM ostchat_app",
        )
        .unwrap();
    let r = api.get(&format!("{path}?after=0"));
    error(&r, 500, "internal_error");
    assert!(r.header("retry-after").is_none());
    db.connect()
        .batch_execute(
            "GRANT EXECUTE ON FUNCTION chat.room_events(text, bigint, bigint, bigint, boolean) TO ostchat_app",
        )
        .unwrap();
    ok(&api.get(&format!("{path}?after=0")), 200);

    every_listed_route_is_served_by_its_component(&api, &alice);

    // Under --strict, nothing above came near a call that hangs on real Spin.
    let log = runner.stderr();
    assert!(!log.contains("spin#3671"), "{log}");
    assert!(log.contains("42501"), "the 500's cause is logged: {log}");
}

/// Every route of the API's table, through `spin.toml` to its component:
/// each listed method reaches its operation (never the 404 for an unknown
/// path, never a 405) and each other method is a 405 whose `Allow` names
/// the methods the contract documents for the path (HEAD, which HTTP
/// implies beside GET and the contract leaves out, aside).
fn every_listed_route_is_served_by_its_component(api: &Api, token: &str) {
    let contract: Value = serde_json::from_str(chat::api::OPENAPI).unwrap();
    let auth = format!("Bearer {token}");
    for route in chat::api::ROUTES {
        let path = route.fill(chat::api::routes::Params {
            room: "general",
            id: "1",
        });
        let documented: Vec<String> = contract["paths"][route.path]
            .as_object()
            .unwrap_or_else(|| panic!("{} is not in the contract", route.path))
            .keys()
            .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
            .map(|k| k.to_ascii_uppercase())
            .collect();
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let r = api.call(
                method,
                &path,
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ],
                Some(b"{}"),
            );
            if documented.iter().any(|m| m == method) {
                assert!(
                    r.status != 405 && !(r.status == 404 && r.body.contains("\"not_found\"")),
                    "{method} {path} did not reach its operation: {} {}",
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
                let allow: Vec<&str> = r
                    .header("allow")
                    .expect("a 405 has Allow")
                    .split(", ")
                    .filter(|m| *m != "HEAD")
                    .collect();
                let mut want: Vec<&str> = documented.iter().map(String::as_str).collect();
                let mut got = allow.clone();
                want.sort();
                got.sort();
                assert_eq!(got, want, "Allow of {path}");
            }
        }
    }
}

/// Edits, removals, mutes and presence: every route, outcome and refusal,
/// in a room of their own (`mod`); then the events through the cursor and
/// the moderation log as an operator reads it.
fn events_moderation_and_presence(api: &Api, db: &TestDb, alice: &str, bob: &str) {
    let send = |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        let body = body.map(|b| b.to_string().into_bytes());
        api.call(method, path, &headers, body.as_deref())
    };
    let created = api.post(
        "/api/rooms",
        Some(ADMIN_TOKEN),
        &json!({"id": "mod", "title": "Moderation"}),
    );
    ok(&created, 201);
    let path = "/api/rooms/mod/messages";
    let m1 = "/api/rooms/mod/messages/1";
    let sent = ok(
        &api.post(
            path,
            Some(alice),
            &json!({"body": "helo", "client_id": "e-1"}),
        ),
        201,
    );
    assert!(sent["message"]["session"].is_string(), "{sent}");

    // --- PATCH: the author's session, within the window; a retry is the
    // same answer.
    let fix = Some(json!({"body": "hello"}));
    let edited = ok(&send("PATCH", m1, Some(alice), fix.clone()), 200);
    assert_eq!(edited["message"]["body"], "hello");
    assert!(edited["message"]["edited_at"].is_string());
    assert_eq!(
        ok(&send("PATCH", m1, Some(alice), fix.clone()), 200),
        edited
    );
    error(
        &send("PATCH", m1, Some(bob), fix.clone()),
        403,
        "not_your_message",
    );
    error(&send("PATCH", m1, None, fix.clone()), 401, "missing_token");
    error(
        &send("PATCH", m1, Some("x.y"), fix.clone()),
        401,
        "invalid_token",
    );
    error(
        &send("PATCH", m1, Some(alice), Some(json!({"body": " \n "}))),
        400,
        "invalid_body",
    );
    error(
        &send("PATCH", m1, Some(alice), Some(json!({}))),
        400,
        "invalid_json",
    );
    let auth = format!("Bearer {alice}");
    let plain = [
        ("authorization", auth.as_str()),
        ("content-type", "text/plain"),
    ];
    error(
        &api.call("PATCH", m1, &plain, Some(b"hello")),
        415,
        "unsupported_media_type",
    );
    for (p, code) in [
        ("/api/rooms/mod/messages/99", "unknown_message"),
        ("/api/rooms/mod/messages/x", "unknown_message"),
        ("/api/rooms/mod/messages/0", "unknown_message"),
        ("/api/rooms/nope/messages/1", "unknown_room"),
        ("/api/rooms/No%20Such/messages/1", "unknown_room"),
    ] {
        error(&send("PATCH", p, Some(alice), fix.clone()), 404, code);
        error(&send("DELETE", p, Some(alice), None), 404, code);
    }
    let r = send("PUT", m1, Some(alice), fix.clone());
    error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("PATCH, DELETE"));

    // --- DELETE: the author any time; twice is the same answer.
    error(
        &send("DELETE", m1, Some(bob), None),
        403,
        "not_your_message",
    );
    error(&send("DELETE", m1, None, None), 401, "missing_token");
    let removed = ok(&send("DELETE", m1, Some(alice), None), 200);
    assert_eq!(
        (
            &removed["message"]["body"],
            &removed["message"]["removed_by"]
        ),
        (&json!(""), &json!("author"))
    );
    assert_eq!(ok(&send("DELETE", m1, Some(alice), None), 200), removed);
    error(
        &send("PATCH", m1, Some(alice), fix.clone()),
        409,
        "message_removed",
    );

    // --- a moderator removes any message and mutes names.
    ok(
        &api.post(
            path,
            Some(bob),
            &json!({"body": "spam", "client_id": "e-2"}),
        ),
        201,
    );
    let m4 = "/api/rooms/mod/messages/4";
    error(
        &send("DELETE", m4, Some("not-the-admin-token"), None),
        401,
        "invalid_token",
    );
    let by_mod = ok(&send("DELETE", m4, Some(ADMIN_TOKEN), None), 200);
    assert_eq!(by_mod["message"]["removed_by"], "moderator");
    let mute = ok(
        &send(
            "POST",
            "/api/mutes",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "Bob", "room": "mod", "duration_secs": 600})),
        ),
        200,
    );
    let until = mute["mute"]["until"]
        .as_str()
        .expect("an end time")
        .to_string();
    assert_eq!(
        (&mute["mute"]["name"], &mute["mute"]["room"]),
        (&json!("Bob"), &json!("mod"))
    );
    let refused = api.post(
        path,
        Some(bob),
        &json!({"body": "more", "client_id": "e-3"}),
    );
    error(&refused, 403, "muted");
    assert!(refused.body.contains(&until), "{}", refused.body);
    ok(
        &api.post(
            "/api/rooms/general/messages",
            Some(bob),
            &json!({"body": "elsewhere", "client_id": "e-3"}),
        ),
        201,
    );
    for (token, body, status, code) in [
        (
            None,
            json!({"name": "bob", "duration_secs": 1}),
            401,
            "missing_token",
        ),
        (
            Some(bob),
            json!({"name": "bob", "duration_secs": 1}),
            403,
            "not_moderator",
        ),
        (
            Some(ADMIN_TOKEN),
            json!({"name": "bob", "duration_secs": -1}),
            400,
            "invalid_duration",
        ),
        (
            Some(ADMIN_TOKEN),
            json!({"name": "", "duration_secs": 1}),
            400,
            "invalid_name",
        ),
        (
            Some(ADMIN_TOKEN),
            json!({"name": "bob"}),
            400,
            "invalid_json",
        ),
        (
            Some(ADMIN_TOKEN),
            json!({"name": "bob", "room": "nope", "duration_secs": 1}),
            404,
            "unknown_room",
        ),
    ] {
        error(&send("POST", "/api/mutes", token, Some(body)), status, code);
    }
    let r = send("GET", "/api/mutes", Some(ADMIN_TOKEN), None);
    error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let lifted = ok(
        &send(
            "POST",
            "/api/mutes",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "bob", "room": "mod", "duration_secs": 0})),
        ),
        200,
    );
    assert!(lifted["mute"]["until"].is_null());
    ok(
        &api.post(
            path,
            Some(bob),
            &json!({"body": "sorry", "client_id": "e-3"}),
        ),
        201,
    );

    // --- every event reaches pollers through the one cursor; paging back
    // gives messages as they are now.
    let polled = ok(&api.get("/api/poll?room=mod&after=0"), 200);
    let events: Vec<(i64, String, Option<i64>)> = polled["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
                e["target"].as_i64(),
            )
        })
        .collect();
    let expected: Vec<(i64, String, Option<i64>)> = [
        (1, "message", None),
        (2, "edit", Some(1)),
        (3, "removal", Some(1)),
        (4, "message", None),
        (5, "removal", Some(4)),
        (6, "message", None),
    ]
    .into_iter()
    .map(|(id, kind, target)| (id, kind.to_string(), target))
    .collect();
    assert_eq!(events, expected);
    assert_eq!(
        polled["messages"][1]["body"], "",
        "the edit's text is erased too"
    );
    let back = ok(&api.get(&format!("{path}?limit=10")), 200);
    assert_eq!(ids(&back), [1, 4, 6]);
    assert_eq!(back["messages"][0], removed["message"]);

    // --- the edit window: a host configured with none refuses every edit.
    let closed = RunnerConfig::chat(db).set("edit_window_secs", "0").start();
    let r = e2e::send(
        &api.agent,
        "PATCH",
        &format!("{}/api/rooms/mod/messages/6", closed.base),
        &[
            ("authorization", &format!("Bearer {bob}")),
            ("content-type", "application/json"),
        ],
        Some(br#"{"body": "sorry!"}"#),
    );
    error(&r, 409, "edit_window_closed");

    // --- presence
    let here = "/api/rooms/mod/presence";
    assert_eq!(
        ok(&send("PUT", here, Some(alice), None), 200),
        json!({"room": "mod", "present": ["alice"]})
    );
    assert_eq!(
        ok(&send("PUT", here, Some(bob), None), 200)["present"],
        json!(["alice", "bob"])
    );
    assert_eq!(
        ok(&api.get("/api/poll?room=mod&after=6"), 200)["present"],
        json!(["alice", "bob"])
    );
    assert_eq!(
        ok(&send("DELETE", here, Some(bob), None), 200)["present"],
        json!(["alice"])
    );
    error(&send("PUT", here, None, None), 401, "missing_token");
    error(
        &send("PUT", "/api/rooms/nope/presence", Some(alice), None),
        404,
        "unknown_room",
    );
    let r = send("GET", here, Some(alice), None);
    error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("PUT, DELETE"));

    // --- the moderation log, as an operator reads it in pgAdmin.
    let log: Vec<(String, String, String)> = db
        .connect()
        .query(
            "SELECT actor, action, COALESCE(name, room_id) FROM chat.moderation_log ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|(_, a, n)| (a.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("create_room", "rust"),
            ("create_room", "mod"),
            ("remove", "bob"),
            ("mute", "Bob"),
            ("unmute", "bob")
        ]
    );
    assert!(
        log.iter()
            .all(|(actor, ..)| actor.starts_with("admin from ")),
        "{log:?}"
    );
}

#[test]
fn failure_paths_under_strict_spin_settings() {
    let db = TestDb::new();
    // The database cannot be reached: 503 with Retry-After on every route
    // that needs it.
    let down = RunnerConfig::chat(&db)
        .set(
            "database_url",
            &db.app_url().replace(db.host(), "127.0.0.1:9"),
        )
        .set("db_host", "127.0.0.1:9")
        .start();
    let api = Api::new(&down);
    for path in [
        "/api/health",
        "/api/rooms",
        "/api/rooms/general/messages?after=0",
        "/api/poll?room=general&after=0",
    ] {
        let r = api.get(path);
        error(&r, 503, "database_unavailable");
        assert!(r.header("retry-after").is_some(), "{path}");
    }
    // A guest's session needs the database (is the name an account's?).
    error(
        &api.post("/api/session", None, &json!({"name": "x"})),
        503,
        "database_unavailable",
    );
    // A session issued before the database went away still posts into a
    // 503, not a 500.
    let token = chat::token::issue_session(
        "x",
        Some("contract-session"),
        e2e::SESSION_SECRET.as_bytes(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
        600,
    )
    .token;
    let r = api.post(
        "/api/rooms/general/messages",
        Some(&token),
        &json!({"body": "hi", "client_id": "c-1"}),
    );
    error(&r, 503, "database_unavailable");
    drop(down);

    // Connections the host pools, ended by the server (a restart, a
    // failover): the next requests run on new ones instead of failing.
    let up = RunnerConfig::chat(&db).start();
    let api = Api::new(&up);
    for _ in 0..3 {
        ok(&api.get("/api/poll?room=general&after=0"), 200);
        ok(&api.get("/api/rooms"), 200);
    }
    let ended: i64 = db
        .connect()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE usename = 'ostchat_app' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ended > 0, "the host pooled connections");
    ok(&api.get("/api/poll?room=general&after=0"), 200);
    ok(&api.get("/api/rooms"), 200);
    ok(&api.get("/api/health"), 200);
    drop(up);

    // A session secret that is too short: the operator's mistake, a 500.
    let weak = RunnerConfig::chat(&db)
        .set("session_secret", "short")
        .start();
    let api = Api::new(&weak);
    error(
        &api.post("/api/session", None, &json!({"name": "x"})),
        500,
        "server_misconfigured",
    );
    // With no admin token configured (the default), only a moderator's
    // session creates a room: none at all is a 401.
    let locked = RunnerConfig::chat(&db).set("admin_token", "").start();
    let api = Api::new(&locked);
    error(
        &api.post("/api/rooms", Some(""), &json!({"id": "go", "title": "Go"})),
        401,
        "missing_token",
    );
    for runner in [&weak, &locked] {
        assert!(
            !runner.stderr().contains("spin#3671"),
            "{}",
            runner.stderr()
        );
    }
}
