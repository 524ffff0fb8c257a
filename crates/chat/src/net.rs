//! Which address a request came from, for limits per client address.
//!
//! The peer Spin reports (`spin-client-addr`) is the address, unless that
//! peer is one of the proxies the operator trusts (`trusted_proxies`: IPs or
//! CIDR blocks, comma-separated). Only then is `X-Forwarded-For` believed,
//! read from its end: each hop was appended by the proxy after it, so a hop
//! is believed only while the one who wrote it is trusted. The client is the
//! first hop when every proxy on the way is trusted (behind Traefik alone,
//! which drops an X-Forwarded-For sent by an untrusted client, that is the
//! only hop), and otherwise the hop just before the first untrusted writer:
//! a client that sends its own `X-Forwarded-For: 1.2.3.4` through a proxy
//! that keeps it gains nothing.

use std::net::{IpAddr, SocketAddr};

/// An address or a CIDR block, e.g. `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(text: &str) -> Option<Net> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (
                a.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u8) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let (ours, width) = bits(self.addr);
        let (theirs, their_width) = bits(ip.to_canonical());
        if width != their_width {
            return false;
        }
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        };
        ours & mask == theirs & mask
    }
}

/// The IP of a peer as Spin reports it (`ip:port`, `[v6]:port`, or a bare IP).
fn peer_ip(peer: &str) -> Option<IpAddr> {
    peer.parse::<SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| peer.parse::<IpAddr>())
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client address for per-address limits (see the module's doc).
/// `unknown` when the host reported no usable peer.
pub fn client_address(
    peer: Option<&str>,
    forwarded_for: Option<&str>,
    trusted_proxies: &str,
) -> String {
    let Some(ip) = peer.and_then(peer_ip) else {
        return "unknown".into();
    };
    let proxies: Vec<Net> = trusted_proxies
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .filter_map(Net::parse)
        .collect();
    let trusted = |ip: IpAddr| proxies.iter().any(|net| net.contains(ip));
    let mut client = ip;
    // At most 32 hops: a header is bounded anyway; this bounds the work.
    let mut hops = forwarded_for.unwrap_or("").rsplit(',').take(32);
    while trusted(client) {
        match hops.next().and_then(|h| h.trim().parse::<IpAddr>().ok()) {
            Some(hop) => client = hop.to_canonical(),
            // No hop left, or one that is no address: the proxy is the
            // closest address we can vouch for.
            None => break,
        }
    }
    client.to_string()
}

/// The entries of `trusted_proxies` that are not addresses or CIDR blocks
/// (for the operator's log).
pub fn invalid_proxies(trusted_proxies: &str) -> Vec<String> {
    trusted_proxies
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && Net::parse(s).is_none())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let none = "";
        assert_eq!(
            client_address(Some("203.0.113.9:51000"), Some("1.2.3.4"), none),
            "203.0.113.9"
        );
        // A trusted proxy: its last hop is believed, not the client's own.
        let traefik = "10.0.0.0/8";
        assert_eq!(
            client_address(
                Some("10.0.1.5:40000"),
                Some("6.6.6.6, 198.51.100.7"),
                traefik
            ),
            "198.51.100.7"
        );
        // A chain of trusted proxies: the first hop, the one the outermost
        // proxy saw.
        assert_eq!(
            client_address(
                Some("10.0.1.5:40000"),
                Some("198.51.100.7, 10.0.3.3"),
                traefik
            ),
            "198.51.100.7"
        );
        assert_eq!(
            client_address(Some("10.0.1.5:40000"), Some("10.0.3.3"), traefik),
            "10.0.3.3"
        );
        // ... but not from anyone else, and not a hop that is no address.
        assert_eq!(
            client_address(Some("192.0.2.1:1"), Some("198.51.100.7"), traefik),
            "192.0.2.1"
        );
        assert_eq!(
            client_address(Some("10.0.1.5:1"), Some("junk"), traefik),
            "10.0.1.5"
        );
        assert_eq!(
            client_address(Some("10.0.1.5:1"), None, traefik),
            "10.0.1.5"
        );
        assert_eq!(
            client_address(None, Some("198.51.100.7"), traefik),
            "unknown"
        );
        assert_eq!(client_address(Some("[::1]:8080"), None, none), "::1");
        // IPv4 peers seen through IPv6 sockets are the same client.
        assert_eq!(
            client_address(Some("[::ffff:203.0.113.9]:1"), None, none),
            "203.0.113.9"
        );
    }

    #[test]
    fn networks() {
        let net = |s| Net::parse(s).unwrap();
        assert!(net("10.0.0.0/8").contains("10.200.3.4".parse().unwrap()));
        assert!(!net("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(net("192.0.2.7").contains("192.0.2.7".parse().unwrap()));
        assert!(!net("192.0.2.7").contains("192.0.2.8".parse().unwrap()));
        assert!(net("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(net("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!net("fd00::/8").contains("10.0.0.1".parse().unwrap()));
        assert_eq!(Net::parse("10.0.0.0/33"), None);
        assert_eq!(invalid_proxies("10.0.0.0/8, nope, ,::1"), ["nope"]);
    }
}
