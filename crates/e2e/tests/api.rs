//! Every route of the HTTP API, through the real components under minispin,
//! against a fresh Postgres database: shapes, each error status, the
//! idempotent retry, history paging.

use e2e::{Client, RunnerConfig, TestDb, json, send};

/// At most 40 KiB gzipped for the page's HTML, scripts and styles.
const PAGE_BUDGET: usize = 40 * 1024;

/// How many bytes `gzip -9` makes of `data`.
fn gzip_len(data: &[u8]) -> usize {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip (Debian's gzip package) measures the page");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().expect("gzip").stdout.len()
}

/// The URL path of every file under components/static/assets.
fn page_assets() -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("the page's assets") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).expect("under the root");
                out.push(format!("/{}", rel.to_str().expect("a UTF-8 name")));
            }
        }
    }
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../components/static/assets");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn health_and_static_assets() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);

    let r = c.get("/api/health");
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    let r = send(&c.agent, "POST", &runner.url("/api/health"), &[], Some(b""));
    assert_eq!(r.status, 405);

    // Every file of the page is served with its type (a module the static
    // component does not list would break the page), and "/" is the page.
    let mut assets = vec![("/".to_string(), "text/html")];
    for path in page_assets() {
        let ctype = match path.rsplit('.').next() {
            Some("html") => "text/html",
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            other => panic!(
                "{path}: add the content type of .{other:?} files here and to the static component"
            ),
        };
        assets.push((path, ctype));
    }
    assert!(assets.len() > 4, "{assets:?}");
    let mut gzipped = 0;
    for (path, ctype) in &assets {
        let path = path.as_str();
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}");
        if path != "/" {
            gzipped += gzip_len(r.body.as_bytes());
        }
        assert!(
            r.header("content-type").unwrap().starts_with(ctype),
            "{path}"
        );
        let etag = r.header("etag").expect("etag").to_string();
        let again = send(
            &c.agent,
            "GET",
            &runner.url(path),
            &[("if-none-match", &etag)],
            None,
        );
        assert_eq!(again.status, 304, "{path} revalidation");
        assert!(again.body.is_empty());
    }
    let page = c.get("/").body;
    assert!(page.contains("app.js") && page.contains("style.css"));
    // The page's weight as a browser fetches it with gzip: its HTML,
    // scripts and styles, each file compressed on its own.
    println!(
        "page: {} files, {:.1} KiB gzipped",
        assets.len() - 1,
        gzipped as f64 / 1024.0
    );
    assert!(
        gzipped <= PAGE_BUDGET,
        "the page is {gzipped} bytes gzipped, over its budget of {PAGE_BUDGET}: \
         make it smaller (components/static/build.rs strips comments already)"
    );

    let r = c.get("/nope.png");
    assert_eq!(r.status, 404);
    let r = c.get("/api/nope");
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));

    // The contract, served as the file the crate holds, revalidated like
    // the page; any other method is the API's JSON 405.
    let r = c.get("/api/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, chat::api::OPENAPI);
    assert_eq!(r.json()["openapi"], "3.1.0");
    let etag = r.header("etag").expect("etag").to_string();
    let again = send(
        &c.agent,
        "GET",
        &runner.url("/api/openapi.json"),
        &[("if-none-match", &etag)],
        None,
    );
    assert_eq!(again.status, 304);
    let r = send(
        &c.agent,
        "POST",
        &runner.url("/api/openapi.json"),
        &[],
        Some(b"{}"),
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "method_not_allowed")
    );
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[test]
fn sessions() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);

    let r = c.post_json("/api/session", None, &json!({"name": "  alice  "}));
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["name"], "alice");
    assert!(v["token"].as_str().unwrap().len() > 20);
    let expires = v["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");

    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(33)}),
        json!({"name": 5}),
        json!({}),
    ] {
        let r = c.post_json("/api/session", None, &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(
        c.post_json("/api/session", None, &json!({"name": "x".repeat(32)}))
            .status,
        201
    );

    let url = runner.url("/api/session");
    let r = send(
        &c.agent,
        "POST",
        &url,
        &[("content-type", "text/plain")],
        Some(b"{\"name\":\"a\"}"),
    );
    assert_eq!(r.status, 415);
    let r = send(
        &c.agent,
        "POST",
        &url,
        &[("content-type", "application/json")],
        Some(b"{nope"),
    );
    assert_eq!(r.status, 400);
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(17 * 1024));
    let r = send(
        &c.agent,
        "POST",
        &url,
        &[("content-type", "application/json")],
        Some(big.as_bytes()),
    );
    assert_eq!(r.status, 413);
    let r = send(&c.agent, "GET", &url, &[], None);
    assert_eq!(r.status, 405);
    assert!(r.header("allow").is_some());
}

