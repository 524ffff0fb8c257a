//! The single poll (`GET /api/poll`): the open room's events after the
//! cursor, every room's newest id and who is present, in one statement and
//! one snapshot.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::rooms::ROOMS_HINT;
use super::sql::{Param, Row, Statement, int, malformed, message, read_source_at, status, text};
use super::{Access, Operation, ReadSource, StoreError};
use crate::model::{Message, PollQuery, Room};

/// The poll of a [`PollQuery`]; `None` when the room does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll<'q> {
    pub query: &'q PollQuery<'q>,
    /// The rooms to list, comma-joined (`None`: every room).
    rooms: Option<String>,
}

impl<'q> Poll<'q> {
    pub fn new(query: &'q PollQuery<'q>) -> Self {
        Poll {
            query,
            rooms: query.rooms.as_ref().map(|ids| ids.join(",")),
        }
    }
}

/// What one poll reads, in one snapshot of one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    /// The open room's messages after the cursor, ascending.
    pub messages: Vec<Message>,
    /// Every room (or the listed ones that exist), oldest first.
    pub rooms: Vec<Room>,
    /// The names present in the open room (seen in the last minute).
    pub present: Vec<String>,
    pub source: ReadSource,
}

impl Operation for Poll<'_> {
    type Output = Option<Polled>;
    /// One statement on the replica, which says itself whether it was fit
    /// (no separate check).
    const ACCESS: Access = Access::ReplicaSaysSource;

    /// A status row (with where it was read), the rooms, the present names,
    /// then the open room's events after the cursor.
    fn statement(&self) -> Statement<'_> {
        let query = self.query;
        Statement {
            sql: "SELECT kind, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by, title \
                  FROM chat.poll_events($1, $2, $3, $4, true)",
            params: vec![
                Param::Text(&query.room),
                Param::Int(query.after),
                Param::Int(query.limit),
                self.rooms.as_deref().map_or(Param::NullText, Param::Text),
            ],
            max_rows: usize::try_from(query.limit).unwrap_or(0)
                + 1
                + query.rooms.as_ref().map_or(ROOMS_HINT, Vec::len)
                + 8,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Self::Output, StoreError> {
        let (head, rest) = rows
            .split_first()
            .ok_or_else(|| malformed("poll: no status row"))?;
        match status(head)? {
            "ok" => {}
            "unknown_room" => return Ok(None),
            other => return Err(malformed(&format!("poll: status `{other}`"))),
        }
        let mut polled = Polled {
            messages: Vec::new(),
            rooms: Vec::new(),
            present: Vec::new(),
            source: read_source_at(head, 13, 1)?,
        };
        for row in rest {
            match status(row)? {
                "room" => polled.rooms.push(Room {
                    id: text(row, 2, "room")?,
                    title: text(row, 13, "title")?,
                    last_message_id: int(row, 1, "id")?,
                    members_only: None,
                }),
                "present" => polled.present.push(text(row, 3, "author")?),
                "event" => polled.messages.push(message(row)?),
                other => return Err(malformed(&format!("poll: row kind `{other}`"))),
            }
        }
        Ok(Some(polled))
    }

    fn source(&self, answer: &Self::Output) -> Option<ReadSource> {
        answer.as_ref().map(|polled| polled.source)
    }

    /// Not when the replica does not know the room yet, nor when its answer
    /// does not reach the message the client knows of (its own post, just
    /// written on the primary): read your writes.
    fn replica_may_answer(&self, answer: &Self::Output) -> bool {
        let Some(polled) = answer else {
            return false;
        };
        let query = self.query;
        let Some(known) = query.known else {
            return true;
        };
        known <= query.after
            || polled.messages.iter().any(|m| m.id >= known)
            || polled.messages.len() as i64 >= query.limit
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Self::Output, StoreError> {
        use crate::model::Page;
        let q = self.query;
        let page = super::ReadPage {
            room: &q.room,
            page: Page::After {
                after: q.after,
                limit: q.limit,
            },
        };
        let Some(messages) = page.in_memory(store)? else {
            return Ok(None);
        };
        let rooms = store
            .rooms()
            .into_iter()
            .filter(|r| {
                q.rooms
                    .as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| *id == r.id))
            })
            .map(|r| Room {
                members_only: None,
                ..r
            })
            .collect();
        Ok(Some(Polled {
            messages,
            rooms,
            present: super::presence::present_in(store, &q.room),
            source: super::Source.in_memory(store)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::{R, message_row, status_row};

    #[test]
    fn polls_read_the_status_row_then_rooms_and_messages() {
        let query = PollQuery {
            room: "general".into(),
            after: 0,
            limit: 50,
            known: None,
            rooms: None,
        };
        let polled = |rows: &[R]| Poll::new(&query).read(rows);
        let head = |status: &'static str, source: &'static str, lag: i64| {
            let mut v = vec![Value::Text(status), Value::Int(lag)];
            v.extend([Value::Null; 11]);
            v.push(Value::Text(source));
            R(v)
        };
        let room = |id: &'static str, last: i64| {
            let mut v = vec![Value::Text("room"), Value::Int(last), Value::Text(id)];
            v.extend([Value::Null; 10]);
            v.push(Value::Text("Title"));
            R(v)
        };
        let message = |id: i64| {
            let mut r = message_row("event", id);
            r.0.push(Value::Null);
            r
        };
        assert_eq!(polled(&[head("unknown_room", "primary", 0)]), Ok(None));
        let p = polled(&[
            head("ok", "replica", 250),
            room("general", 9),
            room("rust", 2),
            message(8),
            message(9),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            p.source,
            ReadSource {
                replica: true,
                lag_ms: 250
            }
        );
        assert_eq!(
            p.rooms
                .iter()
                .map(|r| (r.id.as_str(), r.last_message_id))
                .collect::<Vec<_>>(),
            [("general", 9), ("rust", 2)]
        );
        assert_eq!(p.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [8, 9]);
        assert!(polled(&[]).is_err());
        assert!(polled(&[head("ok", "standby", 0)]).is_err());
        assert!(polled(&[head("ok", "primary", 0), status_row("ok")]).is_err());
    }
}
