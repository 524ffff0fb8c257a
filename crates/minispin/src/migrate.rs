//! `minispin migrate`: apply a directory of numbered `.sql` files to a database.
//!
//! Generic on purpose (it knows nothing of the app's schema): files named
//! `NNNN_description.sql` are applied in name order, each in its own
//! transaction, and recorded in `minispin_migrations`, so each is applied
//! exactly once however often the command runs. An advisory lock keeps two
//! hosts starting at once from applying the same file twice.

use anyhow::{Context, Result, bail};
use std::path::Path;
use tokio_postgres::Client;

/// Any fixed number works; it only has to be the same for every runner.
const LOCK_KEY: i64 = 0x6d69_6e69_7370_696e;

pub async fn connect(url: &str) -> Result<Client> {
    let config: tokio_postgres::Config = url
        .parse()
        .context("the database URL is not valid; expected postgres://user:password@host:port/db")?;
    let hint = "is Postgres running, and are the user, password and database right?";
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .with_context(|| format!("cannot connect to the database: {hint}"))?;
        tokio::spawn(conn);
        Ok(client)
    } else {
        let tls = native_tls::TlsConnector::new()?;
        let (client, conn) = config
            .connect(postgres_native_tls::MakeTlsConnector::new(tls))
            .await
            .with_context(|| {
                format!("cannot connect to the database over TLS: {hint} (add sslmode=disable for a local server without TLS)")
            })?;
        tokio::spawn(conn);
        Ok(client)
    }
}

fn checksum(text: &str) -> String {
    // FNV-1a: enough to notice an edited migration, no extra dependency.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub async fn run(url: &str, dir: &Path) -> Result<()> {
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
    let mut client = connect(url).await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS minispin_migrations (
                 name text PRIMARY KEY,
                 checksum text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .context("cannot create the migrations table")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = apply_all(&mut client, &files).await;
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
            if applied != sum {
                bail!(
                    "migration {name} was edited after it was applied; put the change in a new, higher-numbered file"
                );
            }
            eprintln!("minispin: migration {name}: already applied");
            continue;
        }
        eprintln!("minispin: migration {name}: applying");
        let tx = client.transaction().await?;
        tx.batch_execute(&text)
            .await
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))
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

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksum_is_stable_and_sensitive() {
        assert_eq!(super::checksum("a"), super::checksum("a"));
        assert_ne!(super::checksum("a"), super::checksum("b"));
    }
}