#[test]
fn rooms_list_and_admin_creation() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);

    let rooms = c.get("/api/rooms").json();
    let ids: Vec<&str> = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "general",
            "distributed-systems",
            "operating-systems",
            "secure-software"
        ]
    );
    assert_eq!(rooms["rooms"][0]["last_message_id"], 0);

    let new = json!({"id": "rust", "title": "Rust"});
    assert_eq!(c.post_json("/api/rooms", None, &new).status, 401);
    assert_eq!(c.post_json("/api/rooms", Some("wrong"), &new).status, 401);
    let r = c.post_json("/api/rooms", Some(e2e::ADMIN_TOKEN), &new);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"id": "rust", "title": "Rust", "last_message_id": 0, "members_only": false})
    );
    let r = c.post_json("/api/rooms", Some(e2e::ADMIN_TOKEN), &new);
    assert_eq!(r.status, 409);
    for bad in [
        json!({"id": "Rust", "title": "x"}),
        json!({"id": "-x", "title": "x"}),
        json!({"id": "x".repeat(33), "title": "x"}),
        json!({"id": "ok", "title": ""}),
        json!({"id": "ok", "title": "t".repeat(65)}),
    ] {
        let r = c.post_json("/api/rooms", Some(e2e::ADMIN_TOKEN), &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let rooms = c.get("/api/rooms").json();
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 5);
    let r = send(&c.agent, "DELETE", &runner.url("/api/rooms"), &[], None);
    assert_eq!(r.status, 405);

    // With no admin token configured (the default), the old one is just
    // an invalid token, and a guest is no moderator.
    let locked = RunnerConfig::chat(&db).set("admin_token", "").start();
    let c2 = Client::new(&locked);
    let go = json!({"id": "go", "title": "Go"});
    let r = c2.post_json("/api/rooms", Some(e2e::ADMIN_TOKEN), &go);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (401, "invalid_token"),
        "{}",
        r.body
    );
    let guest = c2.login("guest");
    let r = c2.post_json("/api/rooms", Some(&guest), &go);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "not_moderator"),
        "{}",
        r.body
    );
}

