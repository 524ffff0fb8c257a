//! The HTTP behaviour of every endpoint, as plain functions.
//!
//! A component converts its framework request into a [`Request`], calls
//! [`handle`] and copies the [`Reply`] back out. All decisions (status
//! codes, check order, headers, JSON shapes) live here, so they are tested
//! once natively and cannot drift between components.
//!
//! [`routes`] is the one route table: each path, its methods, its
//! `spin.toml` component and each method's operation. [`handle`] finds the
//! route, answers 404 or 405 from the table, and calls the operation in its
//! module, one per resource: `session`, `rooms`, `mutes`, `messages` (a
//! room's events: read and post), `message` (one message: edit and remove),
//! `presence`, `poll` and `health`. Beside them what they share: `reply`
//! (the [`Reply`], the API's headers, shared refusals) and `auth` (bearer,
//! admin and session tokens). The [`Config`] they take is built by
//! [`crate::config`].

use crate::error::ApiError;
use crate::store::Store;
use routes::Op;

mod auth;
mod health;
mod message;
mod messages;
mod mutes;
mod poll;
mod presence;
mod reply;
mod rooms;
pub mod routes;
mod session;

pub use crate::config::{Config, DEFAULT_EDIT_WINDOW_SECS};
pub(crate) use auth::{bearer, is_admin, missing_token, moderator, session_claims, session_secret};
pub use reply::{API_HEADERS, PAGE_HEADERS, Reply};
pub(crate) use reply::{muted, reply, too_fast, unknown_room};

/// What a host hands every request besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub cfg: &'a Config,
    /// Seconds since the Unix epoch (the host's clock).
    pub now_unix: i64,
    /// 16 fresh random bytes from the host, for a new session's id; `None`
    /// when its random source failed (a session then cannot be issued).
    pub random: Option<[u8; 16]>,
    /// The `spin.toml` component answering, under Spin: a route the table
    /// gives another component is a 404 here, so a trigger that sends a
    /// path to the wrong component shows at once. `None` (hosts without
    /// Spin) serves every route.
    pub component: Option<&'a str>,
}

/// Any request to the API: its route and method from [`routes::ROUTES`],
/// then the operation. Every component calls this with the requests
/// `spin.toml` sends it; hosts without Spin (the benchmark's native
/// baseline, the fuzzer) call it with every request. The static files, the
/// contract included, are served by the static component, not here.
pub async fn handle(req: &Request<'_>, cx: &Context<'_>, store: &impl Store) -> Reply {
    let Some((route, at)) = routes::find(req.path)
        .filter(|(route, _)| cx.component.is_none_or(|c| c == route.component))
    else {
        return not_found(req.path);
    };
    let Some(op) = route.op(req.method) else {
        return Reply::error(ApiError::method_not_allowed(&route.allow()));
    };
    let (cfg, now) = (cx.cfg, cx.now_unix);
    match op {
        Op::Join => session::session(req, cfg, now, cx.random, store).await,
        Op::ListRooms => rooms::list(store).await,
        Op::CreateRoom => rooms::create(req, cfg, store).await,
        Op::Mute => mutes::mutes(req, cfg, store).await,
        Op::ReadMessages => messages::read_page(req, at.room, cfg, store).await,
        Op::PostMessage => messages::send(req, at.room, cfg, now, store).await,
        Op::EditMessage => message::edit(req, at.room, at.id, cfg, now, store).await,
        Op::RemoveMessage => message::remove(req, at.room, at.id, cfg, now, store).await,
        Op::Announce | Op::Leave => presence::presence(req, at.room, cfg, now, store).await,
        Op::Poll => poll::poll(req, cfg, store).await,
        Op::Health => health::health(store).await,
    }
}

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
    /// The peer the host reports (Spin's `spin-client-addr`, `ip:port`).
    pub client_addr: Option<&'a str>,
    /// `X-Forwarded-For`, believed only from a trusted proxy (see [`crate::net`]).
    pub forwarded_for: Option<&'a str>,
}

