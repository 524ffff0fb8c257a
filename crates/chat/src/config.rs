//! The chat's configuration, from named values (Spin variables in the
//! components, a map in tests): one pure function, [`load`], that holds
//! every default, refuses every malformed value with a [`Warning`] that
//! names the variable, and never looks at the request.
//!
//! Why warnings and not errors: a host must keep serving when one limit is
//! mistyped, so a malformed value falls back to its default; but it must
//! never do so silently, so the caller logs each warning (the components
//! once per instance, in the host's log).
//!
//! A variable that is absent (not declared for the component, or unset with
//! no default) takes its default without a warning: only values someone
//! wrote are judged. The defaults here are those of `spin.toml`'s
//! `[variables]`, and a test holds the two to each other.

use crate::store::Limit;
use std::fmt;

/// Every variable the chat reads, with its default (`None`: no default, the
/// feature needs a value). `spin.toml` declares the same defaults.
pub const VARIABLES: [(&str, Option<&str>); 16] = [
    ("database_url", None),
    ("database_read_url", Some("")),
    ("replica_max_lag_ms", Some("1000")),
    ("session_secret", None),
    ("session_secret_previous", Some("")),
    ("admin_token", Some("")),
    ("session_ttl_seconds", Some("86400")),
    ("post_burst", Some("20")),
    ("posts_per_minute", Some("60")),
    ("session_burst", Some("10")),
    ("sessions_per_minute", Some("20")),
    ("login_burst", Some("10")),
    ("logins_per_minute", Some("5")),
    ("trusted_proxies", Some("")),
    ("edit_window_secs", Some("900")),
    ("shared_cache_ms", Some("250")),
];

/// The variables `spin.toml` uses in its outbound-host rules, which the
/// chat never reads (a test holds spin.toml to these two lists).
pub const HOST_ONLY: [&str; 2] = ["db_host", "db_read_host"];

/// What the endpoints are configured with (built by [`load`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// HMAC key for session tokens; at least [`token::MIN_SECRET_LEN`] bytes.
    pub session_secret: Vec<u8>,
    /// The key before the last rotation, if any: tokens it signed are still
    /// accepted until they expire, so a rotation logs nobody out.
    pub previous_session_secret: Vec<u8>,
    /// The operator's bootstrap and break-glass moderator credential (a
    /// bearer token); empty (the default) turns it off, and moderators are
    /// accounts with the role.
    pub admin_token: String,
    pub session_ttl_secs: i64,
    /// Posts per author per room.
    pub post_limit: Limit,
    /// New sessions per client address.
    pub session_limit: Limit,
    /// Sign-in attempts per name (and twice as many per client address).
    pub login_limit: Limit,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDR blocks,
    /// comma-separated); empty: none.
    pub trusted_proxies: String,
    /// How long after sending a message its session may edit it.
    pub edit_window_secs: i64,
    /// How long a shared cache (the stack's Varnish tier) may keep an answer
    /// to a cursor read, in milliseconds; 0: never shared. At most
    /// [`MAX_SHARED_CACHE_MS`], so a cached answer is always younger than a
    /// poll interval.
    pub shared_cache_ms: u32,
}

/// The longest a shared cache may keep a cursor read: half the page's 1 s
/// poll interval, so that with the cache's grace (0.25 s) an answer is
/// still younger than one poll.
pub const MAX_SHARED_CACHE_MS: u32 = 500;

/// The edit window unless configured otherwise: 15 minutes (`VARIABLES`
/// says the same, and a test holds the two together).
pub const DEFAULT_EDIT_WINDOW_SECS: i64 = 15 * 60;

/// Everything the chat is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The primary's address; `None` when unset or empty (requests that
    /// need the database then answer 503 and say which variable to set).
    pub database_url: Option<String>,
    /// A streaming replica's address; `None` when unset, empty, or the
    /// primary's own.
    pub database_read_url: Option<String>,
    /// A replica further behind than this is not read.
    pub replica_max_lag_ms: i64,
    /// What the endpoints need: secrets, limits, proxies, windows.
    pub api: Config,
}

/// A value that was refused (the default is used instead), or one that is
/// accepted but will not work as the operator may expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "variable `{}`: {}", self.variable, self.problem)
    }
}

fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, d)| *d)
        .unwrap_or("")
}

