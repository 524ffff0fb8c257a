//! `GET /api/poll`: one request per person and poll: the open room's new
//! messages after the cursor and every room's newest id (for unread counts).
//! Read from the replica when one is configured and fit (`chat_spin::store`).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let incoming = match chat_spin::read(req).await {
        Ok(incoming) => incoming,
        Err(reply) => return chat_spin::respond(reply),
    };
    let store = match chat_spin::store().await {
        Ok(store) => store,
        Err(reply) => return chat_spin::respond(reply),
    };
    chat_spin::respond(chat::api::poll(&incoming.as_request(), &store).await)
}
