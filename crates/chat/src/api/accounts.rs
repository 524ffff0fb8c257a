//! `POST /api/accounts` claims a name with a password; `POST
//! /api/accounts/password` sets a new password, proven by the current one
//! or by a reset code the operator made (`SELECT chat.reset_password(...)`).
//! `POST /api/accounts/name` gives a signed-in account another name. All
//! answer with a new session, as `POST /api/session` does.
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth::{client, session_claims, session_secret};
use super::reply::{Reply, muted, refused, reply, too_fast};
use super::request::Request;
use super::session::{account_session, invalid_credentials, no_randomness, sign_in};
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{NewAccount, NewName, NewPassword, parse_json};
use crate::store::{
    AccountRef, ClaimAllowed, ClaimCheck, CreateAccount, LoginStart, Refusal, RenameAccount,
    Renamed, SetPassword, Signin, Store, StoredAccount,
};
use crate::{names, password, validate};

/// `POST /api/accounts` `{"name", "password"}` -> 201, a session of the new
/// account. 409 when an account holds the name (or one that reads the same,
/// see [`crate::names`]).
pub(super) async fn register(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 32]>,
    store: &impl Store,
) -> Reply {
    reply(claim(req, cfg, now_unix, random, store).await)
}

/// `POST /api/accounts/password` `{"name", "password" (or, without it,
/// "reset_code"), "new_password"}` -> 200, a new session; every older
/// session of the account is signed out.
pub(super) async fn change_password(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 32]>,
    store: &impl Store,
) -> Reply {
    reply(set_password(req, cfg, now_unix, random, store).await)
}

/// `POST /api/accounts/name` `{"name"}` (an account's session) -> 200, a
/// new session under the new name; the account's other sessions are signed
/// out (their tokens carry the old name). Its messages stay its own, under
/// the names they were sent with; its mutes still hold it.
pub(super) async fn rename(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(take_name(req, cfg, now_unix, store).await)
}

async fn take_name(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let claims = session_claims(req, cfg, now_unix)?;
    let Some(account) = claims.account else {
        return Err(ApiError::forbidden(
            "not_an_account",
            "only an account changes its name here; a guest joins again under the new name \
             (POST /api/session)",
        ));
    };
    let new: NewName = parse_json(req.content_type, req.body)?;
    let name = validate::name(&new.name)?;
    let renamed = store
        .run(&RenameAccount {
            account: AccountRef {
                id: account.id,
                version: account.version,
            },
            name: &name,
            name_key: &names::key(&name),
        })
        .await?;
    match renamed {
        Renamed::Renamed(account) => account_session(cfg, now_unix, &account, 200),
        Renamed::NameTaken => Err(name_taken()),
        Renamed::SignedOut => Err(refused(Refusal::SignedOut)),
    }
}

fn name_taken() -> ApiError {
    ApiError::conflict(
        "name_taken",
        "an account has this name, or one that reads the same; choose another name",
    )
}

/// The Argon2id hash of `password` with the last 16 of the host's random
/// bytes as its salt.
fn hash(password: &str, random: Option<[u8; 32]>) -> Result<String, ApiError> {
    let random = random.ok_or_else(no_randomness)?;
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&random[16..]);
    password::hash(password, salt).ok_or_else(|| {
        ApiError::internal(
            "internal_error",
            "the server could not protect the password; try again later",
        )
        .with_cause("argon2 refused to hash a password of valid length")
    })
}

async fn claim(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 32]>,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    session_secret(cfg)?;
    let new: NewAccount = parse_json(req.content_type, req.body)?;
    let name = validate::name(&new.name)?;
    password::check_new(&new.password, &name)?;
    let key = names::key(&name);
    let client = client(req, cfg);
    // Asked before the hash is made: a refused claim costs no hashing.
    match store
        .run(&ClaimAllowed {
            name_key: &key,
            client: &client,
            limit: cfg.session_limit,
        })
        .await?
    {
        ClaimCheck::Ok => {}
        ClaimCheck::NameTaken => return Err(name_taken()),
        ClaimCheck::RateLimited { retry_after_secs } => {
            return Err(too_fast(
                "too many new sessions from this address",
                retry_after_secs,
            ));
        }
        ClaimCheck::Muted { until } => return Err(muted(&until)),
    }
    let hash = hash(&new.password, random)?;
    let account = store
        .run(&CreateAccount {
            name: &name,
            name_key: &key,
            hash: &hash,
        })
        .await?
        .ok_or_else(name_taken)?;
    account_session(cfg, now_unix, &account, 201)
}

