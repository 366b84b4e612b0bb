#!/usr/bin/env bash
# Stages what the container image (Dockerfile at the repository root) is made of, so
# that `docker build` pulls nothing: the image is FROM scratch and holds only
#   deploy/image/rootfs/usr/local/bin/meridian   the binary, built here on the host
#   deploy/image/rootfs/lib*/...                   the shared libraries it links (from ldd:
#                                                  glibc's loader, libc, libm, libgcc_s)
#   deploy/image/rootfs/etc/{passwd,group,nsswitch.conf}  user meridian (10001), host lookup
#   deploy/image/state/                             the state directory's first content
#                                                  (a note), copied owned by 10001
# plus deploy/image/meridian.toml and zones/, which the Dockerfile copies itself. The
# prober needs no CA files: its roots are built in (webpki).
#
#   deploy/image/stage.sh              # cargo build --release --locked, then stage
#   deploy/image/stage.sh --debug      # stage target/debug/meridian instead (quicker builds)
#   deploy/image/stage.sh --bin FILE   # stage FILE as it is, building nothing
#   docker build -t meridian .         # then, from the repository root
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
  "") cargo build --release --locked && bin=target/release/meridian ;;
  --debug) cargo build --locked && bin=target/debug/meridian ;;
  --bin) bin="${2:?--bin FILE}" ;;
  *) echo "usage: $0 [--debug | --bin FILE]" >&2; exit 2 ;;
esac

root=deploy/image/rootfs
rm -rf "$root"
mkdir -p "$root/usr/local/bin" "$root/etc"
cp "$bin" "$root/usr/local/bin/meridian"
# A debug build's debuginfo is most of its size: not worth sending to the image.
case "$bin" in
  */release/*) ;;
  *) command -v strip >/dev/null && strip --strip-debug "$root/usr/local/bin/meridian" ;;
esac
# Every library ldd names (by absolute path), and the loader itself, copied as real files
# to the same paths.
ldd "$bin" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/:/nonexistent\nmeridian:x:10001:10001:meridian:/var/lib/meridian:/nonexistent\n' >"$root/etc/passwd"
printf 'root:x:0:\nmeridian:x:10001:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
echo "staged $bin ($("$bin" --version)) and $(find "$root" -name '*.so*' | wc -l) libraries in $root"
