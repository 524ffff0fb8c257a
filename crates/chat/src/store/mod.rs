//! The data-access boundary: each store operation in one place.
//!
//! An operation is a type (one file each: `rooms`, `page`, `post`, `edit`,
//! `remove`, `react`, `read`, `mute`, `presence`, `poll`, `accounts`, `health`) that holds its
//! inputs and says everything about itself: its outcome type, the SQL
//! statement that runs it (a call of a `chat.*` function), how that
//! statement's rows read, whether a replica may answer it, and (for tests)
//! what it does to the in-memory store. A [`Store`] runs operations:
//!
//! - every SQL store at once, by the blanket impl over [`Runner`] (Spin's
//!   outbound Postgres in `chat-spin`, tokio-postgres in `testkit`): one
//!   statement, its rows read by the operation;
//! - [`crate::replica::Replicated`], by one read path chosen by
//!   [`Operation::ACCESS`]: a new write needs nothing there;
//! - the in-memory store of the tests (`memory.rs`, `crate::testing::MemStore`),
//!   by [`Operation::in_memory`].
//!
//! Keeping the trait free of Spin types is what lets all HTTP behaviour be
//! tested natively.

use super::sql::{Row, Runner, Statement};
use crate::error::ApiError;

/// Why a store operation failed: whether it may pass by itself, and the
/// database's own error underneath (its `source`), for the server's log
/// only (see [`crate::error::report`]).
#[derive(Debug, Clone)]
pub enum StoreError {
    /// The database cannot be reached, or failed in a way that passes
    /// (connection refused, a restart, a failover, a timeout, ...).
    Unavailable(Cause),
    /// The database answered with an error retrying will not mend (a
    /// missing migration, a permission, a bug).
    Failed(Cause),
}

/// The error underneath a [`StoreError`]: the backend's own (Spin's or
/// tokio-postgres'), or a text where there is nothing more. Shared, so a
/// store error can be cloned (a replica's failure is both reported and
/// logged).
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// A failure that `passes` (see [`sql::Failure::passes`]) or not,
    /// caused by `cause` (an error, or a `&str` or `String`).
    pub fn new(
        passes: bool,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> StoreError {
        let cause = Cause::from(cause.into());
        if passes {
            StoreError::Unavailable(cause)
        } else {
            StoreError::Failed(cause)
        }
    }

    /// Whether retrying later may succeed (a 503, not a 500).
    pub fn passes(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreError::Unavailable(_) => "database unavailable",
            StoreError::Failed(_) => "database error",
        })
    }
}

/// The same kind, and the same causes as text (errors do not compare).
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.passes() == other.passes() && crate::error::report(self) == crate::error::report(other)
    }
}

impl Eq for StoreError {}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Unavailable(c) | StoreError::Failed(c) => Some(&**c),
        }
    }
}

/// A failure that may pass (the database restarting, a lost connection)
/// is a 503 with `Retry-After`; any other (a missing migration, a
/// permission, a bug) is a 500, since retrying will not help. Either way the
/// database's own text never reaches the client: it is the error's cause,
/// for the log.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let error = match e {
            StoreError::Unavailable(_) => ApiError::database_unavailable(),
            StoreError::Failed(_) => ApiError::internal(
                "internal_error",
                "the server could not complete this request and has logged why; \
                 try again later, and tell the operator if it persists",
            ),
        };
        error.with_cause(crate::error::report(&e))
    }
}

/// A rate limit: `burst` at once, refilled at `per_minute`. Either at 0
/// turns it off. Kept in the database, so it holds across every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub burst: u32,
    pub per_minute: u32,
}

impl Limit {
    pub const OFF: Limit = Limit {
        burst: 0,
        per_minute: 0,
    };

    pub fn is_off(&self) -> bool {
        self.burst == 0 || self.per_minute == 0
    }
}

mod accounts;
mod edit;
mod health;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod memory;
mod mute;
mod page;
mod poll;
mod post;
mod presence;
mod react;
mod read;
mod remove;
mod rooms;
pub mod sql;

pub use accounts::{
    ClaimAllowed, ClaimCheck, CreateAccount, GuestJoin, Joined, LoginStart, RenameAccount, Renamed,
    SetPassword, Signin, StoredAccount,
};
pub use edit::{Edit, Edited};
pub use health::{Health, Source};
pub use mute::{MuteName, Muted};
pub use page::ReadPage;
pub use poll::{Poll, Polled};
pub use post::{Post, Posted};
pub use presence::{Announce, Leave};
pub use react::{MAX_EMOJI_PER_MESSAGE, React, Reacted};
pub use read::{MAX_READ_MARKS, MarkRead, Marked, ReadMarks};
pub use remove::{Remove, Removed, Remover};
pub use rooms::{CreateRoom, ListRooms, Moderator, RoomSet, SetMembersOnly};

/// An account as a session names it: its id, and its version when the
/// session began (a password change raises it; see `sql/0009_accounts.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRef {
    pub id: i64,
    pub version: i64,
}

