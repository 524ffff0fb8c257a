//! Stateless session tokens.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))`
//! with the payload `{"n": name, "e": expires_unix, "s": session_id}` (both
//! parts unpadded). A guest's session id is random; messages record it, and
//! only that session may edit or remove them. A session of an account adds
//! `"a": account_id, "v": version` (and `"m": true` for a moderator), and
//! its session id is `account-<id>`, the same on every device, so an
//! account's messages stay its own. The version is the account's when the
//! session was issued: a password change raises it, and the database then
//! refuses the older sessions' writes. Tokens issued before session ids
//! existed have no `s`: they still read and post.
//! No session table is needed: any component instance holding the secret can
//! check a token, which suits short-lived WebAssembly instances. The price is
//! that a token cannot be revoked before it expires, hence short TTLs.
//!
//! The MAC covers the *encoded* payload, so verification never parses
//! attacker-controlled JSON before the signature has been checked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Shorter secrets are guessable offline from a single captured token.
pub const MIN_SECRET_LEN: usize = 16;

/// Tokens are small (name <= 32 chars); refuse big inputs before doing any
/// decoding or hashing work on them.
const MAX_TOKEN_LEN: usize = 1024;

/// A freshly issued session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub name: String,
    pub expires_at_unix: i64,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub name: String,
    /// None for a token issued before sessions had ids.
    pub session: Option<String>,
    /// The account, for a session of one; None for a guest.
    pub account: Option<AccountClaim>,
}

/// The account a session belongs to, as it was when the session began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountClaim {
    pub id: i64,
    /// The account's version then (see the module doc).
    pub version: i64,
    /// Whether it held the moderator role then (the database checks it
    /// again at every moderator action).
    pub moderator: bool,
}

