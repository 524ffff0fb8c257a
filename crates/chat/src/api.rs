//! The HTTP behaviour of every endpoint, as plain functions.
//!
//! A component converts its framework request into a [`Request`], calls one
//! function here and copies the [`Reply`] back out. All decisions (status
//! codes, check order, headers, JSON shapes) live here, so they are tested
//! once natively and cannot drift between components.

use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::model::{
    Health, MessageEnvelope, MessagePage, NewMessage, NewRoom, NewSession, RoomList, SessionReply,
    parse_json,
};
use crate::store::Store;
use crate::validate::{self, Page};
use crate::{time, token};

/// What the handlers need from an HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Full path without the query string, e.g. `/api/rooms/general/messages`.
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// An HTTP response; the body is always JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Lower-case header names.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    fn new(status: u16, body: String) -> Self {
        Reply {
            status,
            headers: vec![
                ("content-type", "application/json".to_string()),
                // Chat data changes constantly and is per-user; no cache or
                // proxy should ever serve a stored copy.
                ("cache-control", "no-store".to_string()),
            ],
            body,
        }
    }

    /// A success reply with `value` as its JSON body.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Reply::new(status, body),
            // Our reply types always serialise; stay panic-free regardless.
            Err(_) => Reply::error(ApiError::internal(
                "internal",
                "the server could not encode its reply; retry later",
            )),
        }
    }

    /// An error reply, with `Retry-After` / `Allow` where the error has one.
    pub fn error(err: ApiError) -> Self {
        let mut reply = Reply::new(err.status, err.to_json());
        if let Some(secs) = err.retry_after {
            reply.headers.push(("retry-after", secs.to_string()));
        }
        if let Some(allow) = err.allow {
            reply.headers.push(("allow", allow));
        }
        reply
    }

    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl From<ApiError> for Reply {
    fn from(err: ApiError) -> Self {
        Reply::error(err)
    }
}

/// Runtime configuration, from Spin variables.
#[derive(Debug, Clone)]
pub struct Config {
    /// HMAC key for session tokens; at least [`token::MIN_SECRET_LEN`] bytes.
    pub session_secret: Vec<u8>,
    /// Bearer token for creating rooms; empty disables room creation.
    pub admin_token: String,
    pub session_ttl_secs: i64,
}

/// Turns a handler's `Result` into a reply.
fn reply(result: Result<Reply, ApiError>) -> Reply {
    result.unwrap_or_else(Reply::error)
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110); anything else counts as no credentials.
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, rest) = authorization?.trim().split_once(' ')?;
    let tok = rest.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !tok.is_empty()).then_some(tok)
}

fn missing_token() -> ApiError {
    ApiError::unauthorized(
        "missing_token",
        "this request needs an Authorization: Bearer <token> header; \
         create a session with POST /api/session",
    )
}

/// A too-short secret is an operator mistake, not something a client can
/// fix; refusing to sign with it beats issuing guessable tokens.
fn session_secret(cfg: &Config) -> Result<&[u8], ApiError> {
    token::check_secret(&cfg.session_secret).map_err(|_| {
        ApiError::internal(
            "server_misconfigured",
            "the server's session secret is not configured correctly; contact the operator",
        )
    })?;
    Ok(&cfg.session_secret)
}

/// `POST /api/session` with `{"name": "..."}` -> 201 `{token, name, expires_at}`.
pub fn session(req: &Request, cfg: &Config, now_unix: i64) -> Reply {
    reply((|| {
        if req.method != "POST" {
            return Err(ApiError::method_not_allowed("POST"));
        }
        let secret = session_secret(cfg)?;
        let new: NewSession = parse_json(req.content_type, req.body)?;
        let name = validate::name(&new.name)?;
        let s = token::issue(&name, secret, now_unix, cfg.session_ttl_secs);
        Ok(Reply::json(
            201,
            &SessionReply {
                token: s.token,
                expires_at: time::rfc3339_utc(s.expires_at_unix),
                name: s.name,
            },
        ))
    })())
}

/// `GET /api/rooms` lists rooms; `POST /api/rooms` (admin) creates one.
pub async fn rooms(req: &Request<'_>, cfg: &Config, store: &impl Store) -> Reply {
    reply(match req.method {
        "GET" => list_rooms(store).await,
        "POST" => create_room(req, cfg, store).await,
        _ => Err(ApiError::method_not_allowed("GET, POST")),
    })
}

