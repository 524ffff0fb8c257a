//! The database contract: every statement a store runs, how its result reads,
//! and which database failures are worth a retry.
//!
//! Written once here so that the Spin store (`chat-spin`) and the native
//! baseline of the benchmark run the same SQL and read it the same way, and
//! so that reading results is unit-tested natively.
//!
//! Two rules keep the chat correct on every Spin host (see
//! `sql/0002_outcomes_as_data.sql`):
//! - **Expected outcomes are data.** An unknown room, a replayed message or a
//!   room id that is taken come back as a `status` column, never as a database
//!   error, so a 404 does not depend on how a host formats errors.
//! - **Columns are read by position**, never by name: an empty result carries
//!   no column metadata on some Spin releases, and every call here returns at
//!   least one row anyway.

use crate::model::{EventKind, Message, Room};
use crate::model::{Page, PollQuery};
use crate::store::{
    Edit, Edited, Limit, Muted, Polled, Post, Posted, ReadSource, Removed, Remover, Store,
    StoreError,
};

/// A statement parameter; each store converts it to its driver's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i64),
    /// SQL NULL where the statement expects a bigint.
    Null,
    /// SQL NULL where the statement expects text (drivers that bind typed
    /// values need to know which).
    NullText,
}

/// A statement with its parameters and how many rows it returns at most,
/// so a store can size its buffer once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub sql: &'static str,
    pub params: Vec<Param<'a>>,
    pub max_rows: usize,
}

/// One value of a result row, as a store's driver hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bool(bool),
    /// A type this contract never uses.
    Other,
}

/// A result row, read by column position.
pub trait Row {
    fn value(&self, column: usize) -> Value<'_>;
}

/// A database client that runs this module's statements. The whole
/// [`Store`] follows from it (a blanket impl), so a store over Spin's host
/// and one over tokio-postgres differ only in how they run a statement.
///
/// `async fn` without a `Send` bound, as [`Store`]: Spin components are
/// single-threaded.
#[allow(async_fn_in_trait)]
pub trait Runner {
    type Row: Row;
    /// All rows of `statement`, or the failure, classified by [`Failure::passes`].
    async fn run(&self, statement: Statement<'_>) -> Result<Vec<Self::Row>, StoreError>;
}

impl<R: Runner> Store for R {
    async fn list_rooms(&self) -> Result<Vec<Room>, StoreError> {
        rooms(&self.run(list_rooms()).await?)
    }

    async fn create_room(&self, id: &str, title: &str) -> Result<Option<Room>, StoreError> {
        added_room(&self.run(add_room(id, title)).await?)
    }

    async fn messages(&self, room: &str, p: Page) -> Result<Option<Vec<Message>>, StoreError> {
        page_rows(&self.run(page(room, p)).await?)
    }

    async fn post(&self, p: &Post<'_>) -> Result<Posted, StoreError> {
        posted(&self.run(post_message(p)).await?)
    }

    async fn edit_message(&self, edit: &Edit<'_>) -> Result<Edited, StoreError> {
        edited(&self.run(edit_message(edit)).await?)
    }

    async fn remove_message(
        &self,
        room: &str,
        id: i64,
        by: Remover<'_>,
    ) -> Result<Removed, StoreError> {
        removed(&self.run(remove_message(room, id, by)).await?)
    }

    async fn mute(
        &self,
        name: &str,
        room: Option<&str>,
        secs: i64,
        actor: &str,
    ) -> Result<Muted, StoreError> {
        muted(&self.run(mute_name(name, room, secs, actor)).await?)
    }

    async fn announce(
        &self,
        room: &str,
        key: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        present(&self.run(announce(room, key, name)).await?)
    }

    async fn leave(&self, room: &str, key: &str) -> Result<Option<Vec<String>>, StoreError> {
        present(&self.run(leave(room, key)).await?)
    }

    async fn allow_session(&self, client: &str, limit: Limit) -> Result<Option<u32>, StoreError> {
        session_wait(&self.run(session_allowed(client, limit)).await?)
    }

    async fn health(&self) -> Result<(), StoreError> {
        healthy(&self.run(health()).await?)
    }

