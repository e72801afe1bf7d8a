#!/usr/bin/env python3
"""Lints the Dockerfile (hadolint, the usual tool, is not packaged in
Debian; these are its rules that matter here) and checks that the image is
built by the README's own scripts and runs what the manifests expect.

    check_dockerfile.py Dockerfile path/to/stallwatch
"""
import json
import re
import subprocess
import sys

path, agent = sys.argv[1], sys.argv[2]
lines = []
with open(path) as f:
    for raw in f.read().replace("\\\n", " ").splitlines():
        raw = raw.strip()
        if raw and not raw.startswith("#"):
            lines.append(raw)
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


instructions = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]
known = {"FROM", "RUN", "COPY", "WORKDIR", "EXPOSE", "ENTRYPOINT", "CMD", "ENV", "ARG", "LABEL", "USER"}
for ins, _ in instructions:
    check(ins in known, f"unknown instruction {ins}")
# FROM ${BASE}: the ARG's default is what a plain build uses.
args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
froms = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), a) for i, a in instructions if i == "FROM"]
check(len(froms) >= 2, "multi-stage: a build stage and a runtime stage")
for f in froms:
    image = f.split()[0]
    check(image.startswith("debian:12"), f"DL3006/base: {image} is not Debian 12")
    check(":" in image and not image.endswith(":latest"), f"DL3007: {image} is not pinned")
for i, a in instructions:
    check(i != "ADD", "DL3020: COPY, not ADD")
    if i == "RUN" and "apt-get install" in a:
        check("--no-install-recommends" in a, "DL3015: apt-get install without --no-install-recommends")
        check("-y" in a.split(), "DL3014: apt-get install without -y")
        check("rm -rf /var/lib/apt/lists" in a, "DL3009: apt lists left in the image")
        check("apt-get update" in a, "apt-get install without apt-get update in the same RUN")
    if i in ("ENTRYPOINT", "CMD"):
        check(a.startswith("["), f"DL3025: {i} in shell form")
    if i == "WORKDIR":
        check(a.startswith("/"), "DL3000: WORKDIR not absolute")
check(any(i == "COPY" and a.split()[-2:] == ["deploy/seccomp/stallwatch.json", "/usr/share/stallwatch/seccomp.json"]
          for i, a in instructions), "the image does not carry the seccomp profile the least-privilege DaemonSet installs")
check(any(i == "RUN" and "scripts/install-deps.sh" in a and "scripts/build.sh" in a for i, a in instructions),
      "the build stage does not use the README's scripts (install-deps.sh, build.sh)")
# The runtime stage installs the package of every shared library the binary
# names itself (NEEDED); apt brings what those libraries need in turn.
runtime = " ".join(a for i, a in instructions[[n for n, (i, _) in enumerate(instructions) if i == "FROM"][-1]:]
                   if i == "RUN")
needed = subprocess.run(["readelf", "-d", agent], capture_output=True, text=True, check=True).stdout
for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", needed):
    found = subprocess.run(["sh", "-c", f"dpkg -S '*x86_64-linux-gnu/{lib}' | head -1 | cut -d: -f1"], capture_output=True,
                           text=True).stdout.strip()
    if found in ("libc6", "libgcc-s1", "libstdc++6", "libcrypt1"):  # in debian:12-slim already
        continue
    check(found and found in runtime, f"runtime stage lacks {found or lib} for {lib}")
entry = json.loads(next(a for i, a in instructions if i == "ENTRYPOINT"))
check(entry == ["/usr/sbin/stallwatch"], f"ENTRYPOINT {entry}")
for f in failures:
    print("FAIL", f)
print(f"{len(instructions)} instructions, {len(failures)} failures")
sys.exit(1 if failures else 0)
