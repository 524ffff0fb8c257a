//! `PUT|DELETE /api/rooms/{room}/presence`: who is here. A page announces
//! its person at most every 30 seconds while it is open, and leaves when it
//! closes or switches rooms; polls list the names seen in the last minute.
//! One upsert per person per 30 s, never a write per poll.

use super::unknown_room;
use super::{Config, Reply, Request, reply, session_claims};
use crate::error::ApiError;
use crate::model::PresenceReply;
use crate::store::Store;
use crate::validate;

pub(crate) async fn presence(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    if !matches!(req.method, "PUT" | "DELETE") {
        return Reply::error(ApiError::method_not_allowed("PUT, DELETE"));
    }
    reply(answer(req, room, cfg, now_unix, store).await)
}

async fn answer(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    if !validate::is_room_id(room) {
        return Err(unknown_room());
    }
    let claims = session_claims(req, cfg, now_unix)?;
    // One row per session; a token without a session id counts by name.
    let key = match &claims.session {
        Some(id) => id.clone(),
        None => format!("name:{}", claims.name),
    };
    let present = if req.method == "PUT" {
        store.announce(room, &key, &claims.name).await?
    } else {
        store.leave(room, &key).await?
    };
    let present = present.ok_or_else(unknown_room)?;
    Ok(Reply::json(
        200,
        &PresenceReply {
            room: room.to_string(),
            present,
        },
    ))
}
