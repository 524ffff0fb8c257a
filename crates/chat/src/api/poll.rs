//! `GET /api/poll`: one request per person and poll. The open room's new
//! messages after the client's cursor and the newest id of every room (for
//! unread counts), read together in one statement.
//!
//! It replaces the page's two pollers (the room's messages every second, the
//! room list every four); `GET /api/rooms` and `GET /api/rooms/{room}/messages`
//! stay for other clients. Cursor, paging and errors are those of
//! `GET /api/rooms/{room}/messages?after=`.
use super::reply::{Reply, reply, unknown_room};
use super::request::Request;
use crate::config::Config;

use crate::error::ApiError;
use crate::model::{PollQuery, PollReply};
use crate::store::{Poll, Store};
use crate::validate;

/// `GET /api/poll?room=&after=[&limit=][&known=][&rooms=]`.
///
/// The answer is the same for everyone who asks the same question, so a
/// shared cache may keep it for `cfg.shared_cache_ms` ([`Reply::shared_for`]):
/// the people caught up in a room then cost one request per cache lifetime.
/// Never when the request has `known=` (the writer reading its own post,
/// which must not get an answer from before it) or credentials.
pub(super) async fn poll(req: &Request<'_>, cfg: &Config, store: &impl Store) -> Reply {
    let query = match validate::poll_query(req.query) {
        Ok(query) => query,
        Err(e) => return Reply::error(e),
    };
    let private = query.known.is_some();
    super::request::shared(req, cfg, private, reply(answer(query, store).await))
}

