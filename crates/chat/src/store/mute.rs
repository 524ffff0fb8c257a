//! A mute of a name, or its lifting (`POST /api/mutes`).

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, malformed, status, text, text_or_null};
use super::{Access, Operation, StoreError};

/// Mutes `name` in `room` (None: everywhere) for `secs` (0 lifts it),
/// logged as done by `actor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteName<'a> {
    pub name: &'a str,
    pub room: Option<&'a str>,
    pub secs: i64,
    pub actor: &'a str,
}

/// What became of a mute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Muted {
    /// In force until this time (RFC 3339).
    Until(String),
    /// Lifted (a duration of 0).
    Lifted,
    UnknownRoom,
}

impl Operation for MuteName<'_> {
    type Output = Muted;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, name, room, until FROM chat.mute_name($1, $2, $3, $4)",
            params: vec![
                Param::Text(self.name),
                text_or_null(self.room),
                Param::Int(self.secs),
                Param::Text(self.actor),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Muted, StoreError> {
        let row = rows.first().ok_or_else(|| malformed("mute_name: no row"))?;
        Ok(match status(row)? {
            "muted" => Muted::Until(text(row, 3, "until")?),
            "unmuted" => Muted::Lifted,
            "unknown_room" => Muted::UnknownRoom,
            other => return Err(malformed(&format!("mute_name: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Muted, StoreError> {
        let (name, room, secs, actor) = (self.name, self.room, self.secs, self.actor);
        if room.is_some_and(|r| !store.has_room(r)) {
            return Ok(Muted::UnknownRoom);
        }
        let key = (name.to_lowercase(), room.unwrap_or("*").to_string());
        let room = room.map(str::to_string);
        if secs <= 0 {
            store.mutes.borrow_mut().remove(&key);
            store
                .log
                .borrow_mut()
                .push((actor.into(), "unmute", room, None, name.into()));
            return Ok(Muted::Lifted);
        }
        let until = crate::time::rfc3339_utc(1_767_225_600 + secs).replace('Z', ".000Z");
        store.mutes.borrow_mut().insert(key, until.clone());
        store
            .log
            .borrow_mut()
            .push((actor.into(), "mute", room, None, name.into()));
        Ok(Muted::Until(until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    #[test]
    fn mutes_read_their_end_or_lifting() {
        let op = MuteName {
            name: "bob",
            room: None,
            secs: 60,
            actor: "mod",
        };
        let mute = |s: &'static str, until: Value<'static>| {
            R(vec![Value::Text(s), Value::Text("bob"), Value::Null, until])
        };
        assert_eq!(
            op.read(&[mute("muted", Value::Text("T"))]),
            Ok(Muted::Until("T".into()))
        );
        assert_eq!(op.read(&[mute("unmuted", Value::Null)]), Ok(Muted::Lifted));
        assert!(op.read(&[mute("muted", Value::Null)]).is_err());
    }
}
