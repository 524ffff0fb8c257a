//! The figures: one row per scenario and target, the chat rows, the ratios,
//! the printed table and the JSON file. A step that failed is a line of the
//! report, not the end of it: every other figure is kept.

use crate::cli::Settings;
use crate::load::Outcome;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize, Clone)]
pub struct Row {
    pub scenario: String,
    pub target: String,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cpu_s_per_1k: f64,
    pub peak_rss_mb: f64,
    pub errors: u64,
    /// Runner / native requests per second (runner rows only).
    pub vs_native: Option<f64>,
    /// Target / pgbench transactions per second (poll rows only).
    pub vs_pgbench: Option<f64>,
}

/// One step of the chat as people use it (`people.rs`): so many people
/// polling once a second while posts arrive at a fixed rate.
#[derive(Debug, Serialize, Clone)]
pub struct ChatRow {
    pub target: String,
    /// How the people reached the hosts: "direct", "cache" (the shared
    /// cache in front), "traefik-cache" (Traefik, then the cache, as in the
    /// stack), "traefik".
    pub way: String,
    /// The rooms the people were spread over (posts too, in turn).
    pub rooms: usize,
    pub people: usize,
    pub mode: crate::people::PollMode,
    pub post_rate: f64,
    /// People whose connection could not be opened.
    pub connect_failures: usize,
    /// All requests (polls, room lists, posts are not counted here) started
    /// in the window, per second of the window as measured.
    pub requests_per_s: f64,
    pub requests_per_person_s: f64,
    pub poll_p50_ms: f64,
    pub poll_p99_ms: f64,
    /// Requests that failed or answered an error, polls and posts.
    pub errors: u64,
    /// The polls' errors by kind ("HTTP 503": 12).
    pub error_kinds: std::collections::BTreeMap<String, u64>,
    /// The share of due events that were edits and removals.
    pub edit_share: f64,
    pub due: usize,
    /// Events answered: messages, edits and removals.
    pub posted: usize,
    /// Of those, edits and removals.
    pub changes: usize,
    /// Posts that started more than a second after they were due.
    pub late: usize,
    /// How long a post took to be answered (p99).
    pub post_p99_ms: f64,
    pub undelivered: usize,
    pub delivery_p50_ms: f64,
    pub delivery_p99_ms: f64,
    pub delivery_max_ms: f64,
    /// How many host processes served the step (behind Traefik when more
    /// than one, or when `proxy_cpu_pct` is set).
    pub hosts: usize,
    /// CPU over the window, in % of one core: the hosts under test (all of
    /// them), Traefik, Postgres (all its processes), this load generator;
    /// and the machine as a whole, in % of all its cores.
    pub host_cpu_pct: f64,
    pub proxy_cpu_pct: Option<f64>,
    /// The shared cache's CPU (Varnish's processes), and the share of
    /// polls it answered without asking a host.
    pub cache_cpu_pct: Option<f64>,
    pub cache_hit_pct: Option<f64>,
    pub postgres_cpu_pct: Option<f64>,
    /// The streaming replica's CPU, when the hosts read from one.
    pub replica_cpu_pct: Option<f64>,
    pub loadgen_cpu_pct: f64,
    pub machine_busy_pct: f64,
    /// CPU per request, in ms: the hosts (together), and Postgres.
    pub host_cpu_ms_per_req: f64,
    pub postgres_cpu_ms_per_req: Option<f64>,
    /// This load generator's CPU per request it made, in ms.
    pub loadgen_cpu_ms_per_req: f64,
    /// The hosts' peak resident memory during this step (summed).
    pub host_peak_rss_mb: f64,
    /// "ok", or what fell short of the targets and what gave out first.
    pub verdict: String,
}

