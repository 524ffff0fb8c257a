//! `POST /api/mutes` (a moderator): mute a name in a room or everywhere for
//! a while, or lift a mute. The name of an account mutes the account, so
//! the mute outlives a rename; a guest's name mutes the name (in any case
//! and look-alike) and the client addresses its guest sessions came from
//! lately, so a new name from the same address stays muted. A name nobody
//! uses yet can be muted. Every mute is recorded in the moderation log with
//! who did it.
use super::auth::moderator_creds;
use super::reply::{Reply, reply, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{Mute, MuteEnvelope, NewMute, parse_json};
use crate::store::{MuteName, Muted, Store};
use crate::{names, validate};

/// The longest mute: 30 days. Longer would be a ban, which this chat does
/// not have.
pub const MAX_MUTE_SECS: i64 = 30 * 24 * 3600;

/// `POST`: mute a name, or lift its mute.
pub(super) async fn mutes(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(mute(req, cfg, now_unix, store).await)
}

async fn mute(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let creds = moderator_creds(req, cfg, now_unix, "muting")?;
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
    let until = match store
        .run(&MuteName {
            name: &name,
            name_key: &names::key(&name),
            room: room.as_deref(),
            secs: secs as i64,
            by: creds.moderator(),
            // A guest's addresses of the last session lifetime: any session
            // still open came from one of them.
            recent_secs: cfg.session_ttl_secs,
        })
        .await?
    {
        Muted::Until(until) => Some(until),
        Muted::Lifted => None,
        Muted::UnknownRoom => return Err(unknown_room()),
        Muted::NotModerator => return Err(super::auth::not_moderator("muting")),
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
        assert_eq!(body(&r)["error"]["until"].as_str(), Some(until.as_str()));
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
                401,
                "invalid_token",
            ),
            (&cfg(), None, ok.clone(), 401, "missing_token"),
            (&cfg(), Some(bob.as_str()), ok.clone(), 403, "not_moderator"),
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

    /// A guest's session from `addr`.
    fn guest_from(store: &MemStore, name: &str, addr: &'static str) -> String {
        let b = json!({ "name": name }).to_string();
        let mut r = req("POST", "/api/session", &b);
        r.client_addr = Some(addr);
        let r = dispatch(&r, &cfg(), NOW, store);
        assert_eq!(r.status, 201, "{}", r.body);
        format!("Bearer {}", body(&r)["token"].as_str().unwrap())
    }

    fn post_from(store: &MemStore, auth: &str, addr: &'static str, text: &str, id: &str) -> Reply {
        let b = json!({"body": text, "client_id": id}).to_string();
        let mut r = req("POST", "/api/rooms/general/messages", &b);
        r.authorization = Some(auth);
        r.client_addr = Some(addr);
        dispatch(&r, &cfg(), NOW, store)
    }

    #[test]
    fn a_mute_outlives_a_rename() {
        let store = MemStore::seeded();
        let mo = moderator_login(&store, "Moe");
        let mute = |name: &str| {
            let b = json!({"name": name, "duration_secs": 600}).to_string();
            call(&store, &cfg(), "POST", "/api/mutes", Some(&mo), &b)
        };
        // A guest: muted by name and by the address it came from, so a new
        // name from there is muted too; another address is not.
        let bob = guest_from(&store, "bob", "198.51.100.7:1000");
        let dana = guest_from(&store, "dana", "198.51.100.7:1500");
        assert_eq!(
            post_from(&store, &bob, "198.51.100.7:1000", "hi", "b1").status,
            201
        );
        assert_eq!(mute("bob").status, 200);
        // Dana came from that address (a shared one) before the mute: not
        // held by it.
        assert_eq!(
            post_from(&store, &dana, "198.51.100.7:1500", "hi", "d1").status,
            201
        );
        let renamed = guest_from(&store, "bob_", "198.51.100.7:2000");
        let r = post_from(&store, &renamed, "198.51.100.7:2000", "it's me", "b2");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "muted"));
        let elsewhere = guest_from(&store, "carl", "203.0.113.9:1000");
        assert_eq!(
            post_from(&store, &elsewhere, "203.0.113.9:1000", "hi", "c1").status,
            201
        );
        // Nor may the muted address claim a name to get out of it.
        let b = json!({"name": "bobby", "password": "a long password"}).to_string();
        let mut r = req("POST", "/api/accounts", &b);
        r.client_addr = Some("198.51.100.7:3000");
        let r = dispatch(&r, &cfg(), NOW, &store);
        assert_eq!((r.status, error_code(&r).as_str()), (403, "muted"));

        // An account: the mute holds the account, whatever the name says
        // and wherever it posts from.
        let ann = register(&store, "Ann");
        assert_eq!(
            post_from(&store, &ann, "192.0.2.50:1", "hello", "a1").status,
            201
        );
        let r = mute("ANN");
        assert_eq!(r.status, 200, "{}", r.body);
        let r = post_from(&store, &ann, "203.0.113.200:1", "still me", "a2");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "muted"));
        // The log names the moderator's account.
        let log = store.moderation_log();
        assert!(
            log.iter()
                .all(|(actor, action, ..)| actor == "account:1" && *action == "mute"),
            "{log:?}"
        );
    }

    #[test]
    fn a_moderator_account_removes_any_message_and_a_member_only_its_own() {
        let store = MemStore::seeded();
        let mo = moderator_login(&store, "Moe");
        let ann = register(&store, "Ann");
        let bob = login("bob");
        assert_eq!(post(&store, &bob, "general", "spam", "b1").status, 201);
        assert_eq!(post(&store, &ann, "general", "mine", "a1").status, 201);
        let del = |auth: &str, id: i64| {
            let path = format!("/api/rooms/general/messages/{id}");
            call(&store, &cfg(), "DELETE", &path, Some(auth), "")
        };
        let r = del(&ann, 1);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (403, "not_your_message")
        );
        let r = del(&mo, 1);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(body(&r)["message"]["removed_by"], "moderator");
        assert_eq!(del(&ann, 2).status, 200);
        let log = store.moderation_log();
        assert_eq!(
            log.iter()
                .map(|(a, act, ..)| (a.as_str(), *act))
                .collect::<Vec<_>>(),
            [("account:1", "remove")]
        );
    }
}