    async fn poll(&self, query: &PollQuery<'_>) -> Result<Option<Polled>, StoreError> {
        let rooms = query.rooms.as_ref().map(|ids| ids.join(","));
        polled(&self.run(poll(query, rooms.as_deref())).await?)
    }

    async fn read_source(&self) -> Result<ReadSource, StoreError> {
        source(&self.run(read_source()).await?)
    }
}

/// Rooms can number in the thousands; this only sizes the first buffer.
const ROOMS_HINT: usize = 16;

pub fn list_rooms() -> Statement<'static> {
    Statement {
        sql: "SELECT id, title, last_message_id FROM chat.list_rooms()",
        params: Vec::new(),
        max_rows: ROOMS_HINT,
    }
}

pub fn add_room<'a>(id: &'a str, title: &'a str) -> Statement<'a> {
    Statement {
        sql: "SELECT status, id, title, last_message_id FROM chat.add_room($1, $2)",
        params: vec![Param::Text(id), Param::Text(title)],
        max_rows: 1,
    }
}

/// A page of events: the status row, then up to `limit` events.
pub fn page(room: &str, page: Page) -> Statement<'_> {
    let (after, before) = match page {
        Page::After { after, .. } => (Param::Int(after), Param::Null),
        Page::Before { before, .. } => (Param::Null, Param::Int(before)),
        Page::Latest { .. } => (Param::Null, Param::Null),
        Page::Between { after, before, .. } => (Param::Int(after), Param::Int(before)),
    };
    Statement {
        sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, session, \
              edited_at, removed_at, removed_by FROM chat.room_events($1, $2, $3, $4)",
        params: vec![Param::Text(room), after, before, Param::Int(page.limit())],
        max_rows: usize::try_from(page.limit()).unwrap_or(0) + 1,
    }
}

fn text_or_null(value: Option<&str>) -> Param<'_> {
    value.map_or(Param::NullText, Param::Text)
}

pub fn post_message<'a>(p: &Post<'a>) -> Statement<'a> {
    Statement {
        sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, session, \
              edited_at, removed_at, removed_by, retry_after_ms, until \
              FROM chat.post_message($1, $2, $3, $4, $5, $6, $7)",
        params: vec![
            Param::Text(p.room),
            Param::Text(p.author),
            Param::Text(p.body),
            Param::Text(p.client_id),
            text_or_null(p.session),
            Param::Int(p.limit.burst.into()),
            Param::Int(p.limit.per_minute.into()),
        ],
        max_rows: 1,
    }
}

pub fn edit_message<'a>(e: &Edit<'a>) -> Statement<'a> {
    Statement {
        sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, session, \
              edited_at, removed_at, removed_by, retry_after_ms, until \
              FROM chat.edit_message($1, $2, $3, $4, $5, $6, $7)",
        params: vec![
            Param::Text(e.room),
            Param::Int(e.id),
            text_or_null(e.session),
            Param::Text(e.body),
            Param::Int(e.window_secs),
            Param::Int(e.limit.burst.into()),
            Param::Int(e.limit.per_minute.into()),
        ],
        max_rows: 1,
    }
}

pub fn remove_message<'a>(room: &'a str, id: i64, by: Remover<'a>) -> Statement<'a> {
    let (session, moderator) = match by {
        Remover::Author(session) => (text_or_null(session), Param::NullText),
        Remover::Moderator(actor) => (Param::NullText, Param::Text(actor)),
    };
    Statement {
        sql: "SELECT status, id, room, author, body, client_id, sent_at, event, target, session, \
              edited_at, removed_at, removed_by, retry_after_ms, until \
              FROM chat.remove_message($1, $2, $3, $4)",
        params: vec![Param::Text(room), Param::Int(id), session, moderator],
        max_rows: 1,
    }
}

pub fn mute_name<'a>(
    name: &'a str,
    room: Option<&'a str>,
    secs: i64,
    actor: &'a str,
) -> Statement<'a> {
    Statement {
        sql: "SELECT status, name, room, until FROM chat.mute_name($1, $2, $3, $4)",
        params: vec![
            Param::Text(name),
            text_or_null(room),
            Param::Int(secs),
            Param::Text(actor),
        ],
        max_rows: 1,
    }
}

