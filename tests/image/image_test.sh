#!/usr/bin/env bash
# The container image, built from the Dockerfile with podman and run as the
# shipped DaemonSets run it (tests/image/podman_args.py reads their pod
# specs): the agent must trace a host workload's fsyncs with exact counts.
#   1. least-privilege under the runtime's default seccomp profile: refused,
#      with the one-line explanation naming seccomp;
#   2. its init container installs the image's profile where the kubelet
#      looks, and the agent runs under it (Localhost);
#   3. the privileged variant.
# No registry is reachable from CI: the Debian 12 base image is made with
# mmdebstrap from Debian's mirror, cached in /var/cache/stallwatch-image.
#
#   image_test.sh BUILD_DIR     (root; podman, runc, mmdebstrap)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "$1")
helper=$build/tests/sw_fsync_helper
cache=/var/cache/stallwatch-image
base=localhost/stallwatch-test-base:bookworm
tag=localhost/stallwatch-test:$$
node=image-test-node
port=$((19000 + $$ % 900))
work=$(mktemp -d /tmp/stallwatch-image.XXXXXX)
cg2=$(findmnt -n -o TARGET -t cgroup2 | awk 'NR == 1')
cgroup=$cg2/stallwatch-image.$$
# crun refuses hybrid cgroup hosts ("cgroups in hybrid mode not supported"); runc runs both.
podman=(podman --runtime "$(command -v runc)")
# This host may not raise a hard limit above its own (no CAP_SYS_RESOURCE):
# the container gets the host's open-file limit, where podman asks for 2^20,
# and the 32768 processes podman keeps for itself then, where it asks for more.
nproc=$(ulimit -Hu)
((nproc > 32768)) && nproc=32768
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
names=()

cleanup() {
  for n in "${names[@]}"; do "${podman[@]}" rm -f -t 2 "$n" >/dev/null 2>&1 || true; done
  "${podman[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
  rmdir "$cgroup" "$cg2/libpod_parent" 2>/dev/null || true  # podman's, made on first use
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# --- the base image and the build -------------------------------------------
if ! "${podman[@]}" image exists "$base"; then
  mkdir -p "$cache"
  if [[ ! -s $cache/bookworm.tar ]]; then
    # Like debian:12-slim: minbase without documentation and translations.
    mmdebstrap --variant=minbase --format=tar --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$cache/bookworm.tar.part" http://deb.debian.org/debian >/dev/null
    mv "$cache/bookworm.tar.part" "$cache/bookworm.tar"
  fi
  "${podman[@]}" import --change 'CMD ["/bin/bash"]' "$cache/bookworm.tar" "$base" >/dev/null 2>&1
fi
start=$(date +%s)
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
"${podman[@]}" build --pull=never --layers=false --build-arg BASE="$base" --build-arg REVISION="$revision" -t "$tag" . \
  >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "podman build"; }
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$tag")
base_size=$("${podman[@]}" image inspect --format '{{.Size}}' "$base")
echo "image built in $(($(date +%s) - start)) s: $((size / 1000000)) MB, $(((size - base_size) / 1000000)) MB over the base"

# --- running a DaemonSet's container ----------------------------------------
# Host paths the test keeps to itself; the rest are the host's own.
remap=(/var/lib/stallwatch="$work/state" /var/log/pods="$work/pod-logs"
       /var/lib/kubelet/seccomp="$work/kubelet-seccomp"
       /run/containerd/io.containerd.runtime.v2.task="$work/containerd"
       /run/containers/storage/overlay-containers="$work/crio")
mkdir -p "$work/pod-logs"  # a node has it; the kubelet would not create it
pod_args() {  # DAEMONSET CONTAINER: the podman run arguments, one per line
  python3 tests/image/podman_args.py "$1" "$2" "$tag" "$node" "$work/kubelet-seccomp" "${remap[@]}"
}

# Runs the agent container of DAEMONSET detached under NAME, publishing its
# metrics port; extra podman arguments may precede the pod's own.
start_agent() {
  local ds=$1 name=$2
  shift 2
  mapfile -t args < <(pod_args "$ds" stallwatch)
  names+=("$name")
  "${podman[@]}" run -d --name "$name" "${limits[@]}" -p "127.0.0.1:$port:9688" "$@" "${args[@]}" >/dev/null
}

wait_healthy() {
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    [[ $("${podman[@]}" inspect --format '{{.State.Running}}' "$1") == true ]] || break
    sleep 0.5
  done
  "${podman[@]}" logs "$1" 2>&1 | tail -20
  fail "$1 never answered /healthz"
}

# The value of a series with both labels given (0 when absent).
series() {
  curl -sf "http://127.0.0.1:$port/metrics" |
    awk -v m="$1" -v a="$2" -v b="$3" 'index($0, m "{") == 1 && index($0, a) && index($0, b) { v = $NF } END { print v + 0 }'
}

