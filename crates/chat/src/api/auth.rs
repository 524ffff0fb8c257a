//! Credentials: the bearer token of a request, the admin token (compared
//! in constant time), session claims, and how a moderator is named.
use super::request::Request;
use crate::config::Config;

use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::token;

/// The token of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110); anything else counts as no credentials.
pub(crate) fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, rest) = authorization?.trim().split_once(' ')?;
    let tok = rest.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !tok.is_empty()).then_some(tok)
}

pub(crate) fn missing_token() -> ApiError {
    ApiError::unauthorized(
        "missing_token",
        "this request needs an Authorization: Bearer <token> header; \
         create a session with POST /api/session",
    )
}

/// Whether `given` is the configured admin token, compared in constant
/// time so it cannot be recovered byte by byte from response timings (only
/// its length can leak, which is harmless). Never when none is configured.
pub(crate) fn is_admin(cfg: &Config, given: &str) -> bool {
    !cfg.admin_token.is_empty() && bool::from(given.as_bytes().ct_eq(cfg.admin_token.as_bytes()))
}

/// How a moderator is named in the moderation log: the admin token is
/// shared, so the address the request came from says who.
pub(crate) fn moderator(req: &Request<'_>, cfg: &Config) -> String {
    let from = crate::net::client_address(req.client_addr, req.forwarded_for, &cfg.trusted_proxies);
    format!("admin from {from}")
}

/// The claims of the request's session token (401 without a valid one).
pub(crate) fn session_claims(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
) -> Result<token::Claims, ApiError> {
    let secret = session_secret(cfg)?;
    let tok = bearer(req.authorization).ok_or_else(missing_token)?;
    token::claims_rotated(tok, secret, &cfg.previous_session_secret, now_unix)
}

/// A too-short secret is an operator mistake, not something a client can
/// fix; refusing to sign with it beats issuing guessable tokens.
pub(crate) fn session_secret(cfg: &Config) -> Result<&[u8], ApiError> {
    token::check_secret(&cfg.session_secret).map_err(|_| {
        ApiError::internal(
            "server_misconfigured",
            "the server's session secret is not configured correctly; contact the operator",
        )
        .with_cause(format!(
            "the session_secret variable has {} bytes; set one of at least {}",
            cfg.session_secret.len(),
            token::MIN_SECRET_LEN
        ))
    })?;
    Ok(&cfg.session_secret)
}
