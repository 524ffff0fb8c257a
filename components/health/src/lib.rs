//! `GET /api/health`: 200 when the database answers, 503 otherwise.
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let store = match chat_spin::store().await {
        Ok(store) => store,
        Err(reply) => return chat_spin::respond(reply),
    };
    chat_spin::respond(chat::api::health(req.method().as_str(), &store).await)
}