impl AccountClaim {
    /// The session id of every session of this account.
    pub fn session_id(&self) -> String {
        format!("account-{}", self.id)
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    n: String,
    e: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    m: bool,
}

/// A session id from 16 random bytes: 22 URL-safe characters.
pub fn session_id(random: [u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// Checks the configured secret; call at startup / per request and treat an
/// error as a configuration problem (the message says how to fix it).
pub fn check_secret(secret: &[u8]) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!(
            "session secret must be at least {MIN_SECRET_LEN} bytes (got {}); \
             configure a long random value",
            secret.len()
        ));
    }
    Ok(())
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Issues a token for `name` (already validated) valid for `ttl_secs`,
/// without a session id (as before session ids existed).
pub fn issue(name: &str, secret: &[u8], now_unix: i64, ttl_secs: i64) -> Session {
    issue_session(name, None, secret, now_unix, ttl_secs)
}

/// Issues a token for `name` and the session id `session`.
pub fn issue_session(
    name: &str,
    session: Option<&str>,
    secret: &[u8],
    now_unix: i64,
    ttl_secs: i64,
) -> Session {
    sign(name, session, None, secret, now_unix, ttl_secs)
}

/// Issues a token for a session of `account`, whose name is `name`.
pub fn issue_account(
    name: &str,
    account: AccountClaim,
    secret: &[u8],
    now_unix: i64,
    ttl_secs: i64,
) -> Session {
    let session = account.session_id();
    sign(
        name,
        Some(&session),
        Some(account),
        secret,
        now_unix,
        ttl_secs,
    )
}

fn sign(
    name: &str,
    session: Option<&str>,
    account: Option<AccountClaim>,
    secret: &[u8],
    now_unix: i64,
    ttl_secs: i64,
) -> Session {
    let expires_at_unix = now_unix.saturating_add(ttl_secs);
    let payload = Payload {
        n: name.to_string(),
        e: expires_at_unix,
        s: session.map(str::to_string),
        a: account.map(|a| a.id),
        v: account.map(|a| a.version),
        m: account.is_some_and(|a| a.moderator),
    };
    // A struct of a String and an i64 always serialises.
    let json = serde_json::to_vec(&payload).expect("payload serialises");
    let payload_b64 = URL_SAFE_NO_PAD.encode(json);
    let mut m = mac(secret);
    m.update(payload_b64.as_bytes());
    let sig_b64 = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    Session {
        token: format!("{payload_b64}.{sig_b64}"),
        name: name.to_string(),
        expires_at_unix,
    }
}

/// Verifies a token against the current secret, then, if that fails for its
/// signature, against the previous one (when set): after a rotation, tokens
/// signed before it stay valid until they expire, so nobody is logged out.
/// An expired token is expired under either.
pub fn verify_rotated(
    token: &str,
    secret: &[u8],
    previous: &[u8],
    now_unix: i64,
) -> Result<String, ApiError> {
    claims_rotated(token, secret, previous, now_unix).map(|c| c.name)
}

/// [`verify_rotated`], with the session id.
pub fn claims_rotated(
    token: &str,
    secret: &[u8],
    previous: &[u8],
    now_unix: i64,
) -> Result<Claims, ApiError> {
    match claims(token, secret, now_unix) {
        Err(e) if e.code == "invalid_token" && check_secret(previous).is_ok() => {
            claims(token, previous, now_unix)
        }
        other => other,
    }
}

/// Verifies a token and returns the name it was issued to. Every failure
/// is a 401; the codes tell an expired token (log in again) from an invalid
/// one, without saying which part of an invalid token was wrong.
pub fn verify(token: &str, secret: &[u8], now_unix: i64) -> Result<String, ApiError> {
    claims(token, secret, now_unix).map(|c| c.name)
}

/// [`verify`], with the session id.
pub fn claims(token: &str, secret: &[u8], now_unix: i64) -> Result<Claims, ApiError> {
    let invalid = || {
        ApiError::unauthorized(
            "invalid_token",
            "the session token is invalid; create a new session with POST /api/session",
        )
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid());
    }
    let (payload_b64, sig_b64) = token.split_once('.').ok_or_else(invalid)?;
    let sig = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| invalid())?;
    let mut m = mac(secret);
    m.update(payload_b64.as_bytes());
    // `verify_slice` compares in constant time, so response timing does not
    // reveal how many leading bytes of a forged MAC were right.
    m.verify_slice(&sig).map_err(|_| invalid())?;

    let json = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| invalid())?;
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if now_unix >= payload.e {
        return Err(ApiError::unauthorized(
            "expired_token",
            "the session token has expired; create a new session with POST /api/session",
        ));
    }
    let account = match (payload.a, payload.v) {
        (Some(id), Some(version)) => Some(AccountClaim {
            id,
            version,
            moderator: payload.m,
        }),
        (None, None) if !payload.m => None,
        // Signed by us, so never seen; refused rather than half-believed.
        _ => return Err(invalid()),
    };
    Ok(Claims {
        name: payload.n,
        session: payload.s,
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef-test-secret";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn session_ids_ride_in_the_token_and_old_tokens_have_none() {
        let id = session_id([7; 16]);
        assert_eq!(id.len(), 22);
        let s = issue_session("alice", Some(&id), SECRET, NOW, 60);
        assert_eq!(
            claims(&s.token, SECRET, NOW).unwrap(),
            Claims {
                name: "alice".into(),
                session: Some(id),
                account: None,
            }
        );
        let old = issue("bob", SECRET, NOW, 60);
        assert_eq!(claims(&old.token, SECRET, NOW).unwrap().session, None);
        // A token of the previous release, byte for byte: {"n":"bob","e":...}.
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"n":"bob","e":{}}}"#, NOW + 60));
        assert_eq!(old.token.split_once('.').unwrap().0, payload);
    }

    #[test]
    fn an_account_session_carries_the_account() {
        let acct = AccountClaim {
            id: 42,
            version: 3,
            moderator: true,
        };
        let s = issue_account("Alice", acct, SECRET, NOW, 60);
        let c = claims(&s.token, SECRET, NOW).unwrap();
        assert_eq!(c.account, Some(acct));
        assert_eq!(c.session.as_deref(), Some("account-42"));
        assert_eq!(c.name, "Alice");
        let member = AccountClaim {
            moderator: false,
            ..acct
        };
        let s = issue_account("Alice", member, SECRET, NOW, 60);
        let json = URL_SAFE_NO_PAD
            .decode(s.token.split_once('.').unwrap().0)
            .unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"n":"Alice","e":{},"s":"account-42","a":42,"v":3}}"#,
                NOW + 60
            )
            .as_bytes()
        );
    }

    #[test]
    fn issue_then_verify() {
        let s = issue("alice", SECRET, NOW, 3600);
        assert_eq!(s.name, "alice");
        assert_eq!(s.expires_at_unix, NOW + 3600);
        assert_eq!(verify(&s.token, SECRET, NOW).unwrap(), "alice");
        assert_eq!(verify(&s.token, SECRET, NOW + 3599).unwrap(), "alice");
        // Non-ASCII names survive the round trip.
        let s = issue("Zoë 🦀", SECRET, NOW, 60);
        assert_eq!(verify(&s.token, SECRET, NOW).unwrap(), "Zoë 🦀");
    }

    #[test]
    fn token_format() {
        let s = issue("alice", SECRET, NOW, 3600);
        let (p, sig) = s.token.split_once('.').unwrap();
        let json = URL_SAFE_NO_PAD.decode(p).unwrap();
        assert_eq!(json, br#"{"n":"alice","e":1800003600}"#);
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap().len(), 32);
        assert!(!s.token.contains('=') && !s.token.contains('+') && !s.token.contains('/'));
    }

    #[test]
    fn expiry_is_exclusive() {
        let s = issue("alice", SECRET, NOW, 10);
        assert!(verify(&s.token, SECRET, NOW + 9).is_ok());
        let e = verify(&s.token, SECRET, NOW + 10).unwrap_err();
        assert_eq!((e.status, e.code), (401, "expired_token"));
        assert!(verify(&s.token, SECRET, NOW + 1_000_000).is_err());
    }

    #[test]
    fn wrong_secret_is_refused() {
        let s = issue("alice", SECRET, NOW, 3600);
        let e = verify(&s.token, b"another-secret-of-16+bytes", NOW).unwrap_err();
        assert_eq!((e.status, e.code), (401, "invalid_token"));
    }

    #[test]
    fn forged_payload_is_refused() {
        // Attacker re-encodes a payload with another name and a later
        // expiry, keeping the original signature.
        let s = issue("alice", SECRET, NOW, 3600);
        let (_, sig) = s.token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"n":"admin","e":9999999999}"#);
        let forged = format!("{forged_payload}.{sig}");
        assert_eq!(
            verify(&forged, SECRET, NOW).unwrap_err().code,
            "invalid_token"
        );
        // Signing with another key does not help either.
        let other = issue("admin", b"attacker-chosen-secret!!", NOW, 3600);
        assert!(verify(&other.token, SECRET, NOW).is_err());
    }

    #[test]
    fn tampered_bytes_are_refused() {
        let s = issue("alice", SECRET, NOW, 3600);
        let bytes = s.token.as_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.to_vec();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            if t != s.token {
                assert!(verify(&t, SECRET, NOW).is_err(), "flip at {i}");
            }
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let s = issue("alice", SECRET, NOW, 3600);
        let long = "a".repeat(5000);
        for bad in [
            "",
            ".",
            "abc",
            "abc.",
            ".abc",
            "a.b.c",
            "!!!.???",
            &format!("{}.", s.token),
            &format!("{}x", s.token),
            &format!("{}==", s.token),
            &long,
        ] {
            let e = verify(bad, SECRET, NOW).unwrap_err();
            assert_eq!((e.status, e.code), (401, "invalid_token"), "{bad:?}");
        }
    }

    #[test]
    fn validly_signed_garbage_is_refused() {
        // Even with a correct MAC, a payload that is not the expected JSON
        // shape must be a clean 401, not a panic.
        for payload in [
            &b"not json"[..],
            br#"{"n":1,"e":2}"#,
            br#"{"n":"a"}"#,
            b"\xff\xfe",
        ] {
            let p = URL_SAFE_NO_PAD.encode(payload);
            let mut m = mac(SECRET);
            m.update(p.as_bytes());
            let t = format!("{p}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()));
            assert_eq!(verify(&t, SECRET, NOW).unwrap_err().code, "invalid_token");
        }
    }

    #[test]
    fn secret_length() {
        assert!(check_secret(b"").is_err());
        assert!(check_secret(&[7; 15]).is_err());
        assert!(check_secret(&[7; 16]).is_ok());
        assert!(check_secret(&[7; 64]).is_ok());
    }

    #[test]
    fn huge_ttl_does_not_overflow() {
        let s = issue("alice", SECRET, NOW, i64::MAX);
        assert_eq!(s.expires_at_unix, i64::MAX);
        assert!(verify(&s.token, SECRET, NOW).is_ok());
    }

    #[test]
    fn a_rotated_secret_still_accepts_tokens_of_the_previous_one() {
        let old = b"the-old-secret-0123456789";
        let new = b"the-new-secret-0123456789";
        let t = issue("alice", old, 1000, 3600).token;
        assert_eq!(verify_rotated(&t, new, old, 1001).unwrap(), "alice");
        // Not without the previous secret, nor with a short one.
        assert_eq!(
            verify_rotated(&t, new, b"", 1001).unwrap_err().code,
            "invalid_token"
        );
        assert_eq!(
            verify_rotated(&t, new, b"short", 1001).unwrap_err().code,
            "invalid_token"
        );
        // Expired stays expired; new tokens verify under the new secret.
        assert_eq!(
            verify_rotated(&t, new, old, 5000).unwrap_err().code,
            "expired_token"
        );
        let t2 = issue("bob", new, 1000, 3600).token;
        assert_eq!(verify_rotated(&t2, new, old, 1001).unwrap(), "bob");
    }
}
