//! `GET /api/health`: 200 when the database answers, 503 otherwise.
//!
//! Which requests arrive here is `spin.toml`'s choice; what each one does is
//! the API's route table (`chat::api::routes`).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, env!("CARGO_PKG_NAME")).await
}
