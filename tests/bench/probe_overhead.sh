#!/usr/bin/env bash
# What probe tracing costs TCP: wrk against a loopback HTTP server that
# closes every connection (so each request is a new connection through
# inet_sock_set_state, the hook's worst case), without and with the agent,
# in one run, as requests/s and a ratio; and with wrk named as the prober,
# so that every connection is a probe whose answer is read (the cost per
# probe connection). Not a test; run as root:
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

with_agent() { # extra agent flags...
  bash -c "exec -a stallwatch-bench-agent $agent run --web.listen-address=127.0.0.1:19480 --events-file=/dev/null $*" \
    2>/dev/null &
  pid=$!
  for _ in $(seq 300); do
    curl -sf http://127.0.0.1:19480/healthz >/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "the agent did not start: $agent run $*" >&2; exit 1; }
    sleep 0.1
  done
  rps
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

declare -A sum=([none]=0 [agent]=0 [probing]=0)
for ((r = 1; r <= rounds; r++)); do
  sum[none]=$((sum[none] + $(rps)))
  sum[agent]=$((sum[agent] + $(with_agent)))
  sum[probing]=$((sum[probing] + $(with_agent --prober-comm=wrk --probe-slow-threshold=3600s)))
done
none=$((sum[none] / rounds))
with=$((sum[agent] / rounds))
probing=$((sum[probing] / rounds))
ratio() { python3 -c "print(f'{$1/$none:.3f}')"; }
per_conn() { python3 -c "print(f'{(1/$1 - 1/$none) * 1e6:.2f}')"; }
echo "loopback HTTP, a new connection per request (wrk -t1 -c4), mean of $rounds x ${secs}s:"
echo "  no agent:                    $none req/s"
echo "  stallwatch:                  $with req/s (ratio $(ratio $with); $(per_conn $with) us more per connection)"
echo "  stallwatch, each a probe:    $probing req/s (ratio $(ratio $probing); $(per_conn $probing) us more per connection)"
