//! `PATCH|DELETE /api/rooms/{room}/messages/{id}`: a session edits its own
//! message (within the edit window) or removes it (any time); a moderator
//! (an account with the role, or the admin token) removes any message.
//! `POST .../{id}/reactions`: a person adds or withdraws an emoji. Each is
//! a new event of the room, with the room's next id, so every open page
//! learns of it by its poll.
use super::auth::{WriterOf, bearer, is_admin, missing_token, moderator_creds, session_claims};
use super::reply::{Reply, muted, refused, reply, too_fast, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{EditMessage, MessageEnvelope, NewReaction, ReactionReply, parse_json};
use crate::store::{
    Edit, Edited, MAX_EMOJI_PER_MESSAGE, React, Reacted, Remove, Removed, Remover, Store,
};
use crate::validate;

fn unknown_message() -> ApiError {
    ApiError::not_found(
        "unknown_message",
        "there is no message with this id in this room; \
         take ids from GET /api/rooms/{room}/messages",
    )
}

/// 403 for another session's message. A token from before messages had
/// owners (no session id) owns nothing: joining again fixes that.
fn not_yours(has_session: bool, what: &str) -> ApiError {
    ApiError::forbidden(
        "not_your_message",
        if has_session {
            format!("only the session that sent a message may {what} it; this one is not yours")
        } else {
            format!(
                "your session was created before messages had owners; \
                 join again (POST /api/session) to {what} the messages you send from then on"
            )
        },
    )
}

/// A message id: a positive decimal integer; anything else names no
/// message (404, no database round trip).
fn message_id(raw: &str) -> Option<i64> {
    (raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.parse().ok())
        .flatten()
        .filter(|id| *id > 0)
}

/// "15 minutes", "90 seconds": the window in words.
fn window_words(secs: i64) -> String {
    if secs > 0 && secs % 60 == 0 {
        let m = secs / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else {
        format!("{secs} seconds")
    }
}

/// Room and id, checked in that order: an impossible one is a 404 without
/// asking the database.
fn target(room: &str, id: &str) -> Result<i64, ApiError> {
    if !validate::is_room_id(room) {
        return Err(unknown_room());
    }
    message_id(id).ok_or_else(unknown_message)
}

/// `PATCH`: a session edits its own message, within the edit window.
pub(super) async fn edit(
    req: &Request<'_>,
    room: &str,
    id: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(edit_message(req, room, id, cfg, now_unix, store).await)
}

/// `DELETE`: the author removes a message at any time, a moderator any one.
pub(super) async fn remove(
    req: &Request<'_>,
    room: &str,
    id: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(remove_message(req, room, id, cfg, now_unix, store).await)
}

/// `POST .../reactions`: a person adds or withdraws one emoji.
pub(super) async fn react(
    req: &Request<'_>,
    room: &str,
    id: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(react_to(req, room, id, cfg, now_unix, store).await)
}

async fn edit_message(
    req: &Request<'_>,
    room: &str,
    id: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let id = target(room, id)?;
    let claims = session_claims(req, cfg, now_unix)?;
    let new: EditMessage = parse_json(req.content_type, req.body)?;
    let body = validate::message_body(&new.body)?;
    let writer = WriterOf::new(req, cfg, &claims);
    let edit = Edit {
        room,
        id,
        session: claims.session.as_deref(),
        body: &body,
        window_secs: cfg.edit_window_secs,
        limit: cfg.post_limit,
        writer: writer.writer(),
    };
    match store.run(&edit).await? {
        // The same answer for an edit and its retry.
        Edited::Edited(message) | Edited::Unchanged(message) => {
            Ok(Reply::json(200, &MessageEnvelope { message }))
        }
        Edited::UnknownRoom => Err(unknown_room()),
        Edited::UnknownMessage => Err(unknown_message()),
        Edited::NotYours => Err(not_yours(claims.session.is_some(), "edit")),
        Edited::Removed(_) => Err(message_removed("edited")),
        Edited::WindowClosed(message) => Err(ApiError::conflict(
            "edit_window_closed",
            format!(
                "a message can be edited for {} after it is sent, and this one was sent at {}; \
                 send a correction as a new message, or remove this one",
                window_words(cfg.edit_window_secs),
                message.sent_at
            ),
        )),
        Edited::Muted { until } => Err(muted(&until)),
        Edited::RateLimited { retry_after_secs } => Err(too_fast(
            "you are posting or editing in this room too fast",
            retry_after_secs,
        )),
        Edited::Refused(refusal) => Err(refused(refusal)),
    }
}

/// 409 for a removed message, which takes no edits, reactions or replies.
pub(super) fn message_removed(what: &str) -> ApiError {
    ApiError::conflict(
        "message_removed",
        format!("this message was removed and cannot be {what}; send a new message instead"),
    )
}

async fn react_to(
    req: &Request<'_>,
    room: &str,
    id: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let id = target(room, id)?;
    let claims = session_claims(req, cfg, now_unix)?;
    let new: NewReaction = parse_json(req.content_type, req.body)?;
    let emoji = validate::emoji(&new.emoji)?;
    // A reaction is a person's: without a session id there is no person to
    // count once.
    let Some(session) = claims.session.as_deref() else {
        return Err(not_yours(false, "react to"));
    };
    let writer = WriterOf::new(req, cfg, &claims);
    let react = React {
        room,
        id,
        author: &claims.name,
        session,
        emoji: &emoji,
        on: new.on,
        limit: cfg.post_limit,
        writer: writer.writer(),
    };
    match store.run(&react).await? {
        Reacted::Reacted(event) => Ok(Reply::json(
            200,
            &ReactionReply {
                event: Some(*event),
            },
        )),
        // Adding twice, or withdrawing what is not there, is no error: a
        // retry gets the same state.
        Reacted::Unchanged => Ok(Reply::json(200, &ReactionReply { event: None })),
        Reacted::UnknownRoom => Err(unknown_room()),
        Reacted::UnknownMessage => Err(unknown_message()),
        Reacted::Removed => Err(message_removed("reacted to")),
        Reacted::TooMany => Err(ApiError::conflict(
            "too_many_reactions",
            format!(
                "this message already has {MAX_EMOJI_PER_MESSAGE} different emoji; \
                 add one of those instead"
            ),
        )),
        Reacted::Muted { until } => Err(muted(&until)),
        Reacted::RateLimited { retry_after_secs } => Err(too_fast(
            "you are posting or reacting in this room too fast",
            retry_after_secs,
        )),
        Reacted::Refused(refusal) => Err(refused(refusal)),
    }
}

async fn remove_message(
    req: &Request<'_>,
    room: &str,
    id: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    let id = target(room, id)?;
    let given = bearer(req.authorization).ok_or_else(missing_token)?;
    // The admin token, or a session that says it is a moderator's, removes
    // as a moderator (the database checks an account still holds the
    // role); any other session as the author.
    let claims = if is_admin(cfg, given) {
        None
    } else {
        Some(session_claims(req, cfg, now_unix)?)
    };
    let says_moderator = claims
        .as_ref()
        .is_none_or(|c| c.account.is_some_and(|a| a.moderator));
    let creds = if says_moderator {
        Some(moderator_creds(
            req,
            cfg,
            now_unix,
            "removing others' messages",
        )?)
    } else {
        None
    };
    let session = claims.as_ref().and_then(|c| c.session.as_deref());
    let by = match &creds {
        Some(m) => Remover::Moderator(m.moderator().actor, session),
        None => Remover::Author(session),
    };
    let account = claims
        .as_ref()
        .and_then(|c| WriterOf::new(req, cfg, c).writer().account);
    match store
        .run(&Remove {
            room,
            id,
            by,
            account,
        })
        .await?
    {
        // Removing twice is the same answer, and changes nothing.
        Removed::Removed(message) | Removed::AlreadyRemoved(message) => {
            Ok(Reply::json(200, &MessageEnvelope { message }))
        }
        Removed::UnknownRoom => Err(unknown_room()),
        Removed::UnknownMessage => Err(unknown_message()),
        Removed::NotYours => Err(not_yours(session.is_some(), "remove")),
        Removed::SignedOut => Err(refused(crate::store::Refusal::SignedOut)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    use super::*;
    use crate::model::EventKind;

    fn edit_body(text: &str) -> String {
        json!({ "body": text }).to_string()
    }

    const M1: &str = "/api/rooms/general/messages/1";

    /// method, path, authorization, body, configuration, status, code.
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        String,
        &'a Config,
        u16,
        &'a str,
    );

    #[test]
    fn replies_and_reactions_over_http() {
        let store = MemStore::seeded();
        let (alice, bob) = (login("alice"), login("bob"));
        assert_eq!(
            post(&store, &alice, "general", "which port?", "c1").status,
            201
        );
        let reply = |auth: &str, to: serde_json::Value, cid: &str| {
            let b = serde_json::json!({"body": "5432", "client_id": cid, "reply_to": to});
            call(
                &store,
                &cfg(),
                "POST",
                "/api/rooms/general/messages",
                Some(auth),
                &b.to_string(),
            )
        };
        let r = reply(&bob, 1.into(), "b1");
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(body(&r)["message"]["reply_to"], 1);
        assert!(body(&r)["message"].get("target").is_none());
        for (to, status, code) in [
            (serde_json::json!(99), 409, "unknown_reply"),
            (serde_json::json!(0), 409, "unknown_reply"),
            (serde_json::json!(1.5), 400, "invalid_json"),
            (serde_json::json!("1"), 400, "invalid_json"),
        ] {
            let r = reply(&bob, to.clone(), "b-x");
            assert_eq!((r.status, error_code(&r).as_str()), (status, code), "{to}");
        }
        let react = |auth: &str, id: &str, b: &str| {
            let path = format!("/api/rooms/general/messages/{id}/reactions");
            call(&store, &cfg(), "POST", &path, Some(auth), b)
        };
        let thumbs = r#"{"emoji":"👍","on":true}"#;
        let r = react(&bob, "1", thumbs);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_common_headers(&r);
        let e = &body(&r)["event"];
        assert_eq!(
            (
                e["kind"].as_str(),
                e["target"].as_i64(),
                e["body"].as_str(),
                e["author"].as_str()
            ),
            (Some("reaction"), Some(1), Some("👍"), Some("bob"))
        );
        // The same again changes nothing, and says so.
        assert_eq!(react(&bob, "1", thumbs).body, r#"{"event":null}"#);
        // Scrolling back, the reactions in force come apart from the
        // messages, and the cursor stays the last message's.
        let page = body(&get(&store, "general", ""));
        assert_eq!(page["cursor"], 2);
        assert_eq!(page["messages"].as_array().unwrap().len(), 2);
        assert_eq!(page["reactions"][0]["body"], "👍");
        // After a cursor, reactions are events among the messages.
        let page = body(&get(&store, "general", "after=0"));
        assert_eq!(page["cursor"], 3);
        assert!(page.get("reactions").is_none());
        for (auth, id, b, status, code) in [
            (
                bob.as_str(),
                "1",
                r#"{"emoji":"ok","on":true}"#,
                400,
                "invalid_emoji",
            ),
            (bob.as_str(), "1", r#"{"emoji":"👍"}"#, 400, "invalid_json"),
            (bob.as_str(), "3", thumbs, 404, "unknown_message"),
            (bob.as_str(), "x", thumbs, 404, "unknown_message"),
            ("Bearer nope", "1", thumbs, 401, "invalid_token"),
        ] {
            let r = react(auth, id, b);
            assert_eq!(
                (r.status, error_code(&r).as_str()),
                (status, code),
                "{id} {b}"
            );
        }
        // A removed message takes no reactions and no replies.
        assert_eq!(
            call(&store, &cfg(), "DELETE", M1, Some(&alice), "").status,
            200
        );
        let r = react(&bob, "1", r#"{"emoji":"🎉","on":true}"#);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (409, "message_removed")
        );
        let r = reply(&bob, 1.into(), "b2");
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (409, "message_removed")
        );
        let before = store.messages().len();
        assert_eq!(
            reply(&bob, 1.into(), "b1").status,
            200,
            "a retry is answered"
        );
        assert_eq!(store.messages().len(), before, "refusals change nothing");
    }

    #[test]
    fn the_author_edits_within_the_window_and_removes_any_time() {
        let store = MemStore::seeded();
        let alice = login("alice");
        assert_eq!(post(&store, &alice, "general", "helo", "c1").status, 201);
        let r = call(
            &store,
            &cfg(),
            "PATCH",
            M1,
            Some(&alice),
            &edit_body(" hello "),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_common_headers(&r);
        let m = &body(&r)["message"];
        assert_eq!(
            (m["id"].as_i64(), m["body"].as_str()),
            (Some(1), Some("hello"))
        );
        assert!(m["edited_at"].is_string());
        // A retry of the same edit: the same answer, no new event.
        let again = call(
            &store,
            &cfg(),
            "PATCH",
            M1,
            Some(&alice),
            &edit_body("hello"),
        );
        assert_eq!((again.status, again.body.as_str()), (200, r.body.as_str()));
        assert_eq!(store.rooms()[0].last_message_id, 2);
        let edit = &store.messages()[1];
        assert_eq!((edit.kind, edit.target), (EventKind::Edit, Some(1)));

        let r = call(&store, &cfg(), "DELETE", M1, Some(&alice), "");
        assert_eq!(r.status, 200, "{}", r.body);
        let m = &body(&r)["message"];
        assert_eq!(
            (m["body"].as_str(), m["removed_by"].as_str()),
            (Some(""), Some("author"))
        );
        // Removing twice: the same answer, nothing changed.
        let again = call(&store, &cfg(), "DELETE", M1, Some(&alice), "");
        assert_eq!((again.status, again.body.as_str()), (200, r.body.as_str()));
        assert_eq!(store.rooms()[0].last_message_id, 3);
        assert!(
            store.messages().iter().all(|m| m.body.is_empty()),
            "texts erased"
        );
        // A removed message cannot be edited.
        let r = call(
            &store,
            &cfg(),
            "PATCH",
            M1,
            Some(&alice),
            &edit_body("back"),
        );
        assert_eq!((r.status, error_code(&r)), (409, "message_removed".into()));
    }

    #[test]
    fn refusals_change_nothing() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let bob = login("bob");
        assert_eq!(post(&store, &alice, "general", "hi", "c1").status, 201);
        let before = store.messages();
        let json = edit_body("changed");
        let closed = Config {
            edit_window_secs: 0,
            ..cfg()
        };
        let open = cfg();
        let cases: Vec<Case> = vec![
            (
                "PUT",
                M1,
                Some(&alice),
                json.clone(),
                &open,
                405,
                "method_not_allowed",
            ),
            (
                "PATCH",
                "/api/rooms/Bad!/messages/1",
                Some(&alice),
                json.clone(),
                &open,
                404,
                "unknown_room",
            ),
            (
                "PATCH",
                "/api/rooms/nope/messages/1",
                Some(&alice),
                json.clone(),
                &open,
                404,
                "unknown_room",
            ),
            (
                "PATCH",
                "/api/rooms/general/messages/x",
                Some(&alice),
                json.clone(),
                &open,
                404,
                "unknown_message",
            ),
            (
                "PATCH",
                "/api/rooms/general/messages/0",
                Some(&alice),
                json.clone(),
                &open,
                404,
                "unknown_message",
            ),
            (
                "PATCH",
                "/api/rooms/general/messages/-1",
                Some(&alice),
                json.clone(),
                &open,
                404,
                "unknown_message",
            ),
            (
                "PATCH",
                "/api/rooms/general/messages/99",
                Some(&alice),
                json.clone(),
                &open,
                404,
                "unknown_message",
            ),
            ("PATCH", M1, None, json.clone(), &open, 401, "missing_token"),
            (
                "PATCH",
                M1,
                Some("Bearer x.y"),
                json.clone(),
                &open,
                401,
                "invalid_token",
            ),
            (
                "PATCH",
                M1,
                Some(&alice),
                "{".into(),
                &open,
                400,
                "invalid_json",
            ),
            (
                "PATCH",
                M1,
                Some(&alice),
                edit_body("  "),
                &open,
                400,
                "invalid_body",
            ),
            (
                "PATCH",
                M1,
                Some(&alice),
                edit_body(&"x".repeat(2001)),
                &open,
                400,
                "invalid_body",
            ),
            (
                "PATCH",
                M1,
                Some(&bob),
                json.clone(),
                &open,
                403,
                "not_your_message",
            ),
            (
                "PATCH",
                M1,
                Some(&alice),
                json.clone(),
                &closed,
                409,
                "edit_window_closed",
            ),
            (
                "DELETE",
                M1,
                Some(&bob),
                String::new(),
                &open,
                403,
                "not_your_message",
            ),
            (
                "DELETE",
                M1,
                None,
                String::new(),
                &open,
                401,
                "missing_token",
            ),
            (
                "DELETE",
                M1,
                Some("Bearer admin-secret-toke"),
                String::new(),
                &open,
                401,
                "invalid_token",
            ),
            (
                "DELETE",
                "/api/rooms/general/messages/99",
                Some(ADMIN_BEARER),
                String::new(),
                &open,
                404,
                "unknown_message",
            ),
        ];
        for (method, path, auth, b, c, status, code) in cases {
            let r = call(&store, c, method, path, auth, &b);
            assert_eq!(
                (r.status, error_code(&r)),
                (status, code.to_string()),
                "{method} {path} {b}"
            );
            assert_common_headers(&r);
        }
        let r = call(&store, &closed, "PATCH", M1, Some(&alice), &json);
        // The window the host is configured with (0 here), in words: not
        // the default's "15 minutes".
        assert!(
            body(&r)["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("a message can be edited for 0 seconds after it is sent"),
            "{}",
            r.body
        );
        assert_eq!(window_words(900), "15 minutes");
        assert_eq!(window_words(60), "1 minute");
        assert_eq!(window_words(90), "90 seconds");
        let r = call(&store, &cfg(), "PATCH", M1, Some(&alice), "");
        assert_eq!(r.header("allow"), None);
        let r = call(&store, &cfg(), "POST", M1, Some(&alice), "");
        assert_eq!(r.header("allow"), Some("PATCH, DELETE"));
        assert_eq!(store.messages(), before, "nothing changed");
        assert_eq!(store.rooms()[0].last_message_id, 1);
    }

    #[test]
    fn old_tokens_read_and_post_but_own_nothing() {
        let store = MemStore::seeded();
        let old = format!(
            "Bearer {}",
            crate::token::issue("carol", &cfg().session_secret, NOW, 3600).token
        );
        let r = post(&store, &old, "general", "hi", "c1");
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(body(&r)["message"].get("session").is_none());
        let r = call(&store, &cfg(), "PATCH", M1, Some(&old), &edit_body("hey"));
        assert_eq!((r.status, error_code(&r)), (403, "not_your_message".into()));
        assert!(r.body.contains("join again"), "{}", r.body);
        // A moderator can still remove it.
        let r = call(&store, &cfg(), "DELETE", M1, Some(ADMIN_BEARER), "");
        assert_eq!(r.status, 200);
        assert_eq!(body(&r)["message"]["removed_by"], "moderator");
    }
}
