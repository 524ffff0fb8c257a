//! A new session's token from its client address's bucket.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Param, Row, Statement, int, malformed, wait_secs};
use super::{Access, Limit, Operation, StoreError};

/// Takes one of the client address's session tokens: `None` when a new
/// session is allowed, else the seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowSession<'a> {
    pub client: &'a str,
    pub limit: Limit,
}

impl Operation for AllowSession<'_> {
    type Output = Option<u32>;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT chat.session_allowed($1, $2, $3)",
            params: vec![
                Param::Text(self.client),
                Param::Int(self.limit.burst.into()),
                Param::Int(self.limit.per_minute.into()),
            ],
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<Option<u32>, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("session_allowed: no row"))?;
        match int(row, 0, "session_allowed")? {
            0 => Ok(None),
            ms => Ok(Some(wait_secs(ms))),
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<Option<u32>, StoreError> {
        let wait = store.take(format!("session:{}", self.client), self.limit);
        Ok((wait > 0).then_some(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Value;
    use crate::store::sql::test_rows::R;

    #[test]
    fn the_wait_is_whole_seconds_rounded_up() {
        let op = AllowSession {
            client: "192.0.2.1",
            limit: Limit::OFF,
        };
        assert_eq!(op.read(&[R(vec![Value::Int(0)])]), Ok(None));
        assert_eq!(op.read(&[R(vec![Value::Int(2001)])]), Ok(Some(3)));
    }
}
