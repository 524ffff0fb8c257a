//! A removal (`DELETE /api/rooms/{room}/messages/{id}`).

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, malformed, message, status, text_or_null};
use super::{Access, Operation, StoreError};
use crate::model::Message;

/// Removes a message: a `removal` event, and its text (and its edits'
/// texts) erased. A moderator's removal is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remove<'a> {
    pub room: &'a str,
    pub id: i64,
    pub by: Remover<'a>,
}

/// Who removes a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remover<'a> {
    /// The session that sent it (None: a token without a session id).
    Author(Option<&'a str>),
    /// A moderator (the admin token), recorded in the moderation log as
    /// this actor.
    Moderator(&'a str),
}

/// What became of a removal. Where a message comes with it, it is the
/// message as it is now: a placeholder with an empty body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// A new `removal` event was appended and the text erased.
    Removed(Message),
    /// Removed before: nothing was written.
    AlreadyRemoved(Message),
    UnknownRoom,
    UnknownMessage,
    NotYours,
}

impl Operation for Remove<'_> {
    type Output = Removed;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let (session, moderator) = match self.by {
            Remover::Author(session) => (text_or_null(session), Param::NullText),
            Remover::Moderator(actor) => (Param::NullText, Param::Text(actor)),
        };
        Statement {
            sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by, retry_after_ms, until \
                  FROM chat.remove_message($1, $2, $3, $4)",
            params: vec![
                Param::Text(self.room),
                Param::Int(self.id),
                session,
                moderator,
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Removed, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("remove_message: no row"))?;
        Ok(match status(row)? {
            "removed" => Removed::Removed(message(row)?),
            "already_removed" => Removed::AlreadyRemoved(message(row)?),
            "unknown_room" => Removed::UnknownRoom,
            "unknown_message" => Removed::UnknownMessage,
            "not_yours" => Removed::NotYours,
            other => return Err(malformed(&format!("remove_message: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Removed, StoreError> {
        use super::memory::NOW;
        use crate::model::EventKind;
        let (room, id, by) = (self.room, self.id, self.by);
        if !store.has_room(room) {
            return Ok(Removed::UnknownRoom);
        }
        let Some(current) = store.with_message(room, id, |m| m.clone()) else {
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
        store.append(
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
        for m in store.messages.borrow_mut().iter_mut() {
            if m.room == room && m.kind == EventKind::Edit && m.target == Some(id) {
                m.body.clear();
            }
        }
        let now = store.with_message(room, id, |m| {
            m.body.clear();
            m.removed_at = Some(NOW.into());
            m.removed_by = Some(removed_by.into());
            m.clone()
        });
        if let Remover::Moderator(actor) = by {
            store.log.borrow_mut().push((
                actor.into(),
                "remove",
                Some(room.into()),
                Some(id),
                current.author,
            ));
        }
        Ok(Removed::Removed(now.expect("the message was there")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::{message_row, status_row};

    #[test]
    fn removals_read_their_outcomes() {
        let op = Remove {
            room: "general",
            id: 4,
            by: Remover::Moderator("mod"),
        };
        let mut gone = message_row("already_removed", 4);
        gone.0[12] = Value::Text("moderator");
        assert!(matches!(
            op.read(&[gone]),
            Ok(Removed::AlreadyRemoved(m)) if m.removed_by.as_deref() == Some("moderator")
        ));
        assert_eq!(
            op.read(&[status_row("unknown_message")]),
            Ok(Removed::UnknownMessage)
        );
        assert!(op.read(&[status_row("removed")]).is_err());
    }
}