#[test]
fn messages_send_read_and_errors() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    let alice = c.login("alice");
    let bob = c.login("bob");

    // Sending needs a valid token.
    let path = "/api/rooms/general/messages";
    let msg = json!({"body": "hi", "client_id": "c-1"});
    assert_eq!(c.post_json(path, None, &msg).status, 401);
    assert_eq!(c.post_json(path, Some("forged.token"), &msg).status, 401);
    let mut tampered = alice.clone();
    tampered.replace_range(2..3, if &alice[2..3] == "A" { "B" } else { "A" });
    assert_eq!(c.post_json(path, Some(&tampered), &msg).status, 401);

    let r = c.send_message(&alice, "general", "  hi  ", "c-1");
    assert_eq!(r.status, 201, "{}", r.body);
    let m = r.json()["message"].clone();
    assert_eq!(m["id"], 1);
    assert_eq!(m["room"], "general");
    assert_eq!(m["author"], "alice");
    assert_eq!(m["body"], "hi");
    assert_eq!(m["client_id"], "c-1");
    let sent_at = m["sent_at"].as_str().unwrap();
    assert!(
        sent_at.len() == 24 && sent_at.ends_with('Z') && &sent_at[19..20] == ".",
        "{sent_at}"
    );

    // The same author and client_id again: the original, not a new message.
    let again = c.send_message(&alice, "general", "hi, edited?", "c-1");
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["message"], m);
    // Another author may use the same client_id.
    let r = c.send_message(&bob, "general", "hello", "c-1");
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["message"]["id"], 2);

    for (body, cid) in [
        ("", "c-x"),
        ("   ", "c-x"),
        ("bell\u{7}", "c-x"),
        ("ok", ""),
        ("ok", &"k".repeat(65)),
    ] {
        let r = c.send_message(&alice, "general", body, cid);
        assert_eq!(r.status, 400, "{body:?}/{cid:?}: {}", r.body);
    }
    let long = "é".repeat(2000);
    assert_eq!(
        c.send_message(&alice, "general", &long, "c-long").status,
        201
    );
    assert_eq!(
        c.send_message(&alice, "general", &format!("{long}x"), "c-2001")
            .status,
        400
    );
    assert_eq!(
        c.send_message(&alice, "general", "multi\nline\ttab", "c-nl")
            .status,
        201
    );

    let r = c.send_message(&alice, "no-such-room", "hi", "c-9");
    assert_eq!((r.status, r.error_code().as_str()), (404, "unknown_room"));
    let r = c.get("/api/rooms/no-such-room/messages");
    assert_eq!(r.status, 404);
    let r = c.get("/api/rooms/general/nope");
    assert_eq!(r.status, 404);
    let r = send(&c.agent, "PUT", &runner.url(path), &[], Some(b"{}"));
    assert_eq!(r.status, 405);
    let url = runner.url(path);
    let auth = format!("Bearer {alice}");
    let r = send(
        &c.agent,
        "POST",
        &url,
        &[("authorization", &auth), ("content-type", "text/html")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 415);
    let big = vec![b'a'; 16 * 1024 + 1];
    let r = send(
        &c.agent,
        "POST",
        &url,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(&big),
    );
    assert_eq!(r.status, 413);

    // Nothing invalid was stored: ids 1..=4 exactly.
    let (all, cursor) = c.messages_after("general", 0, 100);
    let ids: Vec<i64> = all.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(cursor, 4);
    let (none, cursor) = c.messages_after("general", 4, 100);
    assert!(none.is_empty());
    assert_eq!(cursor, 4, "an empty page keeps the cursor");

    for q in ["limit=0", "limit=501", "after=-1", "after=x"] {
        let r = c.get(&format!("{path}?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    let rooms = c.get("/api/rooms").json();
    assert_eq!(rooms["rooms"][0]["last_message_id"], 4);
}

#[test]
fn history_paging_and_first_load() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    let token = c.login("pager");
    c.post_many(&token, "operating-systems", 25, "m");
    let ids = e2e::ids;
    let base = "/api/rooms/operating-systems/messages";
    // First load: the newest `limit`, ascending.
    let first = c.get(&format!("{base}?limit=10")).json();
    assert_eq!(ids(&first), (16..=25).collect::<Vec<_>>());
    assert_eq!(first["cursor"], 25);
    // Older pages with before=, ascending, no overlap, down to the start.
    let mut oldest = 16;
    let mut seen = ids(&first);
    while oldest > 1 {
        let page = c.get(&format!("{base}?before={oldest}&limit=10")).json();
        let page_ids = ids(&page);
        assert!(!page_ids.is_empty());
        assert!(page_ids.windows(2).all(|w| w[0] + 1 == w[1]));
        assert_eq!(*page_ids.last().unwrap(), oldest - 1);
        oldest = page_ids[0];
        seen.splice(0..0, page_ids);
    }
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
    let empty = c.get(&format!("{base}?before=1")).json();
    assert!(ids(&empty).is_empty());
    // Default limit is 100 and paging after a cursor works in steps.
    let (page, cursor) = c.messages_after("operating-systems", 20, 3);
    assert_eq!(page.len(), 3);
    assert_eq!(cursor, 23);
    // An empty room's first load.
    let empty = c.get("/api/rooms/secure-software/messages").json();
    assert_eq!(empty, json!({"messages": [], "cursor": 0}));
}

#[test]
fn database_down_is_503_without_internals() {
    let db = TestDb::new();
    // A port where no Postgres listens, allowed so the connection is tried.
    let url = db.app_url().replace(db.host(), "127.0.0.1:9");
    let runner = RunnerConfig::chat(&db)
        .set("database_url", &url)
        .set("db_host", "127.0.0.1:9")
        .start();
    let c = Client::new(&runner);
    for path in ["/api/health", "/api/rooms", "/api/rooms/general/messages"] {
        let r = c.get(path);
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert_eq!(r.error_code(), "database_unavailable");
        assert!(r.header("retry-after").is_some(), "{path}");
        assert!(
            !r.body.contains("127.0.0.1") && !r.body.contains("refused"),
            "{}",
            r.body
        );
    }
    // Nor can a guest join: whether an account holds the name is in the
    // database.
    let r = c.post_json("/api/session", None, &json!({"name": "x"}));
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "database_unavailable")
    );
}