/// Reads values through `get` and judges them, collecting warnings.
struct Reader<'a, F> {
    get: F,
    warnings: &'a mut Vec<Warning>,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    fn text(&self, name: &'static str) -> String {
        (self.get)(name).unwrap_or_else(|| default_of(name).to_string())
    }

    /// A whole number within `min..=max`; the default (with a warning) for
    /// anything else someone wrote.
    fn number<T>(&mut self, name: &'static str, min: T, max: T) -> T
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let default: T = default_of(name)
            .parse()
            .unwrap_or_else(|_| panic!("the default of {name} is a number"));
        let Some(raw) = (self.get)(name) else {
            return default;
        };
        match raw.trim().parse::<T>() {
            Ok(v) if v >= min && v <= max => v,
            Ok(_) => {
                self.warn(
                    name,
                    format!(
                        "`{}` is out of range ({min} to {max}); using the default {default}",
                        raw.trim()
                    ),
                );
                default
            }
            Err(_) => {
                self.warn(
                    name,
                    format!(
                        "`{}` is not a whole number; using the default {default}",
                        shown(&raw)
                    ),
                );
                default
            }
        }
    }

    fn warn(&mut self, variable: &'static str, problem: String) {
        self.warnings.push(Warning { variable, problem });
    }
}

/// A value as a log line may show it: at most 40 characters, control
/// characters escaped. Only for variables that are not secret.
fn shown(raw: &str) -> String {
    raw.chars().take(40).flat_map(char::escape_debug).collect()
}