/// At most this many names come back as present (chat.present_names).
const MAX_PRESENT: usize = 100;

pub fn announce<'a>(room: &'a str, key: &'a str, name: &'a str) -> Statement<'a> {
    Statement {
        sql: "SELECT status, name FROM chat.announce($1, $2, $3)",
        params: vec![Param::Text(room), Param::Text(key), Param::Text(name)],
        max_rows: MAX_PRESENT + 1,
    }
}

pub fn leave<'a>(room: &'a str, key: &'a str) -> Statement<'a> {
    Statement {
        sql: "SELECT status, name FROM chat.leave($1, $2)",
        params: vec![Param::Text(room), Param::Text(key)],
        max_rows: MAX_PRESENT + 1,
    }
}

/// One session token for the client address `client`.
pub fn session_allowed(client: &str, limit: Limit) -> Statement<'_> {
    Statement {
        sql: "SELECT chat.session_allowed($1, $2, $3)",
        params: vec![
            Param::Text(client),
            Param::Int(limit.burst.into()),
            Param::Int(limit.per_minute.into()),
        ],
        max_rows: 1,
    }
}

/// The single poll: a status row (with where it was read), the rooms, then
/// the open room's messages after the cursor. `rooms` is the comma-joined
/// list of rooms to list (`None`: every room).
pub fn poll<'a>(query: &'a PollQuery<'_>, rooms: Option<&'a str>) -> Statement<'a> {
    Statement {
        sql: "SELECT kind, id, room, author, body, client_id, sent_at, event, target, session, \
              edited_at, removed_at, removed_by, title FROM chat.poll_events($1, $2, $3, $4)",
        params: vec![
            Param::Text(&query.room),
            Param::Int(query.after),
            Param::Int(query.limit),
            rooms.map_or(Param::NullText, Param::Text),
        ],
        max_rows: usize::try_from(query.limit).unwrap_or(0)
            + 1
            + query.rooms.as_ref().map_or(ROOMS_HINT, Vec::len)
            + 8,
    }
}

/// Whether the database is a replica, and its replay lag.
pub fn read_source() -> Statement<'static> {
    Statement {
        sql: "SELECT source, lag_ms FROM chat.read_source()",
        params: Vec::new(),
        max_rows: 1,
    }
}

pub fn health() -> Statement<'static> {
    Statement {
        sql: "SELECT chat.health()",
        params: Vec::new(),
        max_rows: 1,
    }
}

fn malformed(what: &str) -> StoreError {
    StoreError::new(
        false,
        format!(
            "unexpected result from the database ({what}); are the migrations in sql/ applied?"
        ),
    )
}

fn int(row: &impl Row, i: usize, name: &str) -> Result<i64, StoreError> {
    match row.value(i) {
        Value::Int(v) => Ok(v),
        _ => Err(malformed(&format!("column {i} `{name}` is not a bigint"))),
    }
}

fn text(row: &impl Row, i: usize, name: &str) -> Result<String, StoreError> {
    match row.value(i) {
        Value::Text(v) => Ok(v.to_string()),
        _ => Err(malformed(&format!("column {i} `{name}` is not text"))),
    }
}

fn opt_text(row: &impl Row, i: usize, name: &str) -> Result<Option<String>, StoreError> {
    match row.value(i) {
        Value::Null => Ok(None),
        Value::Text(v) => Ok(Some(v.to_string())),
        _ => Err(malformed(&format!("column {i} `{name}` is not text"))),
    }
}

fn opt_int(row: &impl Row, i: usize, name: &str) -> Result<Option<i64>, StoreError> {
    match row.value(i) {
        Value::Null => Ok(None),
        Value::Int(v) => Ok(Some(v)),
        _ => Err(malformed(&format!("column {i} `{name}` is not a bigint"))),
    }
}

fn status(row: &impl Row) -> Result<&str, StoreError> {
    match row.value(0) {
        Value::Text(s) => Ok(s),
        _ => Err(malformed("no status column")),
    }
}