/// Whether `code` is the reset code whose SHA-256 (hex) is `expected`,
/// compared in constant time.
fn reset_code_matches(code: &str, expected: Option<&str>) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    let digest: String = Sha256::digest(code.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    bool::from(digest.as_bytes().ct_eq(expected.as_bytes()))
}

async fn set_password(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    random: Option<[u8; 32]>,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    session_secret(cfg)?;
    let new: NewPassword = parse_json(req.content_type, req.body)?;
    let name = validate::name(&new.name)?;
    password::check_new(&new.new_password, &name)?;
    let key = names::key(&name);
    let client = client(req, cfg);
    let account: StoredAccount = match (&new.password, &new.reset_code) {
        (Some(current), _) => sign_in(&key, &client, current, cfg, store).await?,
        (None, Some(code)) => {
            // Throttled as a sign-in is: a reset code is a password for a
            // day.
            match store
                .run(&LoginStart {
                    name_key: &key,
                    client: &client,
                    limit: cfg.login_limit,
                })
                .await?
            {
                Signin::RateLimited { retry_after_secs } => {
                    return Err(too_fast(
                        "too many sign-in attempts for this name or from this address",
                        retry_after_secs,
                    ));
                }
                Signin::Found {
                    account,
                    reset_hash,
                    ..
                } => account
                    .filter(|_| reset_code_matches(code, reset_hash.as_deref()))
                    .ok_or_else(invalid_credentials)?,
            }
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "send the current password (\"password\"), or a reset code from the operator \
                 (\"reset_code\")",
            ));
        }
    };
    let hash = hash(&new.new_password, random)?;
    let version = store
        .run(&SetPassword {
            account: account.reference(),
            hash: &hash,
        })
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "changed_meanwhile",
                "the account changed while the password was being set; try again",
            )
        })?;
    account_session(cfg, now_unix, &StoredAccount { version, ..account }, 200)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn reset_codes_compare_by_their_digest() {
        let code = "f5b3dc655fcc4164a49c042efffcf1ef";
        // sha256 of the code, as Postgres computes it in chat.reset_password.
        let digest = "4d0d0a4b8b1f6a1c0b0f4a1c4a9b7a7c4d3e1a6f5b2c8d9e0f1a2b3c4d5e6f70";
        assert!(!reset_code_matches(code, Some(digest)));
        let real: String = Sha256::digest(code.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(reset_code_matches(code, Some(&real)));
        assert!(reset_code_matches(&format!(" {code}\n"), Some(&real)));
        assert!(!reset_code_matches(code, None));
        assert!(!reset_code_matches("", Some(&real)));
    }

    #[test]
    fn a_claimed_name_signs_in_with_its_password_only() {
        let store = MemStore::seeded();
        let c = cfg();
        let r = call(
            &store,
            &c,
            "POST",
            "/api/accounts",
            None,
            r#"{"name":"Alice","password":"correct horse"}"#,
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let b = body(&r);
        assert_eq!(
            (b["name"].as_str(), b["role"].as_str()),
            (Some("Alice"), Some("member"))
        );
        assert_eq!(b["session"], "account-1");

        // The name, any case, any look-alike: taken.
        for taken in ["alice", "ALICE", "\u{0430}lice", "AlIce"] {
            let again = call(
                &store,
                &c,
                "POST",
                "/api/accounts",
                None,
                &serde_json::json!({"name": taken, "password": "another one"}).to_string(),
            );
            assert_eq!(
                (again.status, error_code(&again).as_str()),
                (409, "name_taken"),
                "{taken}"
            );
            // Nor may a guest join under it.
            let guest = call(
                &store,
                &c,
                "POST",
                "/api/session",
                None,
                &serde_json::json!({"name": taken}).to_string(),
            );
            assert_eq!(
                (guest.status, error_code(&guest).as_str()),
                (409, "name_claimed"),
                "{taken}"
            );
        }

        // Signing in: the password, and only the password.
        let sign_in = |name: &str, password: &str| {
            call(
                &store,
                &c,
                "POST",
                "/api/session",
                None,
                &serde_json::json!({"name": name, "password": password}).to_string(),
            )
        };
        let ok = sign_in("ALICE", "correct horse");
        assert_eq!(ok.status, 201, "{}", ok.body);
        assert_eq!(body(&ok)["session"], "account-1");
        assert_eq!(body(&ok)["name"], "Alice");
        let wrong = sign_in("alice", "wrong horse");
        let unknown = sign_in("nobody", "correct horse");
        assert_eq!((wrong.status, unknown.status), (401, 401));
        // Wrong password and unknown name: the same answer, byte for byte.
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(error_code(&wrong), "invalid_credentials");
    }

    #[test]
    fn a_new_password_signs_older_sessions_out() {
        let store = MemStore::seeded();
        let c = cfg();
        let first = call(
            &store,
            &c,
            "POST",
            "/api/accounts",
            None,
            r#"{"name":"carol","password":"first password"}"#,
        );
        let old = format!("Bearer {}", body(&first)["token"].as_str().unwrap());
        assert_eq!(post(&store, &old, "general", "hello", "c1").status, 201);

        let change = |body: &str| call(&store, &c, "POST", "/api/accounts/password", None, body);
        let wrong =
            change(r#"{"name":"carol","password":"not it","new_password":"second password"}"#);
        assert_eq!(
            (wrong.status, error_code(&wrong).as_str()),
            (401, "invalid_credentials")
        );
        let neither = change(r#"{"name":"carol","new_password":"second password"}"#);
        assert_eq!(
            (neither.status, error_code(&neither).as_str()),
            (400, "invalid_request")
        );
        let short =
            change(r#"{"name":"carol","password":"first password","new_password":"short"}"#);
        assert_eq!(
            (short.status, error_code(&short).as_str()),
            (400, "invalid_password")
        );

        let r = change(
            r#"{"name":"carol","password":"first password","new_password":"second password"}"#,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let new = format!("Bearer {}", body(&r)["token"].as_str().unwrap());
        // The old session is signed out; the new one writes.
        let refused = post(&store, &old, "general", "still me?", "c2");
        assert_eq!(
            (refused.status, error_code(&refused).as_str()),
            (401, "signed_out")
        );
        assert_eq!(post(&store, &new, "general", "it is me", "c3").status, 201);

        // The operator's reset: the password stops working, the code sets
        // a new one, once.
        let code = "0123456789abcdef0123456789abcdef";
        let digest: String = Sha256::digest(code.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        store.reset_password(&crate::names::key("carol"), &digest);
        let signin = call(
            &store,
            &c,
            "POST",
            "/api/session",
            None,
            r#"{"name":"carol","password":"second password"}"#,
        );
        assert_eq!(signin.status, 401);
        let reset =
            format!(r#"{{"name":"carol","reset_code":"{code}","new_password":"third password"}}"#);
        assert_eq!(change(&reset).status, 200);
        assert_eq!(change(&reset).status, 401);
    }

    #[test]
    fn an_account_renamed_keeps_its_messages_and_its_mute() {
        let store = MemStore::seeded();
        let c = cfg();
        let ann = super::super::test_support::register(&store, "ann");
        assert_eq!(post(&store, &ann, "general", "first", "a1").status, 201);
        let rename = |auth: &str, name: &str| {
            let b = serde_json::json!({ "name": name }).to_string();
            call(&store, &c, "POST", "/api/accounts/name", Some(auth), &b)
        };
        // Guests rejoin instead; a taken name stays taken.
        let r = rename(&login("gus"), "gustav");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "not_an_account"));
        super::super::test_support::register(&store, "bea");
        let r = rename(&ann, "BEA");
        assert_eq!((r.status, error_code(&r).as_str()), (409, "name_taken"));
        // Renamed: a new session under the new name, the old one signed
        // out, the old message still its own, the old name free.
        let r = rename(&ann, "Annabel");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (body(&r)["name"].as_str(), body(&r)["session"].as_str()),
            (Some("Annabel"), Some("account-1"))
        );
        let annabel = format!("Bearer {}", body(&r)["token"].as_str().unwrap());
        let stale = post(&store, &ann, "general", "old token", "a2");
        assert_eq!(
            (stale.status, error_code(&stale).as_str()),
            (401, "signed_out")
        );
        let r = call(
            &store,
            &c,
            "PATCH",
            "/api/rooms/general/messages/1",
            Some(&annabel),
            r#"{"body":"first, edited"}"#,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(body(&r)["message"]["author"], "ann");
        assert_eq!(
            post(&store, &annabel, "general", "hi again", "a3").status,
            201
        );
        let guest = call(
            &store,
            &c,
            "POST",
            "/api/session",
            None,
            r#"{"name":"ann"}"#,
        );
        assert_eq!(guest.status, 201, "the old name is free: {}", guest.body);
        // A mute of the account holds it under the new name.
        let mo = moderator_login(&store, "Moe");
        let b = serde_json::json!({"name": "Annabel", "duration_secs": 60}).to_string();
        assert_eq!(
            call(&store, &c, "POST", "/api/mutes", Some(&mo), &b).status,
            200
        );
        let r = rename(&annabel, "Belle");
        let belle = format!("Bearer {}", body(&r)["token"].as_str().unwrap());
        let r = post(&store, &belle, "general", "muted?", "a4");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "muted"));
    }
}
