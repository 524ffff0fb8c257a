//! A removal (`DELETE /api/rooms/{room}/messages/{id}`).

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, malformed, message, status, text_or_null};
use super::{Access, AccountRef, Operation, StoreError};
use crate::model::Message;

/// Removes a message: a `removal` event, and its text (and its edits'
/// texts) erased. A moderator's removal is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remove<'a> {
    pub room: &'a str,
    pub id: i64,
    pub by: Remover<'a>,
    /// The remover's account, if a session of one removes: signed out when
    /// its version moved on, and a moderator only while it holds the role
    /// (else it removes as the author it is, or not at all).
    pub account: Option<AccountRef>,
}

/// Who removes a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remover<'a> {
    /// The session that sent it (None: a token without a session id).
    Author(Option<&'a str>),
    /// A moderator (the admin token, or an account's session that says it
    /// is one), recorded in the moderation log as this actor, with its own
    /// session (for removing its own messages should the role be gone).
    Moderator(&'a str, Option<&'a str>),
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
    /// The account's session is older than its password.
    SignedOut,
}

impl Operation for Remove<'_> {
    type Output = Removed;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let (session, moderator) = match self.by {
            Remover::Author(session) => (text_or_null(session), Param::NullText),
            Remover::Moderator(actor, session) => (text_or_null(session), Param::Text(actor)),
        };
        let (account, version) = match self.account {
            Some(a) => (Param::Int(a.id), Param::Int(a.version)),
            None => (Param::Null, Param::Null),
        };
        Statement {
            sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by, retry_after_ms, until \
                  FROM chat.remove_message($1, $2, $3, $4, $5, $6)",
            params: vec![
                Param::Text(self.room),
                Param::Int(self.id),
                session,
                moderator,
                account,
                version,
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
            "signed_out" => Removed::SignedOut,
            other => return Err(malformed(&format!("remove_message: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Removed, StoreError> {
        use super::memory::NOW;
        use crate::model::EventKind;
        let (room, id) = (self.room, self.id);
        let mut by = self.by;
        if let Some(account) = self.account {
            let writer = super::Writer {
                account: Some(account),
                ..super::Writer::default()
            };
            if store.writer_refusal(None, &writer, false).is_some() {
                return Ok(Removed::SignedOut);
            }
            if let Remover::Moderator(_, session) = by
                && !store.is_moderator(account)
            {
                by = Remover::Author(session);
            }
        }
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
            Remover::Moderator(_, _) => (None, "moderator"),
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
        if let Remover::Moderator(actor, _) = by {
            let actor = match self.account {
                Some(a) => format!("account:{}", a.id),
                None => actor.into(),
            };
            store.log.borrow_mut().push((
                actor,
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
            by: Remover::Moderator("mod", None),
            account: None,
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
        assert_eq!(op.read(&[status_row("signed_out")]), Ok(Removed::SignedOut));
        assert!(op.read(&[status_row("removed")]).is_err());
    }
}
