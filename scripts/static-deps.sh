#!/usr/bin/env bash
# Builds, as static archives, the libraries Debian ships only as shared
# objects (fmt, spdlog, prometheus-cpp's core, libmicrohttpd), from
# Debian's own source packages of exactly the installed versions, so that
# objects compiled against the installed headers link with them. The
# others (libbpf, libelf, zlib, yaml-cpp, libcrypt, liburing, libstdc++,
# glibc) come from Debian's -dev packages as .a already. libmicrohttpd is
# built without HTTPS: its TLS needs GnuTLS, whose p11-kit and libunistring
# Debian ships no static archives of.
#
#   scripts/static-deps.sh PREFIX      (prints PREFIX when done; reused if complete)
set -euo pipefail
prefix=$1
versions=()
for p in libfmt-dev libspdlog-dev prometheus-cpp-dev libmicrohttpd-dev; do
  versions+=("$(dpkg-query -W -f='${source:Package}=${source:Version}' "$p")")
done
stamp="$prefix/.built-from"
if [[ -f $stamp && $(cat "$stamp") == "${versions[*]}" ]]; then
  echo "$prefix"
  exit 0
fi
rm -rf "$prefix"
mkdir -p "$prefix"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# deb-src entries of the installed suite, in a private apt state.
. /etc/os-release
mkdir -p lists/partial
for suite in "$VERSION_CODENAME" "$VERSION_CODENAME-updates"; do
  echo "deb-src http://deb.debian.org/debian $suite main"
done >sources.list
echo "deb-src http://deb.debian.org/debian-security $VERSION_CODENAME-security main" >>sources.list
apt_opts=(-q -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update >/dev/null
apt-get "${apt_opts[@]}" source --download-only "${versions[@]}" >/dev/null
for dsc in *.dsc; do dpkg-source -q -x "$dsc" >/dev/null 2>&1; done

jobs=$(nproc)
cmake_static=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON
              -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_PREFIX_PATH="$prefix")
build_cmake() {  # SOURCE_DIR [cmake args]: configure, build, install quietly
  local src=$1
  shift
  cmake -S "$src" -B "$src/_build" "${cmake_static[@]}" "$@" >"$src.log" 2>&1 &&
    cmake --build "$src/_build" -j"$jobs" >>"$src.log" 2>&1 &&
    cmake --install "$src/_build" >>"$src.log" 2>&1 || { tail -20 "$src.log"; exit 1; }
}
build_cmake fmtlib-*/ -DFMT_TEST=OFF -DFMT_DOC=OFF
build_cmake spdlog-*/ -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_BUILD_SHARED=OFF -DSPDLOG_BUILD_EXAMPLE=OFF \
  -DSPDLOG_BUILD_TESTS=OFF -DSPDLOG_BUILD_BENCH=OFF
build_cmake prometheus-cpp-*/ -DENABLE_PULL=OFF -DENABLE_PUSH=OFF -DENABLE_COMPRESSION=OFF \
  -DENABLE_TESTING=OFF -DUSE_THIRDPARTY_LIBRARIES=OFF -DGENERATE_PKGCONFIG=OFF
(cd libmicrohttpd-*/ &&
  ./configure --prefix="$prefix" --libdir="$prefix/lib" --enable-static --disable-shared --disable-https \
    --without-gnutls --disable-curl --disable-doc --disable-examples --disable-tools >../mhd.log 2>&1 &&
  make -j"$jobs" >>../mhd.log 2>&1 && make install >>../mhd.log 2>&1) || { tail -20 mhd.log; exit 1; }
echo "${versions[*]}" >"$stamp"
echo "$prefix"
