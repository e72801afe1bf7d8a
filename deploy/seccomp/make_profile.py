#!/usr/bin/env python3
"""Writes stallwatch's seccomp profile: the container runtime's default
profile (containers-common's, which CRI-O and podman use) with one change.
That default allows bpf() and perf_event_open() only to a container holding
CAP_SYS_ADMIN; here bpf() is allowed with CAP_BPF and perf_event_open()
with CAP_PERFMON, the two capabilities the least-privilege DaemonSet adds.
Every other rule stays the default's.

    make_profile.py /usr/share/containers/seccomp.json > stallwatch.json
"""
import json
import sys

OPENED = {"bpf": "CAP_BPF", "perf_event_open": "CAP_PERFMON"}


def profile(default):
    rules = []
    for rule in default["syscalls"]:
        names = rule["names"]
        kept = [n for n in names if n not in OPENED]
        # The rules that name them only under CAP_SYS_ADMIN, or refuse them
        # without it, lose them; a second rule for the same call would
        # conflict with the one added below.
        if kept != names and (rule.get("includes", {}).get("caps") == ["CAP_SYS_ADMIN"] or
                              rule.get("excludes", {}).get("caps") == ["CAP_SYS_ADMIN"]):
            rule = dict(rule, names=kept)
        rules.append(rule)
    for name, cap in OPENED.items():
        rules.append({"names": [name], "action": "SCMP_ACT_ALLOW", "args": [], "comment": f"stallwatch: {name} with {cap}",
                      "includes": {"caps": [cap]}, "excludes": {}})
    return dict(default, syscalls=rules)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        json.dump(profile(json.load(f)), sys.stdout, indent=1)
        sys.stdout.write("\n")
