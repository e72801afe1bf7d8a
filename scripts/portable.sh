#!/usr/bin/env bash
# Packs the built agent for copying to a node by hand (incident capture):
# the binary and the shared libraries it links from Debian's packages
# (spdlog, fmt, prometheus-cpp, libmicrohttpd and GnuTLS, yaml-cpp; Debian ships no static archives
# of them) in lib/ beside it, found through its $ORIGIN/lib rpath. glibc,
# libstdc++ and zlib stay the node's (every Debian-like system has them): it
# needs glibc 2.36 or newer.
#
#   scripts/portable.sh [build-dir] [out.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-$build/stallwatch-portable.tar.gz}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/stallwatch/lib"
cp "$build/agent/stallwatch" "$stage/stallwatch/"
ldd "$build/agent/stallwatch" | awk '/=> \// { print $3 }' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libgcc_s.so.*|libstdc++.so.*|libz.so.*|ld-linux*) ;;  # the node's own
    *) cp -L "$lib" "$stage/stallwatch/lib/" ;;
  esac
done
tar -C "$stage" -czf "$out" stallwatch
echo "$out: $(tar -tzf "$out" | grep -c .) files, $(du -h "$out" | cut -f1)"
