//! Test databases: the roles the scripts create (`scripts/lib.sh`,
//! `ensure_roles`), a fresh database per test with the migrations of `sql/`
//! applied by `minispin migrate`, and seeding.

use crate::{minispin_bin, unique_name, workspace_root};
use std::process::Command;

/// Owner role: may create databases; runs the migrations.
pub const OWNER: &str = "ostchat_owner:ostchat_owner";
/// The least-privilege role the app connects as (EXECUTE on the chat's
/// functions, nothing else).
pub const APP: &str = "ostchat_app:ostchat_app";
/// Signs the session tokens of test and benchmark runs.
pub const SESSION_SECRET: &str = "test-secret-0123456789abcdef";
/// The admin token of test runs (creates rooms).
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The limits of test and benchmark runs: counted on every post and
/// session, as in production, but never reached (tests that are about the
/// limits set their own).
pub const UNREACHED_LIMIT: chat::Limit = chat::Limit {
    burst: 1_000_000,
    per_minute: 1_000_000,
};

const DEFAULT_ADMIN_URL: &str =
    "postgres://ostchat_owner:ostchat_owner@127.0.0.1:5432/postgres?sslmode=disable";

/// The owner's URL to the `postgres` database: `OSTCHAT_TEST_PG`, or local.
pub fn admin_url() -> String {
    std::env::var("OSTCHAT_TEST_PG").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| {
        panic!("cannot reach Postgres as the owner role at {url} ({e}); run the README's test command, which starts Postgres and creates the roles")
    })
}

/// `host:port` of the streaming replica of the test server (the README's
/// test command makes one: `scripts/lib.sh`, `ensure_replica`):
/// `OSTCHAT_TEST_REPLICA`, or 127.0.0.1:5433.
pub fn replica_host() -> String {
    std::env::var("OSTCHAT_TEST_REPLICA").unwrap_or_else(|_| "127.0.0.1:5433".to_string())
}

/// What the test databases' URLs are made of, read from a server URL by
/// `tokio_postgres` (so a password may hold any character, percent-encoded
/// as URLs require).
#[derive(Debug, PartialEq, Eq)]
struct ServerUrl {
    /// `host:port` (`[v6]:port` for an IPv6 address).
    host: String,
    /// `user:password`, percent-encoded for a URL.
    creds: String,
    /// `sslmode=...` when the URL asks for one, else empty.
    query: String,
}

