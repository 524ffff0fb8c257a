//! A room's messages and presence: `/api/rooms/{room}/messages` (read with
//! the cursor, send idempotently), `.../messages/{id}` (edit, remove) and
//! `.../presence`.
//!
//! Which requests arrive here is `spin.toml`'s choice; what each one does is
//! the API's route table (`chat::api::routes`).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, env!("CARGO_PKG_NAME")).await
}
