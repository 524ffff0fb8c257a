//! `POST /api/mutes` (admin token): mute a name in a room or everywhere for
//! a while, or lift a mute. Names are labels, so a mute holds a name (in any
//! case), whoever uses it, and a name nobody uses yet can be muted. Every
//! mute is recorded in the moderation log with who did it.

use super::unknown_room;
use super::{Config, Reply, Request, bearer, is_admin, missing_token, moderator, reply};
use crate::error::ApiError;
use crate::model::{Mute, MuteEnvelope, NewMute, parse_json};
use crate::store::{Muted, Store};
use crate::validate;

/// The longest mute: 30 days. Longer would be a ban, which names (labels)
/// cannot enforce anyway.
pub const MAX_MUTE_SECS: i64 = 30 * 24 * 3600;

pub async fn mutes(req: &Request<'_>, cfg: &Config, store: &impl Store) -> Reply {
    if req.method != "POST" {
        return Reply::error(ApiError::method_not_allowed("POST"));
    }
    reply(mute(req, cfg, store).await)
}

async fn mute(req: &Request<'_>, cfg: &Config, store: &impl Store) -> Result<Reply, ApiError> {
    if cfg.admin_token.is_empty() {
        return Err(ApiError::forbidden(
            "moderation_disabled",
            "moderation is disabled on this server; ask the operator to configure an admin token",
        ));
    }
    let given = bearer(req.authorization).ok_or_else(missing_token)?;
    if !is_admin(cfg, given) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "muting needs the admin token; send the configured admin token as a Bearer token",
        ));
    }
    let new: NewMute = parse_json(req.content_type, req.body)?;
    let name = validate::name(&new.name)?;
    let room = new.room.as_deref().map(validate::room_id).transpose()?;
    let secs = new.duration_secs;
    if secs.fract() != 0.0 || !(0.0..=MAX_MUTE_SECS as f64).contains(&secs) {
        return Err(ApiError::bad_request(
            "invalid_duration",
            format!(
                "duration_secs must be between 1 and {MAX_MUTE_SECS} (30 days), or 0 to lift the mute"
            ),
        ));
    }
    let actor = moderator(req, cfg);
    let until = match store
        .mute(&name, room.as_deref(), secs as i64, &actor)
        .await?
    {
        Muted::Until(until) => Some(until),
        Muted::Lifted => None,
        Muted::UnknownRoom => return Err(unknown_room()),
    };
    Ok(Reply::json(
        200,
        &MuteEnvelope {
            mute: Mute { name, room, until },
        },
    ))
}
