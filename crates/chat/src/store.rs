//! The data-access boundary.
//!
//! The API logic only needs these operations; the Spin components
//! implement them over Spin's outbound Postgres (calling the `chat.*` SQL
//! functions), and the unit tests implement them in memory. Keeping the
//! trait free of Spin types is what lets all HTTP behaviour be tested
//! natively.

use crate::error::ApiError;
use crate::model::{Message, Room};
use crate::validate::{Page, PollQuery};

/// Why a store operation failed. The text is for server logs only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, timeout, ...).
    Unavailable(String),
    /// The database answered with an unexpected error.
    Failed(String),
}

impl StoreError {
    /// The log text, for the component to print to stderr.
    pub fn detail(&self) -> &str {
        match self {
            StoreError::Unavailable(s) | StoreError::Failed(s) => s,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(s) => write!(f, "database unavailable: {s}"),
            StoreError::Failed(s) => write!(f, "database error: {s}"),
        }
    }
}

impl std::error::Error for StoreError {}

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
        error.with_cause(e.to_string())
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

/// What one poll reads, in one snapshot of one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    /// The open room's messages after the cursor, ascending.
    pub messages: Vec<Message>,
    /// Every room (or the listed ones that exist), oldest first.
    pub rooms: Vec<Room>,
    pub source: ReadSource,
}

/// Chat persistence. Inputs are already validated by the caller.
///
/// `async fn` in a public trait has no `Send` bound on its futures; that is
/// intended, since Spin components are single-threaded.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// All rooms, oldest first.
    async fn list_rooms(&self) -> Result<Vec<Room>, StoreError>;
    /// None when a room with this id exists already.
    async fn create_room(&self, id: &str, title: &str) -> Result<Option<Room>, StoreError>;
    /// Messages ascending by id; None when the room does not exist.
    async fn messages(&self, room: &str, page: Page) -> Result<Option<Vec<Message>>, StoreError>;
    /// Appends a message, unless the room does not exist, it is a replay of
    /// (room, author, client_id) (the original comes back), or the author
    /// is over `limit` in this room (counted before anything is stored).
    async fn send_message(
        &self,
        room: &str,
        author: &str,
        body: &str,
        client_id: &str,
        limit: Limit,
    ) -> Result<Posted, StoreError>;
    /// Takes one of the client address's session tokens: `None` when a new
    /// session is allowed, else the seconds to wait.
    async fn allow_session(&self, client: &str, limit: Limit) -> Result<Option<u32>, StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
    /// The single poll (see [`PollQuery`]); None when the room does not
    /// exist. One statement, one snapshot.
    async fn poll(&self, query: &PollQuery<'_>) -> Result<Option<Polled>, StoreError>;
    /// Whether this store's database is a replica, and how far behind.
    async fn read_source(&self) -> Result<ReadSource, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_never_leak() {
        for (e, status, code, retry_after) in [
            (
                StoreError::Unavailable("connection to 10.0.0.5 refused".into()),
                503,
                "database_unavailable",
                Some(2),
            ),
            (
                StoreError::Failed("relation chat.messages: password=hunter2".into()),
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
        }
    }
}