/// `reply`, marked as one a shared cache may keep and hand to anyone for
/// `cfg.shared_cache_ms` ([`Reply::shared_for`]), unless the request is
/// `private` (the endpoint says so) or carries credentials, whatever the
/// endpoint does with them. The cache in front of the hosts passes such
/// requests by itself too; this keeps the rule when it does not.
fn shared(req: &Request<'_>, cfg: &Config, private: bool, reply: Reply) -> Reply {
    if private || req.authorization.is_some() {
        reply
    } else {
        reply.shared_for(cfg.shared_cache_ms)
    }
}

/// The API's contract: the OpenAPI 3.1 document served at
/// `/api/openapi.json` (by the static component, which serves files).
/// `scripts/contract-check.sh` holds the running server to it.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Where the contract is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// 404 for a path no endpoint serves.
pub fn not_found(path: &str) -> Reply {
    // Echo a bounded prefix of the path only: it helps spotting typos, and
    // JSON encoding makes any content harmless.
    let shown: String = path.chars().take(100).collect();
    Reply::error(ApiError::not_found(
        "not_found",
        format!(
            "no endpoint at {shown:?}; the API serves {} (described in {OPENAPI_PATH})",
            routes::listed()
        ),
    ))
}

/// What the endpoint modules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::{Value, json};

    use super::*;
    use crate::store::Limit;
    pub use crate::testing::{MemStore, block_on};

    pub const NOW: i64 = 1_800_000_000;
    pub const ADMIN: &str = "admin-secret-token";
    pub const ADMIN_BEARER: &str = "Bearer admin-secret-token";

    pub fn cfg() -> Config {
        Config {
            session_secret: b"a-session-secret-of-enough-bytes".to_vec(),
            previous_session_secret: Vec::new(),
            admin_token: ADMIN.into(),
            session_ttl_secs: 3600,
            post_limit: Limit::OFF,
            session_limit: Limit::OFF,
            trusted_proxies: String::new(),
            edit_window_secs: DEFAULT_EDIT_WINDOW_SECS,
            shared_cache_ms: 500,
        }
    }

    /// 16 bytes that differ per call, as a host's random source would.
    pub fn random() -> [u8; 16] {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes
    }

    /// Any request, as a host hands it to [`handle`].
    pub fn dispatch(r: &Request, c: &Config, now: i64, store: &MemStore) -> Reply {
        let cx = Context {
            cfg: c,
            now_unix: now,
            random: Some(random()),
            component: None,
        };
        block_on(handle(r, &cx, store))
    }

    /// `method path` with this authorization and body.
    pub fn call(
        store: &MemStore,
        c: &Config,
        method: &str,
        path: &str,
        auth: Option<&str>,
        b: &str,
    ) -> Reply {
        let mut r = req(method, path, b);
        r.authorization = auth;
        dispatch(&r, c, NOW, store)
    }

    /// `POST /api/session` on a fresh store.
    pub fn sess(r: &Request, c: &Config, now: i64) -> Reply {
        dispatch(r, c, now, &MemStore::seeded())
    }

    pub fn req<'a>(method: &'a str, path: &'a str, body: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            query: "",
            authorization: None,
            content_type: Some("application/json"),
            body: body.as_bytes(),
            client_addr: Some("192.0.2.10:40000"),
            forwarded_for: None,
        }
    }

    pub fn body(r: &Reply) -> Value {
        serde_json::from_str(&r.body).expect("reply is JSON")
    }

    pub fn error_code(r: &Reply) -> String {
        body(r)["error"]["code"].as_str().unwrap().to_string()
    }

    pub fn assert_common_headers(r: &Reply) {
        assert_eq!(r.header("content-type"), Some("application/json"));
        // Written out, not taken from API_HEADERS: weakening a header there
        // must fail the tests.
        for (name, value) in [
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
        ] {
            assert_eq!(r.header(name), Some(value), "{name}");
        }
    }

    pub fn login(name: &str) -> String {
        let r = sess(
            &req("POST", "/api/session", &json!({"name": name}).to_string()),
            &cfg(),
            NOW,
        );
        assert_eq!(r.status, 201, "{}", r.body);
        format!("Bearer {}", body(&r)["token"].as_str().unwrap())
    }

    pub fn post(store: &MemStore, auth: &str, room: &str, text: &str, client_id: &str) -> Reply {
        let path = format!("/api/rooms/{room}/messages");
        let b = json!({"body": text, "client_id": client_id}).to_string();
        let mut r = req("POST", &path, &b);
        r.authorization = Some(auth);
        dispatch(&r, &cfg(), NOW, store)
    }

    pub fn get(store: &MemStore, room: &str, query: &str) -> Reply {
        let path = format!("/api/rooms/{room}/messages");
        let mut r = req("GET", &path, "");
        r.query = query;
        dispatch(&r, &cfg(), NOW, store)
    }
}