async fn list_rooms(store: &impl Store) -> Result<Reply, ApiError> {
    let rooms = store.list_rooms().await?;
    Ok(Reply::json(200, &RoomList { rooms }))
}

async fn create_room(
    req: &Request<'_>,
    cfg: &Config,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    if cfg.admin_token.is_empty() {
        return Err(ApiError::forbidden(
            "room_creation_disabled",
            "creating rooms is disabled on this server; ask the operator to configure an admin token",
        ));
    }
    let given = bearer(req.authorization).ok_or_else(missing_token)?;
    // Constant-time, so the admin token cannot be recovered byte by byte
    // from response timings. (Only its length can leak, which is harmless.)
    if !bool::from(given.as_bytes().ct_eq(cfg.admin_token.as_bytes())) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the admin token is wrong; send the configured admin token as a Bearer token",
        ));
    }
    let new: NewRoom = parse_json(req.content_type, req.body)?;
    let id = validate::room_id(&new.id)?;
    let title = validate::room_title(&new.title)?;
    match store.create_room(&id, &title).await? {
        Some(room) => Ok(Reply::json(201, &room)),
        None => Err(ApiError::conflict(
            "room_exists",
            format!("a room with id \"{id}\" exists already; choose another id"),
        )),
    }
}

fn unknown_room() -> ApiError {
    ApiError::not_found(
        "unknown_room",
        "there is no room with this id; list the rooms with GET /api/rooms",
    )
}

/// The `{room}` of `/api/rooms/{room}/messages`, or None for any other path
/// (which is then an unknown route). The room is not validated here.
fn messages_route(path: &str) -> Option<&str> {
    path.strip_prefix("/api/rooms/")?
        .strip_suffix("/messages")
        .filter(|room| !room.contains('/'))
}

/// `GET|POST /api/rooms/{room}/messages`.
pub async fn messages(req: &Request<'_>, cfg: &Config, now_unix: i64, store: &impl Store) -> Reply {
    let Some(room) = messages_route(req.path) else {
        return not_found(req.path);
    };
    reply(match req.method {
        "GET" => get_messages(req, room, store).await,
        "POST" => post_message(req, room, cfg, now_unix, store).await,
        _ => Err(ApiError::method_not_allowed("GET, POST")),
    })
}

async fn get_messages(
    req: &Request<'_>,
    room: &str,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    // A syntactically impossible id cannot name a room: same 404 as an
    // unknown one, without a database round trip.
    if !validate::is_room_id(room) {
        return Err(unknown_room());
    }
    let page = validate::page(req.query)?;
    let messages = store.messages(room, page).await?.ok_or_else(unknown_room)?;
    // The cursor is the id of the last (newest) message returned. With no
    // messages it is the position the client asked from, so polling with
    // `after=cursor` never moves backwards: `after` for After pages, 0 for
    // the latest page (nothing exists yet), and `before` for Before pages.
    // (Clients scrolling back further use the first message's id as the
    // next `before`.)
    let fallback = match page {
        Page::Latest { .. } => 0,
        Page::After { after, .. } => after,
        Page::Before { before, .. } => before,
    };
    let cursor = messages.last().map_or(fallback, |m| m.id);
    Ok(Reply::json(200, &MessagePage { messages, cursor }))
}

async fn post_message(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    if !validate::is_room_id(room) {
        return Err(unknown_room());
    }
    let secret = session_secret(cfg)?;
    let tok = bearer(req.authorization).ok_or_else(missing_token)?;
    let author = token::verify(tok, secret, now_unix)?;
    let new: NewMessage = parse_json(req.content_type, req.body)?;
    let body = validate::message_body(&new.body)?;
    let client_id = validate::client_id(&new.client_id)?;
    let (message, created) = store
        .send_message(room, &author, &body, &client_id)
        .await?
        .ok_or_else(unknown_room)?;
    // 201 for a new message, 200 for a replay, so a retrying client can
    // tell (if it cares) that its earlier attempt had in fact succeeded.
    Ok(Reply::json(
        if created { 201 } else { 200 },
        &MessageEnvelope { message },
    ))
}

