//! `POST /api/session`: a signed, stateless session token. A guest's for a
//! name no account holds; an account's for its name and password.
use super::auth::{client, session_secret};
use super::reply::{Reply, reply, too_fast};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{NewSession, SessionReply, parse_json};
use crate::store::{GuestJoin, Joined, LoginStart, Signin, Store, StoredAccount};
use crate::token::{self, AccountClaim};
use crate::{names, password, time, validate};

/// `POST /api/session` with `{"name": "..."}` (a guest) or `{"name": "...",
/// "password": "..."}` (an account) -> 201 `{token, name, expires_at,
/// session, edit_window_secs, role}`.
///
/// A guest's session needs the database: it says whether an account holds
/// the name (then only its password gets a session: 409), and it limits
/// new sessions per client address across hosts. A guest's session id is
/// `random`'s first 16 bytes (the host's), which the token carries and every
/// message it sends records, so only this session may edit or remove them.
/// Without them (the host's random source failed) no session can be issued
/// safely: 500, and nothing is issued.
///
/// Signing in: see [`sign_in`].
pub(super) async fn session(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 32]>,
    store: &impl Store,
) -> Reply {
    reply(issue(req, cfg, now_unix, random, store).await)
}

async fn issue(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 32]>,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    session_secret(cfg)?;
    let new: NewSession = parse_json(req.content_type, req.body)?;
    let name = validate::name(&new.name)?;
    let key = names::key(&name);
    let client = client(req, cfg);
    if let Some(password) = new.password {
        let account = sign_in(&key, &client, &password, cfg, store).await?;
        return account_session(cfg, now_unix, &account, 201);
    }
    match store
        .run(&GuestJoin {
            name_key: &key,
            client: &client,
            limit: cfg.session_limit,
        })
        .await?
    {
        Joined::Ok => {}
        Joined::NameClaimed => return Err(name_claimed()),
        Joined::RateLimited { retry_after_secs } => {
            return Err(too_fast(
                "too many new sessions from this address",
                retry_after_secs,
            ));
        }
    }
    let random = random.ok_or_else(no_randomness)?;
    let mut id_bytes = [0u8; 16];
    id_bytes.copy_from_slice(&random[..16]);
    let id = token::session_id(id_bytes);
    let s = token::issue_session(
        &name,
        Some(&id),
        &cfg.session_secret,
        now_unix,
        cfg.session_ttl_secs,
    );
    Ok(Reply::json(
        201,
        &SessionReply {
            token: s.token,
            expires_at: time::rfc3339_utc(s.expires_at_unix),
            name: s.name,
            session: id,
            edit_window_secs: cfg.edit_window_secs,
            role: "guest".into(),
        },
    ))
}

/// 409: an account holds the name a guest asked for.
fn name_claimed() -> ApiError {
    ApiError::conflict(
        "name_claimed",
        "an account has claimed this name; sign in with its password, or join under \
         another name",
    )
}

/// 500: the host's random source failed.
pub(super) fn no_randomness() -> ApiError {
    ApiError::internal(
        "internal_error",
        "the server could not create a session id; try again later",
    )
    .with_cause("the host's random source (wasi:random) failed")
}

/// 401 for a wrong password and for a name no account has alike.
pub(super) fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "the name or the password is wrong; try again, or ask the operator for a reset code",
    )
}

/// The account `password` signs in to, for the name whose key is `key`.
///
/// A token from the client address's bucket and one from the name's come
/// first (in the database, across hosts): password guessing is throttled
/// per name wherever it comes from, and per address whatever names it
/// tries. Then the password is checked with Argon2id, against the
/// account's hash, or for a name no account has (or an account without a
/// password, after a reset) against a dummy hash with the same parameters:
/// both cost one verification and answer the same 401.
pub(super) async fn sign_in(
    key: &str,
    client: &str,
    given: &str,
    cfg: &Config,
    store: &impl Store,
) -> Result<StoredAccount, ApiError> {
    let found = store
        .run(&LoginStart {
            name_key: key,
            client,
            limit: cfg.login_limit,
        })
        .await?;
    let (account, hash) = match found {
        Signin::RateLimited { retry_after_secs } => {
            return Err(too_fast(
                "too many sign-in attempts for this name or from this address",
                retry_after_secs,
            ));
        }
        Signin::Found { account, hash, .. } => (account, hash),
    };
    let long = given.chars().count() > password::MAX_CHARS;
    let ok = password::verify(given, hash.as_deref().filter(|_| !long));
    account.filter(|_| ok).ok_or_else(invalid_credentials)
}

/// The reply with a new session of `account`.
pub(super) fn account_session(
    cfg: &Config,
    now_unix: i64,
    account: &StoredAccount,
    status: u16,
) -> Result<Reply, ApiError> {
    let secret = session_secret(cfg)?;
    let claim = AccountClaim {
        id: account.id,
        version: account.version,
        moderator: account.moderator,
    };
    let s = token::issue_account(&account.name, claim, secret, now_unix, cfg.session_ttl_secs);
    Ok(Reply::json(
        status,
        &SessionReply {
            token: s.token,
            expires_at: time::rfc3339_utc(s.expires_at_unix),
            name: s.name,
            session: claim.session_id(),
            edit_window_secs: cfg.edit_window_secs,
            role: if account.moderator {
                "moderator"
            } else {
                "member"
            }
            .into(),
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
        assert_eq!(b.as_object().unwrap().len(), 6);
        assert_eq!(b["name"], "alice");
        assert_eq!(b["role"], "guest");
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
        // A database that cannot say whether an account holds the name
        // cannot let anyone join under it: 503, try again.
        store.set_down(true);
        assert_eq!(from("192.0.2.1:5000", None).status, 503);
    }
}
