//! Credentials: the bearer token of a request, the admin token (compared
//! in constant time), session claims, who writes, and who moderates.
use super::request::Request;
use crate::config::Config;

use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::store::{AccountRef, Moderator, Writer};
use crate::{names, net, token};

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

/// How the admin token is named in the moderation log: it is shared, so
/// the address the request came from says who.
fn admin_actor(req: &Request<'_>, cfg: &Config) -> String {
    format!("admin from {}", client(req, cfg))
}

/// The request's client address, as limits and mutes see it.
pub(crate) fn client(req: &Request<'_>, cfg: &Config) -> String {
    net::client_address(req.client_addr, req.forwarded_for, &cfg.trusted_proxies)
}

/// A moderator's credentials: the admin token (the operator's bootstrap
/// and break-glass credential), or a session of an account that held the
/// moderator role when it signed in (the database checks it still does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModeratorCreds {
    actor: String,
    account: Option<AccountRef>,
}

impl ModeratorCreds {
    pub(crate) fn moderator(&self) -> Moderator<'_> {
        Moderator {
            actor: &self.actor,
            account: self.account,
        }
    }
}

/// 403: `what` needs a moderator.
pub(crate) fn not_moderator(what: &str) -> ApiError {
    ApiError::forbidden(
        "not_moderator",
        format!("{what} needs a moderator; sign in with an account the operator made a moderator"),
    )
}

/// The moderator the request's bearer token names: the admin token, or a
/// moderator's session. 401 without credentials or with a token that is
/// neither; 403 for a session that is not a moderator's.
pub(crate) fn moderator_creds(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    what: &str,
) -> Result<ModeratorCreds, ApiError> {
    let given = bearer(req.authorization).ok_or_else(missing_token)?;
    if is_admin(cfg, given) {
        return Ok(ModeratorCreds {
            actor: admin_actor(req, cfg),
            account: None,
        });
    }
    let claims = session_claims(req, cfg, now_unix)?;
    match claims.account {
        Some(a) if a.moderator => Ok(ModeratorCreds {
            actor: claims.name,
            account: Some(AccountRef {
                id: a.id,
                version: a.version,
            }),
        }),
        _ => Err(not_moderator(what)),
    }
}

/// Who a session writes as, from where: what [`Writer`] borrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriterOf {
    account: Option<AccountRef>,
    name_key: String,
    client: String,
}

impl WriterOf {
    /// The writer of `claims`, from the request's client address.
    pub(crate) fn new(req: &Request<'_>, cfg: &Config, claims: &token::Claims) -> Self {
        WriterOf {
            account: claims.account.map(|a| AccountRef {
                id: a.id,
                version: a.version,
            }),
            name_key: names::key(&claims.name),
            client: client(req, cfg),
        }
    }

    pub(crate) fn writer(&self) -> Writer<'_> {
        Writer {
            account: self.account,
            name_key: &self.name_key,
            client: &self.client,
        }
    }
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