/// Who writes, as the database checks it: an account's session, or a guest
/// (by its name's key, [`crate::names::key`]), from a client address. The
/// default is a guest with no key and no address, which no check refuses
/// (tests of other things use it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writer<'a> {
    pub account: Option<AccountRef>,
    pub name_key: &'a str,
    pub client: &'a str,
}

impl<'a> Writer<'a> {
    /// Its four parameters, in the order the writing functions take them:
    /// account id, version, name key, client address.
    pub(crate) fn params(&self) -> [sql::Param<'a>; 4] {
        use sql::Param;
        let (id, version) = match self.account {
            Some(a) => (Param::Int(a.id), Param::Int(a.version)),
            None => (Param::Null, Param::Null),
        };
        [
            id,
            version,
            Param::Text(self.name_key),
            Param::Text(self.client),
        ]
    }
}

/// Why a writer may not write, besides a mute or a limit (checked in this
/// order, before them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An account's session older than its password: sign in again.
    SignedOut,
    /// A guest whose name an account has claimed since the session began.
    NameClaimed,
    /// A guest in a members-only room.
    MembersOnly,
}

impl Refusal {
    /// The refusal a status column names, if it names one.
    pub(crate) fn from_status(status: &str) -> Option<Refusal> {
        match status {
            "signed_out" => Some(Refusal::SignedOut),
            "name_claimed" => Some(Refusal::NameClaimed),
            "members_only" => Some(Refusal::MembersOnly),
            _ => None,
        }
    }
}

/// Where a read was served, as the database itself says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadSource {
    /// A streaming replica (in recovery), not a primary.
    pub replica: bool,
    /// How far its replay is behind, in milliseconds (0 on a primary).
    pub lag_ms: i64,
}

impl ReadSource {
    pub const PRIMARY: ReadSource = ReadSource {
        replica: false,
        lag_ms: 0,
    };
}

/// Where an operation may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only on the primary: it writes, or must see the newest state.
    Primary,
    /// On a replica that says it is fit to answer (one short statement
    /// first, [`Source`]), else on the primary.
    Replica,
    /// On a replica whose answer says itself where it was read
    /// ([`Operation::source`]), so nothing is asked first.
    ReplicaSaysSource,
}

/// One store operation (see the module doc).
pub trait Operation {
    /// What became of it.
    type Output;
    /// Where it may run.
    const ACCESS: Access;
    /// The statement that runs it.
    fn statement(&self) -> Statement<'_>;
    /// Its outcome, from the statement's rows (read by position; see
    /// [`sql`]).
    fn read(&self, rows: &[impl Row]) -> Result<Self::Output, StoreError>;
    /// For [`Access::ReplicaSaysSource`]: where the answer was read.
    fn source(&self, _answer: &Self::Output) -> Option<ReadSource> {
        None
    }
    /// Whether a replica's answer will do; when not (it does not know the
    /// room yet, or does not reach the client's own post), the primary
    /// answers.
    fn replica_may_answer(&self, _answer: &Self::Output) -> bool {
        true
    }
    /// What it does to the in-memory store (tests only).
    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &memory::MemStore) -> Result<Self::Output, StoreError>;
}

/// Chat persistence: runs [`Operation`]s, whose inputs the caller has
/// already validated.
///
/// `async fn` in a public trait has no `Send` bound on its futures; that is
/// intended, since Spin components are single-threaded.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Runs `op` (see [`Operation`] for what it says about itself).
    async fn run<O: Operation>(&self, op: &O) -> Result<O::Output, StoreError>;
    /// Whether reads can be served while [`Health`] fails: a store that
    /// reads from elsewhere (a replica) asks there. By default there is
    /// nowhere else.
    async fn read_health(&self) -> Result<(), StoreError> {
        Err(StoreError::new(
            true,
            "no database to read from but the primary",
        ))
    }
}

/// Every SQL store: one statement per operation.
impl<R: Runner> Store for R {
    async fn run<O: Operation>(&self, op: &O) -> Result<O::Output, StoreError> {
        op.read(&self.query(op.statement()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_never_leak() {
        for (e, status, code, retry_after) in [
            (
                StoreError::new(true, "connection to 10.0.0.5 refused"),
                503,
                "database_unavailable",
                Some(2),
            ),
            (
                StoreError::new(false, "relation chat.messages: password=hunter2"),
                500,
                "internal_error",
                None,
            ),
        ] {
            let api: ApiError = e.into();
            assert_eq!(
                (api.status, api.code, api.retry_after),
                (status, code, retry_after)
            );
            let json = api.to_json();
            assert!(
                !json.contains("10.0.0.5") && !json.contains("hunter2"),
                "{json}"
            );
            // The cause goes to the log, whole.
            let cause = api.cause.expect("a cause");
            assert!(
                cause.starts_with("database ")
                    && (cause.ends_with("refused") || cause.ends_with("hunter2")),
                "{cause}"
            );
        }
    }
}
