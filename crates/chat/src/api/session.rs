//! `POST /api/session`: a signed, stateless session token for a name.

use super::{Config, Reply, Request, reply, session_secret};
use crate::error::ApiError;
use crate::model::{NewSession, SessionReply, parse_json};
use crate::{time, token, validate};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

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
}
