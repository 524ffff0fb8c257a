//! What every endpoint answers with: the [`Reply`] (always JSON, with the
//! API's headers), the headers themselves, and the refusals several
//! endpoints share.

use serde::Serialize;

use crate::error::ApiError;

/// Sent with every reply of the API. Chat data changes constantly: no
/// browser may keep a copy (`no-store`). The few answers a shared cache may
/// keep for a moment say so to it alone, with `Surrogate-Control`
/// ([`Reply::shared_for`]). It is JSON, never a page: not to be sniffed as
/// something else, framed, or given scripts or styles.
pub const API_HEADERS: [(&str, &str); 4] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

/// Sent with the page and its assets (the static component): only the
/// page's own scripts, styles and API, nothing inline, never in a frame.
pub const PAGE_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
];

/// An HTTP response; the body is always JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Lower-case header names.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// For a status of 500 or above: the line for the server's log (status,
    /// code and cause). Never sent.
    log: Option<String>,
}

impl Reply {
    fn new(status: u16, body: String) -> Self {
        Reply {
            status,
            headers: std::iter::once(("content-type", "application/json".to_string()))
                .chain(API_HEADERS.iter().map(|(n, v)| (*n, v.to_string())))
                .collect(),
            body,
            log: None,
        }
    }

    /// A success reply with `value` as its JSON body.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Reply::new(status, body),
            // Our reply types always serialise; stay panic-free regardless.
            Err(e) => Reply::error(
                ApiError::internal(
                    "internal",
                    "the server could not encode its reply; retry later",
                )
                .with_cause(format!("encoding the reply: {e}")),
            ),
        }
    }

    /// The reply with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The reply, marked as one a shared cache in front of the hosts may
    /// keep and hand to anyone for `ms` milliseconds: `Surrogate-Control:
    /// max-age=0.5` (seconds, to the millisecond). The Edge Architecture
    /// header rather than `s-maxage`, whose whole seconds cannot say half a
    /// second; the cache strips it, and browsers still see `no-store`.
    ///
    /// Only for a success or a 404 (an unknown room stays unknown for a
    /// moment); any other status, and `ms == 0`, leave the reply private.
    pub fn shared_for(self, ms: u32) -> Self {
        if ms == 0 || !(self.status == 200 || self.status == 404) {
            return self;
        }
        let value = format!("max-age={}.{:03}", ms / 1000, ms % 1000);
        self.with_header("surrogate-control", value)
    }

    /// An error reply, with `Retry-After` / `Allow` where the error has one.
    pub fn error(err: ApiError) -> Self {
        let mut reply = Reply::new(err.status, err.to_json());
        if err.status >= 500 {
            reply.log = Some(match &err.cause {
                Some(cause) => format!("{} {}: {cause}", err.status, err.code),
                None => format!("{} {} (no cause recorded)", err.status, err.code),
            });
        }
        if let Some(secs) = err.retry_after {
            reply.headers.push(("retry-after", secs.to_string()));
        }
        if let Some(allow) = err.allow {
            reply.headers.push(("allow", allow.into()));
        }
        reply
    }

    /// What to log for this reply: a line for every status of 500 or above
    /// (the status, the error code and its cause), nothing otherwise. The
    /// one place a server fault reaches the log: components print it when
    /// they send the reply.
    pub fn log_line(&self) -> Option<&str> {
        self.log.as_deref()
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

/// 429 with `Retry-After`: over a limit; `what` says which.
pub(crate) fn too_fast(what: &str, retry_after_secs: u32) -> ApiError {
    ApiError::too_many_requests(
        "rate_limited",
        format!("{what}; wait {retry_after_secs} s before trying again"),
        retry_after_secs,
    )
}

/// Turns a handler's `Result` into a reply.
pub(crate) fn reply(result: Result<Reply, ApiError>) -> Reply {
    result.unwrap_or_else(Reply::error)
}

/// 404 for a room id no room has (or no room could have).
pub(crate) fn unknown_room() -> ApiError {
    ApiError::not_found(
        "unknown_room",
        "there is no room with this id; list the rooms with GET /api/rooms",
    )
}

/// 403 for a muted writer, with the time the mute ends (in the message,
/// and as `error.until` for a page to show in local time).
pub(crate) fn muted(until: &str) -> ApiError {
    ApiError::forbidden(
        "muted",
        format!(
            "A moderator has muted you until {until} (UTC). You can read, and post again \
             after that time."
        ),
    )
    .with_until(until)
}

/// The answer to a writer the database refused (see [`Refusal`]).
pub(crate) fn refused(refusal: crate::store::Refusal) -> ApiError {
    use crate::store::Refusal;
    match refusal {
        Refusal::SignedOut => ApiError::unauthorized(
            "signed_out",
            "this session was signed out: the account's password or role changed since; \
             sign in again",
        ),
        Refusal::NameClaimed => ApiError::forbidden(
            "name_claimed",
            "an account has claimed this name; sign in with its password, or join under \
             another name",
        ),
        Refusal::MembersOnly => ApiError::forbidden(
            "members_only",
            "only members may post in this room; claim a name with a password \
             (POST /api/accounts) and sign in to post here",
        ),
    }
}
