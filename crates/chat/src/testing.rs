//! Test support, for this crate's tests and (with the `testing` feature)
//! for other crates': an in-memory [`Store`], a one-poll executor for it,
//! and [`store_suite`], the behaviour every store must have.
//!
//! The suite is what keeps the in-memory store honest: the domain's unit
//! tests run on [`MemStore`], and `crates/e2e/tests/store_suite.rs` runs the
//! same suite on the SQL functions of a real Postgres, so a difference
//! between the two fails a test instead of hiding one.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::model::{Message, Room};
use crate::store::{Limit, Polled, Posted, ReadSource, Store, StoreError};
use crate::validate::{Page, PollQuery};
use std::collections::HashMap;

/// Polls a future to completion. [`MemStore`] never waits, so one poll must
/// finish; pending would be a bug in the test double.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("in-memory store future pended"),
    }
}

/// The Postgres store's semantics, in memory.
#[derive(Default)]
pub struct MemStore {
    rooms: RefCell<Vec<Room>>,
    messages: RefCell<Vec<Message>>,
    down: Cell<bool>,
    /// Tokens left per bucket. Time stands still here: buckets never refill.
    buckets: RefCell<HashMap<String, u32>>,
    /// What `read_source` and polls say of this store (a primary unless set).
    source: Cell<Option<ReadSource>>,
}

impl MemStore {
    /// One room, `general`, with no messages.
    pub fn seeded() -> Self {
        let s = MemStore::default();
        s.rooms.borrow_mut().push(Room {
            id: "general".into(),
            title: "General".into(),
            last_message_id: 0,
        });
        s
    }

    /// While down, every call fails as an unreachable database does.
    pub fn set_down(&self, down: bool) {
        self.down.set(down);
    }

    /// Makes this store say it is a replica (or a primary) this far behind.
    pub fn set_source(&self, source: ReadSource) {
        self.source.set(Some(source));
    }

    pub fn rooms(&self) -> Vec<Room> {
        self.rooms.borrow().clone()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.messages.borrow().clone()
    }

