//! Whether the database answers, and where a read is served.

#[cfg(any(test, feature = "testing"))]
use super::memory::MemStore;
use super::sql::{Row, Statement, Value, malformed, read_source_at};
use super::{Access, Operation, ReadSource, StoreError};

/// Whether the database that takes writes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health;

impl Operation for Health {
    type Output = ();
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT chat.health()",
            params: Vec::new(),
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<(), StoreError> {
        match rows.first().map(|row| row.value(0)) {
            Some(Value::Int(1)) => Ok(()),
            _ => Err(malformed("health: not 1")),
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, _store: &MemStore) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Whether this store's database is a replica, and how far behind. Asked
/// of the store it is run on (a replica's fitness is asked of the replica).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source;

impl Operation for Source {
    type Output = ReadSource;
    const ACCESS: Access = Access::Primary;

    fn statement(&self) -> Statement<'_> {
        Statement {
            sql: "SELECT source, lag_ms FROM chat.read_source()",
            params: Vec::new(),
            max_rows: 1,
        }
    }

    fn read(&self, rows: &[impl Row]) -> Result<ReadSource, StoreError> {
        let row = rows
            .first()
            .ok_or_else(|| malformed("read_source: no row"))?;
        read_source_at(row, 0, 1)
    }

    #[cfg(any(test, feature = "testing"))]
    fn in_memory(&self, store: &MemStore) -> Result<ReadSource, StoreError> {
        Ok(store.source.get().unwrap_or(ReadSource::PRIMARY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::test_rows::R;

    #[test]
    fn health_is_one_and_the_source_is_named() {
        assert_eq!(Health.read(&[R(vec![Value::Int(1)])]), Ok(()));
        assert!(Health.read(&[] as &[R]).is_err());
        assert_eq!(
            Source.read(&[R(vec![Value::Text("primary"), Value::Int(0)])]),
            Ok(ReadSource::PRIMARY)
        );
        assert!(
            Source
                .read(&[R(vec![Value::Text("primary"), Value::Null])])
                .is_err()
        );
    }
}
