//! `GET /api/health`: 200 when the database answers, 503 otherwise.
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    if req.method() != spin_sdk::http::Method::GET && req.method() != spin_sdk::http::Method::HEAD {
        return chat_spin::respond(chat::ApiError::method_not_allowed("GET, HEAD").into());
    }
    let store = match chat_spin::store().await {
        Ok(store) => store,
        Err(reply) => return chat_spin::respond(reply),
    };
    chat_spin::respond(chat::api::health(&store).await)
}
