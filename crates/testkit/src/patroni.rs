//! A Patroni cluster on loopback, shaped as the stack's: one etcd, Postgres
//! members under Patroni with the stack's own settings
//! (`deploy/patroni/patroni.yml`), and HAProxy in front with two entry
//! points chosen by Patroni's REST API, one that reaches the leader and one
//! that reaches healthy replicas. The failover tests run the chat's hosts
//! against it, kill its leader and check what the hosts saw.
//!
//! Needs Debian's `patroni`, `etcd-server` and `haproxy` and a Postgres
//! server's binaries (`scripts/lib.sh`, `ensure_patroni`). Postgres refuses
//! to run as root, so as root the members run as the `postgres` user.
//!
//! With backups ([`Cluster::start_with_backups`]), every member archives its
//! WAL with pgBackRest (`deploy/backup/`) into one repository under the
//! cluster's directory, as the stack's members do into theirs.
//!
//! Everything lives in a fresh directory under /tmp, on ports that were
//! free, and is killed and removed when the [`Cluster`] is dropped.

use crate::http::{agent_with_timeout, try_send};
use crate::server::{children_of, free_port};
use crate::{unique_name, wait_for, workspace_root};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The owner and app roles the scripts create on the test server
/// (`scripts/lib.sh`, `ensure_roles`), made on the cluster too.
const ROLES_SQL: &str = "
    CREATE ROLE ostchat_owner LOGIN CREATEDB CREATEROLE PASSWORD 'ostchat_owner';
    CREATE ROLE ostchat_app LOGIN PASSWORD 'ostchat_app';
    GRANT pg_signal_backend TO ostchat_owner;
";

/// One Postgres member under Patroni.
pub struct Member {
    pub name: String,
    pub pg_port: u16,
    pub rest_port: u16,
    dir: PathBuf,
    process: Option<Child>,
}

impl Member {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("patroni.log")
    }

    /// The postmaster's pid, from its lock file.
    fn postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

/// A member as Patroni's `GET /cluster` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberState {
    pub name: String,
    /// `leader`, `sync_standby` or `replica`.
    pub role: String,
    /// `running` or `streaming` when it serves.
    pub state: String,
    pub timeline: Option<i64>,
}

impl MemberState {
    fn serving(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
}

/// The cluster: etcd, the members and HAProxy.
pub struct Cluster {
    dir: PathBuf,
    etcd: Child,
    etcd_port: u16,
    haproxy: Child,
    pub members: Vec<Member>,
    /// HAProxy's port that reaches the leader.
    pub primary_port: u16,
    /// HAProxy's port that reaches healthy replicas.
    pub replica_port: u16,
    superuser_password: String,
    bin_dir: PathBuf,
    /// Run as root: the members then run as `postgres`.
    as_root: bool,
    /// With backups: the repository's key (the repository is `dir/repo`).
    backup_key: Option<String>,
}

/// The newest Postgres server binaries Debian installed.
fn postgres_bin_dir() -> Result<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql: install PostgreSQL (apt-get install postgresql)")?
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((major, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|(_, bin)| bin)
        .context("no Postgres server binaries under /usr/lib/postgresql: install postgresql")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn require(program: &str, package: &str) -> Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        bail!(
            "`{program}` is not installed: run the README's test command, or apt-get install {package}"
        );
    }
    Ok(())
}

