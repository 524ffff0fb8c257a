//! A cache of compiled components, so a restart does not pay Cranelift again
//! (about 0.2 s per component here, most of a start-up).
//!
//! Entries are keyed by the component's bytes and the engine's compatibility
//! hash (wasmtime version and settings), so a rebuilt component or another
//! runner build never picks up a stale entry. The directory is
//! `$MINISPIN_CACHE_DIR`, else `$XDG_CACHE_HOME/minispin`, else
//! `$HOME/.cache/minispin`; `MINISPIN_CACHE_DIR=off` disables it. Any cache
//! failure falls back to compiling: the cache can only make start-up faster.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use wasmtime::Engine;
use wasmtime::component::Component;

fn dir() -> Option<PathBuf> {
    match std::env::var_os("MINISPIN_CACHE_DIR") {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("minispin")),
    }
}

/// Compiles `bytes`, or loads the result of an earlier compilation.
pub fn load(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    let Some(dir) = dir() else {
        return Component::new(engine, bytes);
    };
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let path = dir.join(format!("{:016x}.cwasm", hasher.finish()));
    if path.exists() {
        // SAFETY: the file was written by `serialize` below, for this engine
        // configuration (the key includes its compatibility hash), in the
        // user's own cache directory; wasmtime still checks its header.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => eprintln!("minispin: ignoring cache entry {}: {e}", path.display()),
        }
    }
    let component = Component::new(engine, bytes)?;
    // Write to a temporary name and rename, so a concurrent start never reads
    // half a file.
    if let Ok(serialized) = component.serialize()
        && std::fs::create_dir_all(&dir).is_ok()
    {
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(component)
}