/// One route's latency on one kept-alive connection: requests sent one after
/// another, as a proxy sends them to a host. A response written in pieces
/// on a host without `TCP_NODELAY` shows here as ~40 ms per request.
#[derive(Debug, Serialize)]
pub struct RouteRow {
    pub route: String,
    pub target: String,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Requests that failed or answered another status than expected.
    pub errors: u64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub date_unix: u64,
    pub machine: String,
    pub settings: Settings,
    pub rows: Vec<Row>,
    pub chat: Vec<ChatRow>,
    /// The chat at scale (`--people`): one row per target and number.
    pub scale: Vec<ChatRow>,
    /// None when the pgbench step failed.
    pub pgbench_poll_tps: Option<f64>,
    /// pgbench's clients (capped below the server's free connections).
    pub pgbench_clients: usize,
    /// Sequential requests on one kept-alive connection, per route.
    pub routes: Vec<RouteRow>,
    /// Steps skipped on purpose, each with why.
    pub notes: Vec<String>,
    /// Steps that failed, each with why; their figures are missing.
    pub failed_steps: Vec<String>,
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds from microseconds, sorted.
pub fn sorted_ms(latencies_us: &[u32]) -> Vec<f64> {
    let mut ms: Vec<f64> = latencies_us.iter().map(|u| *u as f64 / 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms
}

pub fn summarize(scenario: &str, target: &str, out: &Outcome, cpu_s: f64, rss: f64) -> Row {
    let ms = sorted_ms(&out.latencies_us);
    let n = ms.len() as f64;
    Row {
        scenario: scenario.into(),
        target: target.into(),
        requests_per_s: n / out.elapsed.as_secs_f64(),
        p50_ms: percentile(&ms, 0.50),
        p99_ms: percentile(&ms, 0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
        cpu_s_per_1k: if n > 0.0 { cpu_s / n * 1000.0 } else { 0.0 },
        peak_rss_mb: rss,
        errors: out.errors,
        vs_native: None,
        vs_pgbench: None,
    }
}

impl Report {
    /// Fills in the ratios: runner against native for the same scenario,
    /// poll against pgbench.
    pub fn add_ratios(&mut self) {
        let native: Vec<Row> = self
            .rows
            .iter()
            .filter(|r| r.target == "native")
            .cloned()
            .collect();
        for r in self.rows.iter_mut() {
            if r.target == "runner" || r.target == "nolimit" {
                r.vs_native = native
                    .iter()
                    .find(|n| n.scenario == r.scenario)
                    .filter(|n| n.requests_per_s > 0.0)
                    .map(|n| r.requests_per_s / n.requests_per_s);
            }
            if r.scenario == "poll" {
                r.vs_pgbench = self
                    .pgbench_poll_tps
                    .filter(|t| *t > 0.0)
                    .map(|t| r.requests_per_s / t);
            }
        }
    }

    /// Complete: every step ran, every scenario served and had no errors,
    /// every chat message reached every poller. The smoke run in CI relies
    /// on this.
    pub fn complete(&self, chat_rows: usize, rows: usize) -> bool {
        self.failed_steps.is_empty()
            && self.rows.len() == rows
            && self.chat.len() == chat_rows
            && self
                .rows
                .iter()
                .all(|r| r.requests_per_s > 0.0 && r.errors == 0)
            && self.chat.iter().all(|c| {
                c.posted > 0
                    && c.undelivered == 0
                    && c.errors == 0
                    && (c.edit_share == 0.0 || c.changes > 0)
            })
            && self.pgbench_poll_tps.is_some_and(|t| t > 0.0)
            && self.routes.iter().all(|r| r.errors == 0 && r.requests > 0)
    }

    pub fn print(&self) {
        // A run at scale (--people) has no closed loops and no pgbench.
        if self.scale.is_empty() {
            self.print_closed_loops();
        }
        if !self.chat.is_empty() {
            println!();
            println!("the chat as people use it (--clients people polling once a second):");
            print_chat(&self.chat);
        }
        if !self.scale.is_empty() {
            println!();
            println!("the chat at scale (--people):");
            print_scale(&self.scale);
        }
        if !self.routes.is_empty() {
            println!();
            println!("one kept-alive connection, requests one after another:");
            println!(
                "{:<22} {:<8} {:>9} {:>8} {:>8} {:>8} {:>7}",
                "route", "target", "requests", "p50 ms", "p99 ms", "max ms", "errors"
            );
            for r in &self.routes {
                println!(
                    "{:<22} {:<8} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>7}",
                    r.route, r.target, r.requests, r.p50_ms, r.p99_ms, r.max_ms, r.errors
                );
            }
        }
        for n in &self.notes {
            println!("note: {n}");
        }
        for f in &self.failed_steps {
            println!("FAILED: {f}");
        }
    }

    fn print_closed_loops(&self) {
        println!();
        println!(
            "{:<9} {:<7} {:>9} {:>8} {:>8} {:>8} {:>11} {:>8} {:>7} {:>9} {:>10}",
            "scenario",
            "target",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "CPU s/1k",
            "RSS MB",
            "errors",
            "/native",
            "/pgbench"
        );
        for r in &self.rows {
            let ratio = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2}x"));
            println!(
                "{:<9} {:<7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>11.3} {:>8.1} {:>7} {:>9} {:>10}",
                r.scenario,
                r.target,
                r.requests_per_s,
                r.p50_ms,
                r.p99_ms,
                r.max_ms,
                r.cpu_s_per_1k,
                r.peak_rss_mb,
                r.errors,
                ratio(r.vs_native),
                ratio(r.vs_pgbench)
            );
        }
        match self.pgbench_poll_tps {
            Some(tps) => println!(
                "pgbench poll query: {tps:.0} tps ({} clients)",
                self.pgbench_clients
            ),
            None => println!("pgbench poll query: FAILED (see below)"),
        }
    }

    /// Writes `bench-<date>.json` and `latest.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self)?;
        let file = dir.join(format!("bench-{}.json", self.date_unix));
        std::fs::write(&file, &json)?;
        std::fs::write(dir.join("latest.json"), &json)?;
        println!("\nwritten: {}", file.display());
        Ok(())
    }
}

/// The chat rows, then each row's verdict.
fn print_chat(rows: &[ChatRow]) {
    println!(
        "{:<7} {:>5} {:<6} {:>6} {:>7} {:>6} {:>8} {:>4} {:>6} {:>4} {:>4} {:>8} {:>6} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>6}",
        "target",
        "hosts",
        "poll",
        "people",
        "req/s",
        "/pers",
        "poll p99",
        "due",
        "posted",
        "chg",
        "late",
        "post p99",
        "undel",
        "dlv p50",
        "dlv p99",
        "dlv max",
        "errors",
        "host%",
        "proxy%",
        "pg%",
        "gen%",
        "mach%",
        "host ms",
        "pg ms",
        "RSS MB"
    );
    let opt = |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |x| format!("{x:.prec$}"));
    for c in rows {
        println!(
            "{:<7} {:>5} {:<6} {:>6} {:>7.0} {:>6.2} {:>8.1} {:>4} {:>6} {:>4} {:>4} {:>8.0} {:>6} {:>8.0} {:>8.0} {:>8.0} {:>6} {:>6.0} {:>6} {:>6} {:>6.0} {:>6.0} {:>8.3} {:>8} {:>6.1}",
            c.target,
            c.hosts,
            format!("{:?}", c.mode).to_lowercase(),
            c.people,
            c.requests_per_s,
            c.requests_per_person_s,
            c.poll_p99_ms,
            c.due,
            c.posted,
            c.changes,
            c.late,
            c.post_p99_ms,
            c.undelivered,
            c.delivery_p50_ms,
            c.delivery_p99_ms,
            c.delivery_max_ms,
            c.errors,
            c.host_cpu_pct,
            opt(c.proxy_cpu_pct, 0),
            opt(c.postgres_cpu_pct, 0),
            c.loadgen_cpu_pct,
            c.machine_busy_pct,
            c.host_cpu_ms_per_req,
            opt(c.postgres_cpu_ms_per_req, 3),
            c.host_peak_rss_mb
        );
    }
    for c in rows {
        let replica = c
            .replica_cpu_pct
            .map_or(String::new(), |r| format!(" (replica {r:.0} % of a core)"));
        let changes = if c.edit_share > 0.0 {
            format!(", {:.0} % edits and removals", c.edit_share * 100.0)
        } else {
            String::new()
        };
        println!(
            "  {} {} people{changes}{replica}: {}",
            c.target, c.people, c.verdict
        );
    }
}