/// Sends SIGKILL to the process group `pgid` and to `pids`.
fn kill_hard(pgid: Option<u32>, pids: &[u32]) {
    let mut args = vec!["-KILL".to_string(), "--".to_string()];
    args.extend(pgid.map(|g| format!("-{g}")));
    args.extend(pids.iter().map(u32::to_string));
    if args.len() > 2 {
        let _ = Command::new("kill")
            .args(&args)
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether process `pid` runs Postgres (a postmaster or one of its
/// backends).
fn is_postgres(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("postgres"))
}

impl Cluster {
    /// Starts etcd, `members` Postgres members (the first one makes the
    /// cluster, the others copy it) and HAProxy; returns once every member
    /// serves, one as leader and one as its synchronous standby, and the
    /// chat's roles exist.
    pub fn start(members: usize) -> Result<Cluster> {
        Cluster::start_with(members, false)
    }

    /// As [`Cluster::start`], with WAL archived by pgBackRest from whichever
    /// member leads (`deploy/backup/patroni-archive.yml`) into an encrypted
    /// repository, whose stanza is made once the cluster serves.
    pub fn start_with_backups(members: usize) -> Result<Cluster> {
        require("pgbackrest", "pgbackrest")?;
        let cluster = Cluster::start_with(members, true)?;
        cluster.pgbackrest_ok(cluster.leader().unwrap_or(0), &["stanza-create"])?;
        Ok(cluster)
    }

    fn start_with(members: usize, backups: bool) -> Result<Cluster> {
        for (program, package) in [
            ("patroni", "patroni"),
            ("etcd", "etcd-server"),
            ("haproxy", "haproxy"),
        ] {
            require(program, package)?;
        }
        let bin_dir = postgres_bin_dir()?;
        let dir = PathBuf::from("/tmp").join(unique_name("ostchat-patroni-"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let root = running_as_root();
        let etcd_port = free_port();
        let peer_port = free_port();
        let etcd = Command::new("etcd")
            .args(["--name", "etcd1", "--data-dir"])
            .arg(dir.join("etcd"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-cluster",
                &format!("etcd1=http://127.0.0.1:{peer_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("etcd.log"))?)
            .process_group(0)
            .spawn()
            .context("cannot start etcd")?;
        let members = (1..=members)
            .map(|i| Member {
                name: format!("pg{i}"),
                pg_port: free_port(),
                rest_port: free_port(),
                dir: dir.join(format!("pg{i}")),
                process: None,
            })
            .collect::<Vec<_>>();
        for m in &members {
            std::fs::create_dir_all(&m.dir)?;
            // The stack's settings, then this machine's: the socket in the
            // member's own directory (the default one may not be writable).
            std::fs::create_dir_all(m.dir.join("conf"))?;
            std::fs::copy(
                workspace_root().join("deploy/patroni/patroni.yml"),
                m.dir.join("conf/10-patroni.yml"),
            )
            .context("cannot read deploy/patroni/patroni.yml")?;
            std::fs::write(
                m.dir.join("conf/20-loopback.yml"),
                format!(
                    "postgresql:\n  parameters:\n    unix_socket_directories: '{}'\n",
                    m.dir.display()
                ),
            )?;
            if backups {
                std::fs::copy(
                    workspace_root().join("deploy/backup/patroni-archive.yml"),
                    m.dir.join("conf/30-backup.yml"),
                )
                .context("cannot read deploy/backup/patroni-archive.yml")?;
                std::fs::create_dir_all(m.dir.join("pgbackrest"))?;
                // The callback where the postgres user may run it.
                let hook = m.dir.join("on-role-change.sh");
                std::fs::copy(
                    workspace_root().join("deploy/backup/on-role-change.sh"),
                    &hook,
                )
                .context("cannot read deploy/backup/on-role-change.sh")?;
                std::fs::write(
                    m.dir.join("conf/40-callback.yml"),
                    format!(
                        "postgresql:\n  callbacks:\n    on_role_change: {}\n",
                        hook.display()
                    ),
                )?;
            }
        }
        if backups {
            std::fs::create_dir_all(dir.join("repo"))?;
            std::fs::copy(
                workspace_root().join("deploy/backup/pgbackrest.conf"),
                dir.join("pgbackrest.conf"),
            )
            .context("cannot read deploy/backup/pgbackrest.conf")?;
        }
        let haproxy_cfg = dir.join("haproxy.cfg");
        let primary_port = free_port();
        let replica_port = free_port();
        std::fs::write(
            &haproxy_cfg,
            haproxy_config(&members, primary_port, replica_port),
        )?;
        if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()?;
            if !status.success() {
                bail!("cannot hand {} to the postgres user", dir.display());
            }
        }
        let haproxy = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&haproxy_cfg)
            .stdout(std::fs::File::create(dir.join("haproxy.log"))?)
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start haproxy")?;
        let mut cluster = Cluster {
            dir,
            etcd,
            etcd_port,
            haproxy,
            members,
            primary_port,
            replica_port,
            superuser_password: unique_name("su"),
            bin_dir,
            as_root: root,
            backup_key: backups.then(|| unique_name("key")),
        };
        wait_for("etcd answering", Duration::from_secs(30), || {
            cluster
                .get_json(etcd_port, "/health")
                .filter(|h| h["health"] == "true")
        })
        .with_context(|| cluster.logs())?;
        // The first member makes the cluster; the others copy it.
        cluster.start_member(0)?;
        wait_for("the first member leading", Duration::from_secs(60), || {
            cluster.leader()
        })
        .with_context(|| cluster.logs())?;
        for i in 1..cluster.members.len() {
            cluster.start_member(i)?;
        }
        cluster
            .wait_healthy(Duration::from_secs(120))
            .with_context(|| cluster.logs())?;
        let mut su = cluster.superuser()?;
        su.batch_execute(ROLES_SQL)
            .context("cannot create the chat's roles on the cluster")?;
        Ok(cluster)
    }

    /// Starts member `i` (again): Patroni with the stack's settings.
    pub fn start_member(&mut self, i: usize) -> Result<()> {
        let (etcd, password, bin_dir, backup_env) = (
            self.etcd_port,
            self.superuser_password.clone(),
            self.bin_dir.clone(),
            self.backup_env_of(i),
        );
        let mut cmd = self.as_postgres("patroni");
        let m = &mut self.members[i];
        let addr = |port: u16| format!("127.0.0.1:{port}");
        cmd.arg(m.dir.join("conf"))
            .env("PATRONI_NAME", &m.name)
            .env("PATRONI_ETCD3_HOSTS", addr(etcd))
            .env("PATRONI_RESTAPI_LISTEN", addr(m.rest_port))
            .env("PATRONI_RESTAPI_CONNECT_ADDRESS", addr(m.rest_port))
            .env("PATRONI_POSTGRESQL_LISTEN", addr(m.pg_port))
            .env("PATRONI_POSTGRESQL_CONNECT_ADDRESS", addr(m.pg_port))
            .env("PATRONI_POSTGRESQL_DATA_DIR", m.data_dir())
            .env("PATRONI_POSTGRESQL_PGPASS", m.dir.join("pgpass"))
            .env("PATRONI_POSTGRESQL_BIN_DIR", &bin_dir)
            .env("PATRONI_SUPERUSER_PASSWORD", &password)
            .env("PATRONI_REPLICATION_PASSWORD", &password)
            .env("PATRONI_REWIND_PASSWORD", &password)
            .envs(backup_env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(m.log())?,
            )
            .process_group(0);
        m.process = Some(cmd.spawn().context("cannot start patroni")?);
        Ok(())
    }

    /// `program`, run as the postgres user (Postgres refuses root).
    fn as_postgres(&self, program: &str) -> Command {
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    /// pgBackRest's settings for member `i` (none without backups): the
    /// stack's file, and what differs here as PGBACKREST_* variables.
    pub fn backup_env_of(&self, i: usize) -> Vec<(String, String)> {
        let Some(key) = &self.backup_key else {
            return Vec::new();
        };
        let m = &self.members[i];
        let own = m.dir.join("pgbackrest");
        let path = |p: &Path| p.display().to_string();
        [
            ("CONFIG", path(&self.dir.join("pgbackrest.conf"))),
            ("REPO1_PATH", path(&self.dir.join("repo"))),
            ("REPO1_CIPHER_PASS", key.clone()),
            ("PG1_PATH", path(&m.data_dir())),
            ("PG1_PORT", m.pg_port.to_string()),
            ("PG1_SOCKET_PATH", path(&m.dir)),
            ("LOCK_PATH", path(&own)),
            ("SPOOL_PATH", path(&own)),
            ("LOG_PATH", path(&own)),
        ]
        .into_iter()
        .map(|(k, v)| (format!("PGBACKREST_{k}"), v))
        .collect()
    }

    /// The repository's settings for a restore elsewhere (the restore
    /// drill): member 0's, without what names its data directory.
    pub fn repository_env(&self) -> Vec<(String, String)> {
        self.backup_env_of(0)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("PGBACKREST_PG1_"))
            .collect()
    }

    /// Runs `pgbackrest --stanza=ostchat ARGS` as member `i` (as the
    /// postgres user), returning what it printed; an error says why.
    pub fn pgbackrest_ok(&self, i: usize, args: &[&str]) -> Result<String> {
        let out = self
            .as_postgres("pgbackrest")
            .arg("--stanza=ostchat")
            .args(args)
            .envs(self.backup_env_of(i))
            .output()
            .context("cannot run pgbackrest")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!(
                "pgbackrest {} on {} failed: {text}",
                args.join(" "),
                self.members[i].name
            );
        }
        Ok(text)
    }

    /// Kills member `i` with no warning, as a lost node: SIGKILL to Patroni
    /// and to its Postgres server and every backend.
    pub fn kill_member(&mut self, i: usize) {
        let m = &mut self.members[i];
        // A lock file outlives its server: only a live `postgres` is killed.
        let postmaster = m.postmaster().filter(|pid| is_postgres(*pid));
        let mut pids: Vec<u32> = postmaster.into_iter().collect();
        if let Some(pm) = postmaster {
            pids.extend(children_of(pm));
        }
        let group = m.process.as_ref().map(Child::id);
        kill_hard(group, &pids);
        if let Some(mut child) = m.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every member as Patroni reports them (asked of any member that
    /// answers); empty when none does.
    pub fn states(&self) -> Vec<MemberState> {
        let Some(cluster) = self
            .members
            .iter()
            .filter(|m| m.process.is_some())
            .find_map(|m| self.get_json(m.rest_port, "/cluster"))
        else {
            return Vec::new();
        };
        cluster["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| MemberState {
                name: m["name"].as_str().unwrap_or_default().to_string(),
                role: m["role"].as_str().unwrap_or_default().to_string(),
                state: m["state"].as_str().unwrap_or_default().to_string(),
                timeline: m["timeline"].as_i64(),
            })
            .collect()
    }

    /// The index of the member that leads and serves, if one does.
    pub fn leader(&self) -> Option<usize> {
        let states = self.states();
        let leader = states.iter().find(|s| s.role == "leader" && s.serving())?;
        self.members.iter().position(|m| m.name == leader.name)
    }

    /// Member `i`'s state, if the cluster knows it.
    pub fn state_of(&self, i: usize) -> Option<MemberState> {
        let name = &self.members[i].name;
        self.states().into_iter().find(|s| &s.name == name)
    }

    /// Waits until every member serves, one leads and (with two or more)
    /// one is its synchronous standby.
    pub fn wait_healthy(&self, limit: Duration) -> Result<()> {
        let n = self.members.len();
        wait_for("every member serving", limit, || {
            let states = self.states();
            let serving = states.iter().filter(|s| s.serving()).count();
            let leaders = states.iter().filter(|s| s.role == "leader").count();
            let sync = states.iter().filter(|s| s.role == "sync_standby").count();
            (serving == n && leaders == 1 && (n == 1 || sync == 1)).then_some(())
        })
    }

    /// A connection as the superuser through the leader's entry point.
    pub fn superuser(&self) -> Result<postgres::Client> {
        let url = format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=5",
            self.superuser_password, self.primary_port
        );
        wait_for(
            "the leader's entry point answering",
            Duration::from_secs(30),
            || postgres::Client::connect(&url, postgres::NoTls).ok(),
        )
    }

    /// The owner's URL through the leader's entry point (for
    /// [`crate::TestDb::on`]).
    pub fn owner_url(&self) -> String {
        format!(
            "postgres://ostchat_owner:ostchat_owner@127.0.0.1:{}/postgres?sslmode=disable",
            self.primary_port
        )
    }

    /// `host:port` of the replicas' entry point.
    pub fn replica_host(&self) -> String {
        format!("127.0.0.1:{}", self.replica_port)
    }

    /// Member `i`'s Prometheus metrics (Patroni's `GET /metrics`).
    pub fn metrics(&self, i: usize) -> Option<String> {
        self.get(self.members[i].rest_port, "/metrics")
    }

    fn get(&self, port: u16, path: &str) -> Option<String> {
        let agent = agent_with_timeout(Duration::from_secs(2));
        let reply = try_send(
            &agent,
            "GET",
            &format!("http://127.0.0.1:{port}{path}"),
            &[],
            None,
        )
        .ok()?;
        (reply.status == 200).then_some(reply.body)
    }

    fn get_json(&self, port: u16, path: &str) -> Option<Value> {
        serde_json::from_str(&self.get(port, path)?).ok()
    }

    /// The last lines of every log, for a failure's message.
    pub fn logs(&self) -> String {
        let tail = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(25)..].join("\n")
        };
        let mut out = format!(
            "--- etcd ---\n{}\n--- haproxy ---\n{}\n",
            tail(&self.dir.join("etcd.log")),
            tail(&self.dir.join("haproxy.log"))
        );
        for m in &self.members {
            out.push_str(&format!("--- {} ---\n{}\n", m.name, tail(&m.log())));
        }
        out
    }
}

/// HAProxy in front of the members, with the stack's checks
/// (`deploy/haproxy/haproxy.cfg`): the leader's entry point sends to the
/// member whose `OPTIONS /primary` answers 200, the replicas' to those
/// whose `OPTIONS /replica` does; a member marked down has its sessions cut, so no
/// client keeps a connection to a demoted or dead leader.
fn haproxy_config(members: &[Member], primary: u16, replicas: u16) -> String {
    let servers = members
        .iter()
        .map(|m| {
            format!(
                "    server {} 127.0.0.1:{} check port {}\n",
                m.name, m.pg_port, m.rest_port
            )
        })
        .collect::<String>();
    format!(
        "global
    maxconn 2000
defaults
    mode tcp
    log stdout format raw local0
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s
    option clitcpka
    option srvtcpka
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
listen primary
    bind 127.0.0.1:{primary}
    option httpchk OPTIONS /primary
    http-check expect status 200
{servers}listen replicas
    bind 127.0.0.1:{replicas}
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
{servers}"
    )
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the Patroni cluster's logs ---\n{}", self.logs());
        }
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
        for child in [&mut self.haproxy, &mut self.etcd] {
            kill_hard(Some(child.id()), &[]);
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
