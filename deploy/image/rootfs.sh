#!/usr/bin/env bash
# Assembles the file system of the minispin image under OUT (default
# target/image-rootfs): the runner with exactly the shared libraries `ldd`
# lists (so the normally built binary runs FROM scratch, and wasmtime is not
# built a second time with other flags), the CA roots, a non-root user, and
# the app: spin.toml, the .wasm files it names, and the SQL migrations.
#
# Run from the repository root after building (the README's build steps, or
# the Dockerfile's build stage, which runs this script itself).
cd "$(dirname "$0")/../.."
# Strict mode, and a message naming the step, line and command of any failure.
source scripts/lib.sh

out=${1:-target/image-rootfs}
runner=${MINISPIN:-target/release/minispin}
certs=/etc/ssl/certs/ca-certificates.crt

[ -x "$runner" ] || fail "$runner is missing: build it with 'cargo build --release -p minispin'"
[ -r "$certs" ] || fail "$certs is missing: install the ca-certificates package"

step "Assembling the minispin image's file system in $out"
rm -rf "$out"
mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/app/sql" "$out/var/cache/minispin"

cp "$runner" "$out/usr/local/bin/minispin"
# Every shared library the runner loads, at the path the loader looks for it.
# (`name => /path (addr)` lines, and the loader on a line of its own.)
libs=$(ldd "$runner" | awk '/=> \// {print $3} /^[ \t]*\// {print $1}')
[ -n "$libs" ] || fail "ldd listed no libraries for $runner"
for lib in $libs; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
done
cp -L "$certs" "$out$certs"

# The unprivileged user the image runs as (and `root` for tools that look it up).
printf 'root:x:0:0:root:/:/nonexistent\napp:x:10001:10001:app:/app:/nonexistent\n' > "$out/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' > "$out/etc/group"

# The app: the manifest, every component it names, and the migrations.
cp spin.toml "$out/app/spin.toml"
sources=$(sed -n 's/^source *= *"\(.*\)"/\1/p' spin.toml)
[ -n "$sources" ] || fail "spin.toml names no component source"
for src in $sources; do
    [ -r "$src" ] || fail "$src is missing: build the components first ('spin build', or scripts/lib.sh build_all)"
    mkdir -p "$out/app/$(dirname "$src")"
    cp "$src" "$out/app/$src"
done
cp sql/*.sql "$out/app/sql/"

# The assembled runner must start where it will run: alone in this tree.
if [ "$(id -u)" -eq 0 ]; then
    chroot "$out" /usr/local/bin/minispin --help >/dev/null \
        || fail "the runner does not start inside $out; a library is missing from what ldd listed"
fi
printf '   %s in %s files\n' "$(du -sh "$out" | cut -f1)" "$(find "$out" -type f | wc -l)"
