//! The API: its route table and the router, as plain functions.
//!
//! A component converts its framework request into a [`Request`], calls
//! [`handle`] and copies the [`Reply`] back out. All decisions (status
//! codes, check order, headers, JSON shapes) live here, so they are tested
//! once natively and cannot drift between components.
//!
//! This file is the router: [`ROUTES`] lists each path, its methods, its
//! `spin.toml` component and each method's [`Op`]; [`handle`] finds the
//! route, answers 404 or 405 from the table, and calls the operation in its
//! module, one per resource: `session`, `accounts`, `rooms` (the list, a
//! new room, a room's settings), `mutes`, `messages` (a
//! room's events: read and post, replies too), `message` (one message: edit,
//! remove and react to),
//! `presence`, `read` (how far an account has read), `poll` and `health`. Beside them what they share: `request`
//! (the [`Request`] and the host's [`Context`]), `reply` (the [`Reply`],
//! the API's headers, shared refusals), `auth` (bearer, admin and session
//! tokens), `routes` (how a table matches a path) and `contract` (the
//! OpenAPI document). Adding an endpoint: ARCHITECTURE.md, "Adding an
//! endpoint".

use crate::error::ApiError;
use crate::store::Store;
use routes::Route;

mod accounts;
mod auth;
mod contract;
mod health;
mod message;
mod messages;
mod mutes;
mod poll;
mod presence;
mod read;
mod reply;
mod request;
mod rooms;
pub mod routes;
mod session;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use crate::config::{Config, DEFAULT_EDIT_WINDOW_SECS};
pub use contract::{OPENAPI, OPENAPI_PATH};
pub use reply::{API_HEADERS, PAGE_HEADERS, Reply};
pub use request::{Context, Request};

/// One operation: what a method on a route does. [`handle`] matches on it
/// to call the operation's function in its module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Join,
    Register,
    ChangePassword,
    Rename,
    ListRooms,
    CreateRoom,
    SetRoom,
    Mute,
    ReadMessages,
    PostMessage,
    EditMessage,
    RemoveMessage,
    React,
    ReadMarks,
    MarkRead,
    Announce,
    Leave,
    Poll,
    Health,
}

/// Every route of the API. The contract (`/api/openapi.json`) is a file the
/// static component serves, so it is not listed here. Tests hold this table
/// to `spin.toml`'s triggers and to the contract's paths, and the
/// keep-alive, contract and fuzz tests walk it: a route is tested by being
/// listed.
pub const ROUTES: &[Route<Op>] = &[
    Route {
        path: "/api/session",
        component: "session",
        methods: &[("POST", Op::Join)],
    },
    Route {
        path: "/api/accounts",
        component: "session",
        methods: &[("POST", Op::Register)],
    },
    Route {
        path: "/api/accounts/password",
        component: "session",
        methods: &[("POST", Op::ChangePassword)],
    },
    Route {
        path: "/api/accounts/name",
        component: "session",
        methods: &[("POST", Op::Rename)],
    },
    Route {
        path: "/api/rooms",
        component: "rooms",
        methods: &[("GET", Op::ListRooms), ("POST", Op::CreateRoom)],
    },
    Route {
        path: "/api/mutes",
        component: "rooms",
        methods: &[("POST", Op::Mute)],
    },
    Route {
        path: "/api/read",
        component: "rooms",
        methods: &[("GET", Op::ReadMarks), ("PUT", Op::MarkRead)],
    },
    Route {
        path: "/api/rooms/{room}",
        component: "messages",
        methods: &[("PATCH", Op::SetRoom)],
    },
    Route {
        path: "/api/rooms/{room}/messages",
        component: "messages",
        methods: &[("GET", Op::ReadMessages), ("POST", Op::PostMessage)],
    },
    Route {
        path: "/api/rooms/{room}/messages/{id}",
        component: "messages",
        methods: &[("PATCH", Op::EditMessage), ("DELETE", Op::RemoveMessage)],
    },
    Route {
        path: "/api/rooms/{room}/messages/{id}/reactions",
        component: "messages",
        methods: &[("POST", Op::React)],
    },
    Route {
        path: "/api/rooms/{room}/presence",
        component: "messages",
        methods: &[("PUT", Op::Announce), ("DELETE", Op::Leave)],
    },
    Route {
        path: "/api/poll",
        component: "poll",
        methods: &[("GET", Op::Poll)],
    },
    Route {
        path: "/api/health",
        component: "health",
        methods: &[("GET", Op::Health), ("HEAD", Op::Health)],
    },
];

/// The route `path` names in [`ROUTES`], with its parameters.
pub fn find(path: &str) -> Option<(&'static Route<Op>, routes::Params<'_>)> {
    routes::find(ROUTES, path)
}

/// Any request to the API: its route and method from [`ROUTES`], then the
/// operation. Every component calls this with the requests `spin.toml`
/// sends it; hosts without Spin (the benchmark's native baseline, the
/// fuzzer) call it with every request. The static files, the contract
/// included, are served by the static component, not here.
pub async fn handle(req: &Request<'_>, cx: &Context<'_>, store: &impl Store) -> Reply {
    let Some((route, at)) =
        find(req.path).filter(|(route, _)| cx.component.is_none_or(|c| c == route.component))
    else {
        return not_found(req.path);
    };
    let Some(op) = route.op(req.method) else {
        return Reply::error(ApiError::method_not_allowed(&route.allow()));
    };
    let (cfg, now) = (cx.cfg, cx.now_unix);
    match op {
        Op::Join => session::session(req, cfg, now, cx.random, store).await,
        Op::Register => accounts::register(req, cfg, now, cx.random, store).await,
        Op::ChangePassword => accounts::change_password(req, cfg, now, cx.random, store).await,
        Op::Rename => accounts::rename(req, cfg, now, store).await,
        Op::ListRooms => rooms::list(store).await,
        Op::CreateRoom => rooms::create(req, cfg, now, store).await,
        Op::SetRoom => rooms::settings(req, at.room, cfg, now, store).await,
        Op::Mute => mutes::mutes(req, cfg, now, store).await,
        Op::ReadMessages => messages::read_page(req, at.room, cfg, store).await,
        Op::PostMessage => messages::send(req, at.room, cfg, now, store).await,
        Op::EditMessage => message::edit(req, at.room, at.id, cfg, now, store).await,
        Op::RemoveMessage => message::remove(req, at.room, at.id, cfg, now, store).await,
        Op::React => message::react(req, at.room, at.id, cfg, now, store).await,
        Op::ReadMarks => read::list(req, cfg, now, store).await,
        Op::MarkRead => read::mark(req, cfg, now, store).await,
        Op::Announce | Op::Leave => presence::presence(req, at.room, cfg, now, store).await,
        Op::Poll => poll::poll(req, cfg, store).await,
        Op::Health => health::health(store).await,
    }
}

/// 404 for a path no endpoint serves, naming the ones that exist.
pub fn not_found(path: &str) -> Reply {
    // Echo a bounded prefix of the path only: it helps spotting typos, and
    // JSON encoding makes any content harmless.
    let shown: String = path.chars().take(100).collect();
    Reply::error(ApiError::not_found(
        "not_found",
        format!(
            "no endpoint at {shown:?}; the API serves {} (described in {OPENAPI_PATH})",
            routes::listed(ROUTES)
        ),
    ))
}
