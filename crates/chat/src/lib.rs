//! The chat domain, free of any HTTP framework or Spin types.
//!
//! Like mini-redis, the crate is split so each concern can be read and
//! tested on its own, from the bottom up:
//!
//! - [`config`]: the configuration from named values (Spin variables):
//!   every default in one place, a warning naming each refused value.
//! - [`error`]: [`ApiError`], the one error type clients see, rendered as
//!   `{"error": {"code", "message"}}` with a message saying what to do next.
//! - [`validate`]: pure checks of names, room ids and titles, message
//!   bodies, client ids and the paging query (`after`/`before`/`limit`).
//! - [`net`]: which address a request came from (for limits per address).
//! - [`time`]: RFC 3339 formatting of unix seconds (no date-time crate).
//! - [`token`]: stateless HMAC-SHA256 session tokens (a guest's, or an
//!   account's with its id and version).
//! - [`names`]: when two names are one name (the key a claimed name is
//!   unique by: NFKC, case folding, the confusable skeleton).
//! - [`password`]: Argon2id hashes of passwords, and checking one in the
//!   same time whether or not the account exists.
//! - [`model`]: the exact JSON shapes of the API and strict body parsing.
//! - [`store`]: the [`Store`] trait and one file per operation (post, edit,
//!   remove, mute, presence, poll, page, rooms, accounts, health), each with
//!   its outcome, its SQL statement, how its rows read, where it may run and
//!   what it does in memory.
//! - [`replica`]: a store that reads from a streaming replica when it is
//!   fit to answer and writes to the primary, by one read path.
//! - [`sql`] (`store/sql.rs`): what every operation's SQL shares:
//!   statements, rows read by position (outcomes such as an unknown room are
//!   data), the event columns, and which failures are worth a retry.
//! - [`api`]: every endpoint's behaviour as a function from a [`api::Request`]
//!   (plus config, clock and store) to a [`api::Reply`], one module per
//!   endpoint; the Spin components only translate their request/response
//!   types.
//! - `testing` (tests, or the `testing` feature): the in-memory store
//!   (`memory.rs`) and the store suite every store must pass (`suite.rs`).
//!
//! Nothing here reads the clock or the environment: time and configuration
//! are parameters, which keeps every function deterministic under test and
//! lets the crate build unchanged for `wasm32-wasip2`.

pub mod api;
pub mod config;
pub mod error;
pub mod model;
pub mod names;
pub mod net;
pub mod password;
pub mod replica;
pub mod store;
/// The SQL every store operation shares (it lives under [`store`]).
pub use store::sql;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod token;
pub mod validate;

pub use error::ApiError;
pub use model::{Page, PollQuery};
pub use store::{
    Edit, Edited, Limit, Muted, Polled, Post, Posted, ReadSource, Removed, Remover, Store,
    StoreError,
};
