//! The room list, a new room, and a room's settings.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, int, malformed, status, text};
use super::{Access, AccountRef, Operation, StoreError};
use crate::model::Room;

/// Rooms can number in the thousands; this only sizes the first buffer.
pub(crate) const ROOMS_HINT: usize = 16;

/// All rooms, oldest first, with whether guests may post in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRooms;

fn flag(row: &impl Row, i: usize, name: &str) -> Result<bool, StoreError> {
    match row.value(i) {
        super::sql::Value::Bool(b) => Ok(b),
        _ => Err(malformed(&format!("column {name} is not a boolean"))),
    }
}

/// A room from columns `at..at + 4`: id, title, last message id, members
/// only.
fn room_at(row: &impl Row, at: usize) -> Result<Room, StoreError> {
    Ok(Room {
        id: text(row, at, "id")?,
        title: text(row, at + 1, "title")?,
        last_message_id: int(row, at + 2, "last_message_id")?,
        members_only: Some(flag(row, at + 3, "members_only")?),
    })
}

impl Operation for ListRooms {
    type Output = Vec<Room>;
    const ACCESS: Access = Access::Replica;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT id, title, last_message_id, members_only FROM chat.room_list()",
            params: Vec::new(),
            max_rows: ROOMS_HINT,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Vec<Room>, StoreError> {
        rows.iter().map(|row| room_at(row, 0)).collect()
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Vec<Room>, StoreError> {
        Ok(store.rooms())
    }
}

/// Who acts as a moderator: the admin token (named by where it came from),
/// or an account that the database checks holds the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moderator<'a> {
    /// How the moderation log names it.
    pub actor: &'a str,
    /// The account (None: the admin token).
    pub account: Option<AccountRef>,
}

impl Moderator<'static> {
    /// The admin token as the operator's tools and tests use it.
    pub const OPERATOR: Moderator<'static> = Moderator {
        actor: "operator",
        account: None,
    };
}

impl<'a> Moderator<'a> {
    /// Its three parameters: actor, account id, version.
    pub(crate) fn params(&self) -> [Param<'a>; 3] {
        let (id, version) = match self.account {
            Some(a) => (Param::Int(a.id), Param::Int(a.version)),
            None => (Param::Null, Param::Null),
        };
        [Param::Text(self.actor), id, version]
    }

    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn allowed(&self, store: &MemStore) -> bool {
        self.account.is_none_or(|a| store.is_moderator(a))
    }

    /// How the in-memory log names it: an account as `account:<id>`.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn logged(&self) -> String {
        match self.account {
            Some(a) => format!("account:{}", a.id),
            None => self.actor.to_string(),
        }
    }
}

/// A new room, by a moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateRoom<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub members_only: bool,
    pub by: Moderator<'a>,
}

/// What became of a new room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomSet {
    /// Created, or changed.
    Done(Room),
    /// A room with this id exists (not changed).
    Exists,
    UnknownRoom,
    /// The account does not hold the moderator role (any more).
    NotModerator,
}

impl RoomSet {
    /// The room, if it was created or changed.
    pub fn done(self) -> Option<Room> {
        match self {
            RoomSet::Done(room) => Some(room),
            _ => None,
        }
    }
}

fn room_outcome(rows: &[impl Row], what: &str) -> Result<RoomSet, StoreError> {
    let row = rows
        .first()
        .ok_or_else(|| malformed(&format!("{what}: no row")))?;
    Ok(match status(row)? {
        "created" | "ok" => RoomSet::Done(room_at(row, 1)?),
        "exists" => RoomSet::Exists,
        "unknown_room" => RoomSet::UnknownRoom,
        "not_moderator" => RoomSet::NotModerator,
        other => return Err(malformed(&format!("{what}: status `{other}`"))),
    })
}

