//! minispin's reading of `spin.toml`: any text as a manifest.
//!
//! Parsing gives a manifest or an error that says what to change; never a
//! panic. A manifest that parses is then taken the rest of the way the
//! runner takes it before any component is loaded: its routes into a
//! router, its variables resolved (from an environment the input also
//! chooses), each component's variables and `allowed_outbound_hosts`
//! rendered and parsed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use minispin_config::manifest::Manifest;
use minispin_config::outbound::AllowedHost;
use minispin_config::routes::Router;
use minispin_config::variables::{AppVariables, Template};
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines after a `#!env` line are the environment: `NAME=value`.
    let (toml, env) = text.split_once("\n#!env\n").unwrap_or((text, ""));
    let manifest = match Manifest::parse(toml, PathBuf::from(".")) {
        Ok(m) => m,
        Err(e) => {
            assert!(!format!("{e:#}").is_empty());
            return;
        }
    };
    assert!(!manifest.routes.is_empty());
    let names: Vec<&String> = manifest.components.keys().collect();
    let routes = manifest.routes.iter().map(|t| {
        let index = names.iter().position(|n| **n == t.component);
        (
            t.route.clone(),
            index.expect("parse checked every route's component"),
        )
    });
    if let Ok(router) = Router::new(routes) {
        for route in &manifest.routes {
            // Every route matches at least its own base path.
            let base = route.route.strip_suffix("/...").unwrap_or(&route.route);
            let path = if base.is_empty() { "/" } else { base };
            if path.starts_with('/') {
                assert!(router.find(path).is_some(), "{path} matches nothing");
            }
        }
    }
    let lookup = |name: &str| {
        env.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            // `_FILE` settings would read files: not from fuzz input.
            .filter(|_| !name.ends_with("_FILE"))
    };
    let Ok(vars) = AppVariables::resolve(&manifest, lookup) else {
        return;
    };
    for component in manifest.components.values() {
        let _ = vars.for_component(&component.variables);
        for entry in &component.allowed_outbound_hosts {
            if Template::parse(entry).is_ok()
                && let Ok(rendered) = vars.render(entry)
                && let Ok(host) = AllowedHost::parse(&rendered)
            {
                let _ = host.allows("postgres", "127.0.0.1", 5432);
            }
        }
    }
});
