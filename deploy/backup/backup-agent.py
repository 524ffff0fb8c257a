#!/usr/bin/env python3
"""The backup schedule of one member of the chat's database cluster, and
its metrics for Prometheus.

Every member runs this (deploy/patroni/entrypoint.sh starts it beside
Patroni); only the one that leads acts, so the schedule survives any
member's loss without an election of its own: Patroni's answer on
/primary says who leads. Every 15 s, on the leader:

- the repository's stanza is made if it has none (a new cluster, or a
  repository added to one that ran without);
- a full backup is taken when there is none, or the last is older than
  BACKUP_FULL_EVERY;
- else an incremental one when the last backup is older than
  BACKUP_INCR_EVERY, or was taken on an older timeline (a failover: a
  restore from the new timeline's backup needs no WAL a dead leader may
  not have pushed).

pgBackRest does the work and keeps the retention (repo1-retention-full).
The state it reports (`pgbackrest info`, pg_stat_archiver) is served as
Prometheus text on BACKUP_METRICS_PORT (/metrics), refreshed each round, so
a scrape never runs a command. Only the leader reports the repository's
backups and the archiver; the dashboard and the alert take the maximum over
members (deploy/prometheus/alerts.yml).

Settings (environment): BACKUP_FULL_EVERY [7d], BACKUP_INCR_EVERY [1h]
(a number with s, m, h or d), BACKUP_CHECK_EVERY [15s], BACKUP_METRICS_PORT
[9854], PATRONI_API [http://127.0.0.1:8008]. pgBackRest's own settings come
from /etc/pgbackrest (the repository's key from the stack's secret).
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

STANZA = "ostchat"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(name, default):
    """Seconds of a setting such as 90s, 30m, 1h or 7d."""
    text = os.environ.get(name, default).strip()
    try:
        if text[-1:] in UNITS:
            value = float(text[:-1]) * UNITS[text[-1]]
        else:
            value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        sys.exit(f"backup-agent: {name}={text!r} is not a duration; give a number with s, m, h or d (e.g. {default})")
    return value


FULL_EVERY = duration("BACKUP_FULL_EVERY", "7d")
INCR_EVERY = duration("BACKUP_INCR_EVERY", "1h")
CHECK_EVERY = duration("BACKUP_CHECK_EVERY", "15s")
# After a failed backup, the next try waits this long (not a minute).
RETRY_AFTER = max(CHECK_EVERY, 300)
PORT = int(os.environ.get("BACKUP_METRICS_PORT", "9854"))
PATRONI = os.environ.get("PATRONI_API", "http://127.0.0.1:8008").rstrip("/")


def log(text):
    print(f"backup-agent: {text}", file=sys.stderr, flush=True)


def run(*args, timeout=6 * 3600):
    """A command's (exit code, stdout, stderr), never raising."""
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return 1, "", str(e)


