//! A new message (`POST /api/rooms/{room}/messages`).

#[cfg(any(test, feature = "testing"))]
use super::memory::{Gated, MemStore};
use super::sql::{
    Param, Row, Statement, int, malformed, message, status, text, text_or_null, wait_secs,
};
use super::{Access, Limit, Operation, Refusal, StoreError, Writer};
use crate::model::Message;

/// A post, with the session that sends it (None for a token issued before
/// sessions had ids: such a message can be removed by a moderator only).
///
/// Appends a message, unless the room does not exist, it is a replay of
/// (room, author, client_id) (the original comes back), the author's name
/// is muted, or the author is over the limit in this room (counted before
/// anything is stored), or the writer may not write here ([`Refusal`]), or
/// it answers (`reply_to`) what is not a message of the room, or a removed
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Post<'a> {
    pub room: &'a str,
    pub author: &'a str,
    pub body: &'a str,
    pub client_id: &'a str,
    pub session: Option<&'a str>,
    pub limit: Limit,
    /// Who writes (an account, or a guest from an address).
    pub writer: Writer<'a>,
    /// The message of the room it answers.
    pub reply_to: Option<i64>,
}

/// What became of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created(Message),
    /// A replay of (room, author, client_id): the original message.
    Replayed(Message),
    UnknownRoom,
    /// Over the author's limit in this room: nothing was stored.
    RateLimited {
        retry_after_secs: u32,
    },
    /// The author's name is muted here until this time (RFC 3339).
    Muted {
        until: String,
    },
    Refused(Refusal),
    /// `reply_to` names no message of this room.
    UnknownReply,
    /// `reply_to` names a removed message.
    ReplyRemoved,
}

impl Operation for Post<'_> {
    type Output = Posted;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by, retry_after_ms, until \
                  FROM chat.post_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            params: [
                Param::Text(self.room),
                Param::Text(self.author),
                Param::Text(self.body),
                Param::Text(self.client_id),
                text_or_null(self.session),
                Param::Int(self.limit.burst.into()),
                Param::Int(self.limit.per_minute.into()),
            ]
            .into_iter()
            .chain(self.writer.params())
            .chain([self.reply_to.map_or(Param::Null, Param::Int)])
            .collect(),
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Posted, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("post_message: no row"))?;
        match status(row)? {
            "created" => Ok(Posted::Created(message(row)?)),
            "replayed" => Ok(Posted::Replayed(message(row)?)),
            "unknown_room" => Ok(Posted::UnknownRoom),
            "unknown_reply" => Ok(Posted::UnknownReply),
            "reply_removed" => Ok(Posted::ReplyRemoved),
            "rate_limited" => Ok(Posted::RateLimited {
                retry_after_secs: wait_secs(int(row, 13, "retry_after_ms")?),
            }),
            "muted" => Ok(Posted::Muted {
                until: text(row, 14, "until")?,
            }),
            other => match Refusal::from_status(other) {
                Some(refusal) => Ok(Posted::Refused(refusal)),
                None => Err(malformed(&format!("post_message: status `{other}`"))),
            },
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Posted, StoreError> {
        use crate::model::EventKind;
        if !store.has_room(self.room) {
            return Ok(Posted::UnknownRoom);
        }
        if let Some(m) = store.messages.borrow().iter().find(|m| {
            m.room == self.room
                && m.kind == EventKind::Message
                && m.author == self.author
                && m.client_id == self.client_id
        }) {
            return Ok(Posted::Replayed(m.clone()));
        }
        if let Some(id) = self.reply_to {
            match store.with_message(self.room, id, |m| m.removed_at.is_some()) {
                None => return Ok(Posted::UnknownReply),
                Some(true) => return Ok(Posted::ReplyRemoved),
                Some(false) => {}
            }
        }
        if let Some(gated) = store.writer_gate(self.room, self.author, &self.writer, self.limit) {
            return Ok(match gated {
                Gated::Refused(refusal) => Posted::Refused(refusal),
                Gated::Muted(until) => Posted::Muted { until },
                Gated::RateLimited(retry_after_secs) => Posted::RateLimited { retry_after_secs },
            });
        }
        Ok(Posted::Created(store.append(
            self.room,
            Message {
                author: self.author.into(),
                body: self.body.into(),
                client_id: self.client_id.into(),
                session: self.session.map(str::to_string),
                reply_to: self.reply_to,
                ..Message::default()
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::{R, message_row, status_row};

    #[test]
    fn posts_report_created_replayed_unknown_room_or_rate_limited() {
        let posted = |rows: &[R]| {
            Post {
                writer: Default::default(),
                room: "general",
                author: "alice",
                body: "hi",
                client_id: "c-1",
                session: None,
                limit: Limit::OFF,
                reply_to: None,
            }
            .read(rows)
        };
        let with_wait = |mut r: R, ms: i64| {
            r.0.push(Value::Int(ms));
            r
        };
        match posted(&[message_row("created", 3)]).unwrap() {
            Posted::Created(m) => assert_eq!(m.id, 3),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(posted(&[message_row("replayed", 2)]), Ok(Posted::Replayed(m)) if m.id == 2)
        );
        assert_eq!(
            posted(&[status_row("unknown_room")]),
            Ok(Posted::UnknownRoom)
        );
        assert_eq!(
            posted(&[with_wait(status_row("rate_limited"), 1500)]),
            Ok(Posted::RateLimited {
                retry_after_secs: 2
            })
        );
        assert_eq!(
            posted(&[with_wait(status_row("rate_limited"), 1)]),
            Ok(Posted::RateLimited {
                retry_after_secs: 1
            })
        );
        assert!(posted(&[]).is_err());
        // A created row must carry the message; a limited one its wait.
        assert!(posted(&[status_row("created")]).is_err());
        assert!(posted(&[status_row("rate_limited")]).is_err());
    }
}
