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
use crate::store::{Store, StoreError};
use crate::validate::Page;

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

    pub fn rooms(&self) -> Vec<Room> {
        self.rooms.borrow().clone()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.messages.borrow().clone()
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
    ) -> Result<Option<(Message, bool)>, StoreError> {
        self.check()?;
        let mut rooms = self.rooms.borrow_mut();
        let Some(r) = rooms.iter_mut().find(|r| r.id == room) else {
            return Ok(None);
        };
        let mut msgs = self.messages.borrow_mut();
        if let Some(m) = msgs
            .iter()
            .find(|m| m.room == room && m.author == author && m.client_id == client_id)
        {
            return Ok(Some((m.clone(), false)));
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
        Ok(Some((m, true)))
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.check()
    }
}

/// The behaviour every [`Store`] must have, on a store that has a room
/// `general` (and any others). Creates rooms named `suite-*`, so it needs a
/// store it has not run on before. Panics, naming the check, on the first
/// difference.
pub async fn store_suite(store: &impl Store) {
    let ids = |page: &[Message]| page.iter().map(|m| m.id).collect::<Vec<_>>();
    let page = |after: Option<i64>, before: Option<i64>, limit: i64| match (after, before) {
        (Some(after), _) => Page::After { after, limit },
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
    ] {
        assert_eq!(
            store.messages("suite-none", p).await.expect("page"),
            None,
            "{p:?}"
        );
    }
    let sent = store
        .send_message("suite-none", "a", "b", "c")
        .await
        .expect("send");
    assert_eq!(sent, None, "a post to an unknown room");
    // An empty room: empty pages, not an unknown room.
    for p in [
        page(Some(0), None, 10),
        page(None, Some(5), 10),
        page(None, None, 10),
    ] {
        assert_eq!(
            store.messages("suite-a", p).await.expect("page"),
            Some(vec![]),
            "{p:?}"
        );
    }

    // Sending: dense ids from 1; a replay returns the original, unchanged.
    for i in 1..=5 {
        let (m, created) = store
            .send_message("suite-a", "alice", &format!("m{i}"), &format!("c{i}"))
            .await
            .expect("send")
            .expect("the room exists");
        assert_eq!(
            (m.id, created, m.body.clone(), m.room.as_str()),
            (i, true, format!("m{i}"), "suite-a")
        );
        assert!(
            m.sent_at.len() == 24 && m.sent_at.ends_with('Z') && &m.sent_at[10..11] == "T",
            "sent_at is RFC 3339 UTC with milliseconds: {}",
            m.sent_at
        );
    }
    let (original, created) = store
        .send_message("suite-a", "alice", "edited?", "c1")
        .await
        .expect("send")
        .expect("the room exists");
    assert_eq!(
        (original.id, original.body.as_str(), created),
        (1, "m1", false),
        "a replay"
    );
    let (other, created) = store
        .send_message("suite-a", "bob", "hello", "c1")
        .await
        .expect("send")
        .expect("the room exists");
    assert_eq!(
        (other.id, created),
        (6, true),
        "another author's client_id is another message"
    );
    let listed = store.list_rooms().await.expect("list rooms");
    let counter = listed
        .iter()
        .find(|r| r.id == "suite-a")
        .map(|r| r.last_message_id);
    assert_eq!(counter, Some(6), "the room's counter follows");

    // Pages: ascending, bounded, from the cursor.
    let read = |p: Page| async move {
        store
            .messages("suite-a", p)
            .await
            .expect("page")
            .expect("room")
    };
    assert_eq!(ids(&read(page(Some(0), None, 3)).await), [1, 2, 3]);
    assert_eq!(ids(&read(page(Some(4), None, 10)).await), [5, 6]);
    assert_eq!(ids(&read(page(Some(6), None, 10)).await), Vec::<i64>::new());
    assert_eq!(
        ids(&read(page(Some(99), None, 10)).await),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&read(page(None, None, 2)).await), [5, 6]);
    assert_eq!(ids(&read(page(None, None, 100)).await), [1, 2, 3, 4, 5, 6]);
    assert_eq!(ids(&read(page(None, Some(4), 2)).await), [2, 3]);
    assert_eq!(ids(&read(page(None, Some(1), 10)).await), Vec::<i64>::new());
    let first = read(page(Some(0), None, 1)).await;
    assert_eq!(
        (
            first[0].author.as_str(),
            first[0].body.as_str(),
            first[0].client_id.as_str()
        ),
        ("alice", "m1", "c1")
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
