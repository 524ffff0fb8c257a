//! The database contract shared by every operation: statements and their
//! parameters, rows read by position, the readers of the columns every
//! operation uses (an event's twelve), and which database failures are
//! worth a retry. Each operation's own statement and row reader live with it
//! in [`crate::store`].
//!
//! Written once so that the Spin store (`chat-spin`) and the native stores
//! of the tests and the benchmark run the same SQL and read it the same way,
//! and so that reading results is unit-tested natively.
//!
//! Two rules keep the chat correct on every Spin host (see
//! `sql/0002_outcomes_as_data.sql`):
//! - **Expected outcomes are data.** An unknown room, a replayed message or a
//!   room id that is taken come back as a `status` column, never as a database
//!   error, so a 404 does not depend on how a host formats errors.
//! - **Columns are read by position**, never by name: an empty result carries
//!   no column metadata on some Spin releases, and every call here returns at
//!   least one row anyway.

use super::{ReadSource, StoreError};
use crate::model::{EventKind, Message};

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
    async fn query(&self, statement: Statement<'_>) -> Result<Vec<Self::Row>, StoreError>;
}

pub(crate) fn malformed(what: &str) -> StoreError {
    StoreError::new(
        false,
        format!(
            "unexpected result from the database ({what}); are the migrations in sql/ applied?"
        ),
    )
}

pub(crate) fn int(row: &impl Row, i: usize, name: &str) -> Result<i64, StoreError> {
    match row.value(i) {
        Value::Int(v) => Ok(v),
        _ => Err(malformed(&format!("column {i} `{name}` is not a bigint"))),
    }
}

pub(crate) fn text(row: &impl Row, i: usize, name: &str) -> Result<String, StoreError> {
    match row.value(i) {
        Value::Text(v) => Ok(v.to_string()),
        _ => Err(malformed(&format!("column {i} `{name}` is not text"))),
    }
}

pub(crate) fn opt_text(row: &impl Row, i: usize, name: &str) -> Result<Option<String>, StoreError> {
    match row.value(i) {
        Value::Null => Ok(None),
        Value::Text(v) => Ok(Some(v.to_string())),
        _ => Err(malformed(&format!("column {i} `{name}` is not text"))),
    }
}

pub(crate) fn opt_int(row: &impl Row, i: usize, name: &str) -> Result<Option<i64>, StoreError> {
    match row.value(i) {
        Value::Null => Ok(None),
        Value::Int(v) => Ok(Some(v)),
        _ => Err(malformed(&format!("column {i} `{name}` is not a bigint"))),
    }
}

pub(crate) fn status(row: &impl Row) -> Result<&str, StoreError> {
    match row.value(0) {
        Value::Text(s) => Ok(s),
        _ => Err(malformed("no status column")),
    }
}

/// Columns 1..=12 of an event row: id, room, author, body, client_id,
/// sent_at, event, target, session, edited_at, removed_at, removed_by.
pub(crate) fn message(row: &impl Row) -> Result<Message, StoreError> {
    let kind = match text(row, 7, "event")?.as_str() {
        "message" => EventKind::Message,
        "edit" => EventKind::Edit,
        "removal" => EventKind::Removal,
        "reaction" => EventKind::Reaction,
        "unreaction" => EventKind::Unreaction,
        other => return Err(malformed(&format!("event kind `{other}`"))),
    };
    // A message's target is the message it answers; the other events'
    // is the message they change.
    let target = opt_int(row, 8, "target")?;
    let (target, reply_to) = match kind {
        EventKind::Message => (None, target),
        _ => (target, None),
    };
    Ok(Message {
        id: int(row, 1, "id")?,
        room: text(row, 2, "room")?,
        author: text(row, 3, "author")?,
        body: text(row, 4, "body")?,
        client_id: text(row, 5, "client_id")?,
        sent_at: text(row, 6, "sent_at")?,
        kind,
        target,
        reply_to,
        session: opt_text(row, 9, "session")?,
        edited_at: opt_text(row, 10, "edited_at")?,
        removed_at: opt_text(row, 11, "removed_at")?,
        removed_by: opt_text(row, 12, "removed_by")?,
    })
}

/// `primary` or `replica`, and the lag, from a row's columns `kind_col`
/// and `lag_col`.
pub(crate) fn read_source_at(
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

/// Whole seconds to wait, from milliseconds (at least 1).
pub(crate) fn wait_secs(ms: i64) -> u32 {
    u32::try_from(((ms.max(1) + 999) / 1000).max(1)).unwrap_or(u32::MAX)
}

/// An optional text parameter (NULL of type text when absent).
pub(crate) fn text_or_null(value: Option<&str>) -> Param<'_> {
    value.map_or(Param::NullText, Param::Text)
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
pub(crate) mod test_rows {
    //! Rows as the operations' tests write them.
    use super::*;

    /// A row as a test writes it.
    pub struct R(pub Vec<Value<'static>>);

    impl Row for R {
        fn value(&self, column: usize) -> Value<'_> {
            self.0.get(column).copied().unwrap_or(Value::Other)
        }
    }

    pub fn status_row(status: &'static str) -> R {
        let mut v = vec![Value::Text(status)];
        v.extend([Value::Null; 12]);
        R(v)
    }

    pub fn message_row(status: &'static str, id: i64) -> R {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