async fn answer(query: PollQuery<'_>, store: &impl Store) -> Result<Reply, ApiError> {
    // A syntactically impossible id cannot name a room: the same 404 as an
    // unknown one, without a database round trip.
    if !validate::is_room_id(&query.room) {
        return Err(unknown_room());
    }
    let polled = store
        .run(&Poll::new(&query))
        .await?
        .ok_or_else(unknown_room)?;
    // As for a page after a cursor: the newest id returned, or the cursor
    // itself, so polling with `after=cursor` never moves backwards.
    let cursor = polled.messages.last().map_or(query.after, |m| m.id);
    Ok(Reply::json(
        200,
        &PollReply {
            room: query.room.to_string(),
            messages: polled.messages,
            cursor,
            rooms: polled.rooms,
            present: polled.present,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::store::{CreateRoom, Limit, Post};
    use serde_json::{Value, json};

    fn get(store: &MemStore, query: &str) -> Reply {
        let r = Request {
            query,
            ..req("GET", "/api/poll", "")
        };
        dispatch(&r, &cfg(), NOW, store)
    }

    fn body(r: &Reply) -> Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn new_messages_and_every_rooms_newest_id_in_one_answer() {
        let store = MemStore::seeded();
        block_on(store.run(&CreateRoom {
            members_only: false,
            by: crate::store::Moderator::OPERATOR,
            id: "rust",
            title: "Rust",
        }))
        .unwrap();
        for i in 1..=3 {
            block_on(store.run(&Post {
                reply_to: None,
                writer: Default::default(),
                room: "general",
                author: "alice",
                body: "hi",
                client_id: &format!("c{i}"),
                session: None,
                limit: Limit::OFF,
            }))
            .unwrap();
        }
        block_on(store.run(&Post {
            reply_to: None,
            writer: Default::default(),
            room: "rust",
            author: "bob",
            body: "yo",
            client_id: "r1",
            session: None,
            limit: Limit::OFF,
        }))
        .unwrap();
        let r = get(&store, "room=general&after=1");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_common_headers(&r);
        let v = body(&r);
        assert_eq!(v["room"], "general");
        assert_eq!(
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(v["cursor"], 3);
        assert_eq!(
            v["rooms"],
            json!([
                {"id": "general", "title": "General", "last_message_id": 3},
                {"id": "rust", "title": "Rust", "last_message_id": 1}
            ])
        );
        // Nothing new: the cursor stays where the client is.
        let v = body(&get(&store, "room=general&after=3"));
        assert_eq!(
            (v["messages"].as_array().unwrap().len(), &v["cursor"]),
            (0, &json!(3))
        );
        let v = body(&get(&store, "room=general&after=9&limit=1&rooms=rust"));
        assert_eq!(v["cursor"], 9);
        assert_eq!(
            v["rooms"],
            json!([{"id": "rust", "title": "Rust", "last_message_id": 1}])
        );
        let v = body(&get(&store, "room=general&after=0&limit=2"));
        assert_eq!(v["cursor"], 2, "a page is bounded by its limit");
    }

    #[test]
    fn refusals_are_the_same_as_for_a_page_and_change_nothing() {
        let store = MemStore::seeded();
        for (query, status, code) in [
            ("room=nope&after=0", 404, "unknown_room"),
            ("room=Not%20a%20room&after=0", 404, "unknown_room"),
            ("room=general", 400, "invalid_query"),
            ("after=0", 400, "invalid_query"),
            ("room=general&after=-1", 400, "invalid_query"),
            ("room=general&after=0&limit=501", 400, "invalid_query"),
            ("room=general&after=0&rooms=a,,b", 400, "invalid_query"),
        ] {
            let r = get(&store, query);
            assert_eq!(
                (r.status, error_code(&r).as_str()),
                (status, code),
                "{query}: {}",
                r.body
            );
        }
        let many = (0..101)
            .map(|i| format!("r{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let r = get(&store, &format!("room=general&after=0&rooms={many}"));
        assert_eq!((r.status, error_code(&r).as_str()), (400, "invalid_query"));
        let r = dispatch(&req("POST", "/api/poll", "{}"), &cfg(), NOW, &store);
        assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
        store.set_down(true);
        let r = get(&store, "room=general&after=0");
        assert_eq!((r.status, r.header("retry-after")), (503, Some("2")));
        assert!(r.log_line().is_some());
        assert!(store.messages().is_empty() && store.rooms().len() == 1);
    }

    #[test]
    fn a_shared_cache_may_keep_answers_that_are_the_same_for_everyone_and_nothing_else() {
        let store = MemStore::seeded();
        let surrogate = |r: &Reply| r.header("surrogate-control").map(str::to_string);
        let ask = |query: &str, auth: Option<&str>, cfg: &Config| {
            let r = Request {
                query,
                authorization: auth,
                ..req("GET", "/api/poll", "")
            };
            dispatch(&r, cfg, NOW, &store)
        };
        let c = cfg();
        // The same question, the same answer: kept for the configured time,
        // by shared caches only.
        let r = ask("room=general&after=0&limit=50", None, &c);
        assert_eq!(r.status, 200);
        assert_eq!(surrogate(&r).as_deref(), Some("max-age=0.500"));
        assert_eq!(
            r.header("cache-control"),
            Some("no-store"),
            "browsers keep nothing"
        );
        // An unknown room stays unknown for a moment.
        let r = ask("room=nope&after=0", None, &c);
        assert_eq!(
            (r.status, surrogate(&r).as_deref()),
            (404, Some("max-age=0.500"))
        );
        // Read-your-writes, credentials, refusals and outages: never shared.
        for (query, auth) in [
            ("room=general&after=0&known=1", None),
            ("room=general&after=0", Some("Bearer x")),
            ("room=general", None),
            ("room=general&after=0&limit=0", None),
        ] {
            let r = ask(query, auth, &c);
            assert_eq!(surrogate(&r), None, "{query} {auth:?}: {}", r.status);
        }
        store.set_down(true);
        let r = ask("room=general&after=0", None, &c);
        assert_eq!((r.status, surrogate(&r)), (503, None));
        store.set_down(false);
        // Configurable, to the millisecond; 0 shares nothing.
        let r = ask(
            "room=general&after=0",
            None,
            &Config {
                shared_cache_ms: 250,
                ..cfg()
            },
        );
        assert_eq!(surrogate(&r).as_deref(), Some("max-age=0.250"));
        let r = ask(
            "room=general&after=0",
            None,
            &Config {
                shared_cache_ms: 0,
                ..cfg()
            },
        );
        assert_eq!(surrogate(&r), None);
    }
}
