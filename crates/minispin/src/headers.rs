//! What Spin tells a component about its request: an absolute URL, and the
//! routing in `spin-*` headers. Pure functions, so they are unit-tested
//! without a server.

use crate::routes::Match;
use std::net::SocketAddr;

/// The absolute URL Spin hands the component: `http://` plus the request's
/// `Host` header when it is a valid authority (else the listening address),
/// plus the path and query.
pub fn full_url(host_header: Option<&str>, local: SocketAddr, path_and_query: &str) -> String {
    let host = host_header
        .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        .map(str::to_string)
        .unwrap_or_else(|| local.to_string());
    format!("http://{host}{path_and_query}")
}

/// The `spin-*` headers for a request routed by `found`.
pub fn spin_headers(
    full_url: &str,
    found: &Match<'_, '_>,
    client: SocketAddr,
) -> [(&'static str, String); 7] {
    let route = found.route;
    [
        ("spin-full-url", full_url.to_string()),
        ("spin-path-info", found.path_info.to_string()),
        ("spin-matched-route", route.raw.clone()),
        ("spin-raw-component-route", route.raw.clone()),
        ("spin-component-route", route.base.clone()),
        // The app is served at the root: minispin has no base path setting.
        ("spin-base-path", "/".to_string()),
        ("spin-client-addr", client.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Router;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_url_takes_the_host_header_when_it_is_valid() {
        let local = addr("127.0.0.1:3000");
        assert_eq!(
            full_url(Some("chat.example:8080"), local, "/a?b=1"),
            "http://chat.example:8080/a?b=1"
        );
        assert_eq!(
            full_url(Some("bad host"), local, "/a"),
            "http://127.0.0.1:3000/a"
        );
        assert_eq!(full_url(None, local, "/"), "http://127.0.0.1:3000/");
    }

    #[test]
    fn headers_describe_the_route() {
        let router = Router::new([
            ("/api/rooms/...".to_string(), 0),
            ("/api/health".to_string(), 1),
        ])
        .unwrap();
        let client = addr("10.0.0.7:51234");
        let found = router.find("/api/rooms/general/messages").unwrap();
        let h = spin_headers("http://x/api/rooms/general/messages", &found, client);
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("spin-path-info"), Some("/general/messages"));
        assert_eq!(get("spin-matched-route"), Some("/api/rooms/..."));
        assert_eq!(get("spin-raw-component-route"), Some("/api/rooms/..."));
        assert_eq!(get("spin-component-route"), Some("/api/rooms"));
        assert_eq!(get("spin-base-path"), Some("/"));
        assert_eq!(get("spin-client-addr"), Some("10.0.0.7:51234"));
        assert_eq!(
            get("spin-full-url"),
            Some("http://x/api/rooms/general/messages")
        );
        let exact = router.find("/api/health").unwrap();
        let h = spin_headers("http://x/api/health", &exact, client);
        assert_eq!(h[1], ("spin-path-info", String::new()));
        assert_eq!(h[4], ("spin-component-route", "/api/health".to_string()));
    }
}