#[test]
fn outbound_hosts_are_enforced() {
    let db = TestDb::new();
    // The database is reachable, but the manifest allows other hosts only
    // (for the primary and for the replica).
    let runner = RunnerConfig::chat(&db)
        .set("db_host", "db.invalid:5432")
        .set("db_read_host", "db-read.invalid:5432")
        .start();
    let c = Client::new(&runner);
    let r = c.get("/api/health");
    assert_eq!(r.status, 503);
    // The reason goes to the operator's log (read by another thread here).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !runner.stderr().contains("is not permitted") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        runner.stderr().contains("is not permitted"),
        "{}",
        runner.stderr()
    );
}

#[test]
fn least_privilege_role_cannot_touch_tables() {
    let db = TestDb::new();
    let mut app = postgres::Client::connect(&db.app_url(), postgres::NoTls).unwrap();
    // Refused for want of the privilege (42501), not for any other reason
    // (a typo in a table name would be 42P01).
    for statement in [
        "SELECT * FROM chat.messages",
        "INSERT INTO chat.rooms (id, title) VALUES ('x', 'x')",
        "UPDATE chat.rooms SET title = 'y'",
        "DELETE FROM chat.mutes",
    ] {
        let e = app.simple_query(statement).unwrap_err();
        assert_eq!(
            e.code().map(|c| c.code()),
            Some("42501"),
            "{statement}: {e}"
        );
    }
    let rows = app.query("SELECT id FROM chat.list_rooms()", &[]).unwrap();
    assert_eq!(rows.len(), 4);
}

/// The app role's guard rails (sql/0003): a statement timeout and a
/// connection limit, so a slow query or a leak cannot pile up.
#[test]
fn the_app_role_has_guard_rails() {
    let db = TestDb::new();
    let mut app = postgres::Client::connect(&db.app_url(), postgres::NoTls).unwrap();
    let timeout: String = app.query_one("SHOW statement_timeout", &[]).unwrap().get(0);
    assert_eq!(timeout, "5s");
    let limit: i32 = app
        .query_one(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(limit, 80);
    let started = std::time::Instant::now();
    let e = app.query("SELECT pg_sleep(6)", &[]).unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_millis(5900));
}

/// A database that is busy but answering: a statement stuck behind a lock
/// ends at the app role's `statement_timeout` as a 503 the client retries
/// (it does not pile up), while health, which touches no table, stays 200 so
/// the host stays in rotation. Once the lock is gone, everything is served.
#[test]
fn a_stuck_statement_times_out_while_health_stays_ok() {
    let db = TestDb::new();
    let runner = RunnerConfig::chat(&db).start();
    let c = Client::new(&runner);
    let alice = c.login("alice");
    assert_eq!(
        c.send_message(&alice, "general", "before", "c0").status,
        201
    );

    let mut owner = db.connect();
    let mut hostage = owner.transaction().unwrap();
    hostage
        .batch_execute("LOCK TABLE chat.messages IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = std::time::Instant::now();
    let r = c.get("/api/rooms/general/messages?after=0");
    let waited = started.elapsed();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "database_unavailable"),
        "{}",
        r.body
    );
    assert!(r.header("retry-after").is_some());
    assert!(!r.body.contains("57014") && !r.body.contains("statement timeout"));
    assert!(
        waited >= std::time::Duration::from_millis(4500)
            && waited < std::time::Duration::from_secs(20),
        "ended by the 5 s statement_timeout, after {waited:?}"
    );
    let r = c.get("/api/health");
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    hostage.rollback().unwrap();

    let (messages, _) = c.messages_after("general", 0, 10);
    assert_eq!(messages.len(), 1);
}

