#!/usr/bin/env python3
"""The PrometheusRule in the Kubernetes manifests holds exactly the groups of
the plain rules file, every alert there has a promtool test that fires it,
and every recording rule one that checks its values. Every alert links its
runbook (docs/runbooks/ALERT.md), which says what it means, what to look at
and what to do, and whose every PromQL block parses (promtool).

    check_rules.py deploy
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

RUNBOOKS = "https://github.com/stallwatch/stallwatch/blob/main/docs/runbooks/"
SECTIONS = ("## What it means", "## Look at", "## What to do")

root = sys.argv[1]
with open(f"{root}/prometheus/stallwatch-rules.yaml") as f:
    plain = yaml.safe_load(f)
with open(f"{root}/kubernetes/base/prometheusrule.yaml") as f:
    crd = yaml.safe_load(f)
with open(f"{root}/prometheus/stallwatch-rules.test.yaml") as f:
    tests = yaml.safe_load(f)

failures = []
if crd.get("kind") != "PrometheusRule" or crd["spec"]["groups"] != plain["groups"]:
    failures.append("deploy/kubernetes/base/prometheusrule.yaml differs from deploy/prometheus/stallwatch-rules.yaml")
alerts = {r["alert"] for g in plain["groups"] for r in g["rules"] if "alert" in r}
fired = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
for a in sorted(alerts - fired):
    failures.append(f"alert {a} has no promtool test that fires it")
records = {r["record"] for g in plain["groups"] for r in g["rules"] if "record" in r}
checked = {t["expr"] for case in tests["tests"] for t in case.get("promql_expr_test", []) if t.get("exp_samples")}
for r in sorted(records - checked):
    failures.append(f"recording rule {r} has no promtool test of its values")
docs = os.path.join(os.path.dirname(os.path.abspath(root)), "docs", "runbooks")
with open(os.path.join(docs, "README.md")) as f:
    index = f.read()
queries = []
for g in plain["groups"]:
    for r in g["rules"]:
        if "alert" not in r:
            continue
        a = r["alert"]
        url = r.get("annotations", {}).get("runbook_url")
        if url != f"{RUNBOOKS}{a}.md":
            failures.append(f"alert {a}: runbook_url is {url!r}, not {RUNBOOKS}{a}.md")
            continue
        path = os.path.join(docs, f"{a}.md")
        if not os.path.isfile(path):
            failures.append(f"alert {a}: no runbook {path}")
            continue
        text = open(path).read()
        if not text.startswith(f"# {a}\n"):
            failures.append(f"{path}: does not start with '# {a}'")
        for sec in SECTIONS:
            if sec not in text:
                failures.append(f"{path}: no '{sec}' section")
        found = re.findall(r"```promql\n(.*?)```", text, re.S)
        if not found:
            failures.append(f"{path}: no PromQL to look at")
        queries += [(path, q.strip()) for q in found]
        if a not in index:
            failures.append(f"docs/runbooks/README.md does not list {a}")
# Each query as a recording rule: promtool parses every one.
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    yaml.safe_dump({"groups": [{"name": "runbooks", "rules": [
        {"record": f"runbook:query:{i}", "expr": q} for i, (_, q) in enumerate(queries)]}]}, f)
check = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
os.unlink(f.name)
if check.returncode != 0:
    lines = (check.stdout + check.stderr).splitlines()
    named = [line for line in lines if "runbook:query:" in line] or [line for line in lines if line.strip()]
    for line in named:
        m = re.search(r"runbook:query:(\d+)", line)
        where = os.path.basename(queries[int(m.group(1))][0]) if m else "promtool"
        failures.append(f"runbook PromQL does not parse: {where}: {line.strip()}")
for f in failures:
    print("FAIL", f)
print(f"{len(alerts)} alerts, {len(fired)} fired in tests; {len(records)} recording rules; "
      f"{len(queries)} runbook queries")
sys.exit(1 if failures else 0)