/// Columns 1..=12 of an event row: id, room, author, body, client_id,
/// sent_at, event, target, session, edited_at, removed_at, removed_by.
fn message(row: &impl Row) -> Result<Message, StoreError> {
    let kind = match text(row, 7, "event")?.as_str() {
        "message" => EventKind::Message,
        "edit" => EventKind::Edit,
        "removal" => EventKind::Removal,
        other => return Err(malformed(&format!("event kind `{other}`"))),
    };
    Ok(Message {
        id: int(row, 1, "id")?,
        room: text(row, 2, "room")?,
        author: text(row, 3, "author")?,
        body: text(row, 4, "body")?,
        client_id: text(row, 5, "client_id")?,
        sent_at: text(row, 6, "sent_at")?,
        kind,
        target: opt_int(row, 8, "target")?,
        session: opt_text(row, 9, "session")?,
        edited_at: opt_text(row, 10, "edited_at")?,
        removed_at: opt_text(row, 11, "removed_at")?,
        removed_by: opt_text(row, 12, "removed_by")?,
    })
}

/// The rows of [`list_rooms`].
pub fn rooms(rows: &[impl Row]) -> Result<Vec<Room>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(Room {
                id: text(row, 0, "id")?,
                title: text(row, 1, "title")?,
                last_message_id: int(row, 2, "last_message_id")?,
            })
        })
        .collect()
}

/// The result of [`add_room`]: the new room, or `None` when the id is taken.
pub fn added_room(rows: &[impl Row]) -> Result<Option<Room>, StoreError> {
    let row = rows.first().ok_or_else(|| malformed("add_room: no row"))?;
    match status(row)? {
        "created" => Ok(Some(Room {
            id: text(row, 1, "id")?,
            title: text(row, 2, "title")?,
            last_message_id: int(row, 3, "last_message_id")?,
        })),
        "exists" => Ok(None),
        other => Err(malformed(&format!("add_room: status `{other}`"))),
    }
}

