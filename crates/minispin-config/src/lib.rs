//! What `minispin` reads from outside before any component runs, as plain
//! data: the manifest (`spin.toml`), its routes, variable templates and
//! values, and the `allowed_outbound_hosts` policy.
//!
//! Kept apart from the host so it builds without wasmtime: the fuzz targets
//! (`fuzz/`) drive these parsers with arbitrary input, and must never see a
//! panic, only a value or an error that says what to fix.
//!
//! - [`manifest`]: parse `spin.toml`, refusing features the runner does not
//!   implement;
//! - [`routes`]: Spin's route matching;
//! - [`variables`]: `{{ name }}` templates and application variable values;
//! - [`outbound`]: which addresses a component may reach.

pub mod manifest;
pub mod outbound;
pub mod routes;
pub mod variables;
