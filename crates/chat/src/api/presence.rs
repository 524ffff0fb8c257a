//! `PUT|DELETE /api/rooms/{room}/presence`: who is here. A page announces
//! its person at most every 30 seconds while it is open, and leaves when it
//! closes or switches rooms; polls list the names seen in the last minute.
//! One upsert per person per 30 s, never a write per poll.
use super::auth::{WriterOf, session_claims};
use super::reply::{Reply, refused, reply, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::PresenceReply;
use crate::store::{Announce, Leave, Store};
use crate::validate;

/// `PUT` announces the session's person in the room, `DELETE` leaves it;
/// both answer who is present.
pub(super) async fn presence(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
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
        let writer = WriterOf::new(req, cfg, &claims);
        store
            .run(&Announce {
                room,
                key: &key,
                name: &claims.name,
                writer: writer.writer(),
            })
            .await?
            .map_err(refused)?
    } else {
        store.run(&Leave { room, key: &key }).await?
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    #[test]
    fn presence_lists_who_announced_and_drops_who_left() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let bob = login("bob");
        let p = "/api/rooms/general/presence";
        let r = call(&store, &cfg(), "PUT", p, Some(&alice), "");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_common_headers(&r);
        assert_eq!(body(&r), json!({"room": "general", "present": ["alice"]}));
        let r = call(&store, &cfg(), "PUT", p, Some(&bob), "");
        assert_eq!(body(&r)["present"], json!(["alice", "bob"]));
        let q = Request {
            query: "room=general&after=0",
            ..req("GET", "/api/poll", "")
        };
        let polled = dispatch(&q, &cfg(), NOW, &store);
        assert_eq!(body(&polled)["present"], json!(["alice", "bob"]));
        let r = call(&store, &cfg(), "DELETE", p, Some(&bob), "");
        assert_eq!(body(&r)["present"], json!(["alice"]));
        for (method, path, auth, status, code) in [
            ("GET", p, Some(alice.as_str()), 405, "method_not_allowed"),
            ("PUT", p, None, 401, "missing_token"),
            (
                "PUT",
                "/api/rooms/nope/presence",
                Some(alice.as_str()),
                404,
                "unknown_room",
            ),
            (
                "PUT",
                "/api/rooms/Bad!/presence",
                Some(alice.as_str()),
                404,
                "unknown_room",
            ),
        ] {
            let r = call(&store, &cfg(), method, path, auth, "");
            assert_eq!(
                (r.status, error_code(&r)),
                (status, code.to_string()),
                "{method} {path}"
            );
        }
    }
}
