//! Spin application variables.
//!
//! Values come, as in Spin's default provider, from `SPIN_VARIABLE_<NAME>`
//! environment variables over the manifest's defaults. Beyond Spin, and for
//! containers without a shell: `SPIN_VARIABLE_<NAME>_FILE` names a file that
//! holds the value (a Docker or Swarm secret), its one trailing newline
//! dropped. A component sees only
//! the variables listed in its own `[component.NAME.variables]` table, each a
//! template such as `"{{ app_var }}"` or `"prefix-{{ other }}"`. Everything is
//! resolved once at start-up so a missing required variable stops the runner
//! before it accepts a request, instead of failing the first request.

use crate::manifest::{Manifest, check_variable_name};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashMap};

/// A parsed `{{ name }}` template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Var(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Template> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                bail!("unclosed `{{{{` in template `{text}`");
            };
            let name = after[..end].trim();
            check_variable_name(name).with_context(|| format!("in template `{text}`"))?;
            parts.push(Part::Var(name.to_string()));
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            bail!("stray `}}}}` in template `{text}`");
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template(parts))
    }

    #[cfg(test)]
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    pub fn render(&self, values: &HashMap<String, String>) -> Result<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(v) => match values.get(v) {
                    Some(value) => out.push_str(value),
                    None => bail!(
                        "template refers to `{v}`, which is not declared in the manifest's [variables]; declare it"
                    ),
                },
            }
        }
        Ok(out)
    }
}

/// The value in the file `path` names, without its trailing newline (what
/// `echo value | docker secret create` leaves).
fn read_secret(setting: &str, path: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{setting}={path}: cannot read the file; check the path and that this user may read it"
        )
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_string())
}

/// Application variable values, resolved from the environment and defaults.
pub struct AppVariables {
    values: HashMap<String, String>,
}

impl AppVariables {
    /// Resolves every declared variable. `env` is a lookup so tests need not touch
    /// the process environment.
    pub fn resolve(manifest: &Manifest, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut values = HashMap::new();
        let mut missing = Vec::new();
        for (name, decl) in &manifest.variables {
            let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let file_name = format!("{env_name}_FILE");
            let given = match (env(&env_name), env(&file_name)) {
                (Some(_), Some(_)) => {
                    bail!("both {env_name} and {file_name} are set; set only one of them")
                }
                (Some(v), None) => Some(v),
                (None, Some(path)) => Some(read_secret(&file_name, &path)?),
                (None, None) => None,
            };
            match given.or_else(|| decl.default.clone()) {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => missing.push(format!("`{name}` (set {env_name} or {file_name})")),
            }
        }
        if !missing.is_empty() {
            bail!(
                "missing value for required variable {}: set it in the environment and start again",
                missing.join(", ")
            );
        }
        Ok(AppVariables { values })
    }

    /// Renders a template (component variable or allowed host) against these values.
    pub fn render(&self, template: &str) -> Result<String> {
        Template::parse(template)?.render(&self.values)
    }

    /// Resolves one component's `[component.NAME.variables]` table.
    pub fn for_component(
        &self,
        vars: &BTreeMap<String, String>,
    ) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for (name, template) in vars {
            check_variable_name(name)?;
            let value = self
                .render(template)
                .with_context(|| format!("in component variable `{name}`"))?;
            out.insert(name.clone(), value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
token = { required = true }
host = { default = "db:5432" }
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
[component.c.variables]
url = "postgres://{{ host }}/x"
"#,
            PathBuf::from("."),
        )
        .unwrap()
    }

    #[test]
    fn environment_overrides_defaults_and_required_must_be_set() {
        let m = manifest();
        let err = AppVariables::resolve(&m, |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("SPIN_VARIABLE_TOKEN"), "{err}");

        let vars = AppVariables::resolve(&m, |k| match k {
            "SPIN_VARIABLE_TOKEN" => Some("t0k".into()),
            "SPIN_VARIABLE_HOST" => Some("127.0.0.1:5432".into()),
            _ => None,
        })
        .unwrap();
        let c = vars.for_component(&m.components["c"].variables).unwrap();
        assert_eq!(c["url"], "postgres://127.0.0.1:5432/x");
    }

    #[test]
    fn values_from_files_for_secrets() {
        let m = manifest();
        let path = std::env::temp_dir().join(format!("minispin-var-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        let file = path.to_string_lossy().into_owned();
        let vars = AppVariables::resolve(&m, |k| {
            (k == "SPIN_VARIABLE_TOKEN_FILE").then(|| file.clone())
        })
        .unwrap();
        assert_eq!(vars.values["token"], "s3cret");
        // Both forms at once is ambiguous; a missing file says which setting.
        let both = AppVariables::resolve(&m, |k| match k {
            "SPIN_VARIABLE_TOKEN" | "SPIN_VARIABLE_TOKEN_FILE" => Some(file.clone()),
            _ => None,
        });
        assert!(both.err().unwrap().to_string().contains("only one"));
        std::fs::remove_file(&path).unwrap();
        let gone = AppVariables::resolve(&m, |k| {
            (k == "SPIN_VARIABLE_TOKEN_FILE").then(|| file.clone())
        });
        assert!(format!("{:#}", gone.err().unwrap()).contains("SPIN_VARIABLE_TOKEN_FILE="));
    }

    #[test]
    fn templates() {
        let t = Template::parse("a{{ x }}b{{y}}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["x", "y"]);
        assert!(Template::parse("{{ x").is_err());
        assert!(Template::parse("{{ X }}").is_err());
        assert!(Template::parse("x }}").is_err());
        let values = HashMap::from([("x".to_string(), "1".to_string())]);
        assert!(t.render(&values).is_err());
    }
}
