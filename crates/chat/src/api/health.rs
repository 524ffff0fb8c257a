//! `GET /api/health`: cheap and honest, for load balancers.

use super::Reply;
use crate::error::ApiError;
use crate::model::Health;
use crate::store::Store;

/// `GET /api/health`: 200 `{"status":"ok"}` when the database answers.
/// Other methods than GET and HEAD are 405, before the database is asked.
pub async fn health(method: &str, store: &impl Store) -> Reply {
    if !matches!(method, "GET" | "HEAD") {
        return Reply::error(ApiError::method_not_allowed("GET, HEAD"));
    }
    match store.health().await {
        Ok(()) => Reply::json(
            200,
            &Health {
                status: "ok".to_string(),
            },
        ),
        // Unhealthy is 503 whatever the cause: load balancers only ask
        // whether to send traffic here.
        Err(e) => {
            Reply::error(ApiError::database_unavailable().with_cause(crate::error::report(&e)))
        }
    }
}
