//! `GET /api/rooms` lists the rooms; `POST /api/rooms` creates one and
//! `POST /api/mutes` mutes a name (admin only).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, async |incoming, store| {
        let config = &chat_spin::config::settings().await.api;
        let req = incoming.as_request();
        if req.path == "/api/mutes" {
            chat::api::mutes(&req, config, store).await
        } else {
            chat::api::rooms(&req, config, store).await
        }
    })
    .await
}
