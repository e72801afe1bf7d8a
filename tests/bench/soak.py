#!/usr/bin/env python3
"""Soak: the agent under steady load for a long time, sampled every 10 s.

Load: fio writing 64 bytes + fsync at a fixed rate on tmpfs inside a victim
cgroup (named etcd, so the blame engine follows it), fio random writes at a
fixed rate on an ext4 loop device in /dev/shm from a neighbour cgroup, and
cgroup churn (a cgroup made, a process in it fsyncs once, the cgroup removed,
ten times a second). Sampled: the agent's RSS, the entries of each of its
BPF maps, the series it exposes, lost events, fsync calls counted. Written
to soak.csv and plotted to soak.svg; growth per hour is a least-squares
slope over the second half of the run (the first is warm-up).

Not a test (it takes half an hour by default); run as root:

    tests/bench/soak.py [--build build] [--minutes 30] [--fsync-rate 50000] [--out DIR]
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw).stdout


def cgroup2():
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        if f[f.index("-") + 1] == "cgroup2":
            return f[4]
    sys.exit("soak: no cgroup2 mount")


def spawn_in(cgroup_dir, argv, log):
    def enter():
        os.setsid()
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=enter)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def metric_sum(text, name, where=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and where in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def map_entries(pid):
    """name -> entries, for every hash map the agent's process holds (its fds' fdinfo names the map ids)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            for line in open(f"/proc/{pid}/fdinfo/{fd}"):
                if line.startswith("map_id:"):
                    ids.add(int(line.split()[1]))
        except OSError:
            pass
    out = {}
    for map_id in sorted(ids):
        info = json.loads(sh(f"bpftool map show id {map_id} -j"))
        if info.get("type") not in ("hash", "percpu_hash", "lru_hash", "lru_percpu_hash"):
            continue
        dump = subprocess.run(["bpftool", "map", "dump", "id", str(map_id), "-j"], capture_output=True, text=True)
        try:
            n = len(json.loads(dump.stdout or "[]"))
        except json.JSONDecodeError:
            n = -1
        name = info.get("name", str(map_id))
        out[name] = out.get(name, 0) + n
    return out


def slope_per_hour(ts, ys):
    n = len(ts)
    if n < 2:
        return 0.0
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    return 0.0 if var == 0 else sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var * 3600


