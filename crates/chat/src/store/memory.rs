//! [`MemStore`]: the Postgres store's semantics, in memory, for tests
//! (`crate::testing` hands it out). What each
//! operation does to it is written beside the operation
//! ([`crate::store::Operation::in_memory`]); this file holds the state and
//! the helpers they share.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::{Limit, Operation, ReadSource, Store, StoreError};
use crate::model::{EventKind, Message, Room};

/// The Postgres store's semantics, in memory.
#[derive(Default)]
pub struct MemStore {
    pub(crate) rooms: RefCell<Vec<Room>>,
    pub(crate) messages: RefCell<Vec<Message>>,
    pub(crate) down: Cell<bool>,
    /// Tokens left per bucket. Time stands still here: buckets never refill.
    pub(crate) buckets: RefCell<HashMap<String, u32>>,
    /// What `read_source` and polls say of this store (a primary unless set).
    pub(crate) source: Cell<Option<ReadSource>>,
    /// (key, room or "*") -> (until, origin, since), as chat.mutes: a key
    /// is `account:<id>`, `name:<name key>`, `addr:<client>` or a
    /// lower-cased name; `since` is a [`MemStore::tick`]. Time stands
    /// still, so a mute never ends by itself.
    pub(crate) mutes: RefCell<HashMap<(String, String), MemMute>>,
    /// Orders what happens where time stands still (a guest's first visit
    /// from an address, a mute's start): see [`MemStore::tick`].
    ticks: Cell<u64>,
    /// As chat.moderation_log.
    pub(crate) log: RefCell<Vec<LogEntry>>,
    /// The state of operations that keep their own (see [`MemStore::table`]),
    /// by type.
    tables: RefCell<HashMap<std::any::TypeId, Box<dyn std::any::Any>>>,
}

/// A mute in memory: (until, origin, since).
pub(crate) type MemMute = (String, String, u64);

/// A row of the moderation log: (actor, action, room, message id, name);
/// an account's actor is written `account:<id>`.
pub type LogEntry = (String, &'static str, Option<String>, Option<i64>, String);

/// Every time this store writes: time stands still.
pub(crate) const NOW: &str = "2026-01-01T00:00:00.000Z";

impl MemStore {
    /// One room, `general`, with no messages.
    pub fn seeded() -> Self {
        let s = MemStore::default();
        s.rooms.borrow_mut().push(Room {
            id: "general".into(),
            title: "General".into(),
            last_message_id: 0,
            members_only: Some(false),
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

    /// The next point of this store's own clock: later calls, larger
    /// ticks.
    pub(crate) fn tick(&self) -> u64 {
        self.ticks.set(self.ticks.get() + 1);
        self.ticks.get()
    }

    /// An operation's own state, of a type it defines (a table of its own,
    /// as its migration adds one), made empty on first use: a new operation
    /// needs nothing in this file.
    pub(crate) fn table<T: Default + 'static>(&self) -> std::cell::RefMut<'_, T> {
        let mut tables = self.tables.borrow_mut();
        tables
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()));
        std::cell::RefMut::map(tables, |t| {
            t.get_mut(&std::any::TypeId::of::<T>())
                .and_then(|b| b.downcast_mut::<T>())
                .expect("a table of its own type")
        })
    }

    pub(crate) fn has_room(&self, room: &str) -> bool {
        self.rooms.borrow().iter().any(|r| r.id == room)
    }

    /// Appends an event with the room's next id.
    pub(crate) fn append(&self, room: &str, event: Message) -> Message {
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
    pub(crate) fn with_message<T>(
        &self,
        room: &str,
        id: i64,
        f: impl FnOnce(&mut Message) -> T,
    ) -> Option<T> {
        self.messages
            .borrow_mut()
            .iter_mut()
            .find(|m| m.room == room && m.id == id && m.kind == EventKind::Message)
            .map(f)
    }

    /// The `reaction` events in force on message `id`: for each person and
    /// emoji, the latest of its reactions and withdrawals, when a reaction.
    pub(crate) fn reactions_in_force(&self, room: &str, id: i64) -> Vec<Message> {
        let mut latest: HashMap<(Option<String>, String), Message> = HashMap::new();
        for e in self.messages.borrow().iter() {
            if e.room == room
                && e.target == Some(id)
                && matches!(e.kind, EventKind::Reaction | EventKind::Unreaction)
            {
                latest.insert((e.session.clone(), e.body.clone()), e.clone());
            }
        }
        let mut v: Vec<Message> = latest
            .into_values()
            .filter(|e| e.kind == EventKind::Reaction)
            .collect();
        v.sort_by_key(|e| e.id);
        v
    }

    /// 0 when a token was taken, else the seconds until one would be there.
    pub(crate) fn take(&self, key: String, limit: Limit) -> u32 {
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

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.down.get() {
            Err(StoreError::new(true, "connect 10.1.2.3:5432 refused"))
        } else {
            Ok(())
        }
    }
}

/// Every operation, unless the store is down.
impl Store for MemStore {
    async fn run<O: Operation>(&self, op: &O) -> Result<O::Output, StoreError> {
        self.check()?;
        op.in_memory(self)
    }
}

/// Why [`MemStore::writer_gate`] stopped a text: the writer may not write,
/// is muted until a time, or must wait this many seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gated {
    Refused(super::Refusal),
    Muted(String),
    RateLimited(u32),
}
