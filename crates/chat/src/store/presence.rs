//! Who is in a room (`PUT|DELETE /api/rooms/{room}/presence`).

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, malformed, status, text};
use super::{Access, Operation, Refusal, StoreError, Writer};

/// At most this many names come back as present (chat.present_names).
pub(crate) const MAX_PRESENT: usize = 100;

/// `name` (keyed by `key`, its session) is in `room` now: the present names
/// after it, or None for an unknown room; refused for a guest whose name an
/// account holds, or a signed-out account (it is not shown). Written on the
/// primary, which answers with the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce<'a> {
    pub room: &'a str,
    pub key: &'a str,
    pub name: &'a str,
    pub writer: Writer<'a>,
}

/// `key` left `room`: the present names after it, or None.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leave<'a> {
    pub room: &'a str,
    pub key: &'a str,
}

/// Who announced themselves where, in memory: (room, key) -> name.
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct Present(std::collections::HashMap<(String, String), String>);

/// The names present in `room`, in memory, as chat.present_names lists
/// them (sorted, distinct, at most [`MAX_PRESENT`]).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn present_in(store: &MemStore, room: &str) -> Vec<String> {
    let mut names: Vec<String> = store
        .table::<Present>()
        .0
        .iter()
        .filter(|((r, _), _)| r == room)
        .map(|(_, name)| name.clone())
        .collect();
    names.sort();
    names.dedup();
    names.truncate(MAX_PRESENT);
    names
}

/// The rows of both: a status row, then one per present name.
fn present(rows: &[impl Row]) -> Result<Option<Vec<String>>, StoreError> {
    let (head, rest) = rows
        .split_first()
        .ok_or_else(|| malformed("presence: no status row"))?;
    match status(head)? {
        "ok" => {}
        "unknown_room" => return Ok(None),
        other => return Err(malformed(&format!("presence: status `{other}`"))),
    }
    rest.iter()
        .map(|row| match status(row)? {
            "present" => text(row, 1, "name"),
            other => Err(malformed(&format!("presence: row status `{other}`"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl Operation for Announce<'_> {
    type Output = Result<Option<Vec<String>>, Refusal>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [account, version, name_key, _client] = self.writer.params();
        Statement {
            sql: "SELECT status, name FROM chat.announce($1, $2, $3, $4, $5, $6)",
            params: vec![
                Param::Text(self.room),
                Param::Text(self.key),
                Param::Text(self.name),
                account,
                version,
                name_key,
            ],
            max_rows: MAX_PRESENT + 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Self::Output, StoreError> {
        if let Some(refusal) = rows
            .first()
            .map(status)
            .transpose()?
            .and_then(Refusal::from_status)
        {
            return Ok(Err(refusal));
        }
        present(rows).map(Ok)
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Self::Output, StoreError> {
        if !store.has_room(self.room) {
            return Ok(Ok(None));
        }
        if let Some(refusal) = store.writer_refusal(Some(self.room), &self.writer, false) {
            return Ok(Err(refusal));
        }
        store
            .table::<Present>()
            .0
            .insert((self.room.into(), self.key.into()), self.name.into());
        Ok(Ok(Some(present_in(store, self.room))))
    }
}

impl Operation for Leave<'_> {
    type Output = Option<Vec<String>>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, name FROM chat.leave($1, $2)",
            params: vec![Param::Text(self.room), Param::Text(self.key)],
            max_rows: MAX_PRESENT + 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Self::Output, StoreError> {
        present(rows)
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Self::Output, StoreError> {
        if !store.has_room(self.room) {
            return Ok(None);
        }
        store
            .table::<Present>()
            .0
            .remove(&(self.room.to_string(), self.key.to_string()));
        Ok(Some(present_in(store, self.room)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    #[test]
    fn presence_reads_the_names_after_a_status_row() {
        let name = |s: &'static str, n: Value<'static>| R(vec![Value::Text(s), n]);
        assert_eq!(
            present(&[
                name("ok", Value::Null),
                name("present", Value::Text("alice"))
            ]),
            Ok(Some(vec!["alice".to_string()]))
        );
        assert_eq!(present(&[name("unknown_room", Value::Null)]), Ok(None));
        assert!(present(&[name("ok", Value::Null), name("present", Value::Null)]).is_err());
    }
}
