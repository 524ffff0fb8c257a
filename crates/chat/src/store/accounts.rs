//! Accounts and sessions (`POST /api/session`, `POST /api/accounts`,
//! `POST /api/accounts/password`): a guest's join, claiming a name, signing
//! in, a new password. The password's hash is made and checked by the
//! caller ([`crate::password`]); the database only keeps it.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, int, malformed, opt_text, status, text, wait_secs};
use super::{Access, AccountRef, Limit, Operation, StoreError};

/// A guest session for a name (its key) from a client address: refused
/// when an account holds the name, limited per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestJoin<'a> {
    pub name_key: &'a str,
    pub client: &'a str,
    pub limit: Limit,
}

/// What became of a guest's join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Ok,
    /// An account holds the name: only its password gets a session.
    NameClaimed,
    /// Too many new sessions from this address lately.
    RateLimited {
        retry_after_secs: u32,
    },
}

/// Whether a name may be claimed from a client address, asked before the
/// caller spends a password hash on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimAllowed<'a> {
    pub name_key: &'a str,
    pub client: &'a str,
    pub limit: Limit,
}

/// What [`ClaimAllowed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimCheck {
    Ok,
    NameTaken,
    /// Too many new sessions from this address lately (claiming is one).
    RateLimited {
        retry_after_secs: u32,
    },
    /// The address is muted (a muted guest's): no new account from it
    /// until then (RFC 3339).
    Muted {
        until: String,
    },
}

/// Claims `name` (its key `name_key`) with a password hash: the account, or
/// `None` when the name was claimed meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateAccount<'a> {
    pub name: &'a str,
    pub name_key: &'a str,
    pub hash: &'a str,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub id: i64,
    /// The name as it was claimed.
    pub name: String,
    pub moderator: bool,
    pub version: i64,
}

impl StoredAccount {
    pub fn reference(&self) -> AccountRef {
        AccountRef {
            id: self.id,
            version: self.version,
        }
    }
}

/// A sign-in attempt for a name (its key) from a client address: takes a
/// token from the address's bucket and the name's, then reads the account,
/// if there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginStart<'a> {
    pub name_key: &'a str,
    pub client: &'a str,
    /// The name's bucket; the address's holds twice as much.
    pub limit: Limit,
}

/// What a sign-in attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signin {
    RateLimited {
        retry_after_secs: u32,
    },
    /// The account (None: no account has this name), its password hash
    /// (`!` while reset), and the SHA-256 (hex) of a pending reset code.
    Found {
        account: Option<StoredAccount>,
        hash: Option<String>,
        reset_hash: Option<String>,
    },
}

/// A new password hash for an account still at the version the caller
/// checked its old password against: the new version, or `None` (stale: it
/// changed meanwhile). Every older session is signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetPassword<'a> {
    pub account: AccountRef,
    pub hash: &'a str,
}

/// An account takes another name: the account at its new version, or why
/// not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenameAccount<'a> {
    pub account: AccountRef,
    pub name: &'a str,
    pub name_key: &'a str,
}

/// What became of a rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renamed {
    Renamed(StoredAccount),
    /// Another account holds the name (or one that reads the same).
    NameTaken,
    /// The session's version is not the account's any more.
    SignedOut,
}

fn limit_params(limit: Limit) -> [Param<'static>; 2] {
    [
        Param::Int(limit.burst.into()),
        Param::Int(limit.per_minute.into()),
    ]
}

fn role_is_moderator(row: &impl Row, i: usize) -> Result<bool, StoreError> {
    match text(row, i, "role")?.as_str() {
        "moderator" => Ok(true),
        "member" => Ok(false),
        other => Err(malformed(&format!("account role `{other}`"))),
    }
}