/// Percent-encodes all but URL-safe characters (for a URL's user info).
fn encoded(text: &[u8]) -> String {
    text.iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn server_url(url: &str) -> ServerUrl {
    use tokio_postgres::config::{Host, SslMode};
    let config: tokio_postgres::Config = url.parse().unwrap_or_else(|e| {
        panic!("OSTCHAT_TEST_PG is not a Postgres URL ({e}); give it as postgres://user:password@host:port/postgres?sslmode=disable")
    });
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) if h.contains(':') => format!("[{h}]"),
        Some(Host::Tcp(h)) => h.clone(),
        _ => panic!("OSTCHAT_TEST_PG must name a TCP host, e.g. 127.0.0.1"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = encoded(config.get_user().unwrap_or("postgres").as_bytes());
    let creds = match config.get_password() {
        Some(password) => format!("{user}:{}", encoded(password)),
        None => user,
    };
    let query = match config.get_ssl_mode() {
        SslMode::Disable => "sslmode=disable",
        SslMode::Require => "sslmode=require",
        _ => "",
    };
    ServerUrl {
        host: format!("{host}:{port}"),
        creds,
        query: query.to_string(),
    }
}

/// A database with the migrations applied: a fresh one per test (dropped at
/// the end), or a named one made anew and kept (the benchmark's).
pub struct TestDb {
    pub name: String,
    /// The owner's URL to the server's `postgres` database.
    admin: String,
    host: String,
    query: String,
    keep: bool,
}

impl TestDb {
    /// A fresh, uniquely named database, dropped when this is.
    pub fn new() -> TestDb {
        TestDb::create(admin_url(), unique_name("ostchat_t"), false)
    }

    /// A fresh database on another server, given the owner's URL to its
    /// `postgres` database (a Patroni cluster's entry point, say).
    pub fn on(admin: &str) -> TestDb {
        TestDb::create(admin.to_string(), unique_name("ostchat_t"), false)
    }

    /// The database `name`, dropped if it exists and made anew; it stays
    /// after this is dropped (for a look at it afterwards).
    pub fn recreate(name: &str) -> TestDb {
        let admin_url = admin_url();
        admin(&admin_url)
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("drop the old database");
        TestDb::create(admin_url, name.to_string(), true)
    }

    fn create(admin_url: String, name: String, keep: bool) -> TestDb {
        admin(&admin_url)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let ServerUrl { host, query, .. } = server_url(&admin_url);
        let db = TestDb {
            name,
            admin: admin_url,
            host,
            query,
            keep,
        };
        // One migration at a time per process: a few statements (a role's
        // connection limit) touch cluster-wide catalog rows, which parallel
        // first runs on a fresh server would race on.
        static MIGRATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = MIGRATING.lock().unwrap_or_else(|e| e.into_inner());
        let out = Command::new(minispin_bin())
            .args(["migrate", "--database", &db.owner_url(), "--dir"])
            .arg(workspace_root().join("sql"))
            .env("RUST_LIB_BACKTRACE", "0")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {} ({e}): build it with `cargo build --release -p minispin` (the README's test command does)", minispin_bin().display())
            });
        assert!(
            out.status.success(),
            "migrations failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }

    fn url_for(&self, creds: &str, host: &str) -> String {
        let q = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        format!("postgres://{creds}@{host}/{}{q}", self.name)
    }

    fn owner_creds(&self) -> String {
        server_url(&self.admin).creds
    }

    pub fn owner_url(&self) -> String {
        self.url_for(&self.owner_creds(), &self.host)
    }

    /// The owner's URL of this database on another server of the same
    /// cluster, such as its streaming replica (`host:port`).
    pub fn owner_url_at(&self, host: &str) -> String {
        self.url_for(&self.owner_creds(), host)
    }

    /// What the components connect with.
    pub fn app_url(&self) -> String {
        self.url_for(APP, &self.host)
    }

    /// What the components connect with, on another server (a replica).
    pub fn app_url_at(&self, host: &str) -> String {
        self.url_for(APP, host)
    }

    /// `host:port` of the server, for `allowed_outbound_hosts`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A direct connection as the owner, for checks behind the API's back.
    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.owner_url(), postgres::NoTls)
            .expect("connect to the test database")
    }

    /// Stores `per_room` messages (ids 1..=per_room, a millisecond apart,
    /// 50 authors) in each room, as if posted, then refreshes the planner's
    /// statistics.
    pub fn seed_messages(&self, rooms: &[&str], per_room: i64) {
        let mut db = self.connect();
        for room in rooms {
            db.execute(
                "INSERT INTO chat.messages (room_id, id, author, body, client_id, sent_at)
                 SELECT $1, g, 'seed-' || (g % 50), 'seeded message number ' || g, 'seed-' || g,
                        now() - (($2 - g) * interval '1 millisecond')
                 FROM generate_series(1::bigint, $2) g",
                &[room, &per_room],
            )
            .expect("seed messages");
            db.execute(
                "UPDATE chat.rooms SET last_message_id = $2 WHERE id = $1",
                &[room, &per_room],
            )
            .expect("seed the room's counter");
        }
        // One statement each: VACUUM may not run in the implicit transaction
        // of a multi-statement batch.
        db.batch_execute("VACUUM ANALYZE chat.messages")
            .expect("vacuum");
        db.batch_execute("VACUUM ANALYZE chat.rooms")
            .expect("vacuum");
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Ok(mut admin) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_read_whole_whatever_the_password_holds() {
        assert_eq!(
            server_url(DEFAULT_ADMIN_URL),
            ServerUrl {
                host: "127.0.0.1:5432".into(),
                creds: "ostchat_owner:ostchat_owner".into(),
                query: "sslmode=disable".into(),
            }
        );
        // A password with a slash, an at sign and a colon, as URLs carry it.
        let url = "postgres://owner:p%2Fw%40r%3Ad@db.internal:6543/postgres";
        assert_eq!(
            server_url(url),
            ServerUrl {
                host: "db.internal:6543".into(),
                creds: "owner:p%2Fw%40r%3Ad".into(),
                query: String::new(),
            }
        );
        assert_eq!(server_url("postgres://u@[::1]/x").host, "[::1]:5432");
    }
}
