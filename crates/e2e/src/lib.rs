//! End-to-end test support: a client for the chat API (over `testkit`'s
//! HTTP client) and a small WebDriver client; test databases, `minispin`
//! processes and the HTTP client come from `testkit` (shared with the
//! benchmark and the runner's tests) and are re-exported here.
//!
//! Prerequisites (the README's test command does all of this): Postgres
//! running with the `ostchat_owner` and `ostchat_app` roles, the components
//! built for `wasm32-wasip2` and `minispin` built, all in release mode.
//! Override the database with `OSTCHAT_TEST_PG` (an owner URL) and the runner
//! with `MINISPIN_BIN`.

pub use serde_json::{Value, json};
pub use testkit::db::{ADMIN_TOKEN, SESSION_SECRET};
pub use testkit::http::{self, Reply, agent, send};
pub use testkit::{
    RunnerConfig, Server, TestDb, free_port, minispin_bin, unique_name, workspace_root,
};

pub mod webdriver;

/// The ids of a page's (or a poll's) messages, in order.
pub fn ids(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .expect("a page of messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("a message id"))
        .collect()
}

/// A small client for the chat API.
pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(runner: &Server) -> Client {
        Client {
            agent: agent(),
            base: runner.base.clone(),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        send(
            &self.agent,
            "GET",
            &format!("{}{path}", self.base),
            &[],
            None,
        )
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        send(
            &self.agent,
            "POST",
            &format!("{}{path}", self.base),
            &headers,
            Some(body.to_string().as_bytes()),
        )
    }

    /// A session token for `name`.
    pub fn login(&self, name: &str) -> String {
        let r = self.post_json("/api/session", None, &json!({ "name": name }));
        assert_eq!(r.status, 201, "login: {}", r.body);
        r.json()["token"].as_str().unwrap().to_string()
    }

    pub fn send_message(&self, token: &str, room: &str, body: &str, client_id: &str) -> Reply {
        self.post_json(
            &format!("/api/rooms/{room}/messages"),
            Some(token),
            &json!({ "body": body, "client_id": client_id }),
        )
    }

    /// Posts `count` messages `"{body_prefix}{i}"` (client ids
    /// `"{body_prefix}-{i}"`), i = 1..=count, each of which must be stored.
    pub fn post_many(&self, token: &str, room: &str, count: usize, body_prefix: &str) {
        for i in 1..=count {
            let r = self.send_message(
                token,
                room,
                &format!("{body_prefix}{i}"),
                &format!("{}-{i}", body_prefix.trim().replace(' ', "-")),
            );
            assert_eq!(r.status, 201, "posting {body_prefix}{i}: {}", r.body);
        }
    }

    /// `GET /api/rooms/{room}/messages?after=&limit=`: the room's events
    /// after `after`, and the cursor.
    pub fn messages_after(&self, room: &str, after: i64, limit: u32) -> (Vec<Value>, i64) {
        let r = self.get(&format!(
            "/api/rooms/{room}/messages?after={after}&limit={limit}"
        ));
        assert_eq!(r.status, 200, "messages after {after}: {}", r.body);
        let v = r.json();
        let messages = v["messages"].as_array().unwrap().clone();
        (messages, v["cursor"].as_i64().unwrap())
    }
}
