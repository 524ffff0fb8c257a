//! The stack's database cluster as Patroni sees it: its members (services
//! `STACK_pg1` .. `STACK_pg3`), who leads, and `patronictl` and `psql`
//! inside a member's container.

use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::time::Duration;
use testkit::wait_for as wait;

use crate::docker::{a_container, docker};

pub(crate) const MEMBERS: [&str; 3] = ["pg1", "pg2", "pg3"];

/// One member, as `patronictl list` shows it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    /// `Leader`, `Sync Standby` or `Replica`.
    pub(crate) role: String,
    pub(crate) state: String,
    pub(crate) timeline: Option<i64>,
}

impl Member {
    pub(crate) fn serving(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
}

pub(crate) struct Cluster<'a> {
    pub(crate) stack: &'a str,
}

impl Cluster<'_> {
    pub(crate) fn service(&self, member: &str) -> String {
        format!("{}_{member}", self.stack)
    }

    /// The running container of `member`.
    pub(crate) fn container(&self, member: &str) -> Result<String> {
        a_container(&self.service(member)).map(|(c, _)| c)
    }

    /// The members as Patroni lists them, asked in the first member's
    /// container that can say (one cut off from etcd cannot).
    pub(crate) fn members(&self) -> Result<Vec<Member>> {
        let mut last = anyhow!("no member's container runs");
        for name in MEMBERS {
            let Ok(container) = self.container(name) else {
                continue;
            };
            match docker(&[
                "exec",
                &container,
                "timeout",
                "5",
                "patronictl",
                "-c",
                "/etc/patroni",
                "list",
                "-f",
                "json",
            ]) {
                Ok(out) => {
                    let list: Value = serde_json::from_str(&out)
                        .with_context(|| format!("patronictl list said: {out}"))?;
                    return Ok(list
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| Member {
                            name: m["Member"].as_str().unwrap_or_default().to_string(),
                            role: m["Role"].as_str().unwrap_or_default().to_string(),
                            state: m["State"].as_str().unwrap_or_default().to_string(),
                            timeline: m["TL"].as_i64(),
                        })
                        .collect());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The member that leads and serves.
    pub(crate) fn leader(&self) -> Result<Member> {
        self.members()?
            .into_iter()
            .find(|m| m.role == "Leader" && m.serving())
            .ok_or_else(|| anyhow!("no member leads"))
    }

    /// The leader's synchronous standby.
    pub(crate) fn sync_standby(&self) -> Result<Member> {
        self.members()?
            .into_iter()
            .find(|m| m.role == "Sync Standby" && m.serving())
            .ok_or_else(|| anyhow!("no member is the synchronous standby"))
    }

    /// Waits until a member other than `old` leads; its name.
    pub(crate) fn wait_new_leader(&self, old: &str, limit: Duration) -> Result<String> {
        wait("another member leading", limit, || {
            self.leader().ok().filter(|m| m.name != old).map(|m| m.name)
        })
    }

    /// Waits until `member` serves as a replica on a timeline after
    /// `timeline`: a former leader that rejoined.
    pub(crate) fn wait_rejoined(
        &self,
        member: &str,
        timeline: Option<i64>,
        limit: Duration,
    ) -> Result<()> {
        wait(&format!("{member} rejoining as a replica"), limit, || {
            self.members()
                .ok()?
                .into_iter()
                .find(|m| {
                    m.name == member && m.role != "Leader" && m.serving() && m.timeline > timeline
                })
                .map(|_| ())
        })
    }

    /// Waits until the cluster is whole again: a leader, a synchronous
    /// standby and a replica, all serving.
    pub(crate) fn wait_whole(&self, limit: Duration) -> Result<()> {
        wait("the cluster whole again", limit, || {
            let members = self.members().ok()?;
            let mut roles: Vec<&str> = members
                .iter()
                .filter(|m| m.serving())
                .map(|m| m.role.as_str())
                .collect();
            roles.sort();
            (roles == ["Leader", "Replica", "Sync Standby"]).then_some(())
        })
    }

    /// `sql`'s one value, as the superuser over the member's own socket.
    pub(crate) fn psql(&self, member: &str, sql: &str) -> Result<String> {
        let container = self.container(member)?;
        psql_at(&container, sql)
    }
}

/// `sql`'s one value in the chat's database, as the superuser over the
/// container's own socket (no network needed).
pub(crate) fn psql_at(container: &str, sql: &str) -> Result<String> {
    docker(&[
        "exec", container, "timeout", "60", "psql", "-U", "postgres", "-d", "ostchat", "-tAXc", sql,
    ])
}
