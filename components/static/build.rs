//! Serves the page lighter than its source: every script and style sheet
//! is copied to `OUT_DIR` without its comments, blank lines and
//! indentation, and the component compiles in those copies. The source
//! stays commented for the next maintainer; the browser gets about a
//! quarter less (the e2e test `health_and_static_assets` prints the gzipped
//! total and holds it under its budget).
//!
//! Line by line, so it cannot join two statements: a line is dropped only
//! when it is wholly a comment or blank, and a kept line loses only its
//! leading whitespace and a trailing `//` comment that cannot be anything
//! else. A line that would make that unsafe (a template
//! literal or string running on to the next line) fails the build, saying
//! where.

use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a build cache may
    // be shared by several checkouts.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let src = Path::new(&dir).join("assets");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("assets");
    println!("cargo:rerun-if-changed=assets");
    copy_dir(&src, &out, "");
}

fn copy_dir(from: &Path, to: &Path, rel: &str) {
    std::fs::create_dir_all(to).expect("OUT_DIR is writable");
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let rel = format!("{rel}{name}");
        if path.is_dir() {
            println!("cargo:rerun-if-changed=assets/{rel}");
            copy_dir(&path, &to.join(&name), &format!("{rel}/"));
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("assets/{rel}: {e} (assets are UTF-8 text)"));
        let lean = match path.extension().and_then(|e| e.to_str()) {
            Some("js") => lean_js(&text, &rel),
            Some("css") => lean_css(&text),
            _ => text,
        };
        std::fs::write(to.join(&name), lean).expect("OUT_DIR is writable");
    }
}

fn lean_js(text: &str, rel: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_comment = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        let whole_comment = |t: &str| {
            if !t.ends_with("*/") {
                panic!(
                    "assets/{rel}:{}: code after a block comment on one line; \
                     put it on a line of its own",
                    n + 1
                );
            }
        };
        if in_comment {
            if t.contains("*/") {
                whole_comment(t);
                in_comment = false;
            }
            continue;
        }
        if t.starts_with("/*") {
            if t.contains("*/") {
                whole_comment(t);
            } else {
                in_comment = true;
            }
            continue;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        if t.matches('`').count() % 2 == 1 || t.ends_with('\\') {
            panic!(
                "assets/{rel}:{}: a template literal or string runs on to the next line, \
                 which the asset copy (build.rs) would change; keep it on one line",
                n + 1
            );
        }
        out.push_str(without_trailing_comment(t));
        out.push('\n');
    }
    out
}

/// A line without a `//` comment after its code, when that is certain: the
/// code before it holds no quote, backtick or slash, so the `//` cannot be
/// inside a string, a template, a regular expression or a URL.
fn without_trailing_comment(line: &str) -> &str {
    match line.find(" //") {
        Some(i) if !line[..i].contains(['\'', '"', '`', '/']) => line[..i].trim_end(),
        _ => line,
    }
}

fn lean_css(text: &str) -> String {
    let mut rest = text;
    let mut code = String::with_capacity(text.len());
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    code.push_str(rest);
    code.lines().map(str::trim).filter(|l| !l.is_empty()).fold(
        String::with_capacity(code.len()),
        |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        },
    )
}
