//! `GET /api/health`: cheap and honest, for load balancers.
use super::reply::Reply;

use crate::error::ApiError;
use crate::model::Health;
use crate::store::{self, Store};

/// `GET /api/health`: 200 `{"status":"ok"}` when the primary answers;
/// 200 `{"status":"read_only"}` when only the replica does (a failover is
/// under way: polls are served, posts get 503 with `Retry-After` until a
/// new primary is reached), so load balancers keep every host in rotation
/// instead of taking all of them out at once; 503 when neither answers.
pub(super) async fn health(store: &impl Store) -> Reply {
    let status = |status: &str| {
        Reply::json(
            200,
            &Health {
                status: status.to_string(),
            },
        )
    };
    let primary = match store.run(&store::Health).await {
        Ok(()) => return status("ok"),
        Err(e) => e,
    };
    match store.read_health().await {
        Ok(()) => status("read_only"),
        // Unhealthy is 503 whatever the cause: load balancers only ask
        // whether to send traffic here.
        Err(_) => Reply::error(
            ApiError::database_unavailable().with_cause(crate::error::report(&primary)),
        ),
    }
}
