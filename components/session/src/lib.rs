//! `POST /api/session`: a signed, stateless session token for a chosen name,
//! limited per client address (the count is kept in the database; without
//! one, sessions are still issued).
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let incoming = match chat_spin::read(req).await {
        Ok(incoming) => incoming,
        Err(reply) => return chat_spin::respond(reply),
    };
    let settings = chat_spin::config::settings().await;
    let store = chat_spin::PgStore::new(settings.database_url.clone().unwrap_or_default());
    let now = chat_spin::now_unix();
    let Some(random) = chat_spin::random_bytes() else {
        return chat_spin::respond(chat::api::Reply::error(
            chat::ApiError::internal(
                "internal_error",
                "the server could not create a session id; try again later",
            )
            .with_cause("the host's random source (wasi:random) failed"),
        ));
    };
    chat_spin::respond(
        chat::api::session(&incoming.as_request(), &settings.api, now, random, &store).await,
    )
}