def leads():
    """Whether Patroni runs this member as the leader (200 on /primary)."""
    try:
        with urllib.request.urlopen(PATRONI + "/primary", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def repository():
    """The stanza as `pgbackrest info` reports it (a dict), or None."""
    code, out, err = run("pgbackrest", f"--stanza={STANZA}", "--output=json", "info", timeout=120)
    if code != 0:
        log(f"pgbackrest info failed: {err.strip()[:300]}; check the repository's settings and key")
        return None
    try:
        return json.loads(out)[0]
    except (ValueError, IndexError):
        return None


def sql(query):
    """One row of a query on the local server, as strings, or None."""
    code, out, _ = run("psql", "-X", "-Atq", "-F", "\t", "-d", "postgres", "-c", query, timeout=30)
    if code != 0 or not out.strip():
        return None
    return out.strip().split("\t")


def good_backups(stanza):
    """The stanza's backups that finished without error, oldest first."""
    return [b for b in stanza.get("backup", []) if not b.get("error", False)]


def timeline_of(wal):
    """The timeline of a WAL segment's name (its first eight hex digits)."""
    try:
        return int(wal[:8], 16)
    except (TypeError, ValueError):
        return 0


def due(stanza, timeline, now):
    """Which backup to take now, if any: full, incr or None."""
    backups = good_backups(stanza)
    fulls = [b for b in backups if b["type"] == "full"]
    if not fulls or now - fulls[-1]["timestamp"]["stop"] >= FULL_EVERY:
        return "full"
    last = backups[-1]
    if now - last["timestamp"]["stop"] >= INCR_EVERY:
        return "incr"
    if timeline and timeline_of(last.get("archive", {}).get("stop")) < timeline:
        return "incr"
    return None


class Agent:
    def __init__(self):
        self.lock = threading.Lock()
        self.text = "# no round yet\n"
        self.failed = 0
        self.succeeded = 0
        self.next_try = 0.0

    def backup(self, kind):
        log(f"taking a {kind} backup")
        t0 = time.time()
        code, _, err = run("pgbackrest", f"--stanza={STANZA}", f"--type={kind}", "--log-level-console=warn", "backup")
        if code == 0:
            self.succeeded += 1
            log(f"{kind} backup done in {time.time() - t0:.1f} s")
        else:
            self.failed += 1
            self.next_try = time.time() + RETRY_AFTER
            log(f"the {kind} backup failed ({err.strip()[:300]}); trying again in {RETRY_AFTER:.0f} s; "
                "run 'pgbackrest --stanza=ostchat check' on the leader to see why")

    def round(self):
        leader = leads()
        stanza = repository() if leader else None
        if leader and stanza is not None and stanza["status"]["code"] in (1, 3):
            log("the repository has no stanza for this cluster; creating it")
            code, _, err = run("pgbackrest", f"--stanza={STANZA}", "--log-level-console=warn", "stanza-create", timeout=600)
            if code != 0:
                log(f"stanza-create failed ({err.strip()[:300]}); a repository of another cluster needs a new "
                    "repo1-path (deploy/README.md, 'Rebuilding a lost cluster')")
            stanza = repository()
        archiver = sql(
            "SELECT coalesce(extract(epoch FROM last_archived_time), 0), failed_count,"
            " coalesce(extract(epoch FROM last_failed_time), 0),"
            " (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'),"
            " ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"
            " FROM pg_stat_archiver") if leader else None
        now = time.time()
        # A backup under way (the on_role_change callback's, or an
        # operator's) holds pgBackRest's lock: this round leaves it be.
        busy = stanza is not None and stanza["status"].get("lock", {}).get("backup", {}).get("held", False)
        if leader and stanza is not None and stanza["status"]["code"] in (0, 2) and not busy and now >= self.next_try:
            kind = due(stanza, int(archiver[4]) if archiver else 0, now)
            if kind:
                self.backup(kind)
                stanza = repository() or stanza
        self.publish(leader, stanza, archiver)

    def publish(self, leader, stanza, archiver):
        lines = []

        def metric(name, kind, help_text, samples):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{labels} {value}")

        metric("ostchat_backup_leader", "gauge", "1 on the member that leads and runs the backups.",
               [("", int(leader))])
        metric("ostchat_backup_interval_seconds", "gauge",
               "How often an incremental (incr) and a full backup (full) are due.",
               [('{type="incr"}', INCR_EVERY), ('{type="full"}', FULL_EVERY)])
        metric("ostchat_backup_runs_total", "counter", "Backups this agent started, by result.",
               [('{result="ok"}', self.succeeded), ('{result="failed"}', self.failed)])
        if stanza is not None:
            code = stanza["status"]["code"]
            metric("ostchat_backup_repository_ok", "gauge",
                   "1 when pgbackrest info reads the stanza (with or without backups).",
                   [("", int(code in (0, 2)))])
            last = {}
            for b in good_backups(stanza):
                last[b["type"]] = b
            if last:
                metric("ostchat_backup_last_success_timestamp_seconds", "gauge",
                       "When the last good backup of each type finished.",
                       [(f'{{type="{t}"}}', b["timestamp"]["stop"]) for t, b in sorted(last.items())])
                metric("ostchat_backup_last_duration_seconds", "gauge",
                       "How long the last good backup of each type took.",
                       [(f'{{type="{t}"}}', b["timestamp"]["stop"] - b["timestamp"]["start"])
                        for t, b in sorted(last.items())])
                metric("ostchat_backup_last_size_bytes", "gauge",
                       "The repository's size of the last good backup of each type.",
                       [(f'{{type="{t}"}}', b.get("info", {}).get("repository", {}).get("delta", 0))
                        for t, b in sorted(last.items())])
            metric("ostchat_backup_count", "gauge", "Good backups the repository holds.",
                   [("", len(good_backups(stanza)))])
        if archiver is not None:
            archived, failed, failed_at, ready, _ = archiver
            metric("ostchat_wal_last_archived_timestamp_seconds", "gauge",
                   "When the leader last archived a WAL segment (0: never since its start).",
                   [("", archived)])
            metric("ostchat_wal_archive_failures_total", "counter",
                   "Failed attempts to archive a WAL segment on the leader.", [("", failed)])
            metric("ostchat_wal_last_failed_timestamp_seconds", "gauge",
                   "When archiving last failed (0: never).", [("", failed_at)])
            metric("ostchat_wal_ready_segments", "gauge",
                   "Finished WAL segments waiting to be archived.", [("", ready)])
        with self.lock:
            self.text = "\n".join(lines) + "\n"

    def serve(self):
        agent = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/metrics":
                    self.send_error(404, "only /metrics is served")
                    return
                with agent.lock:
                    body = agent.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    agent = Agent()
    agent.serve()
    log(f"metrics on :{PORT}/metrics; full backups every {FULL_EVERY:.0f} s, incremental every {INCR_EVERY:.0f} s")
    while True:
        try:
            agent.round()
        except Exception as e:  # one bad round must not end the schedule
            log(f"a round failed: {e!r}; trying again in {CHECK_EVERY:.0f} s")
        time.sleep(CHECK_EVERY)


if __name__ == "__main__":
    main()