#[cfg(test)]
mod tests {

    use super::test_support::*;
    use super::*;

    #[test]
    fn only_server_faults_are_logged_with_their_cause() {
        let store = MemStore::seeded();
        let r = dispatch(&req("DELETE", "/api/health", ""), &cfg(), NOW, &store);
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
        assert_common_headers(&r);

        store.set_down(true);
        let r = dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store);
        let line = r.log_line().expect("a 503 is logged");
        assert!(
            line.starts_with("503 database_unavailable: ") && line.contains("refused"),
            "{line}"
        );
        assert!(!r.body.contains("refused"));
        let weak = Config {
            session_secret: b"short".to_vec(),
            ..cfg()
        };
        let r = sess(&req("POST", "/api/session", r#"{"name":"a"}"#), &weak, NOW);
        assert!(
            r.log_line().is_some_and(|l| l.contains("5 bytes")),
            "{:?}",
            r.log_line()
        );
        assert_eq!(not_found("/x").log_line(), None);
        store.set_down(false);
        assert_eq!(
            dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store).log_line(),
            None
        );
    }

    /// Every method of every listed route reaches its operation (never the
    /// 404 for unknown paths, never a 405), and every other method is a 405
    /// whose `Allow` names exactly the listed ones.
    #[test]
    fn every_listed_route_reaches_its_operation_and_refuses_other_methods() {
        let store = MemStore::seeded();
        let at = routes::Params {
            room: "general",
            id: "1",
        };
        for route in routes::ROUTES {
            let path = route.fill(at);
            for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
                let r = dispatch(&req(method, &path, ""), &cfg(), NOW, &store);
                assert_common_headers(&r);
                let listed: Vec<&str> = route.methods.iter().map(|(m, _)| *m).collect();
                if listed.contains(&method) {
                    assert!(
                        r.status != 405 && error_code_or_none(&r) != Some("not_found".into()),
                        "{method} {path}: {} {}",
                        r.status,
                        r.body
                    );
                } else {
                    assert_eq!(r.status, 405, "{method} {path}");
                    assert_eq!(r.header("allow"), Some(listed.join(", ").as_str()));
                }
            }
        }
        let r = dispatch(&req("GET", "/api/nope", ""), &cfg(), NOW, &store);
        assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
        for route in routes::ROUTES {
            assert!(r.body.contains(route.path), "the 404 names {}", route.path);
        }
    }

    /// Under Spin a component serves only the routes the table gives it.
    #[test]
    fn a_component_answers_another_components_route_with_404() {
        let store = MemStore::seeded();
        let cx = |component| Context {
            cfg: cfg_static(),
            now_unix: NOW,
            random: Some(random()),
            component: Some(component),
        };
        let r = block_on(handle(&req("GET", "/api/rooms", ""), &cx("rooms"), &store));
        assert_eq!(r.status, 200);
        let r = block_on(handle(&req("GET", "/api/rooms", ""), &cx("poll"), &store));
        assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
    }

    fn cfg_static() -> &'static Config {
        static CFG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        CFG.get_or_init(cfg)
    }

    fn error_code_or_none(r: &Reply) -> Option<String> {
        body(r)["error"]["code"].as_str().map(str::to_string)
    }

    #[test]
    fn health_and_not_found() {
        let store = MemStore::seeded();
        let r = dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store);
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
        assert_common_headers(&r);
        assert_eq!(r.header("retry-after"), None);

        store.set_down(true);
        let r = dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store);
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
                            client_addr: None,
                            forwarded_for: Some("\u{0}, junk"),
                        };
                        let reply = dispatch(&r, &cfg(), NOW, &store);
                        assert!(reply.status >= 400);
                        let _ = body(&reply);
                        let reply = dispatch(&r, &cfg(), NOW, &store);
                        let _ = body(&reply);
                        let _ = body(&sess(&r, &cfg(), NOW));
                    }
                }
            }
        }
    }

    /// The served contract is valid JSON, OpenAPI 3.1, and serves itself
    /// (the routes are held to it in `routes`).
    #[test]
    fn the_contract_is_openapi_3_1() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        assert!(doc["paths"][OPENAPI_PATH]["get"].is_object());
    }

    /// What the contract's patterns accept is what the validators accept,
    /// on the cases that matter: trimming, length limits, CRLF, control,
    /// format, bidi and zero-width characters, separators, look-alikes and
    /// emoji. (The validators count length in NFC, which no pattern can;
    /// the texts here are all in NFC already.)
    #[test]
    fn the_contracts_patterns_agree_with_the_validators() {
        use crate::validate;
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let pattern = |schema: &str, field: &str| {
            let p = doc["components"]["schemas"][schema]["properties"][field]["pattern"]
                .as_str()
                .unwrap_or_else(|| panic!("{schema}.{field} has no pattern"));
            regex_lite::Regex::new(p).unwrap_or_else(|e| panic!("{schema}.{field}: {e}"))
        };
        let mut corpus: Vec<String> = [
            "",
            " ",
            "\t",
            "\r\n",
            "a",
            "alice",
            " Ada Lovelace\t",
            "a\nb",
            "a\tb",
            "a\r\nb",
            "a\rb",
            "\r\na\r\n",
            "a\r\r\nb",
            "\ra",
            "a\r",
            "\u{85}a",
            "\u{A0}a\u{3000}",
            "a\u{7F}",
            "\u{9F}",
            "a\u{2028}b",
            "\u{2028}a",
            "a\u{2029}",
            "\u{430}lice",
            "Ren\u{e9}",
            "\u{65e5}\u{672c}",
            "\u{1F468}\u{200D}\u{1F469}",
            "\u{646}\u{200C}\u{627}",
            "general",
            "rust-beginners",
            "-x",
            "A",
            "a b",
            "0",
            "x!~",
            "\u{1F600}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every refused invisible character, alone, inside and at the edges.
        for c in [
            '\u{AD}',
            '\u{600}',
            '\u{61C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200E}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2064}',
            '\u{2066}',
            '\u{2069}',
            '\u{206F}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{110BD}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E007F}',
            '\u{0}',
            '\u{1B}',
        ] {
            corpus.extend([
                format!("{c}"),
                format!("a{c}b"),
                format!("{c}a"),
                format!("a{c}"),
            ]);
        }
        for n in [31, 32, 33, 63, 64, 65, 1999, 2000, 2001] {
            corpus.push("x".repeat(n));
            corpus.push(format!("  {}\n", "x".repeat(n)));
            corpus.push(format!("x{}x", "\r\n".repeat(n - 2)));
        }
        type Valid = fn(&str) -> bool;
        let checks: [(&str, &str, Valid); 5] = [
            ("NewSession", "name", |s| validate::name(s).is_ok()),
            ("NewRoom", "title", |s| validate::room_title(s).is_ok()),
            ("NewRoom", "id", |s| validate::room_id(s).is_ok()),
            ("NewMessage", "body", |s| validate::message_body(s).is_ok()),
            ("NewMessage", "client_id", |s| {
                validate::client_id(s).is_ok()
            }),
        ];
        for (schema, field, valid) in checks {
            let re = pattern(schema, field);
            for s in &corpus {
                let shown: String = s.chars().take(12).collect();
                assert_eq!(
                    re.is_match(s),
                    valid(s),
                    "{schema}.{field} and its validator disagree on {shown:?} ({} chars)",
                    s.chars().count()
                );
            }
        }
    }
}