/// The result of [`page`]: the messages, or `None` for an unknown room.
pub fn page_rows(rows: &[impl Row]) -> Result<Option<Vec<Message>>, StoreError> {
    let (head, messages) = rows
        .split_first()
        .ok_or_else(|| malformed("page: no status row"))?;
    match status(head)? {
        "ok" => {}
        "unknown_room" => return Ok(None),
        other => return Err(malformed(&format!("page: status `{other}`"))),
    }
    messages
        .iter()
        .map(|row| match status(row)? {
            "event" => message(row),
            other => Err(malformed(&format!("page: row status `{other}`"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `primary` or `replica`, and the lag, from a row's columns `kind_col`
/// and `lag_col`.
fn read_source_at(
    row: &impl Row,
    kind_col: usize,
    lag_col: usize,
) -> Result<ReadSource, StoreError> {
    let replica = match text(row, kind_col, "source")?.as_str() {
        "primary" => false,
        "replica" => true,
        other => return Err(malformed(&format!("source `{other}`"))),
    };
    Ok(ReadSource {
        replica,
        lag_ms: int(row, lag_col, "lag_ms")?,
    })
}

/// The result of [`read_source`].
pub fn source(rows: &[impl Row]) -> Result<ReadSource, StoreError> {
    let row = rows
        .first()
        .ok_or_else(|| malformed("read_source: no row"))?;
    read_source_at(row, 0, 1)
}

/// The result of [`poll`]: `None` for an unknown room.
pub fn polled(rows: &[impl Row]) -> Result<Option<Polled>, StoreError> {
    let (head, rest) = rows
        .split_first()
        .ok_or_else(|| malformed("poll: no status row"))?;
    match status(head)? {
        "ok" => {}
        "unknown_room" => return Ok(None),
        other => return Err(malformed(&format!("poll: status `{other}`"))),
    }
    let mut polled = Polled {
        messages: Vec::new(),
        rooms: Vec::new(),
        present: Vec::new(),
        source: read_source_at(head, 13, 1)?,
    };
    for row in rest {
        match status(row)? {
            "room" => polled.rooms.push(Room {
                id: text(row, 2, "room")?,
                title: text(row, 13, "title")?,
                last_message_id: int(row, 1, "id")?,
            }),
            "present" => polled.present.push(text(row, 3, "author")?),
            "event" => polled.messages.push(message(row)?),
            other => return Err(malformed(&format!("poll: row kind `{other}`"))),
        }
    }
    Ok(Some(polled))
}

/// Whole seconds to wait, from milliseconds (at least 1).
fn wait_secs(ms: i64) -> u32 {
    u32::try_from(((ms.max(1) + 999) / 1000).max(1)).unwrap_or(u32::MAX)
}

/// The result of [`post_message`].
pub fn posted(rows: &[impl Row]) -> Result<Posted, StoreError> {
    let row = rows
        .first()
        .ok_or_else(|| malformed("post_message: no row"))?;
    match status(row)? {
        "created" => Ok(Posted::Created(message(row)?)),
        "replayed" => Ok(Posted::Replayed(message(row)?)),
        "unknown_room" => Ok(Posted::UnknownRoom),
        "rate_limited" => Ok(Posted::RateLimited {
            retry_after_secs: wait_secs(int(row, 13, "retry_after_ms")?),
        }),
        "muted" => Ok(Posted::Muted {
            until: text(row, 14, "until")?,
        }),
        other => Err(malformed(&format!("post_message: status `{other}`"))),
    }
}

/// The result of [`edit_message`].
pub fn edited(rows: &[impl Row]) -> Result<Edited, StoreError> {
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
        other => return Err(malformed(&format!("edit_message: status `{other}`"))),
    })
}

/// The result of [`remove_message`].
pub fn removed(rows: &[impl Row]) -> Result<Removed, StoreError> {
    let row = rows
        .first()
        .ok_or_else(|| malformed("remove_message: no row"))?;
    Ok(match status(row)? {
        "removed" => Removed::Removed(message(row)?),
        "already_removed" => Removed::AlreadyRemoved(message(row)?),
        "unknown_room" => Removed::UnknownRoom,
        "unknown_message" => Removed::UnknownMessage,
        "not_yours" => Removed::NotYours,
        other => return Err(malformed(&format!("remove_message: status `{other}`"))),
    })
}

/// The result of [`mute_name`].
pub fn muted(rows: &[impl Row]) -> Result<Muted, StoreError> {
    let row = rows.first().ok_or_else(|| malformed("mute_name: no row"))?;
    Ok(match status(row)? {
        "muted" => Muted::Until(text(row, 3, "until")?),
        "unmuted" => Muted::Lifted,
        "unknown_room" => Muted::UnknownRoom,
        other => return Err(malformed(&format!("mute_name: status `{other}`"))),
    })
}

/// The result of [`announce`] and [`leave`]: the present names, or None
/// for an unknown room.
pub fn present(rows: &[impl Row]) -> Result<Option<Vec<String>>, StoreError> {
    let (head, rest) = rows
        .split_first()
        .ok_or_else(|| malformed("presence: no status row"))?;
    match status(head)? {
        "ok" => {}
        "unknown_room" => return Ok(None),
        other => return Err(malformed(&format!("presence: status `{other}`"))),
    }
    rest.iter()
        .map(|row| match status(row)? {
            "present" => text(row, 1, "name"),
            other => Err(malformed(&format!("presence: row status `{other}`"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The result of [`session_allowed`]: `None` when allowed, else the seconds
/// to wait.
pub fn session_wait(rows: &[impl Row]) -> Result<Option<u32>, StoreError> {
    let row = rows
        .first()
        .ok_or_else(|| malformed("session_allowed: no row"))?;
    match int(row, 0, "session_allowed")? {
        0 => Ok(None),
        ms => Ok(Some(wait_secs(ms))),
    }
}

/// The result of [`health`].
pub fn healthy(rows: &[impl Row]) -> Result<(), StoreError> {
    match rows.first().map(|row| row.value(0)) {
        Some(Value::Int(1)) => Ok(()),
        _ => Err(malformed("health: not 1")),
    }
}

/// A database failure as a store sees it, before classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// No connection could be had (refused, TLS, pool timeout, not allowed).
    Connect(&'a str),
    /// Postgres reported an error with this SQLSTATE (a structured error).
    Db { code: &'a str, text: &'a str },
    /// An error available only as text. Spin's synchronous `query` reports
    /// every error met while reading rows this way, with the structured
    /// error's debug form (and so its `code: "XXXXX"`) inside the text; a
    /// connection lost mid-query comes as text with no code.
    Text(&'a str),
    /// The request to the database was wrong (a parameter or value that does
    /// not convert): a bug, never fixed by retrying.
    Bug(&'a str),
}

/// Whether an error with this SQLSTATE may go away by itself, so a client
/// should retry (503) rather than report a bug (500).
pub fn retryable(sqlstate: &str) -> bool {
    matches!(
        sqlstate.get(..2),
        // connection exception; transaction rollback (serialization failure,
        // deadlock); insufficient resources (too many connections, disk full);
        // system error (I/O)
        Some("08" | "40" | "53" | "58")
    ) || matches!(
        sqlstate,
        // operator intervention: query cancelled (statement timeout), admin or
        // crash shutdown, cannot connect now (starting up)
        "57014" | "57P01" | "57P02" | "57P03"
            // lock not available (lock timeout); read-only transaction (a
            // standby that has not been promoted yet during a failover)
            | "55P03" | "25006"
    )
}

/// The SQLSTATE inside an error's text: the `code: "XXXXX"` of a structured
/// error's debug form (what Spin's synchronous `query` sends), or tokio-
/// postgres' own `SqlState(EXXXXX)`.
pub fn sqlstate_in_text(text: &str) -> Option<&str> {
    fn code_at(s: &str) -> Option<&str> {
        let code = s.get(..5)?;
        code.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            .then_some(code)
    }
    for (marker, close) in [("code: \"", '"'), ("code: \\\"", '\\'), ("SqlState(E", ')')] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            if let Some(code) = code_at(rest)
                && rest[5..].starts_with(close)
            {
                return Some(code);
            }
        }
    }
    None
}

impl Failure<'_> {
    /// Whether the failure may pass by itself, so a client should retry (a
    /// [`StoreError::Unavailable`], 503 with `Retry-After`) rather than be
    /// told of a bug (a [`StoreError::Failed`], 500).
    pub fn passes(&self) -> bool {
        match *self {
            Failure::Connect(_) => true,
            Failure::Db { code, .. } => retryable(code),
            // A text with no SQLSTATE in it is a connection lost mid-query.
            Failure::Text(text) => sqlstate_in_text(text).is_none_or(retryable),
            Failure::Bug(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as a test writes it.
    struct R(Vec<Value<'static>>);

    impl Row for R {
        fn value(&self, column: usize) -> Value<'_> {
            self.0.get(column).copied().unwrap_or(Value::Other)
        }
    }

    fn status_row(status: &'static str) -> R {
        let mut v = vec![Value::Text(status)];
        v.extend([Value::Null; 12]);
        R(v)
    }

    fn message_row(status: &'static str, id: i64) -> R {
        R(vec![
            Value::Text(status),
            Value::Int(id),
            Value::Text("general"),
            Value::Text("alice"),
            Value::Text("hi"),
            Value::Text("c-1"),
            Value::Text("2026-11-28T04:06:08.123Z"),
            Value::Text("message"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ])
    }

    #[test]
    fn polls_read_the_status_row_then_rooms_and_messages() {
        let head = |status: &'static str, source: &'static str, lag: i64| {
            let mut v = vec![Value::Text(status), Value::Int(lag)];
            v.extend([Value::Null; 11]);
            v.push(Value::Text(source));
            R(v)
        };
        let room = |id: &'static str, last: i64| {
            let mut v = vec![Value::Text("room"), Value::Int(last), Value::Text(id)];
            v.extend([Value::Null; 10]);
            v.push(Value::Text("Title"));
            R(v)
        };
        let message = |id: i64| {
            let mut r = message_row("event", id);
            r.0.push(Value::Null);
            r
        };
        assert_eq!(polled(&[head("unknown_room", "primary", 0)]), Ok(None));
        let p = polled(&[
            head("ok", "replica", 250),
            room("general", 9),
            room("rust", 2),
            message(8),
            message(9),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            p.source,
            ReadSource {
                replica: true,
                lag_ms: 250
            }
        );
        assert_eq!(
            p.rooms
                .iter()
                .map(|r| (r.id.as_str(), r.last_message_id))
                .collect::<Vec<_>>(),
            [("general", 9), ("rust", 2)]
        );
        assert_eq!(p.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [8, 9]);
        assert!(polled(&[] as &[R]).is_err());
        assert!(polled(&[head("ok", "standby", 0)]).is_err());
        assert!(polled(&[head("ok", "primary", 0), status_row("ok")]).is_err());
        assert_eq!(
            source(&[R(vec![Value::Text("primary"), Value::Int(0)])]),
            Ok(ReadSource::PRIMARY)
        );
        assert!(source(&[R(vec![Value::Text("primary"), Value::Null])]).is_err());
    }

    #[test]
    fn pages_read_the_status_row_first() {
        assert_eq!(page_rows(&[status_row("unknown_room")]), Ok(None));
        assert_eq!(page_rows(&[status_row("ok")]), Ok(Some(vec![])));
        let page = page_rows(&[
            status_row("ok"),
            message_row("event", 7),
            message_row("event", 8),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(page[0].author, "alice");
        // Anything else is an error, never a silently empty page.
        assert!(matches!(page_rows(&[] as &[R]), Err(StoreError::Failed(_))));
        assert!(page_rows(&[status_row("nope")]).is_err());
        assert!(page_rows(&[status_row("ok"), status_row("ok")]).is_err());
        assert!(page_rows(&[message_row("event", 1)]).is_err());
    }

    #[test]
    fn posts_report_created_replayed_unknown_room_or_rate_limited() {
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
        assert!(posted(&[] as &[R]).is_err());
        // A created row must carry the message; a limited one its wait.
        assert!(posted(&[status_row("created")]).is_err());
        assert!(posted(&[status_row("rate_limited")]).is_err());
        assert_eq!(session_wait(&[R(vec![Value::Int(0)])]), Ok(None));
        assert_eq!(session_wait(&[R(vec![Value::Int(2001)])]), Ok(Some(3)));
    }

    #[test]
    fn edits_removals_mutes_and_presence_read_their_outcomes() {
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
        let mut gone = message_row("already_removed", 4);
        gone.0[12] = Value::Text("moderator");
        assert!(matches!(
            removed(&[gone]),
            Ok(Removed::AlreadyRemoved(m)) if m.removed_by.as_deref() == Some("moderator")
        ));
        assert_eq!(
            removed(&[status_row("unknown_message")]),
            Ok(Removed::UnknownMessage)
        );
        let mute = |s: &'static str, until: Value<'static>| {
            R(vec![Value::Text(s), Value::Text("bob"), Value::Null, until])
        };
        assert_eq!(
            muted(&[mute("muted", Value::Text("T"))]),
            Ok(Muted::Until("T".into()))
        );
        assert_eq!(muted(&[mute("unmuted", Value::Null)]), Ok(Muted::Lifted));
        assert!(muted(&[mute("muted", Value::Null)]).is_err());
        let name = |s: &'static str, n: Value<'static>| R(vec![Value::Text(s), n]);
        assert_eq!(
            present(&[
                name("ok", Value::Null),
                name("present", Value::Text("alice"))
            ]),
            Ok(Some(vec!["alice".to_string()]))
        );
        assert_eq!(present(&[name("unknown_room", Value::Null)]), Ok(None));
        assert!(present(&[name("ok", Value::Null), name("present", Value::Null)]).is_err());
        // An event of an unknown kind is an error, never a message.
        let mut odd = message_row("event", 1);
        odd.0[7] = Value::Text("reaction");
        assert!(page_rows(&[status_row("ok"), odd]).is_err());
    }

    #[test]
    fn rooms_and_health() {
        let room = |s: &'static str| {
            R(vec![
                Value::Text(s),
                Value::Text("rust"),
                Value::Text("Rust"),
                Value::Int(0),
            ])
        };
        let created = added_room(&[room("created")]).unwrap().unwrap();
        assert_eq!((created.id.as_str(), created.last_message_id), ("rust", 0));
        assert_eq!(added_room(&[room("exists")]), Ok(None));
        let listed = rooms(&[R(vec![
            Value::Text("general"),
            Value::Text("General"),
            Value::Int(4),
        ])])
        .unwrap();
        assert_eq!(listed[0].last_message_id, 4);
        assert_eq!(rooms(&[] as &[R]), Ok(vec![]));
        assert_eq!(healthy(&[R(vec![Value::Int(1)])]), Ok(()));
        assert!(healthy(&[] as &[R]).is_err());
    }

    #[test]
    fn pages_pass_the_cursor_they_have_and_size_their_buffers() {
        let s = page(
            "general",
            Page::After {
                after: 5,
                limit: 100,
            },
        );
        assert_eq!(s.max_rows, 101);
        assert!(s.sql.contains("chat.room_events($1, $2, $3, $4)"));
        let g = Param::Text("g");
        assert_eq!(
            s.params,
            [
                Param::Text("general"),
                Param::Int(5),
                Param::Null,
                Param::Int(100)
            ]
        );
        assert_eq!(
            page(
                "g",
                Page::Before {
                    before: 9,
                    limit: 3
                }
            )
            .params,
            [g, Param::Null, Param::Int(9), Param::Int(3)]
        );
        assert_eq!(
            page("g", Page::Latest { limit: 3 }).params,
            [g, Param::Null, Param::Null, Param::Int(3)]
        );
        assert_eq!(
            page(
                "g",
                Page::Between {
                    after: 2,
                    before: 9,
                    limit: 3
                }
            )
            .params,
            [g, Param::Int(2), Param::Int(9), Param::Int(3)]
        );
    }

    #[test]
    fn structured_errors_are_classified_by_sqlstate() {
        let unavailable = |f: Failure<'_>| f.passes();
        for code in [
            "08006", "40001", "40P01", "53300", "57P01", "57P03", "57014",
        ] {
            assert!(unavailable(Failure::Db { code, text: "x" }), "{code}");
        }
        for code in ["42883", "42501", "22023", "23505", "P0001", "XX000"] {
            assert!(!unavailable(Failure::Db { code, text: "x" }), "{code}");
        }
        assert!(unavailable(Failure::Connect("connection refused")));
        assert!(!unavailable(Failure::Bug("cannot convert")));
    }

    /// What Spin 4.1's synchronous `query` hands a component for a RAISE in a
    /// SQL function: the structured error's debug form, inside a text.
    const SPIN_TEXT: &str = r#"QueryFailed(DbError(DbError { as_text: "Error { kind: Db, cause: Some(DbError { severity: \"ERROR\", parsed_severity: Some(Error), code: SqlState(E22023), message: \"p_max must be between 1 and 500\" }) }", severity: "ERROR", code: "22023", message: "p_max must be between 1 and 500", detail: None, extras: [] }))"#;

    #[test]
    fn text_errors_are_classified_by_the_sqlstate_inside() {
        assert_eq!(sqlstate_in_text(SPIN_TEXT), Some("22023"));
        assert!(!Failure::Text(SPIN_TEXT).passes());
        let shutdown = SPIN_TEXT.replace("22023", "57P01");
        assert_eq!(sqlstate_in_text(&shutdown), Some("57P01"));
        assert!(Failure::Text(&shutdown).passes());
        // Nested once more (a text of a text), and tokio-postgres' own form.
        assert_eq!(
            sqlstate_in_text(r#"Text("QueryFailed(DbError { code: \"42883\" })")"#),
            Some("42883")
        );
        assert_eq!(
            sqlstate_in_text("db error: SqlState(E40P01) deadlock"),
            Some("40P01")
        );
        // No code at all: the connection went away mid-query.
        for text in [
            "connection closed",
            "error communicating with the server",
            "",
        ] {
            assert_eq!(sqlstate_in_text(text), None);
            assert!(Failure::Text(text).passes());
        }
        // Near misses are not codes.
        assert_eq!(sqlstate_in_text(r#"code: "2202""#), None);
        assert_eq!(sqlstate_in_text(r#"code: "220231""#), None);
        assert_eq!(sqlstate_in_text("code: \"é2023\""), None);
    }
}
