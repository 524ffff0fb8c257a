//! Spin application variables: values and templates come from
//! [`minispin_config::variables`]; this module adds the host side of
//! `spin:variables`, which hands a component its resolved values.

pub use minispin_config::variables::*;

/// The host side of `spin:variables/variables@3.0.0`.
pub mod host {
    use bindings::spin::variables::variables::{self, Error};
    use minispin_config::manifest::check_variable_name;
    use std::collections::HashMap;
    use std::sync::Arc;
    use wasmtime::component::{Accessor, HasData, Linker};

    mod bindings {
        wasmtime::component::bindgen!({
            path: "wit/spin-variables.wit",
            world: "spin:variables/host",
            imports: { default: trappable },
        });
    }

    /// One component's resolved variables.
    pub type ComponentVariables = Arc<HashMap<String, String>>;

    pub struct VariablesHost;

    impl HasData for VariablesHost {
        type Data<'a> = &'a ComponentVariables;
    }

    pub fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &ComponentVariables,
    ) -> wasmtime::Result<()> {
        variables::add_to_linker::<T, VariablesHost>(linker, get)
    }

    impl variables::Host for &ComponentVariables {}

    impl<T> variables::HostWithStore<T> for VariablesHost {
        async fn get(
            accessor: &Accessor<T, Self>,
            name: String,
        ) -> wasmtime::Result<Result<String, Error>> {
            if check_variable_name(&name).is_err() {
                return Ok(Err(Error::InvalidName(name)));
            }
            Ok(accessor.with(|mut access| match access.get().get(&name) {
                Some(value) => Ok(value.clone()),
                None => Err(Error::Undefined(format!("no variable for \"{name}\""))),
            }))
        }
    }
}
