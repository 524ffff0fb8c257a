//! The data-access boundary.
//!
//! The API logic only needs these operations; the Spin components
//! implement them over Spin's outbound Postgres (calling the `chat.*` SQL
//! functions), and the unit tests implement them in memory. Keeping the
//! trait free of Spin types is what lets all HTTP behaviour be tested
//! natively.

use crate::error::ApiError;
use crate::model::{Message, Room};
use crate::model::{Page, PollQuery};

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
    /// A failure that `passes` (see [`crate::sql::Failure::passes`]) or not,
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
}

/// A post, with the session that sends it (None for a token issued before
/// sessions had ids: such a message can be removed by a moderator only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Post<'a> {
    pub room: &'a str,
    pub author: &'a str,
    pub body: &'a str,
    pub client_id: &'a str,
    pub session: Option<&'a str>,
    pub limit: Limit,
}

/// An edit of message `id` by `session`, allowed for `window_secs` after
/// the message was sent; it takes from the author's post limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit<'a> {
    pub room: &'a str,
    pub id: i64,
    pub session: Option<&'a str>,
    pub body: &'a str,
    pub window_secs: i64,
    pub limit: Limit,
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

/// What became of a mute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Muted {
    /// In force until this time (RFC 3339).
    Until(String),
    /// Lifted (a duration of 0).
    Lifted,
    UnknownRoom,
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
    /// The names present in the open room (seen in the last minute).
    pub present: Vec<String>,
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
    /// Events ascending by id; None when the room does not exist. Pages
    /// after a cursor hold every event; the others (scrolling back) only
    /// messages, as they are now.
    async fn messages(&self, room: &str, page: Page) -> Result<Option<Vec<Message>>, StoreError>;
    /// Appends a message, unless the room does not exist, it is a replay of
    /// (room, author, client_id) (the original comes back), the author's
    /// name is muted, or the author is over the limit in this room (counted
    /// before anything is stored).
    async fn post(&self, post: &Post<'_>) -> Result<Posted, StoreError>;
    /// [`Store::post`] without a session.
    async fn send_message(
        &self,
        room: &str,
        author: &str,
        body: &str,
        client_id: &str,
        limit: Limit,
    ) -> Result<Posted, StoreError> {
        self.post(&Post {
            room,
            author,
            body,
            client_id,
            session: None,
            limit,
        })
        .await
    }
    /// Edits a message (see [`Edited`] for the outcomes, in checking order).
    async fn edit_message(&self, edit: &Edit<'_>) -> Result<Edited, StoreError>;
    /// Removes a message: a `removal` event, and its text (and its edits'
    /// texts) erased. A moderator's removal is logged.
    async fn remove_message(
        &self,
        room: &str,
        id: i64,
        by: Remover<'_>,
    ) -> Result<Removed, StoreError>;
    /// Mutes `name` in `room` (None: everywhere) for `secs` (0 lifts it),
    /// logged as done by `actor`.
    async fn mute(
        &self,
        name: &str,
        room: Option<&str>,
        secs: i64,
        actor: &str,
    ) -> Result<Muted, StoreError>;
    /// `name` (keyed by `key`, its session) is in `room` now: the present
    /// names after it, or None for an unknown room.
    async fn announce(
        &self,
        room: &str,
        key: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, StoreError>;
    /// `key` left `room`: the present names after it, or None.
    async fn leave(&self, room: &str, key: &str) -> Result<Option<Vec<String>>, StoreError>;
    /// Takes one of the client address's session tokens: `None` when a new
    /// session is allowed, else the seconds to wait.
    async fn allow_session(&self, client: &str, limit: Limit) -> Result<Option<u32>, StoreError>;
    /// Whether the database that takes writes answers.
    async fn health(&self) -> Result<(), StoreError>;
    /// Whether reads can be served while [`Store::health`] fails: a store
    /// that reads from elsewhere (a replica) asks there. By default there
    /// is nowhere else.
    async fn read_health(&self) -> Result<(), StoreError> {
        Err(StoreError::new(
            true,
            "no database to read from but the primary",
        ))
    }
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
