//! The JSON shapes of the API, and strict parsing of request bodies.
//!
//! Field names and nesting here *are* the wire contract; the tests compare
//! serialised values to exact strings so an accidental rename fails loudly.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use std::borrow::Cow;

/// Largest accepted request body. A message is at most 2000 characters
/// (<= 8000 bytes of UTF-8, more when JSON-escaped), so 16 KiB fits every
/// valid request while bounding the parsing work per request.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    pub title: String,
    pub last_message_id: i64,
    /// Whether only accounts may post here (guests read). In the room list
    /// and a room's settings; a poll's rooms leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_only: Option<bool>,
}

/// `{"rooms": [Room]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    pub rooms: Vec<Room>,
}

/// What an event of a room's log is. Every event takes the room's next
/// gapless id, so one cursor (`after=`) delivers them all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A message; its fields say how it is now (edited, removed).
    #[default]
    Message,
    /// An edit of message `target`: `body` is its new text.
    Edit,
    /// A removal of message `target`: no body.
    Removal,
    /// A person (`session`, named `author`) adds the emoji `body` to
    /// message `target`.
    Reaction,
    /// A person withdraws the emoji `body` from message `target`.
    Unreaction,
}

/// An event of a room's log: a message, or an edit, removal or reaction
/// of one.
/// Optional fields are left out of the JSON when they do not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub room: String,
    pub author: String,
    /// The text; empty for a removal and for a removed message (erased).
    pub body: String,
    /// The sender's idempotency key; empty for edits and removals.
    pub client_id: String,
    /// RFC 3339 UTC with milliseconds, formatted by SQL.
    pub sent_at: String,
    #[serde(default)]
    pub kind: EventKind,
    /// Edits, removals and reactions: the id of the message concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i64>,
    /// Messages: the id of the earlier message of the room it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    /// Messages: the id of the session that sent it (not a credential:
    /// the signed token is), so a page can tell its own messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Messages: when last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Messages: when removed (the body is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
    /// Removed messages and removals: `author` or `moderator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<String>,
}

/// `{"messages": [Message], "cursor": id, "reactions": [Message]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub cursor: i64,
    /// Pages scrolling back (no `after`): the `reaction` events in force on
    /// their messages, oldest first (left out when there are none). Pages
    /// after a cursor carry reactions among their events instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Message>,
}

/// Reply to `POST /api/rooms/{room}/messages/{id}/reactions`: the event
/// appended, or null when there was nothing to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionReply {
    pub event: Option<Message>,
}

/// Reply to `GET /api/poll`: `{"room", "messages", "cursor", "rooms", "present"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollReply {
    pub room: String,
    /// Every event after the cursor, ascending.
    pub messages: Vec<Message>,
    pub cursor: i64,
    pub rooms: Vec<Room>,
    /// The names active in the room during the last minute, sorted.
    #[serde(default)]
    pub present: Vec<String>,
}

/// Reply to `PUT|DELETE /api/rooms/{room}/presence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceReply {
    pub room: String,
    pub present: Vec<String>,
}

/// A mute as it stands after `POST /api/mutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mute {
    pub name: String,
    /// The room, or null for every room.
    pub room: Option<String>,
    /// When it ends; null when it was lifted.
    pub until: Option<String>,
}

/// `{"mute": Mute}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteEnvelope {
    pub mute: Mute,
}

/// `{"message": Message}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEnvelope {
    pub message: Message,
}

/// Reply to `POST /api/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReply {
    pub token: String,
    pub name: String,
    pub expires_at: String,
    /// The session's random id, recorded with its messages.
    pub session: String,
    /// How long after sending a message its session may edit it.
    pub edit_window_secs: i64,
    /// `guest`, `member` or `moderator`.
    pub role: String,
}

/// `{"status": "ok"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// Body of `POST /api/session`: a guest's name, or an account's name and
/// password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewSession {
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
}

/// Body of `POST /api/accounts`: claims a name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewAccount {
    pub name: String,
    pub password: String,
}

/// Body of `POST /api/accounts/password`: the current password, or a reset
/// code from the operator, and the new password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewPassword {
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub reset_code: Option<String>,
    pub new_password: String,
}

/// Body of `POST /api/accounts/name`: the account's new name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewName {
    pub name: String,
}

/// Body of `POST /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewRoom {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub members_only: bool,
}

/// Body of `PATCH /api/rooms/{room}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomSettings {
    pub members_only: bool,
}

/// `{"room": Room}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEnvelope {
    pub room: Room,
}

/// Body of `POST /api/rooms/{room}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewMessage {
    pub body: String,
    pub client_id: String,
    /// The id of the message of this room it answers.
    #[serde(default, deserialize_with = "whole_or_null")]
    pub reply_to: Option<i64>,
}

/// Body of `PUT /api/read`: the account has read `room` up to event `id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewReadMark {
    pub room: String,
    #[serde(deserialize_with = "whole")]
    pub id: i64,
}

/// A whole number: JSON has one number type, so 42.0 is 42 (as
/// `duration_secs` reads it); a fraction, or one beyond 2^53, is refused.
fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!(
            "{n} is not a whole number"
        ))),
    }
}

