//! How far an account has read each room (`GET|PUT /api/read`), so its
//! other devices know where "new since you were last here" begins.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, int, malformed, status, text};
use super::{Access, AccountRef, Operation, StoreError};
use std::collections::BTreeMap;

/// The most marks one account lists.
pub const MAX_READ_MARKS: usize = 1000;

/// Account `account` has read `room` up to event `id`. A mark never moves
/// back, and never past the room's last id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkRead<'a> {
    pub account: AccountRef,
    pub room: &'a str,
    pub id: i64,
}

/// What became of a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// The mark as it now stands.
    Marked(i64),
    UnknownRoom,
    /// The account's password changed since the session began.
    SignedOut,
}

/// Every mark of an account: room id -> last read event id; `None` when
/// the session is signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMarks {
    pub account: AccountRef,
}

/// Marks in memory: (account id, room) -> last read id.
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct Marks(BTreeMap<(i64, String), i64>);

impl Operation for MarkRead<'_> {
    type Output = Marked;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, room, last_read FROM chat.mark_read($1, $2, $3, $4)",
            params: vec![
                Param::Int(self.account.id),
                Param::Int(self.account.version),
                Param::Text(self.room),
                Param::Int(self.id),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Marked, StoreError> {
        let row = rows.first().ok_or_else(|| malformed("mark_read: no row"))?;
        match status(row)? {
            "ok" => Ok(Marked::Marked(int(row, 2, "last_read")?)),
            "unknown_room" => Ok(Marked::UnknownRoom),
            "signed_out" => Ok(Marked::SignedOut),
            other => Err(malformed(&format!("mark_read: status `{other}`"))),
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Marked, StoreError> {
        let writer = super::Writer {
            account: Some(self.account),
            ..Default::default()
        };
        if store.writer_refusal(None, &writer, false).is_some() {
            return Ok(Marked::SignedOut);
        }
        let Some(last) = store
            .rooms
            .borrow()
            .iter()
            .find(|r| r.id == self.room)
            .map(|r| r.last_message_id)
        else {
            return Ok(Marked::UnknownRoom);
        };
        let mut marks = store.table::<Marks>();
        let mark = marks
            .0
            .entry((self.account.id, self.room.to_string()))
            .or_insert(0);
        *mark = (*mark).max(self.id.clamp(0, last));
        Ok(Marked::Marked(*mark))
    }
}

impl Operation for ReadMarks {
    type Output = Option<BTreeMap<String, i64>>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, room, last_read FROM chat.read_marks($1, $2)",
            params: vec![
                Param::Int(self.account.id),
                Param::Int(self.account.version),
            ],
            max_rows: MAX_READ_MARKS + 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Self::Output, StoreError> {
        let (head, marks) = rows
            .split_first()
            .ok_or_else(|| malformed("read_marks: no status row"))?;
        match status(head)? {
            "ok" => {}
            "signed_out" => return Ok(None),
            other => return Err(malformed(&format!("read_marks: status `{other}`"))),
        }
        marks
            .iter()
            .map(|row| match status(row)? {
                "mark" => Ok((text(row, 1, "room")?, int(row, 2, "last_read")?)),
                other => Err(malformed(&format!("read_marks: row `{other}`"))),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Some)
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Self::Output, StoreError> {
        let writer = super::Writer {
            account: Some(self.account),
            ..Default::default()
        };
        if store.writer_refusal(None, &writer, false).is_some() {
            return Ok(None);
        }
        let marks = store.table::<Marks>();
        Ok(Some(
            marks
                .0
                .iter()
                .filter(|((id, _), _)| *id == self.account.id)
                .map(|((_, room), mark)| (room.clone(), *mark))
                .take(MAX_READ_MARKS)
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    const ANN: AccountRef = AccountRef { id: 1, version: 1 };

    #[test]
    fn marks_read_their_rows() {
        let row = |s: &'static str, room: Option<&'static str>, mark: Option<i64>| {
            R(vec![
                Value::Text(s),
                room.map_or(Value::Null, Value::Text),
                mark.map_or(Value::Null, Value::Int),
            ])
        };
        let list = ReadMarks { account: ANN };
        assert_eq!(
            list.read(&[row("ok", None, None), row("mark", Some("general"), Some(7))]),
            Ok(Some(BTreeMap::from([("general".to_string(), 7)])))
        );
        assert_eq!(list.read(&[row("signed_out", None, None)]), Ok(None));
        assert!(
            list.read(&[row("ok", None, None), row("what", None, None)])
                .is_err()
        );
        assert!(list.read(&[] as &[R]).is_err());
        let mark = MarkRead {
            account: ANN,
            room: "general",
            id: 9,
        };
        assert_eq!(
            mark.read(&[row("ok", Some("general"), Some(9))]),
            Ok(Marked::Marked(9))
        );
        assert_eq!(
            mark.read(&[row("unknown_room", Some("x"), None)]),
            Ok(Marked::UnknownRoom)
        );
        assert!(mark.read(&[row("ok", Some("general"), None)]).is_err());
    }
}
