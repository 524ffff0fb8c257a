//! A page of a room's events (`GET /api/rooms/{room}/messages`).

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, malformed, message, status};
use super::{Access, Operation, StoreError};
use crate::model::{Message, Page};

/// Events ascending by id; `None` when the room does not exist. Pages after
/// a cursor hold every event; the others (scrolling back) messages as they
/// are now, then the `reaction` events in force on them (at most
/// [`MAX_PAGE_REACTIONS`]), ascending by id too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPage<'a> {
    pub room: &'a str,
    pub page: Page,
}

/// The most reaction events a page scrolling back carries.
pub const MAX_PAGE_REACTIONS: usize = 2000;

impl Operation for ReadPage<'_> {
    type Output = Option<Vec<Message>>;
    const ACCESS: Access = Access::Replica;

    /// The status row, then up to `limit` events.
    fn statement(&self) -> Statement<'_> {
        let page = self.page;
        let (after, before) = match page {
            Page::After { after, .. } => (Param::Int(after), Param::Null),
            Page::Before { before, .. } => (Param::Null, Param::Int(before)),
            Page::Latest { .. } => (Param::Null, Param::Null),
            Page::Between { after, before, .. } => (Param::Int(after), Param::Int(before)),
        };
        Statement {
            sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by \
                  FROM chat.room_events($1, $2, $3, $4, true)",
            params: vec![
                Param::Text(self.room),
                after,
                before,
                Param::Int(page.limit()),
            ],
            max_rows: usize::try_from(page.limit()).unwrap_or(0) + 1 + MAX_PAGE_REACTIONS,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Self::Output, StoreError> {
        let (head, messages) = rows
            .split_first()
            .ok_or_else(|| malformed("page: no status row"))?;
        match status(head)? {
            "ok" => {}
            "unknown_room" => return Ok(None),
            other => return Err(malformed(&format!("page: status `{other}`"))),
        }
        messages
            .iter()
            .map(|row| match status(row)? {
                "event" => message(row),
                other => Err(malformed(&format!("page: row status `{other}`"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A replica that does not know the room yet (created a moment ago on
    /// the primary) hands over to the primary.
    fn replica_may_answer(&self, answer: &Self::Output) -> bool {
        answer.is_some()
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Self::Output, StoreError> {
        use crate::model::EventKind;
        if !store.has_room(self.room) {
            return Ok(None);
        }
        let all = store.messages.borrow();
        let in_room = all.iter().filter(|m| m.room == self.room);
        let limit = self.page.limit() as usize;
        let picked: Vec<Message> = match self.page {
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
        drop(all);
        let mut picked = picked;
        if matches!(self.page, Page::Latest { .. } | Page::Before { .. }) {
            let mut reactions: Vec<Message> = picked
                .iter()
                .filter(|m| m.removed_at.is_none())
                .flat_map(|m| store.reactions_in_force(self.room, m.id))
                .collect();
            reactions.sort_by_key(|r| r.id);
            reactions.truncate(MAX_PAGE_REACTIONS);
            picked.extend(reactions);
        }
        Ok(Some(picked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::{R, message_row, status_row};

    fn read(rows: &[R]) -> Result<Option<Vec<Message>>, StoreError> {
        ReadPage {
            room: "general",
            page: Page::Latest { limit: 5 },
        }
        .read(rows)
    }

    #[test]
    fn pages_read_the_status_row_first() {
        assert_eq!(read(&[status_row("unknown_room")]), Ok(None));
        assert_eq!(read(&[status_row("ok")]), Ok(Some(vec![])));
        let page = read(&[
            status_row("ok"),
            message_row("event", 7),
            message_row("event", 8),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(page[0].author, "alice");
        // Anything else is an error, never a silently empty page.
        assert!(matches!(read(&[]), Err(StoreError::Failed(_))));
        assert!(read(&[status_row("nope")]).is_err());
        assert!(read(&[status_row("ok"), status_row("ok")]).is_err());
        assert!(read(&[message_row("event", 1)]).is_err());
        // An event of an unknown kind is an error, never a message.
        let mut odd = message_row("event", 1);
        odd.0[7] = Value::Text("poke");
        assert!(read(&[status_row("ok"), odd]).is_err());
    }

    #[test]
    fn pages_pass_the_cursor_they_have_and_size_their_buffers() {
        let at = |page| ReadPage { room: "g", page };
        let s = at(Page::After {
            after: 5,
            limit: 100,
        });
        let s = s.statement();
        assert_eq!(s.max_rows, 101 + MAX_PAGE_REACTIONS);
        assert!(s.sql.contains("chat.room_events($1, $2, $3, $4, true)"));
        let g = Param::Text("g");
        assert_eq!(s.params, [g, Param::Int(5), Param::Null, Param::Int(100)]);
        assert_eq!(
            at(Page::Before {
                before: 9,
                limit: 3
            })
            .statement()
            .params,
            [g, Param::Null, Param::Int(9), Param::Int(3)]
        );
        assert_eq!(
            at(Page::Latest { limit: 3 }).statement().params,
            [g, Param::Null, Param::Null, Param::Int(3)]
        );
        assert_eq!(
            at(Page::Between {
                after: 2,
                before: 9,
                limit: 3
            })
            .statement()
            .params,
            [g, Param::Int(2), Param::Int(9), Param::Int(3)]
        );
    }
}
