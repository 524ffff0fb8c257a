//! `GET /api/rooms` lists the rooms; `POST /api/rooms` (a moderator)
//! creates one; `PATCH /api/rooms/{room}` (a moderator) makes a room
//! members-only (guests read, only accounts post) or opens it again.
use super::auth::{ModeratorCreds, moderator_creds, not_moderator};
use super::reply::{Reply, reply, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{NewRoom, RoomEnvelope, RoomList, RoomSettings, parse_json};
use crate::store::{CreateRoom, ListRooms, RoomSet, SetMembersOnly, Store};
use crate::validate;

/// `GET`: every room.
pub(super) async fn list(store: &impl Store) -> Reply {
    reply(list_rooms(store).await)
}

/// `POST` (a moderator): a new room.
pub(super) async fn create(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(create_room(req, cfg, now_unix, store).await)
}

/// `PATCH` (a moderator): a room's settings.
pub(super) async fn settings(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(set_room(req, room, cfg, now_unix, store).await)
}

async fn list_rooms(store: &impl Store) -> Result<Reply, ApiError> {
    let rooms = store.run(&ListRooms).await?;
    Ok(Reply::json(200, &RoomList { rooms }))
}

async fn create_room(
    req: &Request<'_>,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let creds: ModeratorCreds = moderator_creds(req, cfg, now_unix, "creating a room")?;
    let new: NewRoom = parse_json(req.content_type, req.body)?;
    let id = validate::room_id(&new.id)?;
    let title = validate::room_title(&new.title)?;
    match store
        .run(&CreateRoom {
            id: &id,
            title: &title,
            members_only: new.members_only,
            by: creds.moderator(),
        })
        .await?
    {
        // Where the new room is read (room ids need no escaping in a path).
        RoomSet::Done(room) => Ok(Reply::json(201, &room)
            .with_header("location", format!("/api/rooms/{}/messages", room.id))),
        RoomSet::Exists => Err(ApiError::conflict(
            "room_exists",
            format!("a room with id \"{id}\" exists already; choose another id"),
        )),
        RoomSet::NotModerator => Err(not_moderator("creating a room")),
        RoomSet::UnknownRoom => Err(unknown_room()),
    }
}

async fn set_room(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    if !validate::is_room_id(room) {
        return Err(unknown_room());
    }
    let creds = moderator_creds(req, cfg, now_unix, "changing a room")?;
    let new: RoomSettings = parse_json(req.content_type, req.body)?;
    match store
        .run(&SetMembersOnly {
            room,
            members_only: new.members_only,
            by: creds.moderator(),
        })
        .await?
    {
        RoomSet::Done(room) => Ok(Reply::json(200, &RoomEnvelope { room })),
        RoomSet::UnknownRoom | RoomSet::Exists => Err(unknown_room()),
        RoomSet::NotModerator => Err(not_moderator("changing a room")),
    }
}

#[cfg(test)]
mod tests {

    use super::super::test_support::*;
    use super::*;

    #[test]
    fn list_and_create_rooms() {
        let store = MemStore::seeded();
        let r = dispatch(&req("GET", "/api/rooms", ""), &cfg(), NOW, &store);
        assert_eq!(r.status, 200);
        assert_common_headers(&r);
        assert_eq!(
            r.body,
            r#"{"rooms":[{"id":"general","title":"General","last_message_id":0,"members_only":false}]}"#
        );

        let mut c = req("POST", "/api/rooms", r#"{"id": "rust", "title": " Rust "}"#);
        let auth = format!("Bearer {ADMIN}");
        c.authorization = Some(&auth);
        let r = dispatch(&c, &cfg(), NOW, &store);
        assert_eq!(r.status, 201);
        assert_eq!(
            r.body,
            r#"{"id":"rust","title":"Rust","last_message_id":0,"members_only":false}"#
        );
        assert_eq!(r.header("location"), Some("/api/rooms/rust/messages"));

        let r = dispatch(&c, &cfg(), NOW, &store);
        assert_eq!((r.status, error_code(&r).as_str()), (409, "room_exists"));
        assert_eq!(store.rooms().len(), 2);
    }

    #[test]
    fn create_room_auth_and_validation() {
        let store = MemStore::seeded();
        let good = format!("Bearer {ADMIN}");
        let run = |auth: Option<&str>, cfg: &Config, b: &str| {
            let mut r = req("POST", "/api/rooms", b);
            r.authorization = auth;
            dispatch(&r, cfg, NOW, &store)
        };
        let b = r#"{"id":"rust","title":"Rust"}"#;

        let disabled = Config {
            admin_token: String::new(),
            ..cfg()
        };
        // With the admin token off, it is one more invalid token.
        let r = run(Some("Bearer "), &disabled, b);
        assert_eq!((r.status, error_code(&r).as_str()), (401, "missing_token"));
        let r = run(Some(&good), &disabled, b);
        assert_eq!((r.status, error_code(&r).as_str()), (401, "invalid_token"));

        let r = run(None, &cfg(), b);
        assert_eq!((r.status, error_code(&r).as_str()), (401, "missing_token"));
        assert_eq!(run(Some("Basic abc"), &cfg(), b).status, 401);
        assert_eq!(run(Some(ADMIN), &cfg(), b).status, 401);
        assert_eq!(run(Some("Bearer admin-secret-toke"), &cfg(), b).status, 401);
        assert_eq!(
            run(Some("Bearer admin-secret-token!"), &cfg(), b).status,
            401
        );
        assert_eq!(
            run(
                Some("bearer  admin-secret-token"),
                &cfg(),
                r#"{"id":"x","title":"X"}"#
            )
            .status,
            201
        );

        for bad in [
            r#"{"id":"Rust","title":"Rust"}"#,
            r#"{"id":"-rust","title":"Rust"}"#,
            r#"{"id":"rust","title":""}"#,
            r#"{"id":"rust"}"#,
            r#"{"id":7,"title":"Rust"}"#,
        ] {
            assert_eq!(run(Some(&good), &cfg(), bad).status, 400, "{bad}");
        }
        assert_eq!(store.rooms().len(), 2);

        let r = dispatch(&req("DELETE", "/api/rooms", ""), &cfg(), NOW, &store);
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    }

    #[test]
    fn moderators_are_accounts_with_the_role_and_act_under_their_names() {
        let store = MemStore::seeded();
        let off = Config {
            admin_token: String::new(),
            ..cfg()
        };
        let create = |auth: &str, id: &str| {
            let b = serde_json::json!({"id": id, "title": "A room", "members_only": true});
            call(
                &store,
                &off,
                "POST",
                "/api/rooms",
                Some(auth),
                &b.to_string(),
            )
        };
        // A guest and a member are not moderators.
        let guest = login("gus");
        let r = create(&guest, "nope");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "not_moderator"));
        let member = register(&store, "mia");
        assert_eq!(create(&member, "nope").status, 403);
        // A moderator is, and the log names the account.
        let mo = moderator_login(&store, "Moe");
        let r = create(&mo, "staff");
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(body(&r)["members_only"], true);
        let log = store.moderation_log();
        let last = log.last().unwrap();
        assert_eq!((last.0.as_str(), last.1), ("account:2", "create_room"));
        // The role is checked where it is kept: revoked, the same token no
        // longer moderates (its session is signed out, too).
        store.grant_role(&crate::names::key("Moe"), false);
        let r = create(&mo, "staff-2");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "not_moderator"));
    }

    #[test]
    fn guests_read_a_members_only_room_but_only_members_post() {
        let store = MemStore::seeded();
        let mo = moderator_login(&store, "Moe");
        let member = register(&store, "mia");
        let guest = login("gus");
        assert_eq!(post(&store, &guest, "general", "open", "g1").status, 201);
        let set = |auth: &str, on: bool| {
            let b = serde_json::json!({"members_only": on}).to_string();
            call(
                &store,
                &cfg(),
                "PATCH",
                "/api/rooms/general",
                Some(auth),
                &b,
            )
        };
        // Only moderators change it; nothing changes when refused.
        assert_eq!(set(&member, true).status, 403);
        assert_eq!(store.rooms()[0].members_only, Some(false));
        let r = set(&mo, true);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(body(&r)["room"]["members_only"], true);
        let r = post(&store, &guest, "general", "closed?", "g2");
        assert_eq!((r.status, error_code(&r).as_str()), (403, "members_only"));
        assert_eq!(
            post(&store, &member, "general", "members here", "m1").status,
            201
        );
        // Guests still read it, and are still shown present.
        assert_eq!(get(&store, "general", "").status, 200);
        let here = call(
            &store,
            &cfg(),
            "PUT",
            "/api/rooms/general/presence",
            Some(&guest),
            "",
        );
        assert_eq!(here.status, 200, "{}", here.body);
        // The list says so; opened again, guests post.
        let list = dispatch(&req("GET", "/api/rooms", ""), &cfg(), NOW, &store);
        assert_eq!(body(&list)["rooms"][0]["members_only"], true);
        assert_eq!(set(&mo, false).status, 200);
        assert_eq!(
            post(&store, &guest, "general", "open again", "g3").status,
            201
        );
        // Unknown rooms, bad bodies, other methods.
        let r = call(
            &store,
            &cfg(),
            "PATCH",
            "/api/rooms/nowhere",
            Some(&mo),
            r#"{"members_only":true}"#,
        );
        assert_eq!(r.status, 404);
        let r = call(
            &store,
            &cfg(),
            "PATCH",
            "/api/rooms/general",
            Some(&mo),
            r#"{"members_only":"yes"}"#,
        );
        assert_eq!(r.status, 400);
        let r = call(&store, &cfg(), "GET", "/api/rooms/general", None, "");
        assert_eq!((r.status, r.header("allow")), (405, Some("PATCH")));
    }
}
