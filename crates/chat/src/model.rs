//! The JSON shapes of the API, and strict parsing of request bodies.
//!
//! Field names and nesting here *are* the wire contract; the tests compare
//! serialised values to exact strings so an accidental rename fails loudly.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Largest accepted request body. A message is at most 2000 characters
/// (<= 8000 bytes of UTF-8, more when JSON-escaped), so 16 KiB fits every
/// valid request while bounding the parsing work per request.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    pub title: String,
    pub last_message_id: i64,
}

/// `{"rooms": [Room]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    pub rooms: Vec<Room>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub room: String,
    pub author: String,
    pub body: String,
    pub client_id: String,
    /// RFC 3339 UTC with milliseconds, formatted by SQL.
    pub sent_at: String,
}

/// `{"messages": [Message], "cursor": id}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub cursor: i64,
}

/// Reply to `GET /api/poll`: `{"room", "messages", "cursor", "rooms"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollReply {
    pub room: String,
    pub messages: Vec<Message>,
    pub cursor: i64,
    pub rooms: Vec<Room>,
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
}

/// `{"status": "ok"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// Body of `POST /api/session`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewSession {
    pub name: String,
}

/// Body of `POST /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewRoom {
    pub id: String,
    pub title: String,
}

/// Body of `POST /api/rooms/{room}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewMessage {
    pub body: String,
    pub client_id: String,
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
        }
    }

    #[test]
    fn room_shapes() {
        let rooms = RoomList {
            rooms: vec![Room {
                id: "general".into(),
                title: "General".into(),
                last_message_id: 17,
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
            r#"{"message":{"id":17,"room":"general","author":"alice","body":"hi \"there\"\n","client_id":"c-1","sent_at":"2026-11-28T04:06:08.123Z"}}"#
        );
        assert_eq!(
            serde_json::to_string(&MessagePage {
                messages: vec![],
                cursor: 5
            })
            .unwrap(),
            r#"{"messages":[],"cursor":5}"#
        );
    }

    #[test]
    fn session_and_health_shapes() {
        let s = SessionReply {
            token: "t.s".into(),
            name: "alice".into(),
            expires_at: "2026-11-28T04:06:08Z".into(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"token":"t.s","name":"alice","expires_at":"2026-11-28T04:06:08Z"}"#
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
