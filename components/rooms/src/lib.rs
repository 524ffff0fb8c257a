//! `GET /api/rooms` lists the rooms; `POST /api/rooms` creates one (admin only).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    chat_spin::serve(req, async |incoming, store| {
        let config = chat_spin::config::for_method(&incoming.method).await;
        chat::api::rooms(&incoming.as_request(), &config, store).await
    })
    .await
}
