//! The API's one route table: every path, the methods it serves, the
//! `spin.toml` component that serves it, and the operation each method
//! runs. Dispatch, the `Allow` header of a 405 and the 404's list of
//! endpoints all come from [`ROUTES`]; tests hold it to `spin.toml`'s
//! triggers and to the OpenAPI document's paths, and the keep-alive,
//! contract and fuzz tests walk it, so a route is tested by being listed.

/// One operation: what a method on a route does. [`super::handle`] matches
/// on it to call the operation's function in its module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `session`: a new session token for a name.
    Join,
    /// `rooms`: the room list, and a new room (admin).
    ListRooms,
    CreateRoom,
    /// `mutes`: mute a name, or lift a mute (admin).
    Mute,
    /// `messages`: a page of a room's events, and a new message.
    ReadMessages,
    PostMessage,
    /// `message`: edit or remove one message.
    EditMessage,
    RemoveMessage,
    /// `presence`: announce oneself in a room, or leave it.
    Announce,
    Leave,
    /// `poll`: the open room's new events and every room's newest id.
    Poll,
    /// `health`: whether this host's database answers.
    Health,
}

/// A path the API serves.
#[derive(Debug)]
pub struct Route {
    /// As the OpenAPI document writes it: literal segments and `{room}` or
    /// `{id}` parameters, each one whole segment.
    pub path: &'static str,
    /// The `spin.toml` component whose trigger routes this path to it.
    pub component: &'static str,
    /// Each method it serves, with its operation, in the `Allow` order.
    pub methods: &'static [(&'static str, Op)],
}

/// Every route of the API. The contract (`/api/openapi.json`) is a file the
/// static component serves, so it is not listed here.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/api/session",
        component: "session",
        methods: &[("POST", Op::Join)],
    },
    Route {
        path: "/api/rooms",
        component: "rooms",
        methods: &[("GET", Op::ListRooms), ("POST", Op::CreateRoom)],
    },
    Route {
        path: "/api/mutes",
        component: "rooms",
        methods: &[("POST", Op::Mute)],
    },
    Route {
        path: "/api/rooms/{room}/messages",
        component: "messages",
        methods: &[("GET", Op::ReadMessages), ("POST", Op::PostMessage)],
    },
    Route {
        path: "/api/rooms/{room}/messages/{id}",
        component: "messages",
        methods: &[("PATCH", Op::EditMessage), ("DELETE", Op::RemoveMessage)],
    },
    Route {
        path: "/api/rooms/{room}/presence",
        component: "messages",
        methods: &[("PUT", Op::Announce), ("DELETE", Op::Leave)],
    },
    Route {
        path: "/api/poll",
        component: "poll",
        methods: &[("GET", Op::Poll)],
    },
    Route {
        path: "/api/health",
        component: "health",
        methods: &[("GET", Op::Health), ("HEAD", Op::Health)],
    },
];

/// The parameters a path filled in (empty when its route has none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'p> {
    pub room: &'p str,
    pub id: &'p str,
}

impl Route {
    /// The operation for `method`, if this route serves it.
    pub fn op(&self, method: &str) -> Option<Op> {
        self.methods
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, op)| *op)
    }

    /// The methods, as a 405's `Allow` header lists them.
    pub fn allow(&self) -> String {
        let names: Vec<&str> = self.methods.iter().map(|(m, _)| *m).collect();
        names.join(", ")
    }

    /// This route's path with its parameters filled in.
    pub fn fill(&self, params: Params<'_>) -> String {
        self.path
            .replace("{room}", params.room)
            .replace("{id}", params.id)
    }

    /// The parameters, if `path` is this route. A parameter is one whole,
    /// non-empty segment (never containing `/`); its value is checked by
    /// the operation.
    fn matches<'p>(&self, path: &'p str) -> Option<Params<'p>> {
        let mut params = Params::default();
        let mut given = path.split('/');
        for want in self.path.split('/') {
            let got = given.next()?;
            match want {
                _ if want.starts_with('{') && got.is_empty() => return None,
                "{room}" => params.room = got,
                "{id}" => params.id = got,
                literal if literal == got => {}
                _ => return None,
            }
        }
        given.next().is_none().then_some(params)
    }
}

/// The route `path` names, with its parameters.
pub fn find(path: &str) -> Option<(&'static Route, Params<'_>)> {
    ROUTES
        .iter()
        .find_map(|route| route.matches(path).map(|params| (route, params)))
}

/// The endpoints, for the 404 that names them.
pub fn listed() -> String {
    let paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_route_and_parameters() {
        let (route, params) = find("/api/rooms/general/messages/42").unwrap();
        assert_eq!(route.path, "/api/rooms/{room}/messages/{id}");
        assert_eq!(
            params,
            Params {
                room: "general",
                id: "42"
            }
        );
        assert_eq!(
            find("/api/rooms/general/presence").unwrap().1.room,
            "general"
        );
        assert_eq!(find("/api/rooms").unwrap().0.component, "rooms");
        assert_eq!(find("/api/mutes").unwrap().0.component, "rooms");
        for none in [
            "",
            "/",
            "/api",
            "/api/rooms/",
            "/api/rooms/general",
            "/api/rooms//messages",
            "/api/rooms/general/messages/",
            "/api/rooms/general/messages/1/2",
            "/api/rooms/a/b/messages",
            "/api/poll/",
            "/api/sessions",
        ] {
            assert!(find(none).is_none(), "{none:?} is no route");
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
        let at = Params {
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
        let doc: serde_json::Value = serde_json::from_str(super::super::OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented: Vec<String> = paths
            .keys()
            .filter(|p| *p != super::super::OPENAPI_PATH)
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
}
