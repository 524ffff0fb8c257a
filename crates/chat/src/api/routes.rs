//! How a route table reads: a [`Route`] names a path (literal segments and
//! `{room}` or `{id}` parameters), the `spin.toml` component that serves it
//! and each method's operation; [`find`] matches a request path against a
//! table. The API's table itself is [`super::ROUTES`].

/// A path the API serves, with operations of type `O`.
#[derive(Debug)]
pub struct Route<O: 'static> {
    /// As the OpenAPI document writes it: literal segments and `{room}` or
    /// `{id}` parameters, each one whole segment.
    pub path: &'static str,
    /// The `spin.toml` component whose trigger routes this path to it.
    pub component: &'static str,
    /// Each method it serves, with its operation, in the `Allow` order.
    pub methods: &'static [(&'static str, O)],
}

/// The parameters a path filled in (empty when its route has none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'p> {
    pub room: &'p str,
    pub id: &'p str,
}

impl<O: Copy> Route<O> {
    /// The operation for `method`, if this route serves it.
    pub fn op(&self, method: &str) -> Option<O> {
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

/// The route of `table` that `path` names, with its parameters.
pub fn find<'t, 'p, O: Copy>(
    table: &'t [Route<O>],
    path: &'p str,
) -> Option<(&'t Route<O>, Params<'p>)> {
    table
        .iter()
        .find_map(|route| route.matches(path).map(|params| (route, params)))
}

/// The table's paths, for the 404 that names them.
pub fn listed<O>(table: &[Route<O>]) -> String {
    let paths: Vec<&str> = table.iter().map(|r| r.path).collect();
    paths.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Route<u8>] = &[
        Route {
            path: "/api/rooms",
            component: "rooms",
            methods: &[("GET", 1), ("POST", 2)],
        },
        Route {
            path: "/api/rooms/{room}/messages/{id}",
            component: "messages",
            methods: &[("PATCH", 3)],
        },
    ];

    #[test]
    fn paths_find_their_route_and_parameters() {
        let (route, params) = find(TABLE, "/api/rooms/general/messages/42").unwrap();
        assert_eq!(route.op("PATCH"), Some(3));
        assert_eq!(route.op("GET"), None);
        assert_eq!(
            params,
            Params {
                room: "general",
                id: "42"
            }
        );
        assert_eq!(find(TABLE, "/api/rooms").unwrap().0.allow(), "GET, POST");
        for none in [
            "",
            "/",
            "/api",
            "/api/rooms/",
            "/api/rooms/general",
            "/api/rooms//messages/1",
            "/api/rooms/general/messages/",
            "/api/rooms/general/messages/1/2",
            "/api/rooms/a/b/messages/1",
            "/api/roomsX",
        ] {
            assert!(find(TABLE, none).is_none(), "{none:?} is no route");
        }
        let p = Params { room: "r", id: "7" };
        assert_eq!(TABLE[1].fill(p), "/api/rooms/r/messages/7");
        assert_eq!(listed(TABLE), "/api/rooms, /api/rooms/{room}/messages/{id}");
    }
}
