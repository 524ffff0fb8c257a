//! Reading `spin.toml` (manifest version 2).
//!
//! The runner must be no more lenient than Spin: a manifest that uses a feature
//! this runner does not implement is refused with an error that names the
//! feature, instead of being half-run. So every table is parsed with its known
//! keys, and whatever is left over is reported.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The parts of a manifest this runner acts on.
#[derive(Debug)]
pub struct Manifest {
    /// Directory the manifest lives in: `source` paths are relative to it.
    pub base_dir: PathBuf,
    pub name: String,
    pub variables: BTreeMap<String, VariableDecl>,
    pub routes: Vec<HttpTrigger>,
    pub components: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Spin keeps secret values out of logs; this runner never logs values at all.
    #[serde(default)]
    #[allow(dead_code)]
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct ComponentDecl {
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variables: name -> template (`"{{ app_var }}"` or literal text).
    pub variables: BTreeMap<String, String>,
    /// Environment variables visible to the component through WASI.
    pub environment: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: BTreeMap<String, toml::Value>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
    #[serde(flatten)]
    rest: toml::Table,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    authors: Vec<String>,
    #[serde(flatten)]
    rest: toml::Table,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: toml::Value,
    component: toml::Value,
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    #[serde(flatten)]
    rest: toml::Table,
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// Build settings are for `spin build`; running ignores them, as Spin does.
    #[serde(default)]
    #[allow(dead_code)]
    build: Option<toml::Value>,
    /// Tool-specific settings are ignored by Spin itself.
    #[serde(default)]
    #[allow(dead_code)]
    tool: Option<toml::Value>,
    #[serde(flatten)]
    rest: toml::Table,
}

/// Names the first key of `rest` as an unsupported feature.
fn refuse_rest(rest: &toml::Table, place: &str) -> Result<()> {
    if let Some(key) = rest.keys().next() {
        bail!(
            "unsupported manifest feature `{place}{key}`: this runner implements HTTP triggers, \
             variables and outbound Postgres only; remove `{key}` or run the app with real Spin"
        );
    }
    Ok(())
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the manifest {}: run from the app's directory or pass --manifest PATH",
                path.display()
            )
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, base_dir).with_context(|| format!("in manifest {}", path.display()))
    }

    pub fn parse(text: &str, base_dir: PathBuf) -> Result<Manifest> {
        let raw: RawManifest =
            toml::from_str(text).context("the manifest is not valid spin.toml (TOML)")?;
        if raw.spin_manifest_version.as_integer() != Some(2) {
            bail!(
                "unsupported manifest feature `spin_manifest_version = {}`: only version 2 is supported",
                raw.spin_manifest_version
            );
        }
        refuse_rest(&raw.rest, "")?;
        refuse_rest(&raw.application.rest, "application.")?;
        for (name, decl) in &raw.variables {
            check_variable_name(name)?;
            if decl.required && decl.default.is_some() {
                bail!("variable `{name}` is both required and has a default: keep one of the two");
            }
            if !decl.required && decl.default.is_none() {
                bail!("variable `{name}` needs either `required = true` or a `default`");
            }
        }

        let mut routes = Vec::new();
        for (kind, value) in &raw.trigger {
            if kind != "http" {
                bail!(
                    "unsupported manifest feature `trigger.{kind}`: this runner serves HTTP triggers only"
                );
            }
            let list: Vec<RawHttpTrigger> = value
                .clone()
                .try_into()
                .context("`[[trigger.http]]` entries need `route` and `component`")?;
            for t in list {
                refuse_rest(&t.rest, "trigger.http.")?;
                let route = match t.route {
                    toml::Value::String(s) => s,
                    other => bail!(
                        "unsupported manifest feature `trigger.http.route = {other}` (private routes): use a route string"
                    ),
                };
                let component = match t.component {
                    toml::Value::String(s) => s,
                    _ => bail!(
                        "unsupported manifest feature: inline component in trigger `{route}`; declare it under [component.NAME]"
                    ),
                };
                routes.push(HttpTrigger { route, component });
            }
        }
        if routes.is_empty() {
            bail!("the manifest has no [[trigger.http]] routes: nothing to serve");
        }

        let mut components = BTreeMap::new();
        for (name, c) in raw.component {
            refuse_rest(&c.rest, &format!("component.{name}."))?;
            let source = match c.source {
                toml::Value::String(s) => PathBuf::from(s),
                _ => bail!(
                    "unsupported manifest feature `component.{name}.source` from a URL or registry: \
                     use a local .wasm path"
                ),
            };
            for template in c.variables.values() {
                crate::variables::Template::parse(template)
                    .with_context(|| format!("in component.{name}.variables"))?;
            }
            components.insert(
                name,
                ComponentDecl {
                    source,
                    allowed_outbound_hosts: c.allowed_outbound_hosts,
                    variables: c.variables,
                    environment: c.environment,
                },
            );
        }
        for t in &routes {
            if !components.contains_key(&t.component) {
                bail!(
                    "route `{}` names component `{}`, which has no [component.{}] table",
                    t.route,
                    t.component,
                    t.component
                );
            }
        }
        Ok(Manifest {
            base_dir,
            name: raw.application.name,
            variables: raw.variables,
            routes,
            components,
        })
    }
}

/// Spin's variable names: lower-case letters, digits and underscores, starting with a letter.
pub fn check_variable_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!(
            "invalid variable name `{name}`: use lower-case letters, digits and `_`, starting with a letter"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[variables]
secret = { required = true, secret = true }
greeting = { default = "hi" }
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
allowed_outbound_hosts = ["postgres://{{ db_host }}"]
[component.web.variables]
secret = "{{ secret }}"
[component.web.build]
command = "cargo build"
"#;

    #[test]
    fn parses_a_plain_manifest() {
        let m = Manifest::parse(GOOD, PathBuf::from(".")).unwrap();
        assert_eq!(m.name, "demo");
        assert_eq!(m.routes[0].route, "/...");
        assert!(m.variables["secret"].required);
        assert_eq!(m.components["web"].variables["secret"], "{{ secret }}");
    }

    #[test]
    fn names_unsupported_features() {
        let text = GOOD.replace(
            "[component.web.variables]",
            "key_value_stores = [\"default\"]\n[component.web.variables]",
        );
        let err = format!(
            "{:#}",
            Manifest::parse(&text, PathBuf::from(".")).unwrap_err()
        );
        assert!(err.contains("component.web.key_value_stores"), "{err}");

        let text = format!("{GOOD}\n[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"web\"\n");
        let err = format!(
            "{:#}",
            Manifest::parse(&text, PathBuf::from(".")).unwrap_err()
        );
        assert!(err.contains("trigger.redis"), "{err}");

        let text = GOOD.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(Manifest::parse(&text, PathBuf::from(".")).is_err());
    }

    #[test]
    fn refuses_dangling_component_and_bad_variable_names() {
        let text = GOOD.replace("component = \"web\"", "component = \"nope\"");
        assert!(Manifest::parse(&text, PathBuf::from(".")).is_err());
        assert!(check_variable_name("db_host2").is_ok());
        assert!(check_variable_name("DB").is_err());
        assert!(check_variable_name("2x").is_err());
    }
}
