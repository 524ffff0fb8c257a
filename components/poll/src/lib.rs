//! `GET /api/poll`: one request per person and poll: the open room's new
//! messages after the cursor and every room's newest id (for unread counts),
//! read from the replica when one is configured and fit.
//!
//! Which requests arrive here is `spin.toml`'s choice; what each one does is
//! the API's route table (`chat::api::routes`).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, env!("CARGO_PKG_NAME")).await
}
