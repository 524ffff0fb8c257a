//! The single error type of the HTTP API.
//!
//! Every failure a client can see is an [`ApiError`]: a status code, a
//! stable machine-readable `code` clients can branch on, and a human message
//! that says what to do next. Internal details (database text, secrets) go
//! only into its `cause`, which is never rendered: it is for the server's
//! log, and a reply of 500 or above carries it there (see
//! [`crate::api::Reply::log_line`]).

use std::fmt;

use serde::Serialize;

/// An error reply of the API, rendered as
/// `{"error": {"code": "<machine_code>", "message": "<human text>"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds for the `Retry-After` header (429 and 503).
    pub retry_after: Option<u32>,
    /// Value for the `Allow` header (405 only).
    pub allow: Option<Box<str>>,
    /// Why, for the operator's log; never sent to the client.
    pub cause: Option<String>,
    /// For a mute (403 `muted`): when it ends (RFC 3339 UTC), sent as
    /// `error.until` so a page can say it in its reader's local time.
    pub until: Option<Box<str>>,
}

/// An error and its causes on one line, outermost first
/// ("database error: db error: ERROR: permission denied for ..."): what the
/// log shows, so no cause is lost on the way.
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let more = cause.to_string();
        // An error that repeats its cause's text in its own adds nothing.
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = cause.source();
    }
    text
}

/// Seconds a client should wait before retrying after a 503; short because
/// the usual cause (a database restart or failover) is over quickly.
pub const RETRY_AFTER_SECS: u32 = 2;

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
            cause: None,
            until: None,
        }
    }

    /// The same error, saying until when (a mute's end).
    pub fn with_until(mut self, until: impl Into<String>) -> Self {
        self.until = Some(until.into().into_boxed_str());
        self
    }

    /// The same error, with what caused it recorded for the server's log.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// 400: the request is syntactically or semantically invalid.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// 401: the bearer token is missing, malformed, forged or expired.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(401, code, message)
    }

    /// 403: authenticated or not, this action is not allowed.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    /// 404: unknown room or route.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    /// 405 with the `Allow` header listing the methods that do work.
    pub fn method_not_allowed(allowed: &str) -> Self {
        let mut e = Self::new(
            405,
            "method_not_allowed",
            format!("this endpoint does not support that method; use {allowed}"),
        );
        e.allow = Some(allowed.into());
        e
    }

    /// 409: the resource exists already.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// 413: the request body is larger than the API accepts.
    pub fn payload_too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(413, code, message)
    }

    /// 415: the request body is not declared as JSON.
    pub fn unsupported_media_type(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(415, code, message)
    }

    /// 429 with `Retry-After`: over a rate limit.
    pub fn too_many_requests(
        code: &'static str,
        message: impl Into<String>,
        retry_after: u32,
    ) -> Self {
        let mut e = Self::new(429, code, message);
        e.retry_after = Some(retry_after);
        e
    }

    /// 503 with `Retry-After`: a dependency (the database) is unavailable.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(503, code, message);
        e.retry_after = Some(RETRY_AFTER_SECS);
        e
    }

    /// The 503 every database failure maps to. The text is fixed on purpose:
    /// driver messages can contain SQL, host names or user names.
    pub fn database_unavailable() -> Self {
        Self::unavailable(
            "database_unavailable",
            "the chat database is temporarily unavailable; retry after a few seconds",
        )
    }

    /// 500: the server is misconfigured (e.g. a too short session secret).
    /// Not retryable by the client, so no `Retry-After`.
    pub fn internal(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(500, code, message)
    }

    /// The JSON body of this error.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            until: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        let outer = Outer {
            error: Inner {
                code: self.code,
                message: &self.message,
                until: self.until.as_deref(),
            },
        };
        // Serialising two strings cannot fail; fall back to a fixed body
        // rather than panicking just in case.
        serde_json::to_string(&outer).unwrap_or_else(|_| {
            r#"{"error":{"code":"internal","message":"internal error"}}"#.to_string()
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_keeps_every_cause() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("cannot read the reply")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = crate::StoreError::new(
            true,
            Outer(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset by peer",
            )),
        );
        assert_eq!(
            report(&e),
            "database unavailable: cannot read the reply: reset by peer"
        );
        assert_eq!(
            report(&crate::StoreError::new(false, "permission denied")),
            "database error: permission denied"
        );
    }

    #[test]
    fn renders_exact_json() {
        let e = ApiError::bad_request("invalid_name", "say \"hi\"");
        assert_eq!(
            e.to_json(),
            r#"{"error":{"code":"invalid_name","message":"say \"hi\""}}"#
        );
        // The cause is for the log, never for the client.
        let e = ApiError::internal("internal_error", "try later").with_cause("password=hunter2");
        assert!(!e.to_json().contains("hunter2"));
    }

    #[test]
    fn statuses_and_headers() {
        assert_eq!(ApiError::bad_request("x", "y").status, 400);
        assert_eq!(ApiError::unauthorized("x", "y").status, 401);
        assert_eq!(ApiError::forbidden("x", "y").status, 403);
        assert_eq!(ApiError::not_found("x", "y").status, 404);
        assert_eq!(ApiError::conflict("x", "y").status, 409);
        assert_eq!(ApiError::payload_too_large("x", "y").status, 413);
        assert_eq!(ApiError::unsupported_media_type("x", "y").status, 415);
        assert_eq!(ApiError::internal("x", "y").status, 500);

        let e = ApiError::method_not_allowed("GET, POST");
        assert_eq!((e.status, e.allow.as_deref()), (405, Some("GET, POST")));
        assert_eq!(e.retry_after, None);

        let e = ApiError::database_unavailable();
        assert_eq!((e.status, e.retry_after), (503, Some(2)));
        assert_eq!(e.code, "database_unavailable");
        assert_eq!(e.allow, None);
    }
}