impl Operation for GuestJoin<'_> {
    type Output = Joined;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [burst, per_minute] = limit_params(self.limit);
        Statement {
            sql: "SELECT status, wait_ms FROM chat.guest_join($1, $2, $3, $4)",
            params: vec![
                Param::Text(self.name_key),
                Param::Text(self.client),
                burst,
                per_minute,
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Joined, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("guest_join: no row"))?;
        Ok(match status(row)? {
            "ok" => Joined::Ok,
            "name_claimed" => Joined::NameClaimed,
            "rate_limited" => Joined::RateLimited {
                retry_after_secs: wait_secs(int(row, 1, "wait_ms")?),
            },
            other => return Err(malformed(&format!("guest_join: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Joined, StoreError> {
        if store.account_by_key(self.name_key).is_some() {
            return Ok(Joined::NameClaimed);
        }
        let wait = store.take(format!("session:{}", self.client), self.limit);
        if wait > 0 {
            return Ok(Joined::RateLimited {
                retry_after_secs: wait,
            });
        }
        if self.client != "unknown" {
            let tick = store.tick();
            store
                .table::<Accounts>()
                .guests
                .entry((self.name_key.into(), self.client.into()))
                .or_insert(tick);
        }
        Ok(Joined::Ok)
    }
}

impl Operation for ClaimAllowed<'_> {
    type Output = ClaimCheck;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [burst, per_minute] = limit_params(self.limit);
        Statement {
            sql: "SELECT status, wait_ms, until FROM chat.claim_allowed($1, $2, $3, $4)",
            params: vec![
                Param::Text(self.name_key),
                Param::Text(self.client),
                burst,
                per_minute,
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<ClaimCheck, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("claim_allowed: no row"))?;
        Ok(match status(row)? {
            "ok" => ClaimCheck::Ok,
            "name_taken" => ClaimCheck::NameTaken,
            "rate_limited" => ClaimCheck::RateLimited {
                retry_after_secs: wait_secs(int(row, 1, "wait_ms")?),
            },
            "muted" => ClaimCheck::Muted {
                until: text(row, 2, "until")?,
            },
            other => return Err(malformed(&format!("claim_allowed: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<ClaimCheck, StoreError> {
        if store.account_by_key(self.name_key).is_some() {
            return Ok(ClaimCheck::NameTaken);
        }
        let addr = format!("addr:{}", self.client);
        let until = store
            .mutes
            .borrow()
            .iter()
            .filter(|((key, _), _)| *key == addr)
            .map(|(_, (until, ..))| until.clone())
            .max();
        if let Some(until) = until {
            return Ok(ClaimCheck::Muted { until });
        }
        let wait = store.take(format!("session:{}", self.client), self.limit);
        if wait > 0 {
            return Ok(ClaimCheck::RateLimited {
                retry_after_secs: wait,
            });
        }
        Ok(ClaimCheck::Ok)
    }
}

impl Operation for CreateAccount<'_> {
    type Output = Option<StoredAccount>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, id, name, role, version FROM chat.create_account($1, $2, $3)",
            params: vec![
                Param::Text(self.name),
                Param::Text(self.name_key),
                Param::Text(self.hash),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Option<StoredAccount>, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("create_account: no row"))?;
        Ok(match status(row)? {
            "created" => Some(StoredAccount {
                id: int(row, 1, "id")?,
                name: text(row, 2, "name")?,
                moderator: role_is_moderator(row, 3)?,
                version: int(row, 4, "version")?,
            }),
            "name_taken" => None,
            other => return Err(malformed(&format!("create_account: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Option<StoredAccount>, StoreError> {
        if store.account_by_key(self.name_key).is_some() {
            return Ok(None);
        }
        let mut t = store.table::<Accounts>();
        let account = MemAccount {
            id: t.rows.len() as i64 + 1,
            name: self.name.into(),
            key: self.name_key.into(),
            hash: self.hash.into(),
            moderator: false,
            version: 1,
            reset_hash: None,
        };
        t.rows.push(account.clone());
        Ok(Some(account.stored()))
    }
}

impl Operation for LoginStart<'_> {
    type Output = Signin;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        let [burst, per_minute] = limit_params(self.limit);
        Statement {
            sql: "SELECT status, wait_ms, id, name, role, version, password_hash, reset_hash \
                  FROM chat.login_start($1, $2, $3, $4)",
            params: vec![
                Param::Text(self.name_key),
                Param::Text(self.client),
                burst,
                per_minute,
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Signin, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("login_start: no row"))?;
        match status(row)? {
            "rate_limited" => Ok(Signin::RateLimited {
                retry_after_secs: wait_secs(int(row, 1, "wait_ms")?),
            }),
            "ok" => {
                let account = match super::sql::opt_int(row, 2, "id")? {
                    None => None,
                    Some(id) => Some(StoredAccount {
                        id,
                        name: text(row, 3, "name")?,
                        moderator: role_is_moderator(row, 4)?,
                        version: int(row, 5, "version")?,
                    }),
                };
                Ok(Signin::Found {
                    account,
                    hash: opt_text(row, 6, "password_hash")?,
                    reset_hash: opt_text(row, 7, "reset_hash")?,
                })
            }
            other => Err(malformed(&format!("login_start: status `{other}`"))),
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Signin, StoreError> {
        let doubled = Limit {
            burst: self.limit.burst.saturating_mul(2),
            per_minute: self.limit.per_minute.saturating_mul(2),
        };
        let mut wait = store.take(format!("login:addr:{}", self.client), doubled);
        if wait == 0 {
            wait = store.take(format!("login:name:{}", self.name_key), self.limit);
        }
        if wait > 0 {
            return Ok(Signin::RateLimited {
                retry_after_secs: wait,
            });
        }
        let found = store.account_by_key(self.name_key);
        Ok(Signin::Found {
            account: found.as_ref().map(MemAccount::stored),
            hash: found.as_ref().map(|a| a.hash.clone()),
            reset_hash: found.and_then(|a| a.reset_hash),
        })
    }
}

impl Operation for SetPassword<'_> {
    type Output = Option<i64>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, version FROM chat.set_password($1, $2, $3)",
            params: vec![
                Param::Int(self.account.id),
                Param::Int(self.account.version),
                Param::Text(self.hash),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Option<i64>, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("set_password: no row"))?;
        Ok(match status(row)? {
            "changed" => Some(int(row, 1, "version")?),
            "stale" => None,
            other => return Err(malformed(&format!("set_password: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Option<i64>, StoreError> {
        let mut t = store.table::<Accounts>();
        let Some(a) = t
            .rows
            .iter_mut()
            .find(|a| a.id == self.account.id && a.version == self.account.version)
        else {
            return Ok(None);
        };
        a.hash = self.hash.into();
        a.version += 1;
        a.reset_hash = None;
        Ok(Some(a.version))
    }
}

impl Operation for RenameAccount<'_> {
    type Output = Renamed;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT status, id, name, role, version FROM chat.rename_account($1, $2, $3, $4)",
            params: vec![
                Param::Int(self.account.id),
                Param::Int(self.account.version),
                Param::Text(self.name),
                Param::Text(self.name_key),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Renamed, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("rename_account: no row"))?;
        Ok(match status(row)? {
            "renamed" => Renamed::Renamed(StoredAccount {
                id: int(row, 1, "id")?,
                name: text(row, 2, "name")?,
                moderator: role_is_moderator(row, 3)?,
                version: int(row, 4, "version")?,
            }),
            "name_taken" => Renamed::NameTaken,
            "signed_out" => Renamed::SignedOut,
            other => return Err(malformed(&format!("rename_account: status `{other}`"))),
        })
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Renamed, StoreError> {
        let mut t = store.table::<Accounts>();
        let (id, version) = (self.account.id, self.account.version);
        if !t.rows.iter().any(|a| a.id == id && a.version == version) {
            return Ok(Renamed::SignedOut);
        }
        if t.rows.iter().any(|a| a.key == self.name_key && a.id != id) {
            return Ok(Renamed::NameTaken);
        }
        let a = t
            .rows
            .iter_mut()
            .find(|a| a.id == id)
            .expect("checked above");
        a.name = self.name.into();
        a.key = self.name_key.into();
        a.version += 1;
        Ok(Renamed::Renamed(a.stored()))
    }
}

/// The accounts, in memory (as chat.accounts and chat.guest_addresses).
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
pub(crate) struct Accounts {
    rows: Vec<MemAccount>,
    /// (name key, client address) of guest sessions -> when first seen
    /// (a [`MemStore::tick`]).
    pub(crate) guests: std::collections::HashMap<(String, String), u64>,
}

#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone)]
struct MemAccount {
    id: i64,
    name: String,
    key: String,
    hash: String,
    moderator: bool,
    version: i64,
    reset_hash: Option<String>,
}

#[cfg(any(test, feature = "testing"))]
impl MemAccount {
    fn stored(&self) -> StoredAccount {
        StoredAccount {
            id: self.id,
            name: self.name.clone(),
            moderator: self.moderator,
            version: self.version,
        }
    }
}

/// What the operator's SQL commands do (chat.grant_role,
/// chat.reset_password), and the checks the writing functions share.
#[cfg(any(test, feature = "testing"))]
impl MemStore {
    fn account_by_key(&self, key: &str) -> Option<MemAccount> {
        self.table::<Accounts>()
            .rows
            .iter()
            .find(|a| a.key == key)
            .cloned()
    }

    /// The account id holding the name key, if any.
    pub(crate) fn account_id_of(&self, key: &str) -> Option<i64> {
        self.account_by_key(key).map(|a| a.id)
    }

    /// The mute keys of the addresses guests of a name came from.
    pub(crate) fn guest_addresses(&self, key: &str) -> Vec<String> {
        let mut addrs: Vec<String> = self
            .table::<Accounts>()
            .guests
            .keys()
            .filter(|(k, _)| k == key)
            .map(|(_, client)| format!("addr:{client}"))
            .collect();
        addrs.sort();
        addrs
    }

    /// As `SELECT chat.grant_role(name, 'moderator' | 'member')`.
    pub fn grant_role(&self, name_key: &str, moderator: bool) {
        let mut t = self.table::<Accounts>();
        if let Some(a) = t.rows.iter_mut().find(|a| a.key == name_key) {
            a.moderator = moderator;
            a.version += 1;
        }
    }

    /// As `SELECT chat.reset_password(name)`, with the code's SHA-256 (hex).
    pub fn reset_password(&self, name_key: &str, code_sha256_hex: &str) {
        let mut t = self.table::<Accounts>();
        if let Some(a) = t.rows.iter_mut().find(|a| a.key == name_key) {
            a.hash = "!".into();
            a.version += 1;
            a.reset_hash = Some(code_sha256_hex.into());
        }
    }

    /// As chat.is_moderator.
    pub(crate) fn is_moderator(&self, account: AccountRef) -> bool {
        self.table::<Accounts>()
            .rows
            .iter()
            .any(|a| a.id == account.id && a.version == account.version && a.moderator)
    }

    /// As chat.writer_status.
    pub(crate) fn writer_refusal(
        &self,
        room: Option<&str>,
        writer: &super::Writer<'_>,
        room_rule: bool,
    ) -> Option<super::Refusal> {
        use super::Refusal;
        if let Some(a) = writer.account {
            let current = self
                .table::<Accounts>()
                .rows
                .iter()
                .any(|r| r.id == a.id && r.version == a.version);
            return (!current).then_some(Refusal::SignedOut);
        }
        if self.account_by_key(writer.name_key).is_some() {
            return Some(Refusal::NameClaimed);
        }
        let closed = room_rule
            && room.is_some_and(|room| {
                self.rooms
                    .borrow()
                    .iter()
                    .any(|r| r.id == room && r.members_only == Some(true))
            });
        closed.then_some(Refusal::MembersOnly)
    }

    /// As chat.writer_gate, the gate every new text passes, in its order:
    /// the writer's status, a mute, then a token from the author's bucket
    /// for the room. `None`: it passes (a token was taken).
    pub(crate) fn writer_gate(
        &self,
        room: &str,
        author: &str,
        writer: &super::Writer<'_>,
        limit: super::Limit,
    ) -> Option<super::memory::Gated> {
        if let Some(refusal) = self.writer_refusal(Some(room), writer, true) {
            return Some(super::memory::Gated::Refused(refusal));
        }
        if let Some(until) = self.writer_muted_until(room, author, writer) {
            return Some(super::memory::Gated::Muted(until));
        }
        let wait = self.take(format!("post:{room}:{author}"), limit);
        (wait > 0).then_some(super::memory::Gated::RateLimited(wait))
    }

    /// As chat.writer_muted_until.
    pub(crate) fn writer_muted_until(
        &self,
        room: &str,
        author: &str,
        writer: &super::Writer<'_>,
    ) -> Option<String> {
        let first_seen = self
            .table::<Accounts>()
            .guests
            .get(&(writer.name_key.to_string(), writer.client.to_string()))
            .copied();
        let addr = format!("addr:{}", writer.client);
        let mutes = self.mutes.borrow();
        mutes
            .iter()
            .filter(|((_, scope), _)| scope == room || scope == "*")
            .filter(|((key, _), (_, _, since))| match writer.account {
                Some(a) => *key == format!("account:{}", a.id),
                None if *key == addr => first_seen.is_none_or(|seen| seen >= *since),
                None => {
                    *key == format!("name:{}", writer.name_key) || *key == author.to_lowercase()
                }
            })
            .map(|(_, (until, ..))| until.clone())
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    #[test]
    fn a_sign_in_reads_an_account_or_none_alike() {
        let op = LoginStart {
            name_key: "alice",
            client: "192.0.2.1",
            limit: Limit::OFF,
        };
        let found = R(vec![
            Value::Text("ok"),
            Value::Int(0),
            Value::Int(7),
            Value::Text("Alice"),
            Value::Text("moderator"),
            Value::Int(3),
            Value::Text("$argon2id$..."),
            Value::Null,
        ]);
        assert_eq!(
            op.read(&[found]),
            Ok(Signin::Found {
                account: Some(StoredAccount {
                    id: 7,
                    name: "Alice".into(),
                    moderator: true,
                    version: 3
                }),
                hash: Some("$argon2id$...".into()),
                reset_hash: None,
            })
        );
        let unknown = R(vec![
            Value::Text("ok"),
            Value::Int(0),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ]);
        assert_eq!(
            op.read(&[unknown]),
            Ok(Signin::Found {
                account: None,
                hash: None,
                reset_hash: None
            })
        );
        let limited = R(vec![Value::Text("rate_limited"), Value::Int(1500)]);
        assert_eq!(
            op.read(&[limited]),
            Ok(Signin::RateLimited {
                retry_after_secs: 2
            })
        );
        let odd_role = R(vec![
            Value::Text("ok"),
            Value::Int(0),
            Value::Int(7),
            Value::Text("Alice"),
            Value::Text("owner"),
            Value::Int(3),
            Value::Null,
            Value::Null,
        ]);
        assert!(op.read(&[odd_role]).is_err());
    }
}
