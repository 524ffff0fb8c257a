//! What a handler is given: the request, and what the host hands every
//! request besides it (configuration, clock, randomness, component).

use super::reply::Reply;
use crate::config::Config;

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

/// What a host hands every request besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub cfg: &'a Config,
    /// Seconds since the Unix epoch (the host's clock).
    pub now_unix: i64,
    /// 32 fresh random bytes from the host: a new guest session's id (the
    /// first 16) and a new password hash's salt (the last 16); `None` when
    /// its random source failed (neither can then be made).
    pub random: Option<[u8; 32]>,
    /// The `spin.toml` component answering, under Spin: a route the table
    /// gives another component is a 404 here, so a trigger that sends a
    /// path to the wrong component shows at once. `None` (hosts without
    /// Spin) serves every route.
    pub component: Option<&'a str>,
}

/// `reply`, marked as one a shared cache may keep and hand to anyone for
/// `cfg.shared_cache_ms` ([`Reply::shared_for`]), unless the request is
/// `private` (the endpoint says so) or carries credentials, whatever the
/// endpoint does with them. The cache in front of the hosts passes such
/// requests by itself too; this keeps the rule when it does not.
pub(crate) fn shared(req: &Request<'_>, cfg: &Config, private: bool, reply: Reply) -> Reply {
    if private || req.authorization.is_some() {
        reply
    } else {
        reply.shared_for(cfg.shared_cache_ms)
    }
}
