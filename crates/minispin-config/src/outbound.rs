//! `allowed_outbound_hosts`: which network addresses a component may reach.
//!
//! Entries are `scheme://host[:port]`, where host may be `*` or `*.domain`,
//! port may be `*` or a range `a-b`, and a missing port means the scheme's
//! well-known port (5432 for Postgres). Templates (`{{ var }}`) are rendered
//! at start-up. A component whose list does not allow an address gets the same
//! refusal Spin gives: `address ... is not permitted`.

use anyhow::{Result, bail};

#[derive(Debug, Clone, PartialEq)]
pub struct AllowedHost {
    scheme: String,
    host: HostPattern,
    ports: PortPattern,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Any,
    Subdomains(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<AllowedHost> {
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!(
                "allowed_outbound_hosts entry `{entry}` needs a scheme, as in `postgres://host:5432`"
            );
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            bail!("allowed_outbound_hosts entry `{entry}` may not contain a path");
        }
        // IPv6 literals are bracketed; the port follows the closing bracket.
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (rest, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            bail!("allowed_outbound_hosts entry `{entry}` has no host");
        }
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            HostPattern::Subdomains(domain.to_ascii_lowercase())
        } else {
            HostPattern::Exact(host.to_ascii_lowercase())
        };
        let ports = match port {
            Some("*") => PortPattern::Any,
            Some(p) => match p.split_once('-') {
                Some((a, b)) => PortPattern::Range(parse_port(a, entry)?, parse_port(b, entry)?),
                None => {
                    let p = parse_port(p, entry)?;
                    PortPattern::Range(p, p)
                }
            },
            None => match default_port(scheme) {
                Some(p) => PortPattern::Range(p, p),
                None => bail!(
                    "allowed_outbound_hosts entry `{entry}` needs a port: scheme `{scheme}` has no default"
                ),
            },
        };
        let scheme = scheme.to_string();
        Ok(AllowedHost {
            scheme,
            host,
            ports,
        })
    }

    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme != "*" && self.scheme != scheme {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomains(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|prefix| prefix.ends_with('.')),
        };
        let port_ok = match self.ports {
            PortPattern::Any => true,
            PortPattern::Range(a, b) => (a..=b).contains(&port),
        };
        host_ok && port_ok
    }
}

fn parse_port(p: &str, entry: &str) -> Result<u16> {
    p.parse()
        .map_err(|_| anyhow::anyhow!("allowed_outbound_hosts entry `{entry}` has a bad port `{p}`"))
}

/// One component's allow list.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy(Vec<AllowedHost>);

impl OutboundPolicy {
    pub fn new(entries: Vec<AllowedHost>) -> Self {
        OutboundPolicy(entries)
    }

    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.0.iter().any(|a| a.allows(scheme, host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let p = OutboundPolicy::new(vec![
            AllowedHost::parse("postgres://127.0.0.1:5432").unwrap(),
            AllowedHost::parse("postgres://db").unwrap(),
            AllowedHost::parse("postgres://*.internal:6000-6010").unwrap(),
        ]);
        assert!(p.allows("postgres", "127.0.0.1", 5432));
        assert!(!p.allows("postgres", "127.0.0.1", 5433));
        assert!(p.allows("postgres", "DB", 5432));
        assert!(p.allows("postgres", "a.internal", 6005));
        assert!(!p.allows("postgres", "internal", 6005));
        assert!(!p.allows("mysql", "db", 5432));
        assert!(!OutboundPolicy::default().allows("postgres", "db", 5432));
        assert!(
            AllowedHost::parse("*://*:*")
                .unwrap()
                .allows("postgres", "x", 1)
        );
        assert!(AllowedHost::parse("nohost").is_err());
        assert!(AllowedHost::parse("custom://h").is_err());
    }
}
