//! `POST /api/mutes` (admin token): mute a name in a room or everywhere for
//! a while, or lift a mute. Names are labels, so a mute holds a name (in any
//! case), whoever uses it, and a name nobody uses yet can be muted. Every
//! mute is recorded in the moderation log with who did it.
use super::auth::{bearer, is_admin, missing_token, moderator};
use super::reply::{Reply, reply, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{Mute, MuteEnvelope, NewMute, parse_json};
use crate::store::{MuteName, Muted, Store};
use crate::validate;

/// The longest mute: 30 days. Longer would be a ban, which names (labels)
/// cannot enforce anyway.
pub const MAX_MUTE_SECS: i64 = 30 * 24 * 3600;

/// `POST`: mute a name, or lift its mute.
pub(super) async fn mutes(req: &Request<'_>, cfg: &Config, store: &impl Store) -> Reply {
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
        .run(&MuteName {
            name: &name,
            room: room.as_deref(),
            secs: secs as i64,
            actor: &actor,
        })
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    const M1: &str = "/api/rooms/general/messages/1";

    #[test]
    fn moderators_remove_and_mute_and_every_action_is_logged() {
        let store = MemStore::seeded();
        let bob = login("bob");
        assert_eq!(post(&store, &bob, "general", "spam", "c1").status, 201);
        let r = call(&store, &cfg(), "DELETE", M1, Some(ADMIN_BEARER), "");
        assert_eq!(r.status, 200, "{}", r.body);
        let mute = |b: serde_json::Value| {
            call(
                &store,
                &cfg(),
                "POST",
                "/api/mutes",
                Some(ADMIN_BEARER),
                &b.to_string(),
            )
        };
        let r = mute(json!({"name": "Bob", "room": "general", "duration_secs": 600}));
        assert_eq!(r.status, 200, "{}", r.body);
        let m = &body(&r)["mute"];
        assert_eq!(
            (m["name"].as_str(), m["room"].as_str()),
            (Some("Bob"), Some("general"))
        );
        let until = m["until"].as_str().unwrap().to_string();
        let r = post(&store, &bob, "general", "more spam", "c2");
        assert_eq!((r.status, error_code(&r)), (403, "muted".into()));
        assert!(r.body.contains(&until), "{}", r.body);
        // A name nobody uses yet, everywhere; then lifted.
        let r = mute(json!({"name": "nobody yet", "duration_secs": 60}));
        assert_eq!((r.status, body(&r)["mute"]["room"].is_null()), (200, true));
        let r = mute(json!({"name": "bob", "room": "general", "duration_secs": 0}));
        assert_eq!((r.status, body(&r)["mute"]["until"].is_null()), (200, true));
        assert_eq!(post(&store, &bob, "general", "sorry", "c3").status, 201);
        let log = store.moderation_log();
        assert_eq!(
            log.iter()
                .map(|(actor, action, ..)| (actor.as_str(), *action))
                .collect::<Vec<_>>(),
            [
                ("admin from 192.0.2.10", "remove"),
                ("admin from 192.0.2.10", "mute"),
                ("admin from 192.0.2.10", "mute"),
                ("admin from 192.0.2.10", "unmute"),
            ]
        );
        // Refused mutes change nothing.
        let no_admin = Config {
            admin_token: String::new(),
            ..cfg()
        };
        let ok = json!({"name": "bob", "duration_secs": 60}).to_string();
        for (c, auth, b, status, code) in [
            (
                &no_admin,
                Some(ADMIN_BEARER),
                ok.clone(),
                403,
                "moderation_disabled",
            ),
            (&cfg(), None, ok.clone(), 401, "missing_token"),
            (&cfg(), Some(bob.as_str()), ok.clone(), 401, "invalid_token"),
            (&cfg(), Some(ADMIN_BEARER), "{}".into(), 400, "invalid_json"),
            (
                &cfg(),
                Some(ADMIN_BEARER),
                json!({"name": " ", "duration_secs": 1}).to_string(),
                400,
                "invalid_name",
            ),
            (
                &cfg(),
                Some(ADMIN_BEARER),
                json!({"name": "b", "duration_secs": -1}).to_string(),
                400,
                "invalid_duration",
            ),
            (
                &cfg(),
                Some(ADMIN_BEARER),
                json!({"name": "b", "duration_secs": 2_592_001}).to_string(),
                400,
                "invalid_duration",
            ),
            (
                &cfg(),
                Some(ADMIN_BEARER),
                json!({"name": "b", "room": "Bad!", "duration_secs": 1}).to_string(),
                400,
                "invalid_room_id",
            ),
            (
                &cfg(),
                Some(ADMIN_BEARER),
                json!({"name": "b", "room": "nope", "duration_secs": 1}).to_string(),
                404,
                "unknown_room",
            ),
        ] {
            let r = call(&store, c, "POST", "/api/mutes", auth, &b);
            assert_eq!(
                (r.status, error_code(&r)),
                (status, code.to_string()),
                "{b}"
            );
        }
        let r = call(&store, &cfg(), "GET", "/api/mutes", Some(ADMIN_BEARER), "");
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        assert_eq!(store.moderation_log().len(), 4);
    }
}
