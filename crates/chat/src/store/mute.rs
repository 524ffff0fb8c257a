//! A mute of a name (its account, or a guest's name and addresses), or its
//! lifting (`POST /api/mutes`).

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, malformed, status, text, text_or_null};
use super::{Access, Moderator, Operation, StoreError};

/// Mutes `name` in `room` (None: everywhere) for `secs` (0 lifts it),
/// logged as done by `by`. An account's name mutes the account (so the
/// mute outlives any rename); a guest's mutes the name and the client
/// addresses its guest sessions came from in the last `recent_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteName<'a> {
    pub name: &'a str,
    /// The name's key ([`crate::names::key`]).
    pub name_key: &'a str,
    pub room: Option<&'a str>,
    pub secs: i64,
    pub by: Moderator<'a>,
    pub recent_secs: i64,
}

/// What became of a mute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Muted {
    /// In force until this time (RFC 3339).
    Until(String),
    /// Lifted (a duration of 0).
    Lifted,
    UnknownRoom,
    /// The account does not hold the moderator role (any more).
    NotModerator,
}

impl Operation for MuteName<'_> {
    type Output = Muted;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [actor, account, version] = self.by.params();
        Statement {
            sql: "SELECT status, name, room, until \
                  FROM chat.mute($1, $2, $3, $4, $5, $6, $7, $8)",
            params: vec![
                Param::Text(self.name),
                Param::Text(self.name_key),
                text_or_null(self.room),
                Param::Int(self.secs),
                actor,
                account,
                version,
                Param::Int(self.recent_secs),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Muted, StoreError> {
        let row = rows.first().ok_or_else(|| malformed("mute: no row"))?;
        Ok(match status(row)? {
            "muted" => Muted::Until(text(row, 3, "until")?),
            "unmuted" => Muted::Lifted,
            "unknown_room" => Muted::UnknownRoom,
            "not_moderator" => Muted::NotModerator,
            other => return Err(malformed(&format!("mute: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Muted, StoreError> {
        if !self.by.allowed(store) {
            return Ok(Muted::NotModerator);
        }
        let (name, room, secs) = (self.name, self.room, self.secs);
        if room.is_some_and(|r| !store.has_room(r)) {
            return Ok(Muted::UnknownRoom);
        }
        let scope = room.unwrap_or("*").to_string();
        let origin = format!("name:{}", self.name_key);
        let room = room.map(str::to_string);
        let actor = self.by.logged();
        store.mutes.borrow_mut().retain(|(key, s), (_, o, _)| {
            !(*s == scope && (*o == origin || *key == name.to_lowercase()))
        });
        if secs <= 0 {
            store
                .log
                .borrow_mut()
                .push((actor, "unmute", room, None, name.into()));
            return Ok(Muted::Lifted);
        }
        let until = crate::time::rfc3339_utc(1_767_225_600 + secs).replace('Z', ".000Z");
        let keys = match store.account_id_of(self.name_key) {
            Some(id) => vec![format!("account:{id}")],
            None => {
                let mut keys = vec![origin.clone(), name.to_lowercase()];
                keys.extend(store.guest_addresses(self.name_key));
                keys
            }
        };
        let since = store.tick();
        let mut mutes = store.mutes.borrow_mut();
        for key in keys {
            mutes.insert((key, scope.clone()), (until.clone(), origin.clone(), since));
        }
        store
            .log
            .borrow_mut()
            .push((actor, "mute", room, None, name.into()));
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
            name_key: "bob",
            room: None,
            secs: 60,
            by: Moderator {
                actor: "mod",
                account: None,
            },
            recent_secs: 86_400,
        };
        let mute = |s: &'static str, until: Value<'static>| {
            R(vec![Value::Text(s), Value::Text("bob"), Value::Null, until])
        };
        assert_eq!(
            op.read(&[mute("muted", Value::Text("T"))]),
            Ok(Muted::Until("T".into()))
        );
        assert_eq!(op.read(&[mute("unmuted", Value::Null)]), Ok(Muted::Lifted));
        assert_eq!(
            op.read(&[mute("not_moderator", Value::Null)]),
            Ok(Muted::NotModerator)
        );
        assert!(op.read(&[mute("muted", Value::Null)]).is_err());
    }
}