/// As [`whole`], or null.
fn whole_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
}

/// Reply to `PUT /api/read`: the mark as it now stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    pub room: String,
    pub last_read: i64,
}

/// Reply to `GET /api/read`: `{"read": {room: last read event id}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarkList {
    pub read: std::collections::BTreeMap<String, i64>,
}

/// Body of `POST /api/rooms/{room}/messages/{id}/reactions`: one emoji,
/// added (`on`) or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewReaction {
    pub emoji: String,
    pub on: bool,
}

/// Body of `PATCH /api/rooms/{room}/messages/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EditMessage {
    pub body: String,
}

/// Body of `POST /api/mutes`: `room` null or missing mutes everywhere; a
/// duration of 0 lifts the mute.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewMute {
    pub name: String,
    #[serde(default)]
    pub room: Option<String>,
    /// A number, since JSON has no integers apart: 600.0 is 600 seconds.
    pub duration_secs: f64,
}

/// Is this `Content-Type` JSON? `application/json`, case-insensitive, with
/// at most a `charset=utf-8` parameter: JSON is UTF-8 by definition
/// (RFC 8259), so any other charset or parameter means the client sends
/// something we would misread.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| {
        let param = param.trim();
        match param.split_once('=') {
            Some((k, v)) => {
                k.trim().eq_ignore_ascii_case("charset") && {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    v.eq_ignore_ascii_case("utf-8")
                }
            }
            // A trailing ";" with nothing after it is harmless.
            None => param.is_empty(),
        }
    })
}

/// Parses a JSON request body into `T`, checking in this order (the order
/// the API contract specifies): content type (415), size (413), then JSON
/// syntax and shape (400). Unknown fields are ignored so clients can be
/// newer than the server; missing or mistyped fields are a 400.
pub fn parse_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    if !content_type.is_some_and(is_json) {
        return Err(ApiError::unsupported_media_type(
            "unsupported_media_type",
            "request body must be JSON; send it with Content-Type: application/json",
        ));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(
            "payload_too_large",
            "request body must be at most 16 KiB; send a smaller body",
        ));
    }
    // serde would also accept a JSON array for a struct (fields by
    // position); the contract is an object, so insist on one.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::bad_request(
            "invalid_json",
            "request body must be a JSON object; send e.g. {\"name\": \"alice\"}",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            // serde's data errors name the field ("missing field `name`"),
            // which is exactly what the client needs to fix its request.
            Category::Data => ApiError::bad_request(
                "invalid_json",
                format!(
                    "request body has a missing or mistyped field ({e}); fix the field and retry"
                ),
            ),
            _ => ApiError::bad_request(
                "invalid_json",
                "request body is not valid UTF-8 JSON; send a well-formed JSON object",
            ),
        }
    })
}

// ---- What reads ask for (parsed from query strings by `validate`).

/// Which messages a GET of a room's messages asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest `limit` messages (no cursor given).
    Latest { limit: i64 },
    /// Up to `limit` messages with id > `after` (polling forward).
    After { after: i64, limit: i64 },
    /// The newest `limit` messages with id < `before` (scrolling back).
    Before { before: i64, limit: i64 },
    /// Up to `limit` messages with `after` < id < `before`, from `after` on:
    /// a window, e.g. to fill a gap between two pages a client holds.
    Between { after: i64, before: i64, limit: i64 },
}

impl Page {
    pub fn limit(&self) -> i64 {
        match *self {
            Page::Latest { limit }
            | Page::After { limit, .. }
            | Page::Before { limit, .. }
            | Page::Between { limit, .. } => limit,
        }
    }
}

