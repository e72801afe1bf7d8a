# shellcheck shell=bash
# Sourced by the VM runners (run_matrix.sh, tests/bench/vm_block.sh).
# busybox_root DIR BINARY...: a busybox root at DIR with every applet
# linked, and the shared libraries the binaries need at their host paths
# (the binaries themselves are the caller's to place).
busybox_root() {
  local root=$1 applet lib
  shift
  mkdir -p "$root"/{bin,proc,sys,dev,tmp,mnt,modules}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
  done
  for lib in $(ldd "$@" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
