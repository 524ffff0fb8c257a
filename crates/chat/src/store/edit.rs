//! An edit of one's message (`PATCH /api/rooms/{room}/messages/{id}`).

#[cfg(any(test, feature = "testing"))]
use super::memory::{Gated, MemStore};
use super::sql::{
    Param, Row, Statement, int, malformed, message, status, text, text_or_null, wait_secs,
};
use super::{Access, Limit, Operation, Refusal, StoreError, Writer};
use crate::model::Message;

/// An edit of message `id` by `session`, allowed for `window_secs` after
/// the message was sent; it takes from the author's post limit. See
/// [`Edited`] for the outcomes, in checking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit<'a> {
    pub room: &'a str,
    pub id: i64,
    pub session: Option<&'a str>,
    pub body: &'a str,
    pub window_secs: i64,
    pub limit: Limit,
    /// Who edits (an account, or a guest from an address).
    pub writer: Writer<'a>,
}

/// What became of an edit. Where a message comes with it, it is the
/// message as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// A new `edit` event was appended.
    Edited(Message),
    /// The text was already this: nothing was written.
    Unchanged(Message),
    UnknownRoom,
    UnknownMessage,
    /// Sent by another session (or by a token without one).
    NotYours,
    Removed(Message),
    WindowClosed(Message),
    Muted {
        until: String,
    },
    RateLimited {
        retry_after_secs: u32,
    },
    Refused(Refusal),
}

impl Operation for Edit<'_> {
    type Output = Edited;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, \
                  session, edited_at, removed_at, removed_by, retry_after_ms, until \
                  FROM chat.edit_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            params: [
                Param::Text(self.room),
                Param::Int(self.id),
                text_or_null(self.session),
                Param::Text(self.body),
                Param::Int(self.window_secs),
                Param::Int(self.limit.burst.into()),
                Param::Int(self.limit.per_minute.into()),
            ]
            .into_iter()
            .chain(self.writer.params())
            .collect(),
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Edited, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("edit_message: no row"))?;
        Ok(match status(row)? {
            "edited" => Edited::Edited(message(row)?),
            "unchanged" => Edited::Unchanged(message(row)?),
            "unknown_room" => Edited::UnknownRoom,
            "unknown_message" => Edited::UnknownMessage,
            "not_yours" => Edited::NotYours,
            "removed" => Edited::Removed(message(row)?),
            "window_closed" => Edited::WindowClosed(message(row)?),
            "muted" => Edited::Muted {
                until: text(row, 14, "until")?,
            },
            "rate_limited" => Edited::RateLimited {
                retry_after_secs: wait_secs(int(row, 13, "retry_after_ms")?),
            },
            other => match Refusal::from_status(other) {
                Some(refusal) => Edited::Refused(refusal),
                None => return Err(malformed(&format!("edit_message: status `{other}`"))),
            },
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Edited, StoreError> {
        use super::memory::NOW;
        use crate::model::EventKind;
        let e = self;
        if !store.has_room(e.room) {
            return Ok(Edited::UnknownRoom);
        }
        let Some(current) = store.with_message(e.room, e.id, |m| m.clone()) else {
            return Ok(Edited::UnknownMessage);
        };
        if e.session.is_none() || current.session.as_deref() != e.session {
            return Ok(Edited::NotYours);
        }
        if current.removed_at.is_some() {
            return Ok(Edited::Removed(current));
        }
        if current.body == e.body {
            return Ok(Edited::Unchanged(current));
        }
        // Time stands still: every message was sent just now.
        if e.window_secs <= 0 {
            return Ok(Edited::WindowClosed(current));
        }
        if let Some(gated) = store.writer_gate(e.room, &current.author, &e.writer, e.limit) {
            return Ok(match gated {
                Gated::Refused(refusal) => Edited::Refused(refusal),
                Gated::Muted(until) => Edited::Muted { until },
                Gated::RateLimited(retry_after_secs) => Edited::RateLimited { retry_after_secs },
            });
        }
        store.append(
            e.room,
            Message {
                author: current.author.clone(),
                body: e.body.into(),
                kind: EventKind::Edit,
                target: Some(e.id),
                session: e.session.map(str::to_string),
                ..Message::default()
            },
        );
        let now = store.with_message(e.room, e.id, |m| {
            m.body = e.body.into();
            m.edited_at = Some(NOW.into());
            m.clone()
        });
        Ok(Edited::Edited(now.expect("the message was there")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::{R, message_row, status_row};

    #[test]
    fn edits_read_their_outcomes() {
        let edited = |rows: &[R]| {
            Edit {
                writer: Default::default(),
                room: "general",
                id: 3,
                session: None,
                body: "x",
                window_secs: 60,
                limit: Limit::OFF,
            }
            .read(rows)
        };
        let with = |mut r: R, extra: [Value<'static>; 2]| {
            r.0.extend(extra);
            r
        };
        let mut edit = message_row("edited", 3);
        edit.0[10] = Value::Text("2026-11-28T04:07:00.000Z");
        match edited(&[edit]).unwrap() {
            Edited::Edited(m) => {
                assert_eq!(m.edited_at.as_deref(), Some("2026-11-28T04:07:00.000Z"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(edited(&[status_row("not_yours")]), Ok(Edited::NotYours));
        assert_eq!(
            edited(&[with(status_row("muted"), [Value::Null, Value::Text("T")])]),
            Ok(Edited::Muted { until: "T".into() })
        );
        assert_eq!(
            edited(&[with(
                status_row("rate_limited"),
                [Value::Int(2500), Value::Null]
            )]),
            Ok(Edited::RateLimited {
                retry_after_secs: 3
            })
        );
        // An outcome that carries the message must have it.
        assert!(edited(&[status_row("window_closed")]).is_err());
        assert!(edited(&[status_row("what")]).is_err());
    }
}