/// What one poll asks for (`GET /api/poll`): the open room's messages
/// after the cursor, and the newest id of every room (or the listed ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollQuery<'a> {
    /// The open room. Not validated here: an impossible id is an unknown
    /// room (404), as for `GET /api/rooms/{room}/messages`.
    pub room: Cow<'a, str>,
    /// The id of the newest message the client has of `room` (0: none).
    pub after: i64,
    pub limit: i64,
    /// The id of a message the client knows exists in `room` (its own
    /// post): an answer that does not reach it is not taken from a replica.
    pub known: Option<i64>,
    /// The rooms to list; `None`: every room.
    pub rooms: Option<Vec<Cow<'a, str>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            id: 17,
            room: "general".into(),
            author: "alice".into(),
            body: "hi \"there\"\n".into(),
            client_id: "c-1".into(),
            sent_at: "2026-11-28T04:06:08.123Z".into(),
            ..Message::default()
        }
    }

    #[test]
    fn room_shapes() {
        let rooms = RoomList {
            rooms: vec![Room {
                id: "general".into(),
                title: "General".into(),
                last_message_id: 17,
                members_only: None,
            }],
        };
        assert_eq!(
            serde_json::to_string(&rooms).unwrap(),
            r#"{"rooms":[{"id":"general","title":"General","last_message_id":17}]}"#
        );
        assert_eq!(
            serde_json::to_string(&RoomList { rooms: vec![] }).unwrap(),
            r#"{"rooms":[]}"#
        );
    }

    #[test]
    fn message_shapes() {
        assert_eq!(
            serde_json::to_string(&MessageEnvelope { message: message() }).unwrap(),
            r#"{"message":{"id":17,"room":"general","author":"alice","body":"hi \"there\"\n","client_id":"c-1","sent_at":"2026-11-28T04:06:08.123Z","kind":"message"}}"#
        );
        assert_eq!(
            serde_json::to_string(&MessagePage {
                messages: vec![],
                cursor: 5,
                reactions: vec![],
            })
            .unwrap(),
            r#"{"messages":[],"cursor":5}"#
        );
    }

    #[test]
    fn event_shapes() {
        let edit = Message {
            id: 18,
            body: "fixed".into(),
            client_id: String::new(),
            kind: EventKind::Edit,
            target: Some(17),
            ..message()
        };
        assert_eq!(
            serde_json::to_string(&edit).unwrap(),
            r#"{"id":18,"room":"general","author":"alice","body":"fixed","client_id":"","sent_at":"2026-11-28T04:06:08.123Z","kind":"edit","target":17}"#
        );
        let removed = Message {
            body: String::new(),
            session: Some("s1".into()),
            removed_at: Some("2026-11-28T04:07:00.000Z".into()),
            removed_by: Some("moderator".into()),
            ..message()
        };
        assert_eq!(
            serde_json::to_string(&removed).unwrap(),
            r#"{"id":17,"room":"general","author":"alice","body":"","client_id":"c-1","sent_at":"2026-11-28T04:06:08.123Z","kind":"message","session":"s1","removed_at":"2026-11-28T04:07:00.000Z","removed_by":"moderator"}"#
        );
        // A message from a server of the previous release reads as a message.
        let old: Message = serde_json::from_str(
            r#"{"id":1,"room":"r","author":"a","body":"b","client_id":"c","sent_at":"t"}"#,
        )
        .unwrap();
        assert_eq!(old.kind, EventKind::Message);
    }

    #[test]
    fn session_and_health_shapes() {
        let s = SessionReply {
            token: "t.s".into(),
            name: "alice".into(),
            expires_at: "2026-11-28T04:06:08Z".into(),
            session: "s1".into(),
            edit_window_secs: 900,
            role: "guest".into(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"token":"t.s","name":"alice","expires_at":"2026-11-28T04:06:08Z","session":"s1","edit_window_secs":900,"role":"guest"}"#
        );
        assert_eq!(
            serde_json::to_string(&Health {
                status: "ok".into()
            })
            .unwrap(),
            r#"{"status":"ok"}"#
        );
    }

    const JSON: Option<&str> = Some("application/json");

    #[test]
    fn parses_request_bodies() {
        let s: NewSession = parse_json(JSON, br#"{"name":"alice","extra":[1,2]}"#).unwrap();
        assert_eq!(s.name, "alice");
        let r: NewRoom = parse_json(JSON, br#" {"id":"rust","title":"Rust"}"#).unwrap();
        assert_eq!((r.id.as_str(), r.title.as_str()), ("rust", "Rust"));
        let m: NewMessage = parse_json(JSON, br#"{"body":"hi","client_id":"c1"}"#).unwrap();
        assert_eq!((m.body.as_str(), m.client_id.as_str()), ("hi", "c1"));
    }

    #[test]
    fn content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "application/json;",
        ] {
            assert!(
                parse_json::<NewSession>(Some(ok), br#"{"name":"a"}"#).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            None,
            Some(""),
            Some("text/plain"),
            Some("application/jsonx"),
            Some("application/json; charset=latin1"),
            Some("application/json; boundary=x"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data"),
        ] {
            let e = parse_json::<NewSession>(bad, br#"{"name":"a"}"#).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (415, "unsupported_media_type"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn size_limit_edges() {
        // Exactly 16 KiB (padded with whitespace) is fine, one byte more is not.
        let mut body = br#"{"name":"a"}"#.to_vec();
        body.resize(MAX_BODY_BYTES, b' ');
        assert!(parse_json::<NewSession>(JSON, &body).is_ok());
        body.push(b' ');
        let e = parse_json::<NewSession>(JSON, &body).unwrap_err();
        assert_eq!((e.status, e.code), (413, "payload_too_large"));
        // Content type is checked before size.
        assert_eq!(
            parse_json::<NewSession>(None, &body).unwrap_err().status,
            415
        );
    }

    #[test]
    fn invalid_bodies_are_400() {
        for bad in [
            &b""[..],
            b"   ",
            b"null",
            b"[\"alice\"]",
            b"\"alice\"",
            b"{",
            b"{\"name\":1}",
            b"{\"name\":null}",
            b"{}",
            b"{\"nam\":\"a\"}",
            b"{\"name\":\"a\",\"name\":\"b\"}",
            b"{\"name\":\"\xff\"}",
            b"{\"name\":\"a\"} trailing",
        ] {
            let e = parse_json::<NewSession>(JSON, bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (400, "invalid_json"),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let e = parse_json::<NewSession>(JSON, b"{}").unwrap_err();
        assert!(e.message.contains("name"), "{}", e.message);
    }
}
