//! `GET|POST /api/rooms/{room}/messages`: read with the cursor, send idempotently.
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, async |incoming, store| {
        let config = &chat_spin::config::settings().await.api;
        let now = chat_spin::now_unix();
        chat::api::messages(&incoming.as_request(), config, now, store).await
    })
    .await
}
