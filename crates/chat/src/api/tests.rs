//! The router's tests: dispatch, 404 and 405 from the table, the table
//! held to spin.toml and the contract, and garbage in.

use super::test_support::*;
use super::*;

#[test]
fn only_server_faults_are_logged_with_their_cause() {
    let store = MemStore::seeded();
    let r = dispatch(&req("DELETE", "/api/health", ""), &cfg(), NOW, &store);
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_common_headers(&r);

    store.set_down(true);
    let r = dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store);
    let line = r.log_line().expect("a 503 is logged");
    assert!(
        line.starts_with("503 database_unavailable: ") && line.contains("refused"),
        "{line}"
    );
    assert!(!r.body.contains("refused"));
    let weak = Config {
        session_secret: b"short".to_vec(),
        ..cfg()
    };
    let r = sess(&req("POST", "/api/session", r#"{"name":"a"}"#), &weak, NOW);
    assert!(
        r.log_line().is_some_and(|l| l.contains("5 bytes")),
        "{:?}",
        r.log_line()
    );
    assert_eq!(not_found("/x").log_line(), None);
    store.set_down(false);
    assert_eq!(
        dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store).log_line(),
        None
    );
}

/// Every method of every listed route reaches its operation (never the
/// 404 for unknown paths, never a 405), and every other method is a 405
/// whose `Allow` names exactly the listed ones.
#[test]
fn every_listed_route_reaches_its_operation_and_refuses_other_methods() {
    let store = MemStore::seeded();
    let at = routes::Params {
        room: "general",
        id: "1",
    };
    for route in ROUTES {
        let path = route.fill(at);
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            let r = dispatch(&req(method, &path, ""), &cfg(), NOW, &store);
            assert_common_headers(&r);
            let listed: Vec<&str> = route.methods.iter().map(|(m, _)| *m).collect();
            if listed.contains(&method) {
                assert!(
                    r.status != 405 && error_code_or_none(&r) != Some("not_found".into()),
                    "{method} {path}: {} {}",
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(r.status, 405, "{method} {path}");
                assert_eq!(r.header("allow"), Some(listed.join(", ").as_str()));
            }
        }
    }
    let r = dispatch(&req("GET", "/api/nope", ""), &cfg(), NOW, &store);
    assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
    for route in ROUTES {
        assert!(r.body.contains(route.path), "the 404 names {}", route.path);
    }
}

/// Under Spin a component serves only the routes the table gives it.
#[test]
fn a_component_answers_another_components_route_with_404() {
    let store = MemStore::seeded();
    let cx = |component| Context {
        cfg: cfg_static(),
        now_unix: NOW,
        random: Some(random()),
        component: Some(component),
    };
    let r = block_on(handle(&req("GET", "/api/rooms", ""), &cx("rooms"), &store));
    assert_eq!(r.status, 200);
    let r = block_on(handle(&req("GET", "/api/rooms", ""), &cx("poll"), &store));
    assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
}

fn cfg_static() -> &'static Config {
    static CFG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CFG.get_or_init(cfg)
}

fn error_code_or_none(r: &Reply) -> Option<String> {
    body(r)["error"]["code"].as_str().map(str::to_string)
}

#[test]
fn health_and_not_found() {
    let store = MemStore::seeded();
    let r = dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
    assert_common_headers(&r);
    assert_eq!(r.header("retry-after"), None);

    store.set_down(true);
    let r = dispatch(&req("GET", "/api/health", ""), &cfg(), NOW, &store);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(error_code(&r), "database_unavailable");

    let r = not_found(&format!("/nope{}", "x".repeat(1000)));
    assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"));
    assert!(r.body.len() < 500);
    assert_common_headers(&r);
}

