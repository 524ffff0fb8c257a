//! A cache of compiled components, so a restart does not pay Cranelift again
//! (about 0.2 s per component here, most of a start-up).
//!
//! Layout: `<dir>/<engine>/<source>-<content>.cwasm`, where `<engine>` is a
//! SHA-256 of the engine's compatibility hash (wasmtime version, target and
//! settings), `<source>` one of the component's file path and `<content>` one
//! of its bytes. A rebuilt component or another runner build therefore never
//! loads a stale entry, and the cache holds only the current build: writing
//! a component's new entry removes its older ones, and a start removes the
//! entries of other engines (older runner builds).
//!
//! The directory is `$MINISPIN_CACHE_DIR`, else `$XDG_CACHE_HOME/minispin`,
//! else `$HOME/.cache/minispin`; `MINISPIN_CACHE_DIR=off` disables it. Any
//! cache failure falls back to compiling: the cache can only make start-up
//! faster.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

fn base_dir() -> Option<PathBuf> {
    match std::env::var_os("MINISPIN_CACHE_DIR") {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("minispin")),
    }
}

/// Feeds `Hash` output into SHA-256, for values that only offer `Hash`.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("only the digest is read")
    }
}

fn hex(digest: &[u8], chars: usize) -> String {
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 15])
        .take(chars)
        .map(|n| char::from_digit(n.into(), 16).unwrap_or('0'))
        .collect()
}

fn engine_key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize(), 32)
}

/// The cache directory of this engine; entries of other engines are removed.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// `None` when caching is off or the directory cannot be made.
    pub fn open(engine: &Engine) -> Option<Cache> {
        let base = base_dir()?;
        let key = engine_key(engine);
        let dir = base.join(&key);
        std::fs::create_dir_all(&dir).ok()?;
        // Other runner builds' entries, and loose files of older layouts.
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            if entry.file_name() != key.as_str() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
        Some(Cache { dir })
    }

    /// Compiles the component at `source` (whose bytes are `bytes`), or loads
    /// the result of an earlier compilation of exactly these bytes.
    pub fn load(
        &self,
        engine: &Engine,
        source: &Path,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let source_key = hex(&Sha256::digest(source.to_string_lossy().as_bytes()), 16);
        let name = format!("{source_key}-{}.cwasm", hex(&Sha256::digest(bytes), 48));
        let path = self.dir.join(&name);
        if path.exists() {
            // SAFETY: the file was written by `serialize` below, by this very
            // engine configuration (the directory is keyed by its
            // compatibility hash), in the user's own cache directory, under a
            // name that is the SHA-256 of the component's bytes; wasmtime
            // still checks its header.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!("ignoring cache entry {}: {e}", path.display()),
            }
        }
        let component = Component::new(engine, bytes)?;
        // Write to a temporary name and rename, so a concurrent start never
        // reads half a file; then drop this component's older entries.
        if let Ok(serialized) = component.serialize() {
            let tmp = self.dir.join(format!(".{}-{name}.tmp", std::process::id()));
            if std::fs::write(&tmp, serialized).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
            let _ = std::fs::remove_file(&tmp);
            let prefix = format!("{source_key}-");
            for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
                let file = entry.file_name();
                let file = file.to_string_lossy();
                if file.starts_with(&prefix) && file != name.as_str() {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(component)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_of_the_requested_length() {
        let d = Sha256::digest(b"abc");
        assert_eq!(hex(&d, 8), "ba7816bf");
        assert_eq!(hex(&d, 64).len(), 64);
    }
}
