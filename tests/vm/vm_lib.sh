# Shared by the VM suites (busybox sh): checks, metric sums, cgroups.
# The caller sets $hook (a tag for messages), $port and fail=0; $fails
# counts the failed checks (a suite compares it to print what explains them).
fails=0
check() { # what expected actual
  if [ "$2" = "$3" ]; then echo "ok   [$hook] $1 = $3"; else echo "FAIL [$hook] $1: expected $2, got $3"; fail=1; fails=$((fails + 1)); fi
}
# Sum of the samples of a metric whose label text contains every given fragment.
metric() {
  name=$1; shift
  wget -qO- "http://127.0.0.1:$port/metrics" > /tmp/m.txt || { echo "FAIL scrape"; return; }
  grep "^$name{" /tmp/m.txt > /tmp/sel.txt
  for f in "$@"; do grep -F -- "$f" /tmp/sel.txt > /tmp/sel2.txt; mv /tmp/sel2.txt /tmp/sel.txt; done
  awk '{ s += $NF } END { printf "%d", s }' /tmp/sel.txt
}
in_cgroup() { # cgroup command...
  cg=$1; shift
  mkdir -p /sys/fs/cgroup/$cg
  sh -c "echo \$\$ > /sys/fs/cgroup/$cg/cgroup.procs; exec $*"
}
kill_cgroup() { # cgroup
  for p in $(cat /sys/fs/cgroup/$1/cgroup.procs); do kill -9 "$p"; done
}

disk_of() { # QEMU serial -> its disk (/dev/vdX), printed (init.sh links /dev/sw-SERIAL)
  readlink -f "/dev/sw-$1"
}

# Metric sum in microseconds, for seconds-valued samples.
metric_us() {
  metric "$@" > /dev/null
  awk '{ s += $NF } END { printf "%d", s * 1000000 }' /tmp/sel.txt
}


# Starts the agent on $port with the given flags, events to
# /tmp/events-$hook.jsonl, log to /tmp/agent-$hook.log; sets $agent.
start_agent() {
  /stallwatch run --web.listen-address=127.0.0.1:$port --events-file=/tmp/events-$hook.jsonl "$@" \
    2>/tmp/agent-$hook.log &
  agent=$!
  i=0
  until wget -qO /dev/null "http://127.0.0.1:$port/healthz"; do
    i=$((i + 1))
    # Emulated, three kernels sharing two cores: loading and verifying
    # every program has taken over a minute on 5.10.
    if [ $i -gt 900 ] || ! kill -0 $agent 2>/dev/null; then
      echo "FAIL [$hook] agent did not start in $((i / 5)) s"; cat /tmp/agent-$hook.log; kill -9 $agent; exit 1
    fi
    sleep 0.2
  done
  echo "agent [$hook] up in $((i / 5)) s"
}

# One victim's blame counters are conserved: its windows' sum equals its
# fsync histogram's (1%), and its kinds never sum past its windows (by more
# than the given percent, 1 by default). Leaves win, hist and kinds
# (microseconds) set.
check_conserved() { # label-prefix victim-cgroup [kinds-tolerance-percent]
  win=$(metric_us stallwatch_fsync_blame_window_seconds_total "victim_cgroup=\"$2\"")
  hist=$(metric_us stallwatch_fsync_duration_seconds_sum "cgroup=\"$2\"")
  kinds=$(metric_us stallwatch_fsync_blame_seconds_total "victim_cgroup=\"$2\"")
  diff=$((win > hist ? win - hist : hist - win))
  check "$1windows = histogram sum (1%)" yes "$([ $((diff * 100)) -le "$hist" ] && echo yes || echo "no: $win vs $hist us")"
  check "$1kinds <= windows" yes "$([ "$kinds" -le $((win + win * ${3:-1} / 100 + 1)) ] && echo yes || echo "no: $kinds vs $win us")"
}

# Verdicts of the slow_fsync events in a file: "count verdict ms" per verdict,
# most time first.
verdict_times() { # events-file
  awk '{ v = ""; d = 0
    if (match($0, /"verdict":"[a-z_]*"/)) v = substr($0, RSTART + 11, RLENGTH - 12)
    if (match($0, /"duration_ms":[0-9.]*/)) d = substr($0, RSTART + 14, RLENGTH - 14)
    n[v]++; t[v] += d }
    END { for (v in n) printf "%d %s %.0f\n", n[v], v, t[v] }' "$1" | sort -k3 -rn
}
# The verdict with one cause (not mixed) whose calls took the most time.
top_verdict() { # verdict_times output
  echo "$1" | awk '$2 != "mixed" { print $2; exit }'
}
