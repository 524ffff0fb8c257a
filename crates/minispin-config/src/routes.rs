//! Matching request paths to components, as Spin's HTTP trigger does.
//!
//! An exact route beats any wildcard; among wildcard routes (`/prefix/...`) the
//! longest prefix wins; `/x/...` matches `/x`, `/x/` and `/x/anything`. The part
//! of the path after the matched prefix is the "path info" Spin hands to the
//! component in the `spin-path-info` header (empty for an exact route).

use anyhow::{Result, bail};

#[derive(Debug, Clone)]
pub struct Route {
    /// The route as written in the manifest (`spin-matched-route`).
    pub raw: String,
    /// The route without a trailing `/...` (`spin-component-route`).
    pub base: String,
    /// Index of the component that serves this route.
    pub component: usize,
}

#[derive(Debug)]
pub struct Router {
    exact: Vec<Route>,
    /// Sorted longest prefix first.
    wildcards: Vec<Route>,
}

/// A route that matched, borrowed from the router, and the rest of the
/// path, borrowed from the request (so the route can outlive the path).
pub struct Match<'r, 'p> {
    pub route: &'r Route,
    pub path_info: &'p str,
}

fn normalise(route: &str) -> Result<(String, bool)> {
    if !route.starts_with('/') {
        bail!("route `{route}` must start with `/`");
    }
    if route.split('/').any(|seg| seg.starts_with(':')) {
        bail!(
            "unsupported manifest feature: route parameters in `{route}`; use a `/prefix/...` wildcard \
             and read `spin-path-info` instead"
        );
    }
    if let Some(prefix) = route.strip_suffix("/...") {
        return Ok((prefix.to_string(), true));
    }
    if route.contains("...") {
        bail!("route `{route}`: `...` may only end a route, as `/prefix/...`");
    }
    let trimmed = route.trim_end_matches('/');
    Ok((trimmed.to_string(), false))
}

impl Router {
    pub fn new(routes: impl IntoIterator<Item = (String, usize)>) -> Result<Router> {
        let mut exact: Vec<Route> = Vec::new();
        let mut wildcards: Vec<Route> = Vec::new();
        for (raw, component) in routes {
            let (base, wildcard) = normalise(&raw)?;
            let list = if wildcard { &mut wildcards } else { &mut exact };
            if list.iter().any(|r| r.base == base) {
                bail!("duplicate route `{raw}`: each route may be served by one component only");
            }
            list.push(Route {
                raw,
                base,
                component,
            });
        }
        wildcards.sort_by_key(|r| std::cmp::Reverse(r.base.len()));
        Ok(Router { exact, wildcards })
    }

    pub fn find<'r, 'p>(&'r self, path: &'p str) -> Option<Match<'r, 'p>> {
        let trimmed = path.trim_end_matches('/');
        if let Some(route) = self.exact.iter().find(|r| r.base == trimmed) {
            return Some(Match {
                route,
                path_info: "",
            });
        }
        self.wildcards.iter().find_map(|route| {
            let rest = path.strip_prefix(route.base.as_str())?;
            // `/api/...` must not match `/apiary`: the prefix ends at a segment boundary.
            (rest.is_empty() || rest.starts_with('/')).then_some(Match {
                route,
                path_info: rest,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new([
            ("/api/rooms".to_string(), 0),
            ("/api/rooms/...".to_string(), 1),
            ("/api/health".to_string(), 2),
            ("/...".to_string(), 3),
        ])
        .unwrap()
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let r = router();
        let m = r.find("/api/rooms").unwrap();
        assert_eq!((m.route.component, m.path_info), (0, ""));
        let m = r.find("/api/rooms/general/messages").unwrap();
        assert_eq!((m.route.component, m.path_info), (1, "/general/messages"));
        assert_eq!(r.find("/api/roomsx").unwrap().route.component, 3);
        let m = r.find("/index.html").unwrap();
        assert_eq!((m.route.component, m.path_info), (3, "/index.html"));
        assert_eq!(r.find("/").unwrap().route.component, 3);
        assert_eq!(r.find("/api/health/").unwrap().route.component, 2);
    }

    #[test]
    fn refuses_duplicates_and_parameters() {
        assert!(Router::new([("/a".to_string(), 0), ("/a/".to_string(), 1)]).is_err());
        assert!(Router::new([("/a/:id".to_string(), 0)]).is_err());
        assert!(Router::new([("a".to_string(), 0)]).is_err());
        let only = Router::new([("/a".to_string(), 0)]).unwrap();
        assert!(only.find("/b").is_none());
    }
}