    /// 0 when a token was taken, else the seconds until one would be there.
    fn take(&self, key: String, limit: Limit) -> u32 {
        if limit.is_off() {
            return 0;
        }
        let mut buckets = self.buckets.borrow_mut();
        let tokens = buckets.entry(key).or_insert(limit.burst);
        if *tokens >= 1 {
            *tokens -= 1;
            0
        } else {
            60u32.div_ceil(limit.per_minute)
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.get() {
            Err(StoreError::Unavailable(
                "connect 10.1.2.3:5432 refused".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl Store for MemStore {
    async fn list_rooms(&self) -> Result<Vec<Room>, StoreError> {
        self.check()?;
        Ok(self.rooms.borrow().clone())
    }

    async fn create_room(&self, id: &str, title: &str) -> Result<Option<Room>, StoreError> {
        self.check()?;
        let mut rooms = self.rooms.borrow_mut();
        if rooms.iter().any(|r| r.id == id) {
            return Ok(None);
        }
        let room = Room {
            id: id.into(),
            title: title.into(),
            last_message_id: 0,
        };
        rooms.push(room.clone());
        Ok(Some(room))
    }

    async fn messages(&self, room: &str, page: Page) -> Result<Option<Vec<Message>>, StoreError> {
        self.check()?;
        if !self.rooms.borrow().iter().any(|r| r.id == room) {
            return Ok(None);
        }
        let all = self.messages.borrow();
        let in_room = all.iter().filter(|m| m.room == room);
        let limit = page.limit() as usize;
        let picked: Vec<Message> = match page {
            Page::After { after, .. } => in_room
                .filter(|m| m.id > after)
                .take(limit)
                .cloned()
                .collect(),
            Page::Between { after, before, .. } => in_room
                .filter(|m| m.id > after && m.id < before)
                .take(limit)
                .cloned()
                .collect(),
            Page::Latest { .. } => {
                let v: Vec<_> = in_room.cloned().collect();
                v[v.len().saturating_sub(limit)..].to_vec()
            }
            Page::Before { before, .. } => {
                let v: Vec<_> = in_room.filter(|m| m.id < before).cloned().collect();
                v[v.len().saturating_sub(limit)..].to_vec()
            }
        };
        Ok(Some(picked))
    }

    async fn send_message(
        &self,
        room: &str,
        author: &str,
        body: &str,
        client_id: &str,
        limit: Limit,
    ) -> Result<Posted, StoreError> {
        self.check()?;
        let mut rooms = self.rooms.borrow_mut();
        let Some(r) = rooms.iter_mut().find(|r| r.id == room) else {
            return Ok(Posted::UnknownRoom);
        };
        let mut msgs = self.messages.borrow_mut();
        if let Some(m) = msgs
            .iter()
            .find(|m| m.room == room && m.author == author && m.client_id == client_id)
        {
            return Ok(Posted::Replayed(m.clone()));
        }
        let wait = self.take(format!("post:{room}:{author}"), limit);
        if wait > 0 {
            return Ok(Posted::RateLimited {
                retry_after_secs: wait,
            });
        }
        r.last_message_id += 1;
        let m = Message {
            id: r.last_message_id,
            room: room.into(),
            author: author.into(),
            body: body.into(),
            client_id: client_id.into(),
            sent_at: "2026-01-01T00:00:00.000Z".into(),
        };
        msgs.push(m.clone());
        Ok(Posted::Created(m))
    }

    async fn allow_session(&self, client: &str, limit: Limit) -> Result<Option<u32>, StoreError> {
        self.check()?;
        let wait = self.take(format!("session:{client}"), limit);
        Ok((wait > 0).then_some(wait))
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.check()
    }

    async fn poll(&self, q: &PollQuery<'_>) -> Result<Option<Polled>, StoreError> {
        let page = Page::After {
            after: q.after,
            limit: q.limit,
        };
        let Some(messages) = Store::messages(self, &q.room, page).await? else {
            return Ok(None);
        };
        let rooms = self
            .rooms
            .borrow()
            .iter()
            .filter(|r| {
                q.rooms
                    .as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| *id == r.id))
            })
            .cloned()
            .collect();
        Ok(Some(Polled {
            messages,
            rooms,
            source: self.read_source().await?,
        }))
    }

    async fn read_source(&self) -> Result<ReadSource, StoreError> {
        self.check()?;
        Ok(self.source.get().unwrap_or(ReadSource::PRIMARY))
    }
}

/// The last message id a room lists, `None` when the room is not listed.
async fn last_id(store: &impl Store, room: &str) -> Option<i64> {
    let rooms = store.list_rooms().await.expect("list rooms");
    rooms
        .iter()
        .find(|r| r.id == room)
        .map(|r| r.last_message_id)
}

/// The behaviour every [`Store`] must have, on a store that has a room
/// `general` (and any others). Creates rooms named `suite-*`, so it needs a
/// store it has not run on before. Panics, naming the check, on the first
/// difference.
pub async fn store_suite(store: &impl Store) {
    let ids = |page: &[Message]| page.iter().map(|m| m.id).collect::<Vec<_>>();
    let page = |after: Option<i64>, before: Option<i64>, limit: i64| match (after, before) {
        (Some(after), Some(before)) => Page::Between {
            after,
            before,
            limit,
        },
        (Some(after), None) => Page::After { after, limit },
        (None, Some(before)) => Page::Before { before, limit },
        (None, None) => Page::Latest { limit },
    };
    store.health().await.expect("health");

    // Rooms: a new one is listed last, with no messages; its id is unique.
    let before = store.list_rooms().await.expect("list rooms");
    assert!(before.iter().any(|r| r.id == "general"), "general exists");
    let room = store
        .create_room("suite-a", "Suite A")
        .await
        .expect("create room")
        .expect("a new id creates a room");
    assert_eq!(
        (room.id.as_str(), room.title.as_str(), room.last_message_id),
        ("suite-a", "Suite A", 0)
    );
    let again = store
        .create_room("suite-a", "Other title")
        .await
        .expect("create room");
    assert_eq!(again, None, "a taken id creates nothing");
    let after = store.list_rooms().await.expect("list rooms");
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(
        after.last(),
        Some(&room),
        "the new room is listed last, unchanged"
    );

    // Unknown rooms are an outcome, for every kind of page and for a post.
    for p in [
        page(Some(0), None, 10),
        page(None, Some(5), 10),
        page(None, None, 10),
        page(Some(0), Some(5), 10),
    ] {
        assert_eq!(
            store.messages("suite-none", p).await.expect("page"),
            None,
            "{p:?}"
        );
    }
    let sent = store
        .send_message("suite-none", "a", "b", "c", Limit::OFF)
        .await
        .expect("send");
    assert_eq!(sent, Posted::UnknownRoom, "a post to an unknown room");
    // An empty room: empty pages, not an unknown room.
    for p in [
        page(Some(0), None, 10),
        page(None, Some(5), 10),
        page(None, None, 10),
        page(Some(0), Some(5), 10),
    ] {
        assert_eq!(
            store.messages("suite-a", p).await.expect("page"),
            Some(vec![]),
            "{p:?}"
        );
    }

    // Sending: dense ids from 1; a replay returns the original, unchanged.
    let send = |author: &'static str, body: String, client_id: String, limit: Limit| async move {
        store
            .send_message("suite-a", author, &body, &client_id, limit)
            .await
            .expect("send")
    };
    for i in 1..=5 {
        let Posted::Created(m) = send("alice", format!("m{i}"), format!("c{i}"), Limit::OFF).await
        else {
            panic!("message {i} is created");
        };
        assert_eq!(
            (m.id, m.body.clone(), m.room.as_str()),
            (i, format!("m{i}"), "suite-a")
        );
        assert!(
            m.sent_at.len() == 24 && m.sent_at.ends_with('Z') && &m.sent_at[10..11] == "T",
            "sent_at is RFC 3339 UTC with milliseconds: {}",
            m.sent_at
        );
    }
    let replay = send("alice", "edited?".into(), "c1".into(), Limit::OFF).await;
    assert!(
        matches!(&replay, Posted::Replayed(m) if m.id == 1 && m.body == "m1"),
        "a replay: {replay:?}"
    );
    let other = send("bob", "hello".into(), "c1".into(), Limit::OFF).await;
    assert!(
        matches!(&other, Posted::Created(m) if m.id == 6),
        "another author's client_id: {other:?}"
    );
    assert_eq!(
        last_id(store, "suite-a").await,
        Some(6),
        "the room's counter follows"
    );

    // Limits: per author per room, counted before storing, never for a
    // replay; with one token a minute, the wait is up to a minute.
    let limit = Limit {
        burst: 2,
        per_minute: 1,
    };
    for i in 1..=2 {
        let p = send("carol", format!("l{i}"), format!("l{i}"), limit).await;
        assert!(matches!(p, Posted::Created(_)), "within the burst: {p:?}");
    }
    let p = send("carol", "l3".into(), "l3".into(), limit).await;
    assert!(
        matches!(p, Posted::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs)),
        "over the burst: {p:?}"
    );
    let p = send("carol", "again".into(), "l1".into(), limit).await;
    assert!(
        matches!(p, Posted::Replayed(_)),
        "a replay is never limited: {p:?}"
    );
    let p = send("dave", "hi".into(), "d1".into(), limit).await;
    assert!(
        matches!(p, Posted::Created(_)),
        "another author has a bucket of his own: {p:?}"
    );
    assert_eq!(
        last_id(store, "suite-a").await,
        Some(9),
        "the limited post stored nothing"
    );
    let session = Limit {
        burst: 1,
        per_minute: 1,
    };
    assert_eq!(
        store
            .allow_session("suite-client", session)
            .await
            .expect("session"),
        None
    );
    let wait = store
        .allow_session("suite-client", session)
        .await
        .expect("session");
    assert!(wait.is_some_and(|w| (1..=60).contains(&w)), "{wait:?}");
    assert_eq!(
        store
            .allow_session("suite-other", session)
            .await
            .expect("session"),
        None
    );
    assert_eq!(
        store
            .allow_session("suite-client", Limit::OFF)
            .await
            .expect("session"),
        None
    );

    // Pages: ascending, bounded, from the cursor.
    let read = |p: Page| async move {
        store
            .messages("suite-a", p)
            .await
            .expect("page")
            .expect("room")
    };
    assert_eq!(ids(&read(page(Some(0), None, 3)).await), [1, 2, 3]);
    assert_eq!(ids(&read(page(Some(4), None, 2)).await), [5, 6]);
    assert_eq!(ids(&read(page(Some(9), None, 10)).await), Vec::<i64>::new());
    assert_eq!(
        ids(&read(page(Some(99), None, 10)).await),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&read(page(None, None, 2)).await), [8, 9]);
    assert_eq!(
        ids(&read(page(None, None, 100)).await),
        [1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(ids(&read(page(None, Some(4), 2)).await), [2, 3]);
    assert_eq!(ids(&read(page(None, Some(1), 10)).await), Vec::<i64>::new());
    assert_eq!(ids(&read(page(Some(2), Some(9), 3)).await), [3, 4, 5]);
    assert_eq!(ids(&read(page(Some(6), Some(9), 10)).await), [7, 8]);
    assert_eq!(
        ids(&read(page(Some(5), Some(3), 10)).await),
        Vec::<i64>::new()
    );
    let first = read(page(Some(0), None, 1)).await;
    assert_eq!(
        (
            first[0].author.as_str(),
            first[0].body.as_str(),
            first[0].client_id.as_str()
        ),
        ("alice", "m1", "c1")
    );
    // The single poll: the open room after the cursor, every room's newest
    // id, in one snapshot; the listed rooms only when a list is given.
    let poll = |room: &'static str, after: i64, limit: i64, rooms: Option<Vec<&'static str>>| {
        let q = PollQuery {
            room: room.into(),
            after,
            limit,
            known: None,
            rooms: rooms.map(|ids| ids.into_iter().map(Into::into).collect()),
        };
        async move { store.poll(&q).await.expect("poll") }
    };
    let p = poll("suite-a", 6, 2, None).await.expect("a known room");
    assert_eq!(ids(&p.messages), [7, 8]);
    assert_eq!(p.source, ReadSource::PRIMARY, "the suite runs on a primary");
    let listed = store.list_rooms().await.expect("list rooms");
    assert_eq!(p.rooms, listed, "every room, as listed");
    let p = poll(
        "suite-a",
        9,
        100,
        Some(vec!["general", "suite-a", "suite-none"]),
    )
    .await
    .expect("a known room");
    assert!(p.messages.is_empty(), "nothing after the newest");
    assert_eq!(
        p.rooms
            .iter()
            .map(|r| (r.id.as_str(), r.last_message_id))
            .filter(|(id, _)| *id == "suite-a")
            .collect::<Vec<_>>(),
        [("suite-a", 9)]
    );
    assert_eq!(
        p.rooms.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["general", "suite-a"],
        "the listed rooms that exist, in the list's order of creation"
    );
    assert_eq!(
        poll("suite-none", 0, 10, None).await,
        None,
        "an unknown room"
    );
    assert_eq!(
        store.read_source().await.expect("read source"),
        ReadSource::PRIMARY
    );

    // Other rooms are untouched.
    assert_eq!(
        store
            .messages("general", page(Some(0), None, 500))
            .await
            .expect("page")
            .map(|p| p.iter().filter(|m| m.room != "general").count()),
        Some(0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_memory_store_passes_the_store_suite() {
        block_on(store_suite(&MemStore::seeded()));
    }

    #[test]
    fn a_down_store_fails_every_call_as_unavailable() {
        let store = MemStore::seeded();
        store.set_down(true);
        assert!(matches!(
            block_on(store.health()),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            block_on(store.list_rooms()),
            Err(StoreError::Unavailable(_))
        ));
    }
}
