//! An emoji reaction added or withdrawn
//! (`POST /api/rooms/{room}/messages/{id}/reactions`).

#[cfg(any(test, feature = "testing"))]
use super::memory::{Gated, MemStore};
use super::sql::{Param, Row, Statement, int, malformed, message, status, text, wait_secs};
use super::{Access, Limit, Operation, Refusal, StoreError, Writer};
use crate::model::Message;

/// The most different emoji one message holds.
pub const MAX_EMOJI_PER_MESSAGE: u32 = 20;

/// `session` (a person, named `author`) adds (`on`) or withdraws `emoji` on
/// message `id`. It passes the same gate as a post and takes from the same
/// bucket. See [`Reacted`] for the outcomes, in checking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct React<'a> {
    pub room: &'a str,
    pub id: i64,
    pub author: &'a str,
    pub session: &'a str,
    pub emoji: &'a str,
    pub on: bool,
    pub limit: Limit,
    pub writer: Writer<'a>,
}

/// What became of a reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reacted {
    /// A `reaction` or `unreaction` event was appended.
    Reacted(Box<Message>),
    UnknownRoom,
    UnknownMessage,
    /// The message was removed: it takes no reactions.
    Removed,
    /// Already so (added twice, or withdrawn when not there): nothing was
    /// written.
    Unchanged,
    /// A new emoji on a message that holds [`MAX_EMOJI_PER_MESSAGE`].
    TooMany,
    Muted {
        until: String,
    },
    RateLimited {
        retry_after_secs: u32,
    },
    Refused(Refusal),
}

impl Operation for React<'_> {
    type Output = Reacted;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by, retry_after_ms, until \
                  FROM chat.react($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            params: [
                Param::Text(self.room),
                Param::Int(self.id),
                Param::Text(self.author),
                Param::Text(self.session),
                Param::Text(self.emoji),
                Param::Int(self.on.into()),
                Param::Int(MAX_EMOJI_PER_MESSAGE.into()),
                Param::Int(self.limit.burst.into()),
                Param::Int(self.limit.per_minute.into()),
            ]
            .into_iter()
            .chain(self.writer.params())
            .collect(),
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Reacted, StoreError> {
        let row = rows.first().ok_or_else(|| malformed("react: no row"))?;
        Ok(match status(row)? {
            "reacted" => Reacted::Reacted(Box::new(message(row)?)),
            "unknown_room" => Reacted::UnknownRoom,
            "unknown_message" => Reacted::UnknownMessage,
            "removed" => Reacted::Removed,
            "unchanged" => Reacted::Unchanged,
            "too_many" => Reacted::TooMany,
            "muted" => Reacted::Muted {
                until: text(row, 14, "until")?,
            },
            "rate_limited" => Reacted::RateLimited {
                retry_after_secs: wait_secs(int(row, 13, "retry_after_ms")?),
            },
            other => match Refusal::from_status(other) {
                Some(refusal) => Reacted::Refused(refusal),
                None => return Err(malformed(&format!("react: status `{other}`"))),
            },
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Reacted, StoreError> {
        use crate::model::EventKind;
        if !store.has_room(self.room) {
            return Ok(Reacted::UnknownRoom);
        }
        match store.with_message(self.room, self.id, |m| m.removed_at.is_some()) {
            None => return Ok(Reacted::UnknownMessage),
            Some(true) => return Ok(Reacted::Removed),
            Some(false) => {}
        }
        let now = store.reactions_in_force(self.room, self.id);
        let had = now
            .iter()
            .any(|r| r.session.as_deref() == Some(self.session) && r.body == self.emoji);
        if had == self.on {
            return Ok(Reacted::Unchanged);
        }
        let mut emoji: Vec<&str> = now.iter().map(|r| r.body.as_str()).collect();
        emoji.sort_unstable();
        emoji.dedup();
        if self.on && !emoji.contains(&self.emoji) && emoji.len() >= MAX_EMOJI_PER_MESSAGE as usize
        {
            return Ok(Reacted::TooMany);
        }
        if let Some(gated) = store.writer_gate(self.room, self.author, &self.writer, self.limit) {
            return Ok(match gated {
                Gated::Refused(refusal) => Reacted::Refused(refusal),
                Gated::Muted(until) => Reacted::Muted { until },
                Gated::RateLimited(retry_after_secs) => Reacted::RateLimited { retry_after_secs },
            });
        }
        Ok(Reacted::Reacted(Box::new(store.append(
            self.room,
            Message {
                author: self.author.into(),
                body: self.emoji.into(),
                kind: if self.on {
                    EventKind::Reaction
                } else {
                    EventKind::Unreaction
                },
                target: Some(self.id),
                session: Some(self.session.into()),
                ..Message::default()
            },
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::{R, status_row};

    #[test]
    fn reactions_read_their_event_or_why_not() {
        let react = React {
            room: "general",
            id: 1,
            author: "alice",
            session: "s-1",
            emoji: "👍",
            on: true,
            limit: Limit::OFF,
            writer: Writer::default(),
        };
        let event = R(vec![
            Value::Text("reacted"),
            Value::Int(4),
            Value::Text("general"),
            Value::Text("alice"),
            Value::Text("👍"),
            Value::Text(""),
            Value::Text("2026-11-28T04:06:08.123Z"),
            Value::Text("reaction"),
            Value::Int(1),
            Value::Text("s-1"),
            Value::Null,
            Value::Null,
            Value::Null,
        ]);
        match react.read(&[event]).unwrap() {
            Reacted::Reacted(m) => {
                assert_eq!(
                    (m.id, m.kind, m.target, m.reply_to),
                    (4, crate::model::EventKind::Reaction, Some(1), None)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(react.read(&[status_row("too_many")]), Ok(Reacted::TooMany));
        assert_eq!(
            react.read(&[status_row("members_only")]),
            Ok(Reacted::Refused(Refusal::MembersOnly))
        );
        assert!(react.read(&[status_row("reacted")]).is_err());
        assert!(react.read(&[status_row("what")]).is_err());
        assert!(react.read(&[] as &[R]).is_err());
    }
}