def plot(rows, columns, path):
    """Small multiples as one SVG: one panel per column, time on x."""
    w, h, pad = 520, 150, 44
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * 2}" height="{(h + 30) * ((len(columns) + 1) // 2)}" '
           'font-family="sans-serif" font-size="11">']
    t_max = max(r["t_s"] for r in rows) or 1
    for i, col in enumerate(columns):
        x0, y0 = (i % 2) * w, (i // 2) * (h + 30) + 20
        ys = [r[col] for r in rows]
        lo, hi = min(ys), max(ys)
        hi = hi if hi > lo else lo + 1
        pts = " ".join(f"{x0 + pad + (r['t_s'] / t_max) * (w - pad - 20):.1f},"
                       f"{y0 + h - 20 - (r[col] - lo) / (hi - lo) * (h - 40):.1f}" for r in rows)
        svg.append(f'<text x="{x0 + pad}" y="{y0 - 4}" font-weight="bold">{col}</text>')
        svg.append(f'<rect x="{x0 + pad}" y="{y0}" width="{w - pad - 20}" height="{h - 20}" fill="none" stroke="#ccc"/>')
        svg.append(f'<text x="{x0 + 2}" y="{y0 + 10}">{hi:g}</text><text x="{x0 + 2}" y="{y0 + h - 20}">{lo:g}</text>')
        svg.append(f'<text x="{x0 + w - 60}" y="{y0 + h - 6}">{t_max / 60:.0f} min</text>')
        svg.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{pts}"/>')
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--fsync-rate", type=int, default=50000)
    ap.add_argument("--block-iops", type=int, default=2000)
    ap.add_argument("--churn-per-s", type=int, default=10)
    ap.add_argument("--out", default="soak-out")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: run as root")
    agent_bin = os.path.abspath(os.path.join(args.build, "agent/stallwatch"))
    for tool in ("fio", "bpftool", "mkfs.ext4", "losetup", agent_bin):
        if not shutil.which(tool):
            sys.exit(f"soak: missing {tool}")
    os.makedirs(args.out, exist_ok=True)
    root = cgroup2()
    tag = f"stallwatch-soak-{os.getpid()}"
    work = tempfile.mkdtemp(prefix="stallwatch-soak.", dir="/dev/shm")
    cgroups = [os.path.join(root, f"{tag}-etcd"), os.path.join(root, f"{tag}-noisy"), os.path.join(root, f"{tag}-churn")]
    procs, loop, mnt = [], None, os.path.join(work, "mnt")
    log = open(os.path.join(args.out, "load.log"), "w")

    def cleanup(*_):
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        # fio's job processes leave its process group: end whatever is in the cgroups.
        for cg in cgroups:
            if os.path.exists(os.path.join(cg, "cgroup.kill")):
                with open(os.path.join(cg, "cgroup.kill"), "w") as f:
                    f.write("1")
        for cg in cgroups:
            for _ in range(200):
                if not os.path.exists(cg) or not open(os.path.join(cg, "cgroup.procs")).read().strip():
                    break
                time.sleep(0.05)
            for d in sorted((os.path.join(dp, n) for dp, dn, _ in os.walk(cg) for n in dn), key=len, reverse=True):
                subprocess.run(["rmdir", d], capture_output=True)
            subprocess.run(["rmdir", cg], capture_output=True)
        subprocess.run(["umount", mnt], capture_output=True)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        for cg in cgroups:
            os.makedirs(cg, exist_ok=True)
        img = os.path.join(work, "disk.img")
        sh(f"truncate -s 1G {img}")
        loop = sh(f"losetup --find --show {img}").strip()
        os.makedirs(mnt)
        sh(f"mkfs.ext4 -q {loop} && mount {loop} {mnt}")
        events = os.path.join(args.out, "events.jsonl")
        agent = subprocess.Popen([agent_bin, "run", "--web.listen-address=127.0.0.1:0", f"--events-file={events}",
                                  f"--victim=cgroup=/{tag}-etcd"],
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.out, "agent.log"), "w"),
                                 preexec_fn=os.setsid)
        procs.append(agent)
        port = None
        for _ in range(300):
            m = re.search(r"\(port (\d+)\)", open(os.path.join(args.out, "agent.log")).read())
            if m:
                port = int(m.group(1))
                break
            if agent.poll() is not None:
                sys.exit("soak: the agent exited:\n" + open(os.path.join(args.out, "agent.log")).read())
            time.sleep(0.1)
        if not port:
            sys.exit("soak: the agent did not start")
        seconds = int(args.minutes * 60) + 60
        procs.append(spawn_in(cgroups[0], ["fio", "--name=fsync", f"--directory={work}", "--size=1M", "--rw=write",
                                           "--bs=64", "--fsync=1", "--ioengine=psync", "--time_based",
                                           f"--runtime={seconds}", f"--rate_iops={args.fsync_rate}"], log))
        procs.append(spawn_in(cgroups[1], ["fio", "--name=noisy", f"--directory={mnt}", "--size=256M",
                                           "--rw=randwrite", "--bs=4k", "--direct=1", "--ioengine=libaio",
                                           "--iodepth=4", "--time_based", f"--runtime={seconds}",
                                           f"--rate_iops={args.block_iops}"], log))
        churn = (f"i=0; while :; do d={cgroups[2]}/c$i; mkdir $d && "
                 f"sh -c 'echo $$ > {cgroups[2]}/c'$i'/cgroup.procs; exec dd if=/dev/zero of={work}/churn bs=512 "
                 f"count=1 conv=fsync status=none'; rmdir $d; i=$((i+1)); echo $i > {work}/churn.count; sleep {1 / args.churn_per_s:.3f}; done")
        procs.append(subprocess.Popen(["sh", "-c", churn], stdout=log, stderr=subprocess.STDOUT, preexec_fn=os.setsid))

        rows = []
        start = time.monotonic()
        calls_before = None
        csv_path = os.path.join(args.out, "soak.csv")
        fields = ["t_s", "rss_kib", "series", "tracked_cgroups", "lost_events", "fsync_per_s", "map_entries_total",
                  "cgroups_churned"]
        with open(csv_path, "w", newline="") as f:
            out = csv.DictWriter(f, fieldnames=fields + ["maps"])
            out.writeheader()
            while time.monotonic() - start < args.minutes * 60:
                time.sleep(10 - (time.monotonic() - start) % 10)
                t = time.monotonic() - start
                text = scrape(port)
                calls = metric_sum(text, "stallwatch_fsync_duration_seconds_count")
                rate = 0.0 if calls_before is None else (calls - calls_before[1]) / (t - calls_before[0])
                calls_before = (t, calls)
                maps = map_entries(agent.pid)
                try:
                    churned = int(open(os.path.join(work, "churn.count")).read() or 0)
                except (OSError, ValueError):
                    churned = 0
                row = {"t_s": round(t), "rss_kib": rss_kib(agent.pid),
                       "series": sum(1 for l in text.splitlines() if l and not l.startswith("#")),
                       "tracked_cgroups": metric_sum(text, "stallwatch_tracked_cgroups"),
                       "lost_events": metric_sum(text, "stallwatch_events_lost_total"),
                       "fsync_per_s": round(rate), "map_entries_total": sum(maps.values()),
                       "cgroups_churned": churned}
                rows.append(row)
                out.writerow({**row, "maps": json.dumps(maps, sort_keys=True)})
                f.flush()
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        half = [r for r in rows if r["t_s"] >= rows[-1]["t_s"] / 2] if rows else []
        plot(rows, ["rss_kib", "series", "map_entries_total", "lost_events", "fsync_per_s", "tracked_cgroups"],
             os.path.join(args.out, "soak.svg"))
        ts = [r["t_s"] for r in half]
        print(f"\nsoak: {args.minutes:g} min, {len(rows)} samples, fsync {sum(r['fsync_per_s'] for r in rows[1:]) / max(1, len(rows) - 1):.0f}/s "
              f"on average; growth per hour over the second half:")
        for col in ("rss_kib", "series", "map_entries_total", "lost_events"):
            print(f"  {col:18} {slope_per_hour(ts, [r[col] for r in half]):+12.1f}/h  "
                  f"(first {rows[0][col]}, last {rows[-1][col]}, max {max(r[col] for r in rows)})")
        print(f"  {csv_path}, {os.path.join(args.out, 'soak.svg')}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
