//! `GET|POST /api/rooms/{room}/messages`: read with the cursor, send idempotently.
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
    let config = chat_spin::config::for_method(&incoming.method).await;
    let now = chat_spin::now_unix();
    chat_spin::respond(chat::api::messages(&incoming.as_request(), &config, now, &store).await)
}