/// Hosts of the previous release call 0001's functions during a rolling
/// update; they must keep their columns and errors (P0002 for an unknown
/// room) while 0002's functions do the work underneath.
/// During a rolling update, hosts of the release before edits and removals
/// read with `chat.messages_page` and `chat.poll` (kept by
/// sql/0007_events.sql): they must get messages only, never an edit or a
/// removal event (which they would read as a message with no client_id),
/// and a removed message with its text erased.
#[test]
fn the_previous_releases_page_and_poll_leave_edit_and_removal_events_out() {
    let db = TestDb::new();
    let mut app = postgres::Client::connect(&db.app_url(), postgres::NoTls).unwrap();
    for i in 1..=3 {
        let row = app
            .query_one(
                "SELECT status, id FROM chat.post_message('general', 'alice', $1, $2, 'sa', 0, 0)",
                &[&format!("m{i}"), &format!("c{i}")],
            )
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "created");
    }
    let edited: String = app
        .query_one(
            "SELECT status FROM chat.edit_message('general', 1, 'sa', 'm1, fixed', 900, 0, 0)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(edited, "edited");
    let removed: String = app
        .query_one(
            "SELECT status FROM chat.remove_message('general', 2, 'sa', NULL)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(removed, "removed");
    // Events 4 (the edit) and 5 (the removal) exist for today's hosts...
    let now: Vec<String> = app
        .query(
            "SELECT event FROM chat.room_events('general', 0, NULL, 10) WHERE status = 'event'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(now, ["message", "message", "message", "edit", "removal"]);
    // ...and not for the previous release's.
    let page: Vec<(String, i64, String, Option<String>)> = app
        .query(
            "SELECT status, id, body, client_id FROM chat.messages_page('general', 0, NULL, 10)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get::<_, Option<i64>>(1).unwrap_or(0),
                r.get::<_, Option<String>>(2).unwrap_or_default(),
                r.get(3),
            )
        })
        .collect();
    let messages: Vec<_> = page.iter().filter(|r| r.0 == "message").collect();
    assert_eq!(
        messages
            .iter()
            .map(|r| (r.1, r.2.as_str()))
            .collect::<Vec<_>>(),
        [(1, "m1, fixed"), (2, ""), (3, "m3")],
        "{page:?}"
    );
    assert!(
        messages.iter().all(|r| r.3.is_some()),
        "every row has a client_id: {page:?}"
    );
    let polled: Vec<(String, Option<i64>)> = app
        .query(
            "SELECT kind, id FROM chat.poll('general', 0, 10, NULL)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let ids: Vec<i64> = polled
        .iter()
        .filter(|(kind, _)| kind == "message")
        .filter_map(|(_, id)| *id)
        .collect();
    assert_eq!(ids, [1, 2, 3], "{polled:?}");
}

#[test]
fn previous_release_functions_keep_working() {
    let db = TestDb::new();
    let mut app = postgres::Client::connect(&db.app_url(), postgres::NoTls).unwrap();
    let send = |app: &mut postgres::Client, cid: &str| {
        app.query_one(
            "SELECT id, created FROM chat.send_message('general', 'old-host', 'hi', $1)",
            &[&cid],
        )
    };
    for i in 1..=3i64 {
        let row = send(&mut app, &format!("c{i}")).unwrap();
        assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1)), (i, true));
    }
    let replay = send(&mut app, "c1").unwrap();
    assert_eq!(
        (replay.get::<_, i64>(0), replay.get::<_, bool>(1)),
        (1, false)
    );
    let ids = |app: &mut postgres::Client, sql: &str| -> Vec<i64> {
        app.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        ids(
            &mut app,
            "SELECT id FROM chat.get_messages_after('general', 1, 10)"
        ),
        [2, 3]
    );
    assert_eq!(
        ids(
            &mut app,
            "SELECT id FROM chat.get_latest_messages('general', 2)"
        ),
        [2, 3]
    );
    assert_eq!(
        ids(
            &mut app,
            "SELECT id FROM chat.get_messages_before('general', 3, 10)"
        ),
        [1, 2]
    );
    for sql in [
        "SELECT * FROM chat.get_messages_after('nope', 0, 10)",
        "SELECT * FROM chat.send_message('nope', 'a', 'b', 'c')",
    ] {
        let e = app.query(sql, &[]).unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("P0002"), "{sql}: {e}");
    }
    let created = app
        .query("SELECT id FROM chat.create_room('old', 'Old')", &[])
        .unwrap();
    assert_eq!(created.len(), 1);
    let again = app
        .query("SELECT id FROM chat.create_room('old', 'Old')", &[])
        .unwrap();
    assert!(
        again.is_empty(),
        "an existing room gives no row, as in 0001"
    );
}
