//! Spin's route matching in minispin: any set of routes, any request path.
//!
//! Building a router gives a router or an error; never a panic. A match
//! obeys Spin's rules: the path info is the part of the path after the
//! route's base; an exact route matches with no path info; a wildcard
//! matches only at a segment boundary, and the longest base wins.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use minispin_config::routes::Router;

#[derive(Arbitrary, Debug)]
struct Input {
    routes: Vec<String>,
    paths: Vec<String>,
}

fuzz_target!(|input: Input| {
    let routes = input
        .routes
        .iter()
        .take(16)
        .cloned()
        .enumerate()
        .map(|(i, r)| (r, i));
    let Ok(router) = Router::new(routes) else {
        return;
    };
    for path in input.paths.iter().take(16) {
        let Some(m) = router.find(path) else {
            continue;
        };
        let route = m.route;
        assert!(input.routes[route.component] == route.raw);
        if route.raw.ends_with("/...") {
            assert!(
                path.starts_with(route.base.as_str()),
                "{path} vs {}",
                route.raw
            );
            assert_eq!(m.path_info, &path[route.base.len()..]);
            assert!(m.path_info.is_empty() || m.path_info.starts_with('/'));
            // No longer wildcard base would have matched.
            for other in input.routes.iter().take(16) {
                if let Some(base) = other.strip_suffix("/...")
                    && base.len() > route.base.len()
                    && let Some(rest) = path.strip_prefix(base)
                {
                    assert!(
                        !(rest.is_empty() || rest.starts_with('/')),
                        "{other} is longer"
                    );
                }
            }
        } else {
            assert_eq!(m.path_info, "");
            assert_eq!(path.trim_end_matches('/'), route.base);
        }
    }
});