/// `GET /api/health`: 200 `{"status":"ok"}` when the database answers.
pub async fn health(store: &impl Store) -> Reply {
    match store.health().await {
        Ok(()) => Reply::json(
            200,
            &Health {
                status: "ok".to_string(),
            },
        ),
        // Unhealthy is 503 whatever the cause: load balancers only ask
        // whether to send traffic here.
        Err(_) => Reply::error(ApiError::database_unavailable()),
    }
}

/// 404 for a path no endpoint serves.
pub fn not_found(path: &str) -> Reply {
    // Echo a bounded prefix of the path only: it helps spotting typos, and
    // JSON encoding makes any content harmless.
    let shown: String = path.chars().take(100).collect();
    Reply::error(ApiError::not_found(
        "not_found",
        format!(
            "no endpoint at {shown:?}; the API serves /api/session, /api/rooms, \
             /api/rooms/{{room}}/messages and /api/health"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use serde_json::{Value, json};

    use super::*;
    use crate::model::{Message, Room};
    use crate::store::StoreError;

    /// Polls a future to completion. The in-memory store never waits, so a
    /// single poll must finish; pending would mean a bug in the test double.
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("in-memory store future pended"),
        }
    }

    /// A unit-test double of the Postgres store with the same semantics.
    #[derive(Default)]
    struct MemStore {
        rooms: RefCell<Vec<Room>>,
        messages: RefCell<Vec<Message>>,
        down: Cell<bool>,
    }

    impl MemStore {
        fn seeded() -> Self {
            let s = MemStore::default();
            s.rooms.borrow_mut().push(Room {
                id: "general".into(),
                title: "General".into(),
                last_message_id: 0,
            });
            s
        }

        fn check(&self) -> Result<(), StoreError> {
            if self.down.get() {
                Err(StoreError::Unavailable(
                    "connect 10.1.2.3:5432 refused".into(),
                ))
            } else {
                Ok(())
            }
        }
    }

    impl Store for MemStore {
        async fn list_rooms(&self) -> Result<Vec<Room>, StoreError> {
            self.check()?;
            Ok(self.rooms.borrow().clone())
        }

        async fn create_room(&self, id: &str, title: &str) -> Result<Option<Room>, StoreError> {
            self.check()?;
            let mut rooms = self.rooms.borrow_mut();
            if rooms.iter().any(|r| r.id == id) {
                return Ok(None);
            }
            let room = Room {
                id: id.into(),
                title: title.into(),
                last_message_id: 0,
            };
            rooms.push(room.clone());
            Ok(Some(room))
        }

        async fn messages(
            &self,
            room: &str,
            page: Page,
        ) -> Result<Option<Vec<Message>>, StoreError> {
            self.check()?;
            if !self.rooms.borrow().iter().any(|r| r.id == room) {
                return Ok(None);
            }
            let all = self.messages.borrow();
            let in_room = all.iter().filter(|m| m.room == room);
            let limit = page.limit() as usize;
            let picked: Vec<Message> = match page {
                Page::After { after, .. } => in_room
                    .filter(|m| m.id > after)
                    .take(limit)
                    .cloned()
                    .collect(),
                Page::Latest { .. } => {
                    let v: Vec<_> = in_room.cloned().collect();
                    v[v.len().saturating_sub(limit)..].to_vec()
                }
                Page::Before { before, .. } => {
                    let v: Vec<_> = in_room.filter(|m| m.id < before).cloned().collect();
                    v[v.len().saturating_sub(limit)..].to_vec()
                }
            };
            Ok(Some(picked))
        }

        async fn send_message(
            &self,
            room: &str,
            author: &str,
            body: &str,
            client_id: &str,
        ) -> Result<Option<(Message, bool)>, StoreError> {
            self.check()?;
            let mut rooms = self.rooms.borrow_mut();
            let Some(r) = rooms.iter_mut().find(|r| r.id == room) else {
                return Ok(None);
            };
            let mut msgs = self.messages.borrow_mut();
            if let Some(m) = msgs
                .iter()
                .find(|m| m.room == room && m.author == author && m.client_id == client_id)
            {
                return Ok(Some((m.clone(), false)));
            }
            r.last_message_id += 1;
            let m = Message {
                id: r.last_message_id,
                room: room.into(),
                author: author.into(),
                body: body.into(),
                client_id: client_id.into(),
                sent_at: "2026-01-01T00:00:00.000Z".into(),
            };
            msgs.push(m.clone());
            Ok(Some((m, true)))
        }

        async fn health(&self) -> Result<(), StoreError> {
            self.check()
        }
    }

    const NOW: i64 = 1_800_000_000;
    const ADMIN: &str = "admin-secret-token";

    fn cfg() -> Config {
        Config {
            session_secret: b"a-session-secret-of-enough-bytes".to_vec(),
            admin_token: ADMIN.into(),
            session_ttl_secs: 3600,
        }
    }

    fn req<'a>(method: &'a str, path: &'a str, body: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            query: "",
            authorization: None,
            content_type: Some("application/json"),
            body: body.as_bytes(),
        }
    }

    fn body(r: &Reply) -> Value {
        serde_json::from_str(&r.body).expect("reply is JSON")
    }

    fn error_code(r: &Reply) -> String {
        body(r)["error"]["code"].as_str().unwrap().to_string()
    }

    fn assert_common_headers(r: &Reply) {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }

    fn login(name: &str) -> String {
        let r = session(
            &req("POST", "/api/session", &json!({"name": name}).to_string()),
            &cfg(),
            NOW,
        );
        assert_eq!(r.status, 201, "{}", r.body);
        format!("Bearer {}", body(&r)["token"].as_str().unwrap())
    }

    fn post(store: &MemStore, auth: &str, room: &str, text: &str, client_id: &str) -> Reply {
        let path = format!("/api/rooms/{room}/messages");
        let b = json!({"body": text, "client_id": client_id}).to_string();
        let mut r = req("POST", &path, &b);
        r.authorization = Some(auth);
        block_on(messages(&r, &cfg(), NOW, store))
    }

    fn get(store: &MemStore, room: &str, query: &str) -> Reply {
        let path = format!("/api/rooms/{room}/messages");
        let mut r = req("GET", &path, "");
        r.query = query;
        block_on(messages(&r, &cfg(), NOW, store))
    }

    #[test]
    fn session_issues_verifiable_token() {
        let r = session(
            &req("POST", "/api/session", r#"{"name": "  alice "}"#),
            &cfg(),
            NOW,
        );
        assert_eq!(r.status, 201);
        assert_common_headers(&r);
        let b = body(&r);
        assert_eq!(b.as_object().unwrap().len(), 3);
        assert_eq!(b["name"], "alice");
        assert_eq!(b["expires_at"], "2027-01-15T09:00:00Z");
        let name = token::verify(b["token"].as_str().unwrap(), &cfg().session_secret, NOW).unwrap();
        assert_eq!(name, "alice");
    }

    #[test]
    fn session_errors() {
        let c = cfg();
        let r = session(&req("GET", "/api/session", ""), &c, NOW);
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        assert_eq!(error_code(&r), "method_not_allowed");
        assert_common_headers(&r);

        let r = session(&req("POST", "/api/session", r#"{"name": ""}"#), &c, NOW);
        assert_eq!((r.status, error_code(&r).as_str()), (400, "invalid_name"));
        let long = json!({"name": "a".repeat(33)}).to_string();
        assert_eq!(
            session(&req("POST", "/api/session", &long), &c, NOW).status,
            400
        );
        assert_eq!(
            session(&req("POST", "/api/session", "{"), &c, NOW).status,
            400
        );

        let mut r = req("POST", "/api/session", r#"{"name":"a"}"#);
        r.content_type = Some("text/plain");
        assert_eq!(session(&r, &c, NOW).status, 415);

        let big = format!(r#"{{"name":"a","pad":"{}"}}"#, "x".repeat(17_000));
        assert_eq!(
            session(&req("POST", "/api/session", &big), &c, NOW).status,
            413
        );

        let weak = Config {
            session_secret: b"short".to_vec(),
            ..cfg()
        };
        let r = session(&req("POST", "/api/session", r#"{"name":"a"}"#), &weak, NOW);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (500, "server_misconfigured")
        );
        assert!(!r.body.contains("short"));
    }

    #[test]
    fn list_and_create_rooms() {
        let store = MemStore::seeded();
        let r = block_on(rooms(&req("GET", "/api/rooms", ""), &cfg(), &store));
        assert_eq!(r.status, 200);
        assert_common_headers(&r);
        assert_eq!(
            r.body,
            r#"{"rooms":[{"id":"general","title":"General","last_message_id":0}]}"#
        );

        let mut c = req("POST", "/api/rooms", r#"{"id": "rust", "title": " Rust "}"#);
        let auth = format!("Bearer {ADMIN}");
        c.authorization = Some(&auth);
        let r = block_on(rooms(&c, &cfg(), &store));
        assert_eq!(r.status, 201);
        assert_eq!(
            r.body,
            r#"{"id":"rust","title":"Rust","last_message_id":0}"#
        );

        let r = block_on(rooms(&c, &cfg(), &store));
        assert_eq!((r.status, error_code(&r).as_str()), (409, "room_exists"));
        assert_eq!(store.rooms.borrow().len(), 2);
    }

    #[test]
    fn create_room_auth_and_validation() {
        let store = MemStore::seeded();
        let good = format!("Bearer {ADMIN}");
        let run = |auth: Option<&str>, cfg: &Config, b: &str| {
            let mut r = req("POST", "/api/rooms", b);
            r.authorization = auth;
            block_on(rooms(&r, cfg, &store))
        };
        let b = r#"{"id":"rust","title":"Rust"}"#;

        let disabled = Config {
            admin_token: String::new(),
            ..cfg()
        };
        let r = run(Some("Bearer "), &disabled, b);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (403, "room_creation_disabled")
        );
        assert_eq!(run(Some(&good), &disabled, b).status, 403);

        let r = run(None, &cfg(), b);
        assert_eq!((r.status, error_code(&r).as_str()), (401, "missing_token"));
        assert_eq!(run(Some("Basic abc"), &cfg(), b).status, 401);
        assert_eq!(run(Some(ADMIN), &cfg(), b).status, 401);
        assert_eq!(run(Some("Bearer admin-secret-toke"), &cfg(), b).status, 401);
        assert_eq!(
            run(Some("Bearer admin-secret-token!"), &cfg(), b).status,
            401
        );
        assert_eq!(
            run(
                Some("bearer  admin-secret-token"),
                &cfg(),
                r#"{"id":"x","title":"X"}"#
            )
            .status,
            201
        );

        for bad in [
            r#"{"id":"Rust","title":"Rust"}"#,
            r#"{"id":"-rust","title":"Rust"}"#,
            r#"{"id":"rust","title":""}"#,
            r#"{"id":"rust"}"#,
            r#"{"id":7,"title":"Rust"}"#,
        ] {
            assert_eq!(run(Some(&good), &cfg(), bad).status, 400, "{bad}");
        }
        assert_eq!(store.rooms.borrow().len(), 2);

        let r = block_on(rooms(&req("DELETE", "/api/rooms", ""), &cfg(), &store));
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    }

    #[test]
    fn send_and_replay() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let r = post(&store, &alice, "general", " hello\r\nworld ", "c-1");
        assert_eq!(r.status, 201);
        assert_common_headers(&r);
        assert_eq!(
            r.body,
            r#"{"message":{"id":1,"room":"general","author":"alice","body":"hello\nworld","client_id":"c-1","sent_at":"2026-01-01T00:00:00.000Z"}}"#
        );
        // Replay with the same client_id (even a different body): 200, original.
        let again = post(&store, &alice, "general", "changed", "c-1");
        assert_eq!(again.status, 200);
        assert_eq!(again.body, r.body);
        // Another author may reuse the client_id.
        let bob = login("bob");
        let r = post(&store, &bob, "general", "hi", "c-1");
        assert_eq!(
            (r.status, body(&r)["message"]["id"].as_i64()),
            (201, Some(2))
        );
        assert_eq!(store.rooms.borrow()[0].last_message_id, 2);
    }

    #[test]
    fn post_message_check_order() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let ok_body = r#"{"body":"hi","client_id":"c"}"#;
        let run = |method: &str, path: &str, auth: Option<&str>, ct: Option<&str>, b: &str| {
            let r = Request {
                method,
                path,
                query: "",
                authorization: auth,
                content_type: ct,
                body: b.as_bytes(),
            };
            let reply = block_on(messages(&r, &cfg(), NOW, &store));
            (reply.status, error_code(&reply))
        };
        let json = Some("application/json");
        let p = "/api/rooms/general/messages";
        // Each case is broken at its step and every later step; the earliest wins.
        assert_eq!(
            run("PUT", "/api/rooms/Bad!/messages", None, None, "{").0,
            405
        );
        assert_eq!(
            run("POST", "/api/rooms/Bad!/messages", None, None, "{"),
            (404, "unknown_room".into())
        );
        assert_eq!(
            run("POST", p, None, None, "{"),
            (401, "missing_token".into())
        );
        assert_eq!(
            run("POST", p, Some("Bearer x.y"), None, "{"),
            (401, "invalid_token".into())
        );
        assert_eq!(
            run("POST", p, Some(&alice), None, "{"),
            (415, "unsupported_media_type".into())
        );
        let big = "x".repeat(16 * 1024 + 1);
        assert_eq!(
            run("POST", p, Some(&alice), json, &big),
            (413, "payload_too_large".into())
        );
        assert_eq!(
            run("POST", p, Some(&alice), json, "{"),
            (400, "invalid_json".into())
        );
        assert_eq!(
            run(
                "POST",
                p,
                Some(&alice),
                json,
                r#"{"body":" ","client_id":""}"#
            ),
            (400, "invalid_body".into())
        );
        assert_eq!(
            run(
                "POST",
                p,
                Some(&alice),
                json,
                r#"{"body":"hi","client_id":"a b"}"#
            ),
            (400, "invalid_client_id".into())
        );
        assert_eq!(
            run(
                "POST",
                "/api/rooms/nope/messages",
                Some(&alice),
                json,
                ok_body
            ),
            (404, "unknown_room".into())
        );
        store.down.set(true);
        let (status, code) = run("POST", p, Some(&alice), json, ok_body);
        assert_eq!((status, code.as_str()), (503, "database_unavailable"));
        assert!(store.messages.borrow().is_empty());
    }

    #[test]
    fn message_length_edges_via_api() {
        let store = MemStore::seeded();
        let alice = login("alice");
        assert_eq!(
            post(&store, &alice, "general", &"é".repeat(2000), "a").status,
            201
        );
        assert_eq!(
            post(&store, &alice, "general", &"é".repeat(2001), "b").status,
            400
        );
        assert_eq!(post(&store, &alice, "general", "a\u{0}b", "c").status, 400);
        assert_eq!(
            post(&store, &alice, "general", "x", &"k".repeat(64)).status,
            201
        );
        assert_eq!(
            post(&store, &alice, "general", "x", &"k".repeat(65)).status,
            400
        );
    }

    #[test]
    fn expired_token_is_401() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let path = "/api/rooms/general/messages";
        let mut r = req("POST", path, r#"{"body":"hi","client_id":"c"}"#);
        r.authorization = Some(&alice);
        let reply = block_on(messages(&r, &cfg(), NOW + 3600, &store));
        assert_eq!(
            (reply.status, error_code(&reply).as_str()),
            (401, "expired_token")
        );
    }

    #[test]
    fn get_messages_pages_and_cursor() {
        let store = MemStore::seeded();
        let alice = login("alice");

        let r = get(&store, "general", "");
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"messages":[],"cursor":0}"#)
        );
        assert_common_headers(&r);
        assert_eq!(
            get(&store, "general", "after=7").body,
            r#"{"messages":[],"cursor":7}"#
        );
        assert_eq!(
            get(&store, "general", "before=7").body,
            r#"{"messages":[],"cursor":7}"#
        );

        for i in 1..=10 {
            post(
                &store,
                &alice,
                "general",
                &format!("m{i}"),
                &format!("c{i}"),
            );
        }
        let ids = |r: &Reply| -> (Vec<i64>, i64) {
            let b = body(r);
            let ids = b["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap())
                .collect();
            (ids, b["cursor"].as_i64().unwrap())
        };
        assert_eq!(ids(&get(&store, "general", "")), ((1..=10).collect(), 10));
        assert_eq!(
            ids(&get(&store, "general", "limit=3")),
            (vec![8, 9, 10], 10)
        );
        assert_eq!(
            ids(&get(&store, "general", "after=4&limit=3")),
            (vec![5, 6, 7], 7)
        );
        assert_eq!(ids(&get(&store, "general", "after=10")), (vec![], 10));
        assert_eq!(
            ids(&get(&store, "general", "before=5&limit=2")),
            (vec![3, 4], 4)
        );
        assert_eq!(ids(&get(&store, "general", "before=1")), (vec![], 1));
        assert_eq!(
            ids(&get(&store, "general", "limit=3&utm=x")),
            (vec![8, 9, 10], 10)
        );

        // Polling with the returned cursor sees every message exactly once.
        let mut cursor = 0;
        let mut seen = vec![];
        loop {
            let (page, next) = ids(&get(&store, "general", &format!("after={cursor}&limit=4")));
            if page.is_empty() {
                break;
            }
            seen.extend(page);
            cursor = next;
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn get_messages_errors() {
        let store = MemStore::seeded();
        for q in [
            "limit=0",
            "limit=501",
            "after=-1",
            "after=1&before=2",
            "after=x",
        ] {
            let r = get(&store, "general", q);
            assert_eq!(
                (r.status, error_code(&r).as_str()),
                (400, "invalid_query"),
                "{q}"
            );
        }
        let r = get(&store, "nope", "");
        assert_eq!((r.status, error_code(&r).as_str()), (404, "unknown_room"));
        let r = get(&store, "NOPE", "");
        assert_eq!((r.status, error_code(&r).as_str()), (404, "unknown_room"));
        let r = get(&store, &"a".repeat(33), "");
        assert_eq!(r.status, 404);

        store.down.set(true);
        let r = get(&store, "general", "");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert!(!r.body.contains("10.1.2.3"));
    }

    #[test]
    fn unknown_routes_under_rooms() {
        let store = MemStore::seeded();
        for path in [
            "/api/rooms/general",
            "/api/rooms/general/",
            "/api/rooms/general/messages/",
            "/api/rooms/general/messages/1",
            "/api/rooms/a/b/messages",
            "/api/rooms//messages",
            "/api/rooms/messages",
            "/api/roomsX/general/messages",
        ] {
            let r = block_on(messages(&req("GET", path, ""), &cfg(), NOW, &store));
            assert_eq!(r.status, 404, "{path}");
            assert_common_headers(&r);
            let code = error_code(&r);
            assert!(
                code == "not_found" || code == "unknown_room",
                "{path}: {code}"
            );
        }
        let r = block_on(messages(
            &req("DELETE", "/api/rooms/general/messages", ""),
            &cfg(),
            NOW,
            &store,
        ));
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    }

    #[test]
    fn health_and_not_found() {
        let store = MemStore::seeded();
        let r = block_on(health(&store));
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
        assert_common_headers(&r);
        assert_eq!(r.header("retry-after"), None);

        store.down.set(true);
        let r = block_on(health(&store));
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert_eq!(error_code(&r), "database_unavailable");

        let r = not_found(&format!("/nope{}", "x".repeat(1000)));
        assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
        assert!(r.body.len() < 400);
        assert_common_headers(&r);
    }

    #[test]
    fn never_panics_on_garbage() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let inputs: [&[u8]; 6] = [
            b"",
            b"\xff\xfe\xfd",
            b"{\"body\":",
            b"[]",
            b"{\"body\":{}}",
            b"\0\0\0",
        ];
        for method in ["GET", "POST", "PUT", "", "get"] {
            for path in [
                "/api/rooms/general/messages",
                "/api/rooms/\u{1F980}/messages",
                "",
                "/",
            ] {
                for b in inputs {
                    for auth in [
                        None,
                        Some(alice.as_str()),
                        Some("Bearer"),
                        Some("Bearer \u{0}.\u{0}"),
                    ] {
                        let r = Request {
                            method,
                            path,
                            query: "after=%FF&limit=\u{1F980}",
                            authorization: auth,
                            content_type: Some("application/json; charset=utf-8"),
                            body: b,
                        };
                        let reply = block_on(messages(&r, &cfg(), NOW, &store));
                        assert!(reply.status >= 400);
                        let _ = body(&reply);
                        let reply = block_on(rooms(&r, &cfg(), &store));
                        let _ = body(&reply);
                        let _ = body(&session(&r, &cfg(), NOW));
                    }
                }
            }
        }
    }
}
