//! The chat API end to end over the in-memory store: a sequence of
//! requests with arbitrary method, path, query, headers and body, to every
//! route of the API's table and anywhere else, against one store so that state builds up
//! (sessions, accounts, rooms and their settings, messages with their
//! edits and removals, mutes, presence, rate-limit buckets).
//!
//! Every reply must be JSON with the API's headers; never a 5xx (the store
//! is up, so a 5xx is a bug); every error a 4xx with a code and a message,
//! 405 with `Allow`, 429 with `Retry-After`; and a request refused with a 4xx
//! must change nothing in the store.
//!
//! To see which replies a corpus reaches, run the built target on its files
//! (from `fuzz/`, after `scripts/fuzz.sh`):
//! `FUZZ_SHOW=1 ../target/fuzz/x86_64-unknown-linux-gnu/release/api corpus/api/*`
//! prints the status of every call.

#![no_main]

use arbitrary::Arbitrary;
use chat::api::{self, Config, Reply, Request};
use chat::testing::{MemStore, block_on};
use chat::{Limit, token};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000;
const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef-0123";
const PREVIOUS: &[u8] = b"fuzz-previous-0123456789abcdef-01";
const ADMIN: &str = "fuzz-admin-token";

#[derive(Arbitrary, Debug)]
enum Route {
    /// A route of the API's table (`chat::api::ROUTES`, by index),
    /// its room filled in and its id 0..=15 (so messages exist): a route
    /// added to the table is fuzzed by being listed.
    Listed(u8, Room, u8),
    /// Anything else under `/api/rooms/`.
    UnderRooms(String),
    /// Any path at all.
    Other(String),
}

/// Rooms that exist or may: random strings alone would almost never name
/// one, and libFuzzer cannot see string comparisons without a sanitizer.
#[derive(Arbitrary, Debug)]
enum Room {
    General,
    /// `r0` ... `r7`, which `Body::NewRoom` creates.
    Slug(u8),
    Named(String),
}

