//! `GET /api/rooms` lists the rooms; `POST /api/rooms` creates one (admin only).
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
    chat_spin::respond(chat::api::rooms(&incoming.as_request(), &config, &store).await)
}
