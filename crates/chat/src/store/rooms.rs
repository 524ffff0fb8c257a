//! The room list, and a new room.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, int, malformed, status, text};
use super::{Access, Operation, StoreError};
use crate::model::Room;

/// Rooms can number in the thousands; this only sizes the first buffer.
pub(crate) const ROOMS_HINT: usize = 16;

/// All rooms, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRooms;

impl Operation for ListRooms {
    type Output = Vec<Room>;
    const ACCESS: Access = Access::Replica;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT id, title, last_message_id FROM chat.list_rooms()",
            params: Vec::new(),
            max_rows: ROOMS_HINT,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Vec<Room>, StoreError> {
        rows.iter()
            .map(|row| {
                Ok(Room {
                    id: text(row, 0, "id")?,
                    title: text(row, 1, "title")?,
                    last_message_id: int(row, 2, "last_message_id")?,
                })
            })
            .collect()
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Vec<Room>, StoreError> {
        Ok(store.rooms())
    }
}

/// A new room; `None` when a room with this id exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateRoom<'a> {
    pub id: &'a str,
    pub title: &'a str,
}

impl Operation for CreateRoom<'_> {
    type Output = Option<Room>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, id, title, last_message_id FROM chat.add_room($1, $2)",
            params: vec![Param::Text(self.id), Param::Text(self.title)],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Option<Room>, StoreError> {
        let row = rows.first().ok_or_else(|| malformed("add_room: no row"))?;
        match status(row)? {
            "created" => Ok(Some(Room {
                id: text(row, 1, "id")?,
                title: text(row, 2, "title")?,
                last_message_id: int(row, 3, "last_message_id")?,
            })),
            "exists" => Ok(None),
            other => Err(malformed(&format!("add_room: status `{other}`"))),
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Option<Room>, StoreError> {
        let mut rooms = store.rooms.borrow_mut();
        if rooms.iter().any(|r| r.id == self.id) {
            return Ok(None);
        }
        let room = Room {
            id: self.id.into(),
            title: self.title.into(),
            last_message_id: 0,
        };
        rooms.push(room.clone());
        Ok(Some(room))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    #[test]
    fn rooms_read_their_rows_and_a_taken_id() {
        let room = |s: &'static str| {
            R(vec![
                Value::Text(s),
                Value::Text("rust"),
                Value::Text("Rust"),
                Value::Int(0),
            ])
        };
        let add = CreateRoom {
            id: "rust",
            title: "Rust",
        };
        let created = add.read(&[room("created")]).unwrap().unwrap();
        assert_eq!((created.id.as_str(), created.last_message_id), ("rust", 0));
        assert_eq!(add.read(&[room("exists")]), Ok(None));
        let listed = ListRooms
            .read(&[R(vec![
                Value::Text("general"),
                Value::Text("General"),
                Value::Int(4),
            ])])
            .unwrap();
        assert_eq!(listed[0].last_message_id, 4);
        assert_eq!(ListRooms.read(&[] as &[R]), Ok(vec![]));
    }
}
