#!/usr/bin/env bash
# Downloads (once) Debian's newest 5.10, 6.1 and 6.12 cloud kernels into
# CACHE (default /var/cache/stallwatch-vm) and unpacks each to CACHE/<ver>/.
# Prints one line per kernel: "<ver> <vmlinuz> <modules dir>".
set -euo pipefail
cache=${1:-/var/cache/stallwatch-vm}
mkdir -p "$cache"

declare -A pattern=(
  [5.10]='linux-image-5\.10\.[0-9.-]+-cloud-amd64-unsigned'
  [6.1]='linux-image-6\.1\.[0-9.-]+-cloud-amd64-unsigned'
  [6.12]='linux-image-6\.12\.[0-9.+a-z-]+-cloud-amd64-unsigned'
)

have_all=1
for v in 5.10 6.1 6.12; do
  ls "$cache"/$v/boot/vmlinuz-* >/dev/null 2>&1 || have_all=0
done

if [[ $have_all == 0 ]]; then
  # bullseye carries 5.10, bookworm-backports 6.12: add them for the download only.
  src=/etc/apt/sources.list.d/stallwatch-vm-kernels.sources
  uri=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}')
  uri=${uri:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports bullseye\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
  trap 'rm -f "$src"; apt-get update -qq >/dev/null 2>&1 || true' EXIT
  apt-get update -qq >/dev/null
  for v in 5.10 6.1 6.12; do
    ls "$cache"/$v/boot/vmlinuz-* >/dev/null 2>&1 && continue
    pkg=$(apt-cache search --names-only "${pattern[$v]}" | awk '{print $1}' | grep -E "^${pattern[$v]}$" | sort -V | tail -1)
    [[ -n "$pkg" ]] || { echo "no package for kernel $v" >&2; exit 1; }
    (cd "$cache" && apt-get download -qq "$pkg" >/dev/null)
    rm -rf "$cache/$v" && mkdir -p "$cache/$v"
    dpkg-deb -x "$cache"/${pkg}_*.deb "$cache/$v"
    rm -f "$cache"/${pkg}_*.deb
    ver=$(ls "$cache/$v/lib/modules")
    depmod -b "$cache/$v" "$ver"
  done
fi

for v in 5.10 6.1 6.12; do
  ver=$(ls "$cache/$v/lib/modules")
  echo "$v $(ls "$cache"/$v/boot/vmlinuz-*) $cache/$v/lib/modules/$ver"
done
