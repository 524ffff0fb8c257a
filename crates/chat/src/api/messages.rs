//! `GET|POST /api/rooms/{room}/messages`: pages of the room's events with
//! the cursor, and posts that are idempotent per (room, author, client_id).
use super::auth::{WriterOf, session_claims};
use super::reply::{Reply, muted, refused, reply, too_fast, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{EventKind, Page};
use crate::model::{MessageEnvelope, MessagePage, NewMessage, parse_json};
use crate::store::{Post, Posted, ReadPage, Store};
use crate::validate;

/// `GET`: a page of the room's events. A page is the same for everyone who
/// asks: a shared cache may keep it (an unknown room's 404 too), unless the
/// request carries credentials.
pub(super) async fn read_page(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    store: &impl Store,
) -> Reply {
    let page = reply(get_messages(req, room, store).await);
    super::request::shared(req, cfg, false, page)
}

/// `POST`: a new message, or the stored one again for a retry.
pub(super) async fn send(
    req: &Request<'_>,
    room: &str,
    cfg: &Config,
    now_unix: i64,
    store: &impl Store,
) -> Reply {
    reply(post_message(req, room, cfg, now_unix, store).await)
}

async fn get_messages(
    req: &Request<'_>,
    room: &str,
    store: &impl Store,
) -> Result<Reply, ApiError> {
    // A syntactically impossible id cannot name a room: same 404 as an
    // unknown one, without a database round trip.
    if !validate::is_room_id(room) {
        return Err(unknown_room());
    }
    let page = validate::page(req.query)?;
    let mut messages = store
        .run(&ReadPage { room, page })
        .await?
        .ok_or_else(unknown_room)?;
    // Scrolling back, the reactions in force come after the messages: they
    // go apart, so the cursor and the list stay the messages'.
    let reactions = match page {
        Page::Latest { .. } | Page::Before { .. } => {
            let at = messages
                .iter()
                .position(|m| m.kind != EventKind::Message)
                .unwrap_or(messages.len());
            messages.split_off(at)
        }
        Page::After { .. } | Page::Between { .. } => Vec::new(),
    };
    // The cursor is the id of the last (newest) message returned. With no
    // messages it is the position the client asked from, so polling with
    // `after=cursor` never moves backwards: `after` for After (and Between) pages, 0 for
    // the latest page (nothing exists yet), and `before` for Before pages.
    // (Clients scrolling back further use the first message's id as the
    // next `before`.)
    let fallback = match page {
        Page::Latest { .. } => 0,
        Page::After { after, .. } | Page::Between { after, .. } => after,
        Page::Before { before, .. } => before,
    };
    let cursor = messages.last().map_or(fallback, |m| m.id);
    Ok(Reply::json(
        200,
        &MessagePage {
            messages,
            cursor,
            reactions,
        },
    ))
}

async fn post_message(
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
    let new: NewMessage = parse_json(req.content_type, req.body)?;
    let body = validate::message_body(&new.body)?;
    let client_id = validate::client_id(&new.client_id)?;
    let reply_to = match new.reply_to {
        Some(id) if id < 1 => return Err(unknown_reply()),
        other => other,
    };
    let writer = WriterOf::new(req, cfg, &claims);
    let post = Post {
        room,
        author: &claims.name,
        body: &body,
        client_id: &client_id,
        session: claims.session.as_deref(),
        limit: cfg.post_limit,
        writer: writer.writer(),
        reply_to,
    };
    // 201 for a new message, 200 for a replay, so a retrying client can
    // tell (if it cares) that its earlier attempt had in fact succeeded.
    match store.run(&post).await? {
        // A page that holds just this message: it has no URL of its own.
        Posted::Created(message) => {
            let location = format!(
                "/api/rooms/{room}/messages?after={}&limit=1",
                message.id.saturating_sub(1)
            );
            Ok(Reply::json(201, &MessageEnvelope { message }).with_header("location", location))
        }
        Posted::Replayed(message) => Ok(Reply::json(200, &MessageEnvelope { message })),
        Posted::UnknownRoom => Err(unknown_room()),
        Posted::RateLimited { retry_after_secs } => Err(too_fast(
            "you are posting to this room too fast",
            retry_after_secs,
        )),
        Posted::Muted { until } => Err(muted(&until)),
        Posted::Refused(refusal) => Err(refused(refusal)),
        Posted::UnknownReply => Err(unknown_reply()),
        Posted::ReplyRemoved => Err(super::message::message_removed("replied to")),
    }
}

/// 409 for a reply to what is not a message of this room (the room
/// exists: a 404 would say it does not).
fn unknown_reply() -> ApiError {
    ApiError::conflict(
        "unknown_reply",
        "reply_to names no message of this room; take ids from \
         GET /api/rooms/{room}/messages, or leave reply_to out",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn pages_may_be_shared_by_a_cache_but_posts_and_credentialed_reads_never() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let surrogate = |r: &Reply| r.header("surrogate-control").map(str::to_string);
        assert_eq!(
            surrogate(&post(&store, &alice, "general", "hi", "c1")),
            None
        );
        for query in ["", "after=0&limit=50", "before=5", "after=0&before=9"] {
            let r = get(&store, "general", query);
            assert_eq!(
                (r.status, surrogate(&r).as_deref()),
                (200, Some("max-age=0.500")),
                "{query}"
            );
        }
        let r = get(&store, "nope", "");
        assert_eq!(
            (r.status, surrogate(&r).as_deref()),
            (404, Some("max-age=0.500"))
        );
        let r = get(&store, "general", "after=x");
        assert_eq!((r.status, surrogate(&r)), (400, None));
        let mut r = req("GET", "/api/rooms/general/messages", "");
        r.authorization = Some(&alice);
        let r = dispatch(&r, &cfg(), NOW, &store);
        assert_eq!((r.status, surrogate(&r)), (200, None));
        store.set_down(true);
        let r = get(&store, "general", "");
        assert_eq!((r.status, surrogate(&r)), (503, None));
    }

    #[test]
    fn send_and_replay() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let r = post(&store, &alice, "general", " hello\r\nworld ", "c-1");
        assert_eq!(r.status, 201);
        assert_common_headers(&r);
        assert_eq!(
            r.body,
            format!(
                r#"{{"message":{{"id":1,"room":"general","author":"alice","body":"hello\nworld","client_id":"c-1","sent_at":"2026-01-01T00:00:00.000Z","kind":"message","session":"{}"}}}}"#,
                body(&r)["message"]["session"].as_str().unwrap()
            )
        );
        assert_eq!(
            r.header("location"),
            Some("/api/rooms/general/messages?after=0&limit=1")
        );
        // Replay with the same client_id (even a different body): 200, original.
        let again = post(&store, &alice, "general", "changed", "c-1");
        assert_eq!(again.status, 200);
        assert_eq!(again.body, r.body);
        // Another author may reuse the client_id.
        let bob = login("bob");
        let r = post(&store, &bob, "general", "hi", "c-1");
        assert_eq!(
            (r.status, body(&r)["message"]["id"].as_i64()),
            (201, Some(2))
        );
        assert_eq!(store.rooms()[0].last_message_id, 2);
    }

    #[test]
    fn post_message_check_order() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let ok_body = r#"{"body":"hi","client_id":"c"}"#;
        let run = |method: &str, path: &str, auth: Option<&str>, ct: Option<&str>, b: &str| {
            let r = Request {
                method,
                path,
                query: "",
                authorization: auth,
                content_type: ct,
                body: b.as_bytes(),
                client_addr: None,
                forwarded_for: None,
            };
            let reply = dispatch(&r, &cfg(), NOW, &store);
            (reply.status, error_code(&reply))
        };
        let json = Some("application/json");
        let p = "/api/rooms/general/messages";
        // Each case is broken at its step and every later step; the earliest wins.
        assert_eq!(
            run("PUT", "/api/rooms/Bad!/messages", None, None, "{").0,
            405
        );
        assert_eq!(
            run("POST", "/api/rooms/Bad!/messages", None, None, "{"),
            (404, "unknown_room".into())
        );
        assert_eq!(
            run("POST", p, None, None, "{"),
            (401, "missing_token".into())
        );
        assert_eq!(
            run("POST", p, Some("Bearer x.y"), None, "{"),
            (401, "invalid_token".into())
        );
        assert_eq!(
            run("POST", p, Some(&alice), None, "{"),
            (415, "unsupported_media_type".into())
        );
        let big = "x".repeat(16 * 1024 + 1);
        assert_eq!(
            run("POST", p, Some(&alice), json, &big),
            (413, "payload_too_large".into())
        );
        assert_eq!(
            run("POST", p, Some(&alice), json, "{"),
            (400, "invalid_json".into())
        );
        assert_eq!(
            run(
                "POST",
                p,
                Some(&alice),
                json,
                r#"{"body":" ","client_id":""}"#
            ),
            (400, "invalid_body".into())
        );
        assert_eq!(
            run(
                "POST",
                p,
                Some(&alice),
                json,
                r#"{"body":"hi","client_id":"a b"}"#
            ),
            (400, "invalid_client_id".into())
        );
        assert_eq!(
            run(
                "POST",
                "/api/rooms/nope/messages",
                Some(&alice),
                json,
                ok_body
            ),
            (404, "unknown_room".into())
        );
        store.set_down(true);
        let (status, code) = run("POST", p, Some(&alice), json, ok_body);
        assert_eq!((status, code.as_str()), (503, "database_unavailable"));
        assert!(store.messages().is_empty());
    }

    #[test]
    fn message_length_edges_via_api() {
        let store = MemStore::seeded();
        let alice = login("alice");
        assert_eq!(
            post(&store, &alice, "general", &"é".repeat(2000), "a").status,
            201
        );
        assert_eq!(
            post(&store, &alice, "general", &"é".repeat(2001), "b").status,
            400
        );
        assert_eq!(post(&store, &alice, "general", "a\u{0}b", "c").status, 400);
        assert_eq!(
            post(&store, &alice, "general", "x", &"k".repeat(64)).status,
            201
        );
        assert_eq!(
            post(&store, &alice, "general", "x", &"k".repeat(65)).status,
            400
        );
    }

    #[test]
    fn expired_token_is_401() {
        let store = MemStore::seeded();
        let alice = login("alice");
        let path = "/api/rooms/general/messages";
        let mut r = req("POST", path, r#"{"body":"hi","client_id":"c"}"#);
        r.authorization = Some(&alice);
        let reply = dispatch(&r, &cfg(), NOW + 3600, &store);
        assert_eq!(
            (reply.status, error_code(&reply).as_str()),
            (401, "expired_token")
        );
    }

    #[test]
    fn get_messages_pages_and_cursor() {
        let store = MemStore::seeded();
        let alice = login("alice");

        let r = get(&store, "general", "");
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"messages":[],"cursor":0}"#)
        );
        assert_common_headers(&r);
        assert_eq!(
            get(&store, "general", "after=7").body,
            r#"{"messages":[],"cursor":7}"#
        );
        assert_eq!(
            get(&store, "general", "before=7").body,
            r#"{"messages":[],"cursor":7}"#
        );

        for i in 1..=10 {
            post(
                &store,
                &alice,
                "general",
                &format!("m{i}"),
                &format!("c{i}"),
            );
        }
        let ids = |r: &Reply| -> (Vec<i64>, i64) {
            let b = body(r);
            let ids = b["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap())
                .collect();
            (ids, b["cursor"].as_i64().unwrap())
        };
        assert_eq!(ids(&get(&store, "general", "")), ((1..=10).collect(), 10));
        assert_eq!(
            ids(&get(&store, "general", "limit=3")),
            (vec![8, 9, 10], 10)
        );
        assert_eq!(
            ids(&get(&store, "general", "after=4&limit=3")),
            (vec![5, 6, 7], 7)
        );
        assert_eq!(ids(&get(&store, "general", "after=10")), (vec![], 10));
        assert_eq!(
            ids(&get(&store, "general", "before=5&limit=2")),
            (vec![3, 4], 4)
        );
        assert_eq!(ids(&get(&store, "general", "before=1")), (vec![], 1));
        // A window: from after on, below before; empty, it keeps after.
        assert_eq!(
            ids(&get(&store, "general", "after=2&before=9&limit=3")),
            (vec![3, 4, 5], 5)
        );
        assert_eq!(
            ids(&get(&store, "general", "after=6&before=9")),
            (vec![7, 8], 8)
        );
        assert_eq!(
            ids(&get(&store, "general", "after=5&before=3")),
            (vec![], 5)
        );
        assert_eq!(
            ids(&get(&store, "general", "limit=3&utm=x")),
            (vec![8, 9, 10], 10)
        );

        // Polling with the returned cursor sees every message exactly once.
        let mut cursor = 0;
        let mut seen = vec![];
        loop {
            let (page, next) = ids(&get(&store, "general", &format!("after={cursor}&limit=4")));
            if page.is_empty() {
                break;
            }
            seen.extend(page);
            cursor = next;
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn get_messages_errors() {
        let store = MemStore::seeded();
        for q in ["limit=0", "limit=501", "after=-1", "after=x"] {
            let r = get(&store, "general", q);
            assert_eq!(
                (r.status, error_code(&r).as_str()),
                (400, "invalid_query"),
                "{q}"
            );
        }
        let r = get(&store, "nope", "");
        assert_eq!((r.status, error_code(&r).as_str()), (404, "unknown_room"));
        let r = get(&store, "NOPE", "");
        assert_eq!((r.status, error_code(&r).as_str()), (404, "unknown_room"));
        let r = get(&store, &"a".repeat(33), "");
        assert_eq!(r.status, 404);

        store.set_down(true);
        let r = get(&store, "general", "");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert!(!r.body.contains("10.1.2.3"));
    }

    #[test]
    fn unknown_routes_under_rooms() {
        let store = MemStore::seeded();
        // (`/api/rooms/general` is a room's settings: PATCH only, a 405.)
        for path in [
            "/api/rooms/general/",
            "/api/rooms/general/messages/",
            "/api/rooms/general/messages/1/x",
            "/api/rooms/general/presence/x",
            "/api/rooms/general/presences",
            "/api/rooms/a/b/messages",
            "/api/rooms/general/",
            "/api/rooms//messages",
            "/api/roomsX/general/messages",
        ] {
            let r = dispatch(&req("GET", path, ""), &cfg(), NOW, &store);
            assert_eq!(r.status, 404, "{path}");
            assert_common_headers(&r);
            let code = error_code(&r);
            assert!(
                code == "not_found" || code == "unknown_room",
                "{path}: {code}"
            );
        }
        let r = dispatch(
            &req("DELETE", "/api/rooms/general/messages", ""),
            &cfg(),
            NOW,
            &store,
        );
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    }

    #[test]
    fn posts_over_the_limit_are_429_with_retry_after_and_store_nothing() {
        let store = MemStore::seeded();
        let limited = Config {
            post_limit: crate::store::Limit {
                burst: 1,
                per_minute: 2,
            },
            ..cfg()
        };
        let alice = login("alice");
        let post = |text: &str, cid: &str| {
            let path = "/api/rooms/general/messages";
            let b = serde_json::json!({"body": text, "client_id": cid}).to_string();
            let mut r = req("POST", path, &b);
            r.authorization = Some(&alice);
            dispatch(&r, &limited, NOW, &store)
        };
        assert_eq!(post("one", "c1").status, 201);
        let r = post("two", "c2");
        assert_eq!((r.status, error_code(&r).as_str()), (429, "rate_limited"));
        assert_eq!(r.header("retry-after"), Some("30"));
        assert!(
            body(&r)["error"]["message"]
                .as_str()
                .unwrap()
                .contains("30 s")
        );
        assert_common_headers(&r);
        // A retry of the stored message is not limited; nothing else was stored.
        assert_eq!(post("one", "c1").status, 200);
        assert_eq!(store.messages().len(), 1);
    }
}
