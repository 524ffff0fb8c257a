//! `GET /api/rooms` lists the rooms; `POST /api/rooms` (admin token) creates one.
use super::auth::{bearer, is_admin, missing_token};
use super::reply::{Reply, reply};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{NewRoom, RoomList, parse_json};
use crate::store::{CreateRoom, ListRooms, Store};
use crate::validate;

/// `GET`: every room.
pub(super) async fn list(store: &impl Store) -> Reply {
    reply(list_rooms(store).await)
}

/// `POST` (admin): a new room.
pub(super) async fn create(req: &Request<'_>, cfg: &Config, store: &impl Store) -> Reply {
    reply(create_room(req, cfg, store).await)
}

async fn list_rooms(store: &impl Store) -> Result<Reply, ApiError> {
    let rooms = store.run(&ListRooms).await?;
    Ok(Reply::json(200, &RoomList { rooms }))
}

async fn create_room(
    req: &Request<'_>,
    cfg: &Config,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    if cfg.admin_token.is_empty() {
        return Err(ApiError::forbidden(
            "room_creation_disabled",
            "creating rooms is disabled on this server; ask the operator to configure an admin token",
        ));
    }
    let given = bearer(req.authorization).ok_or_else(missing_token)?;
    if !is_admin(cfg, given) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the admin token is wrong; send the configured admin token as a Bearer token",
        ));
    }
    let new: NewRoom = parse_json(req.content_type, req.body)?;
    let id = validate::room_id(&new.id)?;
    let title = validate::room_title(&new.title)?;
    match store
        .run(&CreateRoom {
            id: &id,
            title: &title,
        })
        .await?
    {
        // Where the new room is read (room ids need no escaping in a path).
        Some(room) => Ok(Reply::json(201, &room)
            .with_header("location", format!("/api/rooms/{}/messages", room.id))),
        None => Err(ApiError::conflict(
            "room_exists",
            format!("a room with id \"{id}\" exists already; choose another id"),
        )),
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
            r#"{"rooms":[{"id":"general","title":"General","last_message_id":0}]}"#
        );

        let mut c = req("POST", "/api/rooms", r#"{"id": "rust", "title": " Rust "}"#);
        let auth = format!("Bearer {ADMIN}");
        c.authorization = Some(&auth);
        let r = dispatch(&c, &cfg(), NOW, &store);
        assert_eq!(r.status, 201);
        assert_eq!(
            r.body,
            r#"{"id":"rust","title":"Rust","last_message_id":0}"#
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
        let r = run(Some("Bearer "), &disabled, b);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (403, "room_creation_disabled")
        );
        assert_eq!(run(Some(&good), &disabled, b).status, 403);

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
}
