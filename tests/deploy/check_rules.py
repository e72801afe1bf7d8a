#!/usr/bin/env python3
"""The PrometheusRule in the Kubernetes manifests holds exactly the groups of
the plain rules file, every alert there has a promtool test that fires it,
and every recording rule one that checks its values.

    check_rules.py deploy
"""
import sys

import yaml

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
for f in failures:
    print("FAIL", f)
print(f"{len(alerts)} alerts, {len(fired)} fired in tests; {len(records)} recording rules")
sys.exit(1 if failures else 0)