# A host workload in a cgroup of its own: exact counts through the container.
check_counts() {
  local name=$1
  mkdir -p "$cgroup" "$work/data"
  sh -c "echo \$\$ > $cgroup/cgroup.procs && exec $helper $work/data --fsync 300 --fdatasync 200" >/dev/null
  sleep 2
  local cg="cgroup=\"/stallwatch-image.$$\""
  local fsync fdatasync
  fsync=$(series stallwatch_fsync_duration_seconds_count "$cg" 'op="fsync"')
  fdatasync=$(series stallwatch_fsync_duration_seconds_count "$cg" 'op="fdatasync"')
  echo "$name: fsync $fsync/300, fdatasync $fdatasync/200"
  [[ $fsync == 300 && $fdatasync == 200 ]] || fail "$name counted fsync $fsync, fdatasync $fdatasync"
  # To a file first: grep -q leaving early would fail curl's write (pipefail).
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/$name.prom"
  grep -q "^stallwatch_build_info{.*nodename=\"$node\".*revision=\"$revision\"" "$work/$name.prom" ||
    { grep '^stallwatch_build_info' "$work/$name.prom"; fail "$name: build_info does not name node $node and revision $revision"; }
  "${podman[@]}" logs "$name" >"$work/$name.log" 2>&1
  grep -q '"fsync self-test on' "$work/$name.log" || { cat "$work/$name.log"; fail "$name: the self-test did not pass"; }
  grep -q "\"node\":\"$node\"" "$work/$name.log" || fail "$name: the start event does not name the node"
  "${podman[@]}" rm -f -t 5 "$name" >/dev/null
  rmdir "$cgroup"
}

lp=deploy/kubernetes/least-privilege/daemonset.yaml
# 1. Under the runtime's default profile instead of the Localhost one.
mapfile -t args < <(pod_args "$lp" stallwatch | grep -v '^--security-opt=seccomp=')
names+=(sw-default-$$)
rc=0
timeout 60 "${podman[@]}" run --name "sw-default-$$" "${limits[@]}" "${args[@]}" >"$work/default.log" 2>&1 || rc=$?
line=$(grep -o 'bpf() refused[^"]*' "$work/default.log" | head -1 || true)
echo "least-privilege, default seccomp profile: exit $rc: ${line:0:160}..."
[[ $rc != 0 && $rc != 124 && -n $line ]] || { cat "$work/default.log"; fail "the default profile's refusal is not explained"; }
grep -q 'seccomp filter' <<<"$line" || fail "the refusal does not name seccomp"

# 2. The init container puts the image's profile where the kubelet reads it.
mapfile -t args < <(pod_args "$lp" seccomp-profile)
names+=(sw-init-$$)
"${podman[@]}" run --name "sw-init-$$" "${limits[@]}" "${args[@]}" || fail "the init container failed"
cmp "$work/kubelet-seccomp/stallwatch.json" deploy/seccomp/stallwatch.json || fail "installed profile differs"
start_agent "$lp" "sw-lp-$$"
wait_healthy "sw-lp-$$"
check_counts "sw-lp-$$"

# 3. Privileged.
start_agent deploy/kubernetes/privileged/daemonset.yaml "sw-priv-$$"
wait_healthy "sw-priv-$$"
check_counts "sw-priv-$$"
# 4. Incident capture as `kubectl debug node/NAME --profile=sysadmin --image=...`
# runs it: privileged, the host's PID, network and IPC namespaces, the node's
# root filesystem at /host; the bundle written there.
names+=(sw-debug-$$)
mkdir -p "$cgroup" "$work/data"
"${podman[@]}" run -d --name "sw-debug-$$" "${limits[@]}" --privileged --pid=host --network=host --ipc=host \
  -v /:/host -e NODE_NAME=$node "$tag" capture --cgroup-root=/host/sys/fs/cgroup --duration=8s \
  --out="/host$work/bundle" --no-progress >/dev/null
for _ in $(seq 100); do [[ -s $work/bundle/host.json ]] && break; sleep 0.1; done
[[ -s $work/bundle/host.json ]] || { "${podman[@]}" logs "sw-debug-$$"; fail "the debug capture never started"; }
sh -c "echo \$\$ > $cgroup/cgroup.procs && exec $helper $work/data --fsync 300 --fdatasync 200" >/dev/null
[[ $("${podman[@]}" wait "sw-debug-$$") == 0 ]] || { "${podman[@]}" logs "sw-debug-$$"; fail "the debug capture failed"; }
bundle_count() {
  awk -v a="cgroup=\"/stallwatch-image.$$\"" -v b="op=\"$1\"" \
    'index($0, "stallwatch_fsync_duration_seconds_count{") == 1 && index($0, a) && index($0, b) { v = $NF } END { print v + 0 }' \
    "$work/bundle/metrics-end.prom"
}
echo "kubectl debug's part: capture counted fsync $(bundle_count fsync)/300, fdatasync $(bundle_count fdatasync)/200"
[[ $(bundle_count fsync) == 300 && $(bundle_count fdatasync) == 200 ]] || fail "the debug capture's counts"
grep -q "\"nodename\": *\"$node\"\|\"node\": *\"$node\"" "$work/bundle/host.json" || fail "the bundle does not name the node"
[[ -s $work/bundle/report.html ]] || fail "the bundle has no report"
echo "PASS"
