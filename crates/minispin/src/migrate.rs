//! `minispin migrate`: apply a directory of numbered `.sql` files to a database.
//!
//! Generic on purpose (it knows nothing of the app's schema): files named
//! `NNNN_description.sql` are applied in name order, each in its own
//! transaction, and recorded in `minispin_migrations`, so each is applied
//! exactly once however often the command runs. Everything happens under an
//! advisory lock, so any number of runs at once (one-shot jobs of several
//! hosts, say) apply each file once and never race on the bookkeeping.
//!
//! For deployments, it can also wait for the database to come up, take the
//! password from a file (a secret), and make the role an app connects as
//! able to log in with the password of the app's own database URL, so the
//! app's secret is the only place that password is written.

use anyhow::{Context, Result, bail};
use std::path::Path;
use tokio_postgres::Client;

/// Any fixed number works; it only has to be the same for every runner.
const LOCK_KEY: i64 = 0x6d69_6e69_7370_696e;

async fn connect_config(config: &tokio_postgres::Config) -> Result<Client> {
    let hint = "is Postgres running, and are the user, password and database right?";
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .with_context(|| format!("cannot connect to the database: {hint}"))?;
        tokio::spawn(conn);
        Ok(client)
    } else {
        let tls = crate::pg::pool::tls(None)?;
        let (client, conn) = config
            .connect(tls)
            .await
            .with_context(|| {
                format!("cannot connect to the database over TLS: {hint} (add sslmode=disable for a local server without TLS)")
            })?;
        tokio::spawn(conn);
        Ok(client)
    }
}

/// A migration's checksum: its SHA-256, in hex.
fn checksum(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The checksum databases migrated before 0.1.x recorded (64-bit FNV-1a, 16
/// hex digits). Only read: a match is upgraded to [`checksum`] in place.
fn legacy_checksum(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What `minispin migrate` was asked to do.
pub struct Options {
    pub database: String,
    /// The password of `database`'s user, read from a file.
    pub password_file: Option<std::path::PathBuf>,
    pub dir: std::path::PathBuf,
    /// A database URL whose user must be able to log in with its password.
    pub ensure_login: Option<String>,
    /// How long to wait for the database to accept connections.
    pub wait: std::time::Duration,
}

/// A Postgres URL with its password taken from `password_file`, if given.
fn config(url: &str, password_file: Option<&Path>) -> Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .context("the database URL is not valid; expected postgres://user:password@host:port/db")?;
    if let Some(path) = password_file {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the password file {}; check the path and its permissions",
                path.display()
            )
        })?;
        config.password(text.trim_end_matches(['\r', '\n']));
    }
    Ok(config)
}

