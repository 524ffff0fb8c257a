//! `POST /api/session`: a signed, stateless session token for a name.
use super::auth::session_secret;
use super::reply::{Reply, reply, too_fast};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{NewSession, SessionReply, parse_json};
use crate::store::{AllowSession, Store};
use crate::{net, time, token, validate};

/// `POST /api/session` with `{"name": "..."}` -> 201 `{token, name, expires_at}`.
///
/// Sessions are stateless tokens, but new ones are limited per client
/// address (in the database, so the limit holds across hosts). If the
/// database cannot count, the session is issued anyway: a chat without its
/// database can do nothing with it, and joining keeps working the moment
/// the database is back.
///
/// `random` is 16 fresh random bytes (the host's): the session's id, which
/// the token carries and every message it sends records, so only this
/// session may edit or remove them. Names are labels, not accounts.
/// Without them (the host's random source failed) no session can be issued
/// safely: 500, and nothing is issued.
pub(super) async fn session(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 16]>,
    store: &impl Store,
) -> Reply {
    reply(issue(req, cfg, now_unix, random, store).await)
}

async fn issue(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 16]>,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let secret = session_secret(cfg)?;
    let new: NewSession = parse_json(req.content_type, req.body)?;
    let name = validate::name(&new.name)?;
    if !cfg.session_limit.is_off() {
        let client = net::client_address(req.client_addr, req.forwarded_for, &cfg.trusted_proxies);
        if let Ok(Some(wait)) = store
            .run(&AllowSession {
                client: &client,
                limit: cfg.session_limit,
            })
            .await
        {
            return Err(too_fast("too many new sessions from this address", wait));
        }
    }
    let random = random.ok_or_else(|| {
        ApiError::internal(
            "internal_error",
            "the server could not create a session id; try again later",
        )
        .with_cause("the host's random source (wasi:random) failed")
    })?;
    let id = token::session_id(random);
    let s = token::issue_session(&name, Some(&id), secret, now_unix, cfg.session_ttl_secs);
    Ok(Reply::json(
        201,
        &SessionReply {
            token: s.token,
            expires_at: time::rfc3339_utc(s.expires_at_unix),
            name: s.name,
            session: id,
            edit_window_secs: cfg.edit_window_secs,
        },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    #[test]
    fn session_issues_verifiable_token() {
        let r = sess(
            &req("POST", "/api/session", r#"{"name": "  alice "}"#),
            &cfg(),
            NOW,
        );
        assert_eq!(r.status, 201);
        assert_common_headers(&r);
        let b = body(&r);
        assert_eq!(b.as_object().unwrap().len(), 5);
        assert_eq!(b["name"], "alice");
        assert_eq!(b["expires_at"], "2027-01-15T09:00:00Z");
        assert_eq!(b["edit_window_secs"], 900);
        let claims =
            token::claims(b["token"].as_str().unwrap(), &cfg().session_secret, NOW).unwrap();
        assert_eq!(claims.name, "alice");
        assert_eq!(claims.session.as_deref(), b["session"].as_str());
        // Every session gets an id of its own.
        let again = sess(
            &req("POST", "/api/session", r#"{"name": "alice"}"#),
            &cfg(),
            NOW,
        );
        assert_ne!(body(&again)["session"], b["session"]);
    }

    #[test]
    fn session_errors() {
        let c = cfg();
        let r = sess(&req("GET", "/api/session", ""), &c, NOW);
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        assert_eq!(error_code(&r), "method_not_allowed");
        assert_common_headers(&r);

        let r = sess(&req("POST", "/api/session", r#"{"name": ""}"#), &c, NOW);
        assert_eq!((r.status, error_code(&r).as_str()), (400, "invalid_name"));
        let long = json!({"name": "a".repeat(33)}).to_string();
        assert_eq!(
            sess(&req("POST", "/api/session", &long), &c, NOW).status,
            400
        );
        assert_eq!(sess(&req("POST", "/api/session", "{"), &c, NOW).status, 400);

        let mut r = req("POST", "/api/session", r#"{"name":"a"}"#);
        r.content_type = Some("text/plain");
        assert_eq!(sess(&r, &c, NOW).status, 415);

        let big = format!(r#"{{"name":"a","pad":"{}"}}"#, "x".repeat(17_000));
        assert_eq!(
            sess(&req("POST", "/api/session", &big), &c, NOW).status,
            413
        );

        let weak = Config {
            session_secret: b"short".to_vec(),
            ..cfg()
        };
        let r = sess(&req("POST", "/api/session", r#"{"name":"a"}"#), &weak, NOW);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (500, "server_misconfigured")
        );
        assert!(!r.body.contains("short"));
    }

    #[test]
    fn new_sessions_are_limited_per_client_address() {
        let store = MemStore::seeded();
        let limited = Config {
            session_limit: crate::store::Limit {
                burst: 2,
                per_minute: 1,
            },
            trusted_proxies: "10.0.0.0/8".into(),
            ..cfg()
        };
        let body = r#"{"name":"a"}"#;
        let from = |peer: &'static str, xff: Option<&'static str>| {
            let mut r = req("POST", "/api/session", body);
            r.client_addr = Some(peer);
            r.forwarded_for = xff;
            dispatch(&r, &limited, NOW, &store)
        };
        assert_eq!(from("192.0.2.1:1000", None).status, 201);
        assert_eq!(from("192.0.2.1:2000", None).status, 201);
        let r = from("192.0.2.1:3000", None);
        assert_eq!((r.status, r.header("retry-after")), (429, Some("60")));
        // Another address has its own bucket; a client cannot pick one by
        // sending X-Forwarded-For itself, only through the trusted proxy.
        assert_eq!(from("192.0.2.2:1000", Some("198.51.100.1")).status, 201);
        assert_eq!(from("192.0.2.1:4000", Some("198.51.100.9")).status, 429);
        assert_eq!(
            from("10.0.0.5:1000", Some("203.0.113.1, 198.51.100.9")).status,
            201
        );
        // A database that cannot count does not stop people from joining.
        store.set_down(true);
        assert_eq!(from("192.0.2.1:5000", None).status, 201);
    }
}
