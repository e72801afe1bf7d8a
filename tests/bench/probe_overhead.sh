#!/usr/bin/env bash
# What probe tracing costs TCP: wrk against a loopback HTTP server that
# closes every connection (so each request is a new connection through
# inet_sock_set_state, the hook's worst case), without and with the agent,
# in one run, as requests/s and a ratio. Not a test; run as root:
#
#   tests/bench/probe_overhead.sh [build-dir] [seconds-per-run] [rounds]
set -euo pipefail
build=${1:-build}
secs=${2:-8}
rounds=${3:-3}
agent=$build/agent/stallwatch
server=$build/tests/sw_probe_server
for tool in wrk "$agent" "$server"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk)" >&2; exit 1; }
done
port=18480
"$server" $port ok > /dev/null &
server_pid=$!
cleanup() {
  pkill -f stallwatch-bench-agent 2>/dev/null || true
  kill "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT
sleep 0.5

rps() {
  wrk -t1 -c4 -d"${secs}s" "http://127.0.0.1:$port/" 2>/dev/null | awk '/Requests\/sec/ { printf "%d", $2 }'
}

declare -A sum=([none]=0 [agent]=0)
for ((r = 1; r <= rounds; r++)); do
  sum[none]=$((sum[none] + $(rps)))
  bash -c "exec -a stallwatch-bench-agent $agent run --web.listen-address=127.0.0.1:0 --events-file=/dev/null" \
    2>/dev/null &
  pid=$!
  sleep 2
  sum[agent]=$((sum[agent] + $(rps)))
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
none=$((sum[none] / rounds))
with=$((sum[agent] / rounds))
echo "loopback HTTP, a new connection per request (wrk -t1 -c4), mean of $rounds x ${secs}s:"
echo "  no agent:   $none req/s"
echo "  stallwatch: $with req/s (ratio $(python3 -c "print(f'{$with/$none:.3f}')"))"