/// The steps at scale: per number of people, each way side by side; CPU
/// per person and second of each part, in microseconds (a person polls once
/// a second, so it is also the CPU per poll), then each row's verdict.
fn print_scale(rows: &[ChatRow]) {
    println!(
        "{:<13} {:>6} {:>5} {:>6} {:>8} {:>9} {:>8} {:>13} {:>5} {:>6} {:>5} {:>26} {:>8} {:>5}",
        "way",
        "people",
        "rooms",
        "req/s",
        "poll p99",
        "posted",
        "post p99",
        "dlv p50/p99",
        "undel",
        "errors",
        "hit%",
        "us/person-s host/pg/cache/tfk",
        "gen us/r",
        "mach%"
    );
    let us = |pct: Option<f64>, people: usize| {
        pct.map_or("-".to_string(), |p| {
            format!("{:.0}", p * 10_000.0 / people.max(1) as f64)
        })
    };
    for c in rows {
        let host = (c.hosts > 0).then_some(c.host_cpu_pct);
        println!(
            "{:<13} {:>6} {:>5} {:>6.0} {:>8.0} {:>9} {:>8.0} {:>13} {:>5} {:>6} {:>5} {:>26} {:>8.0} {:>5.0}",
            c.way,
            c.people,
            c.rooms,
            c.requests_per_s,
            c.poll_p99_ms,
            format!("{}/{}", c.posted, c.due),
            c.post_p99_ms,
            format!("{:.0}/{:.0}", c.delivery_p50_ms, c.delivery_p99_ms),
            c.undelivered,
            c.errors,
            c.cache_hit_pct
                .map_or("-".to_string(), |h| format!("{h:.1}")),
            format!(
                "{}/{}/{}/{}",
                us(host, c.people),
                us(c.postgres_cpu_pct, c.people),
                us(c.cache_cpu_pct, c.people),
                us(c.proxy_cpu_pct, c.people)
            ),
            c.loadgen_cpu_ms_per_req * 1000.0,
            c.machine_busy_pct
        );
    }
    for c in rows {
        println!(
            "  {} {} people: {} (generator {:.0} % of a core)",
            c.way, c.people, c.verdict, c.loadgen_cpu_pct
        );
    }
}