#[test]
fn never_panics_on_garbage() {
    let store = MemStore::seeded();
    let alice = login("alice");
    let inputs: [&[u8]; 6] = [
        b"",
        b"\xff\xfe\xfd",
        b"{\"body\":",
        b"[]",
        b"{\"body\":{}}",
        b"\0\0\0",
    ];
    for method in ["GET", "POST", "PUT", "", "get"] {
        for path in [
            "/api/rooms/general/messages",
            "/api/rooms/\u{1F980}/messages",
            "",
            "/",
        ] {
            for b in inputs {
                for auth in [
                    None,
                    Some(alice.as_str()),
                    Some("Bearer"),
                    Some("Bearer \u{0}.\u{0}"),
                ] {
                    let r = Request {
                        method,
                        path,
                        query: "after=%FF&limit=\u{1F980}",
                        authorization: auth,
                        content_type: Some("application/json; charset=utf-8"),
                        body: b,
                        client_addr: None,
                        forwarded_for: Some("\u{0}, junk"),
                    };
                    let reply = dispatch(&r, &cfg(), NOW, &store);
                    assert!(reply.status >= 400);
                    let _ = body(&reply);
                    let reply = dispatch(&r, &cfg(), NOW, &store);
                    let _ = body(&reply);
                    let _ = body(&sess(&r, &cfg(), NOW));
                }
            }
        }
    }
}

#[test]
fn each_route_is_listed_once_and_each_method_once() {
    for (i, route) in ROUTES.iter().enumerate() {
        assert!(
            ROUTES[i + 1..].iter().all(|r| r.path != route.path),
            "{} is listed twice",
            route.path
        );
        for (j, (method, _)) in route.methods.iter().enumerate() {
            assert!(
                route.methods[j + 1..].iter().all(|(m, _)| m != method),
                "{method} {} is listed twice",
                route.path
            );
        }
    }
    assert_eq!(find("/api/health").unwrap().0.allow(), "GET, HEAD");
}

/// Which component `spin.toml` sends `path` to, by Spin's rule: an
/// exact route wins, then the longest `/prefix/...` wildcard.
fn spin_component(manifest: &toml::Value, path: &str) -> Option<String> {
    let triggers = manifest["trigger"]["http"].as_array().unwrap();
    let mut best: Option<(usize, String)> = None;
    for t in triggers {
        let route = t["route"].as_str().unwrap();
        let component = t["component"].as_str().unwrap().to_string();
        match route.strip_suffix("/...") {
            None if route == path => return Some(component),
            Some(prefix)
                if (path == prefix || path.starts_with(&format!("{prefix}/")))
                    && best.as_ref().is_none_or(|(len, _)| prefix.len() > *len) =>
            {
                best = Some((prefix.len(), component));
            }
            _ => {}
        }
    }
    best.map(|(_, c)| c)
}

#[test]
fn spin_toml_sends_each_route_to_its_component_and_every_api_trigger_is_listed() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml"))
        .expect("spin.toml at the repository root");
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let at = routes::Params {
        room: "general",
        id: "7",
    };
    for route in ROUTES {
        let path = route.fill(at);
        assert_eq!(
            spin_component(&manifest, &path).as_deref(),
            Some(route.component),
            "spin.toml sends {path} elsewhere than the table's component"
        );
    }
    for t in manifest["trigger"]["http"].as_array().unwrap() {
        let trigger = t["route"].as_str().unwrap();
        let base = trigger.strip_suffix("/...").unwrap_or(trigger);
        if !base.starts_with("/api") {
            continue;
        }
        assert!(
            ROUTES.iter().any(|r| {
                let path = r.fill(at);
                path == base || path.starts_with(&format!("{base}/"))
            }),
            "spin.toml routes {trigger} to {} but the table lists nothing there",
            t["component"]
        );
    }
}

/// The table and the contract list the same paths with the same
/// methods (HEAD is implied by GET in HTTP, so OpenAPI leaves it out).
#[test]
fn the_contract_lists_exactly_the_tables_routes_and_methods() {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<String> = paths
        .keys()
        .filter(|p| *p != OPENAPI_PATH)
        .cloned()
        .collect();
    let mut listed: Vec<String> = ROUTES.iter().map(|r| r.path.to_string()).collect();
    documented.sort();
    listed.sort();
    assert_eq!(listed, documented);
    for route in ROUTES {
        let mut ours: Vec<String> = route
            .methods
            .iter()
            .filter(|(m, _)| *m != "HEAD")
            .map(|(m, _)| m.to_ascii_lowercase())
            .collect();
        let mut theirs: Vec<String> = paths[route.path]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post", "put", "patch", "delete", "head"].contains(&k.as_str()))
            .cloned()
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", route.path);
        if route.op("HEAD").is_some() {
            assert_eq!(route.op("HEAD"), route.op("GET"), "{}", route.path);
        }
    }
}
