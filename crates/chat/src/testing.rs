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

use crate::model::{EventKind, Message, Room};
use crate::model::{Page, PollQuery};
use crate::store::{
    Edit, Edited, Limit, Muted, Polled, Post, Posted, ReadSource, Removed, Remover, Store,
    StoreError,
};
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
    /// (lower-cased name, room or "*") -> until. Time stands still, so a
    /// mute never ends by itself.
    mutes: RefCell<HashMap<(String, String), String>>,
    /// As chat.moderation_log.
    log: RefCell<Vec<LogEntry>>,
    /// (room, key) -> name.
    presence: RefCell<HashMap<(String, String), String>>,
}

/// A row of the moderation log: (actor, action, room, message id, name).
pub type LogEntry = (String, &'static str, Option<String>, Option<i64>, String);

/// Every time this store writes: time stands still.
const NOW: &str = "2026-01-01T00:00:00.000Z";

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

    /// The moderation log: (actor, action, room, message id, name).
    #[allow(clippy::type_complexity)]
    pub fn moderation_log(
        &self,
    ) -> Vec<(String, &'static str, Option<String>, Option<i64>, String)> {
        self.log.borrow().clone()
    }

    fn muted_until(&self, room: &str, name: &str) -> Option<String> {
        let mutes = self.mutes.borrow();
        let name = name.to_lowercase();
        [room, "*"]
            .iter()
            .filter_map(|scope| mutes.get(&(name.clone(), scope.to_string())))
            .max()
            .cloned()
    }

    fn present(&self, room: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .presence
            .borrow()
            .iter()
            .filter(|((r, _), _)| r == room)
            .map(|(_, name)| name.clone())
            .collect();
        names.sort();
        names.dedup();
        names.truncate(100);
        names
    }

    fn has_room(&self, room: &str) -> bool {
        self.rooms.borrow().iter().any(|r| r.id == room)
    }

    /// Appends an event with the room's next id.
    fn append(&self, room: &str, event: Message) -> Message {
        let mut rooms = self.rooms.borrow_mut();
        let r = rooms
            .iter_mut()
            .find(|r| r.id == room)
            .expect("the caller checked the room");
        r.last_message_id += 1;
        let event = Message {
            id: r.last_message_id,
            room: room.into(),
            sent_at: NOW.into(),
            ..event
        };
        self.messages.borrow_mut().push(event.clone());
        event
    }

    /// The message `id` of `room` (not an edit or removal), to change.
    fn with_message<T>(&self, room: &str, id: i64, f: impl FnOnce(&mut Message) -> T) -> Option<T> {
        self.messages
            .borrow_mut()
            .iter_mut()
            .find(|m| m.room == room && m.id == id && m.kind == EventKind::Message)
            .map(f)
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
            Err(StoreError::new(true, "connect 10.1.2.3:5432 refused"))
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
            // Scrolling back: messages only, as they are now.
            Page::Latest { .. } => {
                let v: Vec<_> = in_room
                    .filter(|m| m.kind == EventKind::Message)
                    .cloned()
                    .collect();
                v[v.len().saturating_sub(limit)..].to_vec()
            }
            Page::Before { before, .. } => {
                let v: Vec<_> = in_room
                    .filter(|m| m.id < before && m.kind == EventKind::Message)
                    .cloned()
                    .collect();
                v[v.len().saturating_sub(limit)..].to_vec()
            }
        };
        Ok(Some(picked))
    }

    async fn post(&self, p: &Post<'_>) -> Result<Posted, StoreError> {
        self.check()?;
        if !self.has_room(p.room) {
            return Ok(Posted::UnknownRoom);
        }
        if let Some(m) = self.messages.borrow().iter().find(|m| {
            m.room == p.room
                && m.kind == EventKind::Message
                && m.author == p.author
                && m.client_id == p.client_id
        }) {
            return Ok(Posted::Replayed(m.clone()));
        }
        if let Some(until) = self.muted_until(p.room, p.author) {
            return Ok(Posted::Muted { until });
        }
        let wait = self.take(format!("post:{}:{}", p.room, p.author), p.limit);
        if wait > 0 {
            return Ok(Posted::RateLimited {
                retry_after_secs: wait,
            });
        }
        Ok(Posted::Created(self.append(
            p.room,
            Message {
                author: p.author.into(),
                body: p.body.into(),
                client_id: p.client_id.into(),
                session: p.session.map(str::to_string),
                ..Message::default()
            },
        )))
    }

    async fn edit_message(&self, e: &Edit<'_>) -> Result<Edited, StoreError> {
        self.check()?;
        if !self.has_room(e.room) {
            return Ok(Edited::UnknownRoom);
        }
        let Some(current) = self.with_message(e.room, e.id, |m| m.clone()) else {
            return Ok(Edited::UnknownMessage);
        };
        if e.session.is_none() || current.session.as_deref() != e.session {
            return Ok(Edited::NotYours);
        }
        if current.removed_at.is_some() {
            return Ok(Edited::Removed(current));
        }
        if current.body == e.body {
            return Ok(Edited::Unchanged(current));
        }
        // Time stands still: every message was sent just now.
        if e.window_secs <= 0 {
            return Ok(Edited::WindowClosed(current));
        }
        if let Some(until) = self.muted_until(e.room, &current.author) {
            return Ok(Edited::Muted { until });
        }
        let wait = self.take(format!("post:{}:{}", e.room, current.author), e.limit);
        if wait > 0 {
            return Ok(Edited::RateLimited {
                retry_after_secs: wait,
            });
        }
        self.append(
            e.room,
            Message {
                author: current.author.clone(),
                body: e.body.into(),
                kind: EventKind::Edit,
                target: Some(e.id),
                session: e.session.map(str::to_string),
                ..Message::default()
            },
        );
        let now = self.with_message(e.room, e.id, |m| {
            m.body = e.body.into();
            m.edited_at = Some(NOW.into());
            m.clone()
        });
        Ok(Edited::Edited(now.expect("the message was there")))
    }

    async fn remove_message(
        &self,
        room: &str,
        id: i64,
        by: Remover<'_>,
    ) -> Result<Removed, StoreError> {
        self.check()?;
        if !self.has_room(room) {
            return Ok(Removed::UnknownRoom);
        }
        let Some(current) = self.with_message(room, id, |m| m.clone()) else {
            return Ok(Removed::UnknownMessage);
        };
        let (session, removed_by) = match by {
            Remover::Author(session) => {
                if session.is_none() || current.session.as_deref() != session {
                    return Ok(Removed::NotYours);
                }
                (session, "author")
            }
            Remover::Moderator(_) => (None, "moderator"),
        };
        if current.removed_at.is_some() {
            return Ok(Removed::AlreadyRemoved(current));
        }
        self.append(
            room,
            Message {
                author: current.author.clone(),
                kind: EventKind::Removal,
                target: Some(id),
                session: session.map(str::to_string),
                removed_by: Some(removed_by.into()),
                ..Message::default()
            },
        );
        for m in self.messages.borrow_mut().iter_mut() {
            if m.room == room && m.kind == EventKind::Edit && m.target == Some(id) {
                m.body.clear();
            }
        }
        let now = self.with_message(room, id, |m| {
            m.body.clear();
            m.removed_at = Some(NOW.into());
            m.removed_by = Some(removed_by.into());
            m.clone()
        });
        if let Remover::Moderator(actor) = by {
            self.log.borrow_mut().push((
                actor.into(),
                "remove",
                Some(room.into()),
                Some(id),
                current.author,
            ));
        }
        Ok(Removed::Removed(now.expect("the message was there")))
    }

    async fn mute(
        &self,
        name: &str,
        room: Option<&str>,
        secs: i64,
        actor: &str,
    ) -> Result<Muted, StoreError> {
        self.check()?;
        if room.is_some_and(|r| !self.has_room(r)) {
            return Ok(Muted::UnknownRoom);
        }
        let key = (name.to_lowercase(), room.unwrap_or("*").to_string());
        let room = room.map(str::to_string);
        if secs <= 0 {
            self.mutes.borrow_mut().remove(&key);
            self.log
                .borrow_mut()
                .push((actor.into(), "unmute", room, None, name.into()));
            return Ok(Muted::Lifted);
        }
        let until = crate::time::rfc3339_utc(1_767_225_600 + secs).replace('Z', ".000Z");
        self.mutes.borrow_mut().insert(key, until.clone());
        self.log
            .borrow_mut()
            .push((actor.into(), "mute", room, None, name.into()));
        Ok(Muted::Until(until))
    }

    async fn announce(
        &self,
        room: &str,
        key: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.check()?;
        if !self.has_room(room) {
            return Ok(None);
        }
        self.presence
            .borrow_mut()
            .insert((room.into(), key.into()), name.into());
        Ok(Some(self.present(room)))
    }

    async fn leave(&self, room: &str, key: &str) -> Result<Option<Vec<String>>, StoreError> {
        self.check()?;
        if !self.has_room(room) {
            return Ok(None);
        }
        self.presence
            .borrow_mut()
            .remove(&(room.to_string(), key.to_string()));
        Ok(Some(self.present(room)))
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
            present: self.present(&q.room),
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

    events_suite(store).await;
    edit_limit_suite(store).await;

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

/// Edits take from the author's bucket as posts do (so editing cannot
/// flood a room either), in a room of its own (`suite-l`).
async fn edit_limit_suite(store: &impl Store) {
    let room = "suite-l";
    store
        .create_room(room, "Limits")
        .await
        .expect("create")
        .expect("a new room");
    let posted = store
        .post(&Post {
            room,
            author: "erin",
            body: "typo",
            client_id: "l1",
            session: Some("se"),
            limit: Limit::OFF,
        })
        .await
        .expect("post");
    assert!(
        matches!(posted, Posted::Created(ref m) if m.id == 1),
        "{posted:?}"
    );
    let limit = Limit {
        burst: 1,
        per_minute: 1,
    };
    let edit = |body| Edit {
        room,
        id: 1,
        session: Some("se"),
        body,
        window_secs: 900,
        limit,
    };
    let first = store.edit_message(&edit("fixed")).await.expect("edit");
    assert!(
        matches!(first, Edited::Edited(_)),
        "within the burst: {first:?}"
    );
    let second = store
        .edit_message(&edit("fixed again"))
        .await
        .expect("edit");
    assert!(
        matches!(second, Edited::RateLimited { retry_after_secs } if (1..=60).contains(&retry_after_secs)),
        "over the burst: {second:?}"
    );
    assert_eq!(
        last_id(store, room).await,
        Some(2),
        "the limited edit stored nothing"
    );
}

/// The suite's part for edits, removals, mutes and presence, in a room of
/// its own (`suite-e`).
async fn events_suite(store: &impl Store) {
    let room = "suite-e";
    assert!(
        store
            .create_room(room, "Events")
            .await
            .expect("create")
            .is_some()
    );
    let post = |author, body, client_id, session| Post {
        room,
        author,
        body,
        client_id,
        session,
        limit: Limit::OFF,
    };
    let created = |p: Posted| match p {
        Posted::Created(m) => m,
        other => panic!("expected a new message, got {other:?}"),
    };
    let m1 = created(
        store
            .post(&post("alice", "first", "e1", Some("sa")))
            .await
            .expect("post"),
    );
    assert_eq!((m1.id, m1.session.as_deref()), (1, Some("sa")));
    assert_eq!(m1.kind, EventKind::Message);
    created(
        store
            .post(&post("bob", "second", "e2", Some("sb")))
            .await
            .expect("post"),
    );
    let m3 = created(
        store
            .post(&post("carol", "old token", "e3", None))
            .await
            .expect("post"),
    );
    assert_eq!(m3.session, None, "a token without a session id");

    // Edits: only by the message's session, within the window, and a
    // retried edit (the same text) writes nothing.
    let edit = |id, session, body, window_secs| Edit {
        room,
        id,
        session,
        body,
        window_secs,
        limit: Limit::OFF,
    };
    let edited = |e: Edit<'static>| async move { store.edit_message(&e).await.expect("edit") };
    assert_eq!(
        edited(edit(1, Some("sb"), "x", 900)).await,
        Edited::NotYours
    );
    assert_eq!(edited(edit(3, None, "x", 900)).await, Edited::NotYours);
    assert_eq!(
        edited(edit(99, Some("sa"), "x", 900)).await,
        Edited::UnknownMessage
    );
    assert_eq!(
        store
            .edit_message(&Edit {
                room: "suite-none",
                ..edit(1, Some("sa"), "x", 900)
            })
            .await
            .expect("edit"),
        Edited::UnknownRoom
    );
    assert!(matches!(
        edited(edit(1, Some("sa"), "x", 0)).await,
        Edited::WindowClosed(m) if m.body == "first" && m.edited_at.is_none()
    ));
    let Edited::Edited(now) = edited(edit(1, Some("sa"), "first, fixed", 900)).await else {
        panic!("the author edits within the window");
    };
    assert_eq!((now.id, now.body.as_str()), (1, "first, fixed"));
    assert!(now.edited_at.is_some());
    assert!(matches!(
        edited(edit(1, Some("sa"), "first, fixed", 900)).await,
        Edited::Unchanged(m) if m == now
    ));
    assert_eq!(last_id(store, room).await, Some(4), "one edit, one new id");
    assert_eq!(
        edited(edit(4, Some("sa"), "x", 900)).await,
        Edited::UnknownMessage,
        "an edit is not a message"
    );

    // Removals: the author's session any time, a moderator any message;
    // twice is the same answer and writes nothing.
    let remove = |id, by| async move { store.remove_message(room, id, by).await.expect("remove") };
    assert_eq!(
        remove(2, Remover::Author(Some("sa"))).await,
        Removed::NotYours
    );
    assert_eq!(remove(3, Remover::Author(None)).await, Removed::NotYours);
    assert_eq!(
        remove(99, Remover::Author(Some("sa"))).await,
        Removed::UnknownMessage
    );
    let Removed::Removed(gone) = remove(1, Remover::Author(Some("sa"))).await else {
        panic!("the author removes");
    };
    assert_eq!(
        (gone.body.as_str(), gone.removed_by.as_deref()),
        ("", Some("author"))
    );
    assert!(gone.removed_at.is_some());
    assert_eq!(
        remove(1, Remover::Author(Some("sa"))).await,
        Removed::AlreadyRemoved(gone.clone())
    );
    let Removed::Removed(by_mod) = remove(3, Remover::Moderator("suite-admin")).await else {
        panic!("a moderator removes any message");
    };
    assert_eq!(by_mod.removed_by.as_deref(), Some("moderator"));
    assert!(matches!(
        remove(3, Remover::Moderator("suite-admin")).await,
        Removed::AlreadyRemoved(_)
    ));
    assert!(matches!(
        edited(edit(1, Some("sa"), "again", 900)).await,
        Edited::Removed(_)
    ));
    assert_eq!(last_id(store, room).await, Some(6));

    // After a cursor: every event, texts erased; scrolling back: messages
    // as they are now.
    let events = store
        .messages(
            room,
            Page::After {
                after: 0,
                limit: 100,
            },
        )
        .await
        .expect("page")
        .expect("room");
    assert_eq!(
        events
            .iter()
            .map(|m| (m.id, m.kind, m.target))
            .collect::<Vec<_>>(),
        [
            (1, EventKind::Message, None),
            (2, EventKind::Message, None),
            (3, EventKind::Message, None),
            (4, EventKind::Edit, Some(1)),
            (5, EventKind::Removal, Some(1)),
            (6, EventKind::Removal, Some(3)),
        ]
    );
    assert_eq!(events[0], gone, "the message as it is now");
    assert_eq!(events[3].body, "", "a removal erases the edits' texts too");
    assert_eq!(events[3].client_id, "");
    assert_eq!(
        (
            events[4].removed_by.as_deref(),
            events[5].removed_by.as_deref()
        ),
        (Some("author"), Some("moderator"))
    );
    let back = store
        .messages(room, Page::Latest { limit: 10 })
        .await
        .expect("page")
        .expect("room");
    assert_eq!(back.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(back[1].body, "second");
    let back = store
        .messages(
            room,
            Page::Before {
                before: 3,
                limit: 10,
            },
        )
        .await
        .expect("page")
        .expect("room");
    assert_eq!(back.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
    let q = PollQuery {
        room: room.into(),
        after: 3,
        limit: 100,
        known: None,
        rooms: None,
    };
    let polled = store.poll(&q).await.expect("poll").expect("room");
    assert_eq!(
        polled.messages,
        events[3..],
        "a poll carries the same events"
    );

    // Mutes: per room or everywhere, any case of the name; refused posts
    // and edits change nothing; a duration of 0 lifts it.
    let Muted::Until(until) = store
        .mute("Dave", Some(room), 600, "suite-admin")
        .await
        .expect("mute")
    else {
        panic!("muted");
    };
    assert_eq!(
        store
            .post(&post("dave", "hi", "d1", Some("sd")))
            .await
            .expect("post"),
        Posted::Muted {
            until: until.clone()
        }
    );
    created(
        store
            .post(&Post {
                room: "general",
                ..post("dave", "hi", "d1", Some("sd"))
            })
            .await
            .expect("post"),
    );
    assert_eq!(
        store
            .mute("DAVE", Some(room), 0, "suite-admin")
            .await
            .expect("unmute"),
        Muted::Lifted
    );
    let d = created(
        store
            .post(&post("dave", "hi", "d1", Some("sd")))
            .await
            .expect("post"),
    );
    assert_eq!(d.id, 7, "the refused post took no id");
    assert!(matches!(
        store
            .mute("dave", None, 600, "suite-admin")
            .await
            .expect("mute"),
        Muted::Until(_)
    ));
    assert!(matches!(
        edited(edit(7, Some("sd"), "hello", 900)).await,
        Edited::Muted { .. }
    ));
    assert!(matches!(
        store
            .post(&Post {
                room: "general",
                ..post("dave", "again", "d2", Some("sd"))
            })
            .await
            .expect("post"),
        Posted::Muted { .. }
    ));
    assert_eq!(
        store
            .mute("dave", Some("suite-none"), 60, "suite-admin")
            .await
            .expect("mute"),
        Muted::UnknownRoom
    );
    store
        .mute("dave", None, 0, "suite-admin")
        .await
        .expect("unmute");
    assert_eq!(last_id(store, room).await, Some(7));

    // Presence: names by session, each once, sorted; leaving drops one.
    let here = |key, name| async move { store.announce(room, key, name).await.expect("announce") };
    assert_eq!(here("sb", "bob").await, Some(vec!["bob".to_string()]));
    assert_eq!(
        here("sa", "alice").await,
        Some(vec!["alice".into(), "bob".into()])
    );
    assert_eq!(
        here("sa2", "alice").await,
        Some(vec!["alice".into(), "bob".into()])
    );
    let polled = store.poll(&q).await.expect("poll").expect("room");
    assert_eq!(polled.present, ["alice", "bob"]);
    assert_eq!(
        store.leave(room, "sb").await.expect("leave"),
        Some(vec!["alice".to_string()])
    );
    assert_eq!(
        store
            .announce("suite-none", "sa", "alice")
            .await
            .expect("announce"),
        None
    );
    assert_eq!(store.leave("suite-none", "sa").await.expect("leave"), None);
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
        block_on(store.send_message("general", "alice", "hi", "c1", Limit::OFF)).unwrap();
        store.set_down(true);
        let unavailable = |what: &str, e: Option<StoreError>| match e {
            Some(StoreError::Unavailable(_)) => {}
            other => panic!("{what} while down: {other:?}, not Unavailable"),
        };
        let query = PollQuery {
            room: "general".into(),
            after: 0,
            limit: 10,
            known: None,
            rooms: None,
        };
        let post = Post {
            room: "general",
            author: "alice",
            body: "x",
            client_id: "c2",
            session: None,
            limit: Limit::OFF,
        };
        let edit = Edit {
            room: "general",
            id: 1,
            session: None,
            body: "y",
            window_secs: 900,
            limit: Limit::OFF,
        };
        // Every method of the Store trait, one line each.
        unavailable("list_rooms", block_on(store.list_rooms()).err());
        unavailable("create_room", block_on(store.create_room("r", "R")).err());
        let page = Page::Latest { limit: 5 };
        let read = Store::messages(&store, "general", page);
        unavailable("messages", block_on(read).err());
        unavailable("post", block_on(store.post(&post)).err());
        let send = store.send_message("general", "a", "b", "c3", Limit::OFF);
        unavailable("send_message", block_on(send).err());
        unavailable("edit_message", block_on(store.edit_message(&edit)).err());
        let remove = store.remove_message("general", 1, Remover::Moderator("m"));
        unavailable("remove_message", block_on(remove).err());
        unavailable("mute", block_on(store.mute("bob", None, 60, "m")).err());
        unavailable(
            "announce",
            block_on(store.announce("general", "k", "a")).err(),
        );
        unavailable("leave", block_on(store.leave("general", "k")).err());
        let allow = store.allow_session("192.0.2.1", Limit::OFF);
        unavailable("allow_session", block_on(allow).err());
        unavailable("health", block_on(store.health()).err());
        unavailable("read_health", block_on(store.read_health()).err());
        unavailable("poll", block_on(store.poll(&query)).err());
        unavailable("read_source", block_on(store.read_source()).err());
        store.set_down(false);
        assert_eq!(store.messages().len(), 1, "nothing was stored while down");
    }
}
