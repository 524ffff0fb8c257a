//! No module imports one that imports it back: in the chat domain and in
//! the runner, the modules under each parent form layers, so each can be
//! read (and changed) knowing only the ones below it.
//!
//! Read from the sources: every `crate::...`, `super::...` and `self::...`
//! path outside the tests is an edge from the file's module to the module it
//! names, taken at the level where the two part (`api::messages` using
//! `store::Post` is `api -> store`; using `api::reply` is `messages ->
//! reply`). A module using its own ancestors' items, and a parent declaring
//! or re-exporting its children, are not edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module of the crate rooted at `src`, by path, with its file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.to_vec();
                if !["lib", "main", "mod"].contains(&name.as_str()) {
                    module.push(name);
                }
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The paths a source names (`crate::a::b`, `super::{x, y::z}`), comments
/// and the tests left out.
fn named_paths(text: &str) -> Vec<String> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Paths are ASCII: the middle of a character (a name in a test
        // string, say) starts none.
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let root = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|r| starts_word && rest.starts_with(r));
        let Some(root) = root else {
            i += 1;
            continue;
        };
        // The path: identifiers joined by `::`, then maybe a `{...}` group.
        let mut end = root.len();
        let rb = rest.as_bytes();
        while end < rb.len()
            && (rb[end].is_ascii_alphanumeric() || rb[end] == b'_' || rest[end..].starts_with("::"))
        {
            end += if rest[end..].starts_with("::") { 2 } else { 1 };
        }
        let path = rest[..end].trim_end_matches("::").to_string();
        if rest[..end].ends_with("::") && rest[end..].starts_with('{') {
            let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
            for item in rest[end + 1..close].split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() && first != "self" && first != "*" {
                    out.push(format!("{path}::{first}"));
                }
            }
            out.push(path);
            i += close;
        } else {
            out.push(path);
            i += end;
        }
    }
    out
}

/// The module `path` (as written in `from`) names: its longest prefix that
/// is a module.
fn resolve(
    path: &str,
    from: &[String],
    known: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let mut segments = path.split("::");
    let mut at: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    let mut best = at.clone();
    for s in segments {
        if s == "super" {
            at.pop();
            best = at.clone();
            continue;
        }
        at.push(s.to_string());
        if known.contains_key(&at) {
            best = at.clone();
        }
    }
    Some(best)
}

/// A cycle among the edges, if there is one.
fn cycle(edges: &BTreeSet<(Vec<String>, Vec<String>)>) -> Option<Vec<Vec<String>>> {
    let nodes: BTreeSet<&Vec<String>> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    fn visit<'a>(
        n: &'a Vec<String>,
        edges: &'a BTreeSet<(Vec<String>, Vec<String>)>,
        stack: &mut Vec<&'a Vec<String>>,
        done: &mut BTreeSet<&'a Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(at) = stack.iter().position(|s| *s == n) {
            let mut c: Vec<Vec<String>> = stack[at..].iter().map(|s| (*s).clone()).collect();
            c.push(n.clone());
            return Some(c);
        }
        if !done.insert(n) {
            return None;
        }
        stack.push(n);
        for (_, to) in edges.iter().filter(|(from, _)| from == n) {
            if let Some(c) = visit(to, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    nodes
        .into_iter()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// The edges of the crate at `src` (see the file's doc).
fn edges(src: &Path) -> BTreeSet<(Vec<String>, Vec<String>)> {
    let known = modules(src);
    let mut edges = BTreeSet::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        for path in named_paths(&text) {
            let Some(target) = resolve(&path, module, &known) else {
                continue;
            };
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            // An ancestor's own items, or a child of one's own: no edge.
            if common == target.len() || common == module.len() {
                continue;
            }
            edges.insert((module[..=common].to_vec(), target[..=common].to_vec()));
        }
    }
    edges
}

fn assert_layered(crate_dir: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(crate_dir)
        .join("src");
    let edges = edges(&src);
    assert!(!edges.is_empty(), "no imports read from {}", src.display());
    if let Some(c) = cycle(&edges) {
        let shown: Vec<String> = c.iter().map(|m| m.join("::")).collect();
        panic!(
            "{}: these modules import each other in a cycle: {}",
            crate_dir,
            shown.join(" -> ")
        );
    }
}

#[test]
fn the_chat_domains_modules_import_no_cycle() {
    assert_layered(".");
}

#[test]
fn the_runners_modules_import_no_cycle() {
    assert_layered("../minispin");
}

#[test]
fn the_checker_sees_a_cycle() {
    let known: BTreeMap<Vec<String>, PathBuf> = [
        (vec!["api".to_string()], PathBuf::new()),
        (vec!["api".to_string(), "a".to_string()], PathBuf::new()),
        (vec!["api".to_string(), "b".to_string()], PathBuf::new()),
    ]
    .into_iter()
    .collect();
    let a = vec!["api".to_string(), "a".to_string()];
    assert_eq!(
        resolve("super::b::thing", &a, &known),
        Some(vec!["api".to_string(), "b".to_string()])
    );
    assert_eq!(
        named_paths("use super::{b::x, C};\nfn f() { crate::api::a::g() }"),
        ["super::b", "super::C", "super", "crate::api::a::g"]
    );
    let b = vec!["api".to_string(), "b".to_string()];
    let looped: BTreeSet<_> = [(a.clone(), b.clone()), (b, a)].into_iter().collect();
    assert!(cycle(&looped).is_some());
}