/// How long one connection attempt may take before it is given up.
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects, retrying until `wait` has passed (a database starting next to
/// this job refuses connections for a while).
async fn connect_waiting(
    config: &tokio_postgres::Config,
    wait: std::time::Duration,
) -> Result<Client> {
    let deadline = std::time::Instant::now() + wait;
    let mut said = false;
    loop {
        // One attempt may hang with no answer (a proxy in front of a
        // database that is still being elected): give it up and try again.
        let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, connect_config(config))
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "no answer within {ATTEMPT_TIMEOUT:?}; is the database (or the proxy in front of it) reachable?"
                ))
            });
        match attempt {
            Ok(client) => return Ok(client),
            Err(e) if std::time::Instant::now() < deadline => {
                if !said {
                    tracing::info!("waiting up to {wait:?} for the database ({e:#})");
                    said = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Makes the user of `url` a role that can log in with `url`'s password:
/// created if missing, its password set (again) otherwise. Quoting is done
/// by the server (`format` with `%I` and `%L`).
async fn ensure_login(client: &Client, url: &str) -> Result<()> {
    let config: tokio_postgres::Config = url.parse().context(
        "--ensure-login: the URL is not valid; expected postgres://user:password@host/db",
    )?;
    let user = config
        .get_user()
        .context("--ensure-login: the URL names no user")?;
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .context("--ensure-login: the URL has no password")?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&user],
        )
        .await?
        .is_some();
    let template = if exists {
        "ALTER ROLE %I LOGIN PASSWORD %L"
    } else {
        "CREATE ROLE %I LOGIN PASSWORD %L"
    };
    let statement: String = client
        .query_one(
            "SELECT format($1, $2::text, $3::text)",
            &[&template, &user, &password],
        )
        .await?
        .get(0);
    client
        .batch_execute(&statement)
        .await
        .map_err(DbFailure)
        .with_context(|| {
            format!("cannot let role `{user}` log in; does this user have CREATEROLE?")
        })?;
    tracing::info!(
        "role `{user}` {} and may log in",
        if exists { "exists" } else { "created" }
    );
    Ok(())
}

pub async fn run_with(options: &Options) -> Result<()> {
    let config = config(&options.database, options.password_file.as_deref())?;
    let mut client = connect_waiting(&config, options.wait).await?;
    apply_locked(&mut client, &options.dir, options.ensure_login.as_deref()).await
}

async fn apply_locked(client: &mut Client, dir: &Path, login: Option<&str>) -> Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the migrations directory {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .sql files in {}: nothing to apply", dir.display());
    }
    // The lock first: even creating the bookkeeping table races otherwise.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = async {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS minispin_migrations (
                     name text PRIMARY KEY,
                     checksum text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .context("cannot create the migrations table")?;
        apply_all(client, &files).await?;
        if let Some(url) = login {
            ensure_login(client, url).await?;
        }
        Ok(())
    }
    .await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result
}

async fn apply_all(client: &mut Client, files: &[std::path::PathBuf]) -> Result<()> {
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let sum = checksum(&text);
        let row = client
            .query_opt(
                "SELECT checksum FROM minispin_migrations WHERE name = $1",
                &[&name],
            )
            .await?;
        if let Some(row) = row {
            let applied: String = row.get(0);
            if applied.len() == 16 && applied == legacy_checksum(&text) {
                client
                    .execute(
                        "UPDATE minispin_migrations SET checksum = $2 WHERE name = $1",
                        &[&name, &sum],
                    )
                    .await?;
                tracing::info!("migration {name}: already applied (checksum now SHA-256)");
                continue;
            }
            if applied != sum {
                bail!(
                    "migration {name} was edited after it was applied; put the change in a new, higher-numbered file"
                );
            }
            tracing::info!("migration {name}: already applied");
            continue;
        }
        tracing::info!("migration {name}: applying");
        let tx = client.transaction().await?;
        tx.batch_execute(&text)
            .await
            .map_err(DbFailure)
            .with_context(|| format!("migration {name} failed; nothing of it was applied"))?;
        tx.execute(
            "INSERT INTO minispin_migrations (name, checksum) VALUES ($1, $2)",
            &[&name, &sum],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// A statement the database refused, as an error whose chain reads
/// "SQLSTATE 42P01: ERROR: relation ... does not exist" (tokio-postgres'
/// own text says only "db error" before the same cause); the database's
/// error is the source. Any other failure (the connection) reads as
/// tokio-postgres says it.
#[derive(Debug)]
struct DbFailure(tokio_postgres::Error);

impl std::fmt::Display for DbFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.code() {
            Some(code) => write!(f, "SQLSTATE {}", code.code()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for DbFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // Without a code, the Display above already holds the cause.
        self.0
            .code()
            .and_then(|_| std::error::Error::source(&self.0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksum_is_stable_and_sensitive() {
        assert_eq!(super::checksum("a"), super::checksum("a"));
        assert_ne!(super::checksum("a"), super::checksum("b"));
        assert_eq!(
            super::checksum("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(super::legacy_checksum("a"), "af63dc4c8601ec8c");
    }
}
