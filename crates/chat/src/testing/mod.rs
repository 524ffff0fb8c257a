//! Test support, for this crate's tests and (with the `testing` feature)
//! for other crates': an in-memory [`Store`](crate::Store) ([`MemStore`],
//! `store/memory.rs`), a one-poll executor for it, and [`store_suite`]
//! (`suite.rs`), the behaviour every store must have.
//!
//! The suite is what keeps the in-memory store honest: the domain's unit
//! tests run on [`MemStore`], and `crates/e2e/tests/store_suite.rs` runs the
//! same suite on the SQL functions of a real Postgres, so a difference
//! between the two fails a test instead of hiding one.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

mod suite;

pub use crate::store::memory::{LogEntry, MemStore};
pub use suite::store_suite;

/// Polls a future to completion. [`MemStore`] never waits, so one poll must
/// finish; pending would be a bug in the test double.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("in-memory store future pended"),
    }
}
