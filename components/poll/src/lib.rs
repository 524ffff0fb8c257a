//! `GET /api/poll`: one request per person and poll: the open room's new
//! messages after the cursor and every room's newest id (for unread counts).
//! Read from the replica when one is configured and fit (`chat_spin::store`).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, async |incoming, store| {
        let config = &chat_spin::config::settings().await.api;
        chat::api::poll(&incoming.as_request(), config, store).await
    })
    .await
}