impl Room {
    fn id(&self) -> String {
        match self {
            Room::General => "general".into(),
            Room::Slug(n) => format!("r{}", n % 8),
            Room::Named(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Query {
    None,
    After(u64),
    Before(u64),
    Between(u64, u64),
    Limit(u64, Option<u64>),
    Raw(String),
    /// A poll's: the room, the cursor, a limit, a known id, a room list.
    Poll(Room, u64, Option<u64>, Option<u64>, Option<Vec<Room>>),
}

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    Raw(String),
    /// A valid token for this name (signed with the current secret).
    Session(String),
    /// A token signed with the previous secret (a rotation).
    OldSession(String),
    Admin,
    /// A valid token of account `id % 4 + 1` at version `version % 3 + 1`,
    /// a moderator's or not (the store says whether it still is one).
    Account(u8, u8, bool, String),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    Name(String),
    NewRoom(Room, String),
    /// Text and a client id: `c0`..`c15` (so retries happen) or any
    /// string, and the id (0..=15, so messages exist) of the message it
    /// answers, or any number.
    Message(String, Result<u8, String>, Option<Result<u8, i64>>),
    /// A reaction: a few emoji (so reactions meet), or any string; added
    /// or withdrawn.
    Reaction(Result<u8, String>, bool),
    /// An edit's new text.
    Edit(String),
    /// A mute: name, room (None: everywhere), duration.
    Mute(String, Option<Room>, i64),
    /// A name and a password: claiming it, or signing in.
    Account(String, Password),
    /// A new password, proven by the current one or a reset code.
    NewPassword(String, Option<Password>, Option<String>, Password),
    /// A room's settings.
    Settings(bool),
}

/// Passwords from a few (so sign-ins succeed now and then), or any.
#[derive(Arbitrary, Debug)]
enum Password {
    Known(u8),
    Any(String),
}

impl Password {
    fn text(&self) -> String {
        match self {
            Password::Known(n) => format!("password number {}", n % 4),
            Password::Any(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Call {
    method: u8,
    route: Route,
    query: Query,
    auth: Auth,
    content_type: Option<String>,
    body: Body,
    client_addr: Option<String>,
    forwarded_for: Option<String>,
    /// Seconds after the tokens were issued.
    later: u32,
}

fn config() -> Config {
    Config {
        session_secret: SECRET.to_vec(),
        previous_session_secret: PREVIOUS.to_vec(),
        admin_token: ADMIN.into(),
        session_ttl_secs: 3600,
        post_limit: Limit {
            burst: 5,
            per_minute: 60,
        },
        session_limit: Limit {
            burst: 5,
            per_minute: 20,
        },
        login_limit: Limit {
            burst: 5,
            per_minute: 5,
        },
        trusted_proxies: "10.0.0.0/8, 192.0.2.1, ::1".into(),
        edit_window_secs: 900,
        shared_cache_ms: 500,
    }
}

/// A session id per name, so one name's calls own its messages.
fn session_of(name: &str) -> String {
    let mut bytes = [0u8; 16];
    for (i, b) in name.bytes().enumerate() {
        bytes[i % 16] ^= b;
    }
    token::session_id(bytes)
}

fn check(reply: &Reply, call: &Call) {
    assert!(
        reply.status < 500,
        "a 5xx with the store up: {} {} for {call:?}",
        reply.status,
        reply.body
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    for (name, value) in api::API_HEADERS {
        assert_eq!(reply.header(name), Some(value), "{name}");
    }
    let body: serde_json::Value = serde_json::from_str(&reply.body).expect("the reply is JSON");
    if reply.status >= 400 {
        let code = body["error"]["code"].as_str().expect("an error code");
        assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let message = body["error"]["message"].as_str().expect("an error message");
        assert!(!message.is_empty());
    }
    match reply.status {
        405 => assert!(reply.header("allow").is_some(), "405 without Allow"),
        429 => assert!(
            reply.header("retry-after").is_some(),
            "429 without Retry-After"
        ),
        _ => {}
    }
}

/// Fresh bytes (a session id and a salt) for every request.
fn random() -> [u8; 32] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    bytes
}

fuzz_target!(|calls: Vec<Call>| {
    let store = MemStore::seeded();
    let cfg = config();
    // FUZZ_SHOW=1 prints each call's status (to see what a corpus reaches).
    let show = std::env::var_os("FUZZ_SHOW").is_some();
    for call in calls.iter().take(16) {
        let method = match call.method % 8 {
            0 | 1 => "GET",
            2 | 3 => "POST",
            4 => "PUT",
            5 => "DELETE",
            6 => "HEAD",
            _ => "PATCH",
        };
        let path = match &call.route {
            Route::Listed(i, room, id) => {
                let routes = api::ROUTES;
                let route = &routes[*i as usize % routes.len()];
                let room = room.id();
                let id = (id % 16).to_string();
                route.fill(api::routes::Params {
                    room: &room,
                    id: &id,
                })
            }
            Route::UnderRooms(tail) => format!("/api/rooms/{tail}"),
            Route::Other(p) => p.clone(),
        };
        let query = match &call.query {
            Query::None => String::new(),
            Query::After(a) => format!("after={a}"),
            Query::Before(b) => format!("before={b}"),
            Query::Between(a, b) => format!("after={a}&before={b}"),
            Query::Limit(l, None) => format!("limit={l}"),
            Query::Limit(l, Some(a)) => format!("after={a}&limit={l}"),
            Query::Raw(q) => q.clone(),
            Query::Poll(room, after, limit, known, rooms) => {
                let mut q = format!("room={}&after={after}", room.id());
                if let Some(l) = limit {
                    q.push_str(&format!("&limit={l}"));
                }
                if let Some(k) = known {
                    q.push_str(&format!("&known={k}"));
                }
                if let Some(rooms) = rooms {
                    let ids: Vec<String> = rooms.iter().map(Room::id).collect();
                    q.push_str(&format!("&rooms={}", ids.join(",")));
                }
                q
            }
        };
        let token;
        let authorization = match &call.auth {
            Auth::None => None,
            Auth::Raw(s) => Some(s.as_str()),
            Auth::Session(name) => {
                let session = session_of(name);
                token = format!(
                    "Bearer {}",
                    token::issue_session(name, Some(&session), SECRET, NOW, 3600).token
                );
                Some(token.as_str())
            }
            Auth::OldSession(name) => {
                token = format!("Bearer {}", token::issue(name, PREVIOUS, NOW, 3600).token);
                Some(token.as_str())
            }
            Auth::Admin => {
                token = format!("Bearer {ADMIN}");
                Some(token.as_str())
            }
            Auth::Account(id, version, moderator, name) => {
                let claim = token::AccountClaim {
                    id: i64::from(id % 4) + 1,
                    version: i64::from(version % 3) + 1,
                    moderator: *moderator,
                };
                token = format!(
                    "Bearer {}",
                    token::issue_account(name, claim, SECRET, NOW, 3600).token
                );
                Some(token.as_str())
            }
        };
        let body = match &call.body {
            Body::Raw(b) => b.clone(),
            Body::Name(name) => serde_json::json!({ "name": name }).to_string().into_bytes(),
            Body::NewRoom(room, title) => serde_json::json!({ "id": room.id(), "title": title })
                .to_string()
                .into_bytes(),
            Body::Message(text, client_id, reply_to) => {
                let client_id = match client_id {
                    Ok(n) => format!("c{}", n % 16),
                    Err(s) => s.clone(),
                };
                let reply_to = reply_to.as_ref().map(|to| match to {
                    Ok(n) => i64::from(n % 16),
                    Err(n) => *n,
                });
                serde_json::json!({ "body": text, "client_id": client_id, "reply_to": reply_to })
                    .to_string()
                    .into_bytes()
            }
            Body::Reaction(emoji, on) => {
                let emoji = match emoji {
                    Ok(n) => ["👍", "❤️", "🎉", "👩‍👩‍👧"][usize::from(n % 4)].to_string(),
                    Err(s) => s.clone(),
                };
                serde_json::json!({ "emoji": emoji, "on": on })
                    .to_string()
                    .into_bytes()
            }
            Body::Edit(text) => serde_json::json!({ "body": text }).to_string().into_bytes(),
            Body::Mute(name, room, secs) => serde_json::json!({
                "name": name,
                "room": room.as_ref().map(Room::id),
                "duration_secs": secs,
            })
            .to_string()
            .into_bytes(),
            Body::Account(name, password) => {
                serde_json::json!({ "name": name, "password": password.text() })
                    .to_string()
                    .into_bytes()
            }
            Body::NewPassword(name, current, code, new) => serde_json::json!({
                "name": name,
                "password": current.as_ref().map(Password::text),
                "reset_code": code,
                "new_password": new.text(),
            })
            .to_string()
            .into_bytes(),
            Body::Settings(on) => serde_json::json!({ "members_only": on })
                .to_string()
                .into_bytes(),
        };
        let req = Request {
            method,
            path: &path,
            query: &query,
            authorization,
            content_type: call.content_type.as_deref().or(Some("application/json")),
            body: &body,
            client_addr: call.client_addr.as_deref(),
            forwarded_for: call.forwarded_for.as_deref(),
        };
        let now = NOW + i64::from(call.later);
        let before = (store.rooms(), store.messages());
        let cx = api::Context {
            cfg: &cfg,
            now_unix: now,
            random: Some(random()),
            component: None,
        };
        let reply = block_on(api::handle(&req, &cx, &store));
        if show {
            eprintln!("fuzz-api: {method} {path} -> {}", reply.status);
        }
        check(&reply, call);
        if reply.status >= 400 {
            assert!(
                (store.rooms(), store.messages()) == before,
                "a refused request changed the store: {call:?}"
            );
        }
    }
});