/// `N cores, <cpu model>`.
pub fn machine() -> String {
    format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| c.lines().find_map(|l| l
                .strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 0.5), 0.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((percentile(&v, 0.5), percentile(&v, 0.99)), (51.0, 99.0));
    }

    #[test]
    fn a_failed_step_keeps_the_other_figures_and_makes_the_report_incomplete() {
        let settings = crate::cli::Settings {
            messages: 1,
            clients: 1,
            duration_s: 1.0,
            warmup_s: 0.0,
            post_rate: 1.0,
            edit_share: 0.0,
            smoke: true,
            manifest: None,
            traefik: None,
            people: Vec::new(),
            poll_mode: crate::people::PollMode::Single,
            ways: Vec::new(),
            rooms: 1,
            url: None,
            hosts: 1,
            replica: None,
            pg_port: None,
        };
        let row = |target: &str, scenario: &str, rps: f64| Row {
            scenario: scenario.into(),
            target: target.into(),
            requests_per_s: rps,
            p50_ms: 1.0,
            p99_ms: 1.0,
            max_ms: 1.0,
            cpu_s_per_1k: 0.1,
            peak_rss_mb: 1.0,
            errors: 0,
            vs_native: None,
            vs_pgbench: None,
        };
        let mut report = Report {
            date_unix: 0,
            machine: String::new(),
            settings,
            rows: vec![row("runner", "poll", 50.0), row("native", "poll", 100.0)],
            chat: Vec::new(),
            scale: Vec::new(),
            pgbench_poll_tps: None,
            pgbench_clients: 0,
            routes: Vec::new(),
            notes: Vec::new(),
            failed_steps: vec!["pgbench: too many clients".into()],
        };
        report.add_ratios();
        assert_eq!(report.rows[0].vs_native, Some(0.5));
        assert_eq!(report.rows[0].vs_pgbench, None);
        assert!(!report.complete(2, 2));
    }
}