impl Operation for CreateRoom<'_> {
    type Output = RoomSet;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [actor, id, version] = self.by.params();
        Statement {
            sql: "SELECT status, id, title, last_message_id, members_only \
                  FROM chat.add_room($1, $2, $3, $4, $5, $6)",
            params: vec![
                Param::Text(self.id),
                Param::Text(self.title),
                Param::Int(self.members_only.into()),
                actor,
                id,
                version,
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<RoomSet, StoreError> {
        room_outcome(rows, "add_room")
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<RoomSet, StoreError> {
        if !self.by.allowed(store) {
            return Ok(RoomSet::NotModerator);
        }
        let mut rooms = store.rooms.borrow_mut();
        if rooms.iter().any(|r| r.id == self.id) {
            return Ok(RoomSet::Exists);
        }
        let room = Room {
            id: self.id.into(),
            title: self.title.into(),
            last_message_id: 0,
            members_only: Some(self.members_only),
        };
        rooms.push(room.clone());
        store.log.borrow_mut().push((
            self.by.logged(),
            "create_room",
            Some(self.id.into()),
            None,
            String::new(),
        ));
        Ok(RoomSet::Done(room))
    }
}

/// A moderator makes a room members-only, or opens it to guests again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetMembersOnly<'a> {
    pub room: &'a str,
    pub members_only: bool,
    pub by: Moderator<'a>,
}

impl Operation for SetMembersOnly<'_> {
    type Output = RoomSet;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [actor, id, version] = self.by.params();
        Statement {
            sql: "SELECT status, id, title, last_message_id, members_only \
                  FROM chat.set_members_only($1, $2, $3, $4, $5)",
            params: vec![
                Param::Text(self.room),
                Param::Int(self.members_only.into()),
                actor,
                id,
                version,
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<RoomSet, StoreError> {
        room_outcome(rows, "set_members_only")
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<RoomSet, StoreError> {
        if !self.by.allowed(store) {
            return Ok(RoomSet::NotModerator);
        }
        let mut rooms = store.rooms.borrow_mut();
        let Some(room) = rooms.iter_mut().find(|r| r.id == self.room) else {
            return Ok(RoomSet::UnknownRoom);
        };
        room.members_only = Some(self.members_only);
        let action = if self.members_only {
            "members_only"
        } else {
            "open_room"
        };
        store.log.borrow_mut().push((
            self.by.logged(),
            action,
            Some(self.room.into()),
            None,
            String::new(),
        ));
        Ok(RoomSet::Done(room.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    #[test]
    fn rooms_read_their_rows_and_every_outcome() {
        let room = |s: &'static str| {
            R(vec![
                Value::Text(s),
                Value::Text("rust"),
                Value::Text("Rust"),
                Value::Int(0),
                Value::Bool(true),
            ])
        };
        let add = CreateRoom {
            id: "rust",
            title: "Rust",
            members_only: true,
            by: Moderator {
                actor: "mod",
                account: None,
            },
        };
        let RoomSet::Done(created) = add.read(&[room("created")]).unwrap() else {
            panic!("created")
        };
        assert_eq!(
            (
                created.id.as_str(),
                created.last_message_id,
                created.members_only
            ),
            ("rust", 0, Some(true))
        );
        assert_eq!(add.read(&[room("exists")]), Ok(RoomSet::Exists));
        assert_eq!(
            add.read(&[room("not_moderator")]),
            Ok(RoomSet::NotModerator)
        );
        assert!(add.read(&[room("maybe")]).is_err());
        let listed = ListRooms
            .read(&[R(vec![
                Value::Text("general"),
                Value::Text("General"),
                Value::Int(4),
                Value::Bool(false),
            ])])
            .unwrap();
        assert_eq!(
            (listed[0].last_message_id, listed[0].members_only),
            (4, Some(false))
        );
        assert_eq!(ListRooms.read(&[] as &[R]), Ok(vec![]));
        // A boolean that is not one is an error, not a guess.
        assert!(
            ListRooms
                .read(&[R(vec![
                    Value::Text("general"),
                    Value::Text("General"),
                    Value::Int(4),
                    Value::Text("t"),
                ])])
                .is_err()
        );
    }
}