/// The configuration from `get` (a variable's value, `None` when absent),
/// and what was wrong with it.
pub fn load(get: impl Fn(&str) -> Option<String>) -> (Settings, Vec<Warning>) {
    let mut warnings = Vec::new();
    let mut r = Reader {
        get,
        warnings: &mut warnings,
    };
    let some = |s: String| (!s.trim().is_empty()).then_some(s);
    let database_url = some(r.text("database_url"));
    let database_read_url =
        some(r.text("database_read_url")).filter(|read| Some(read) != database_url.as_ref());
    let replica_max_lag_ms = r.number("replica_max_lag_ms", 0, i64::MAX / 2);

    let session_secret = r.text("session_secret");
    // Only judged when given: a component that issues no token does not
    // declare it.
    if (r.get)("session_secret").is_some()
        && let Err(e) = crate::token::check_secret(session_secret.as_bytes())
    {
        r.warn(
            "session_secret",
            format!("{e}; until then no session can be created or checked"),
        );
    }
    let previous = r.text("session_secret_previous");
    if !previous.is_empty() && crate::token::check_secret(previous.as_bytes()).is_err() {
        r.warn(
            "session_secret_previous",
            format!(
                "shorter than {} bytes, so tokens it signed are not accepted; set it to the whole previous secret, or empty",
                crate::token::MIN_SECRET_LEN
            ),
        );
    }

    let proxies = r.text("trusted_proxies");
    let invalid = crate::net::invalid_proxies(&proxies);
    if !invalid.is_empty() {
        let list: Vec<String> = invalid.iter().map(|p| shown(p)).collect();
        r.warn(
            "trusted_proxies",
            format!(
                "{} is not an IP address or CIDR block (e.g. 10.0.0.0/8) and is ignored; the other entries are used",
                list.join(", ")
            ),
        );
    }
    let trusted_proxies = proxies
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !invalid.iter().any(|i| i == p))
        .collect::<Vec<_>>()
        .join(",");

    let api = Config {
        session_secret: session_secret.into_bytes(),
        previous_session_secret: previous.into_bytes(),
        admin_token: r.text("admin_token"),
        session_ttl_secs: r.number("session_ttl_seconds", 1, 366 * 24 * 60 * 60),
        post_limit: Limit {
            burst: r.number("post_burst", 0, u32::MAX),
            per_minute: r.number("posts_per_minute", 0, u32::MAX),
        },
        session_limit: Limit {
            burst: r.number("session_burst", 0, u32::MAX),
            per_minute: r.number("sessions_per_minute", 0, u32::MAX),
        },
        login_limit: Limit {
            burst: r.number("login_burst", 0, u32::MAX / 2),
            per_minute: r.number("logins_per_minute", 0, u32::MAX / 2),
        },
        trusted_proxies,
        edit_window_secs: r.number("edit_window_secs", 0, 366 * 24 * 60 * 60),
        shared_cache_ms: r.number("shared_cache_ms", 0, MAX_SHARED_CACHE_MS),
    };
    (
        Settings {
            database_url,
            database_read_url,
            replica_max_lag_ms,
            api,
        },
        warnings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> (Settings, Vec<Warning>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_given_is_every_default_and_no_warning() {
        let (s, warnings) = with(&[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!((s.database_url, s.database_read_url), (None, None));
        assert_eq!(s.replica_max_lag_ms, 1000);
        assert_eq!(s.api.session_ttl_secs, 86400);
        assert_eq!(
            (s.api.post_limit.burst, s.api.post_limit.per_minute),
            (20, 60)
        );
        assert_eq!(
            (s.api.session_limit.burst, s.api.session_limit.per_minute),
            (10, 20)
        );
        assert_eq!(
            (s.api.login_limit.burst, s.api.login_limit.per_minute),
            (10, 5)
        );
        assert_eq!(s.api.edit_window_secs, 900);
        assert_eq!(s.api.edit_window_secs, DEFAULT_EDIT_WINDOW_SECS);
        assert_eq!(s.api.trusted_proxies, "");
        assert!(s.api.admin_token.is_empty());
    }

    #[test]
    fn values_given_are_used() {
        let (s, warnings) = with(&[
            ("database_url", "postgres://a@db/x"),
            ("database_read_url", "postgres://a@replica/x"),
            ("replica_max_lag_ms", " 250 "),
            ("session_secret", "0123456789abcdef0123"),
            ("post_burst", "0"),
            ("edit_window_secs", "0"),
            ("trusted_proxies", "10.0.0.0/8, ::1"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.database_url.as_deref(), Some("postgres://a@db/x"));
        assert_eq!(
            s.database_read_url.as_deref(),
            Some("postgres://a@replica/x")
        );
        assert_eq!(s.replica_max_lag_ms, 250);
        assert!(s.api.post_limit.is_off());
        assert_eq!(s.api.edit_window_secs, 0);
        assert_eq!(s.api.trusted_proxies, "10.0.0.0/8,::1");
    }

    #[test]
    fn a_replica_that_is_the_primary_is_no_replica() {
        let (s, _) = with(&[("database_url", "u"), ("database_read_url", "u")]);
        assert_eq!(s.database_read_url, None);
    }

    #[test]
    fn malformed_values_fall_back_and_name_their_variable() {
        let (s, warnings) = with(&[
            ("post_burst", "twenty"),
            ("posts_per_minute", "-5"),
            ("session_ttl_seconds", "0"),
            ("edit_window_secs", "15m"),
            ("replica_max_lag_ms", "1e3"),
            ("trusted_proxies", "10.0.0.0/8, traefik, 10.1.2.3/99"),
            ("session_secret", "short"),
            ("session_secret_previous", "also short"),
        ]);
        let named: Vec<&str> = warnings.iter().map(|w| w.variable).collect();
        assert_eq!(
            named,
            [
                "replica_max_lag_ms",
                "session_secret",
                "session_secret_previous",
                "trusted_proxies",
                "session_ttl_seconds",
                "post_burst",
                "posts_per_minute",
                "edit_window_secs",
            ]
        );
        assert_eq!(s.api.post_limit.burst, 20);
        assert_eq!(s.api.post_limit.per_minute, 60);
        assert_eq!(s.api.session_ttl_secs, 86400);
        assert_eq!(s.api.edit_window_secs, 900);
        assert_eq!(s.replica_max_lag_ms, 1000);
        assert_eq!(s.api.trusted_proxies, "10.0.0.0/8");
        let text = warnings[0].to_string();
        assert!(
            text.starts_with("variable `replica_max_lag_ms`: `1e3` is not a whole number"),
            "{text}"
        );
        let proxies = warnings[3].to_string();
        assert!(proxies.contains("traefik, 10.1.2.3/99"), "{proxies}");
        // The secrets' values never appear in a warning.
        for w in &warnings {
            let line = w.to_string();
            assert!(!line.contains("short`"), "{line}");
            assert!(!line.contains("also short"), "{line}");
        }
    }

    #[test]
    fn a_shown_value_is_short_and_escaped() {
        let (_, warnings) = with(&[("post_burst", &format!("x\n{}", "y".repeat(100)))]);
        let line = warnings[0].to_string();
        assert!(line.contains("`x\\nyyy"), "{line}");
        assert!(line.len() < 160, "{line}");
    }

    /// One place for defaults: spin.toml declares the same ones.
    #[test]
    fn spin_toml_declares_the_same_variables_and_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml");
        let text = std::fs::read_to_string(path).expect("read spin.toml");
        let manifest: toml::Table = text.parse().expect("spin.toml is TOML");
        let declared = manifest["variables"].as_table().expect("[variables]");
        for (name, default) in VARIABLES {
            let entry = declared
                .get(name)
                .unwrap_or_else(|| panic!("spin.toml does not declare `{name}`"));
            let theirs = entry.get("default").and_then(|d| d.as_str());
            assert_eq!(theirs, default, "the default of `{name}`");
            if default.is_none() {
                assert_eq!(
                    entry.get("required").and_then(|r| r.as_bool()),
                    Some(true),
                    "`{name}` has no default, so spin.toml must require it"
                );
            }
        }
        for name in declared.keys() {
            assert!(
                VARIABLES.iter().any(|(n, _)| n == name) || HOST_ONLY.contains(&name.as_str()),
                "spin.toml declares `{name}`, which the configuration does not know"
            );
        }
        assert_eq!(
            declared["db_read_host"].get("default"),
            declared["db_host"].get("default")
        );
    }
}
