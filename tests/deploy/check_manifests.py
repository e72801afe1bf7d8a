#!/usr/bin/env python3
"""Asserts what a first-class node agent's DaemonSet must have, in both
variants: the host access the agent needs and no more, probes on /healthz,
control-plane tolerations, and flags the agent actually takes.

    check_manifests.py deploy/kubernetes path/to/stallwatch
"""
import os
import subprocess
import sys

import yaml

root, agent = sys.argv[1], sys.argv[2]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def resources(kdir):
    """Every document a kustomization directory lists, recursively."""
    docs = []
    for res in load(os.path.join(kdir, "kustomization.yaml"))[0]["resources"]:
        path = os.path.join(kdir, res)
        check(os.path.exists(path), f"{kdir}: listed resource {res} exists")
        if os.path.isdir(path):
            docs += resources(path)
        elif os.path.exists(path):
            docs += load(path)
    return docs


# run's own flags and the global ones, which run accepts too.
help_text = "".join(subprocess.run([agent, *args, "--help"], capture_output=True, text=True).stdout
                    for args in (["run"], []))
MOUNTS = {  # mountPath -> must be read-only
    "/sys/kernel/btf": True,
    "/sys/kernel/tracing": False,
    "/host/sys/fs/cgroup": True,
    "/host/var/log/pods": True,
    "/host/run/containerd/io.containerd.runtime.v2.task": True,
    "/host/run/containers/storage/overlay-containers": True,
}

for variant in ("privileged", "least-privilege"):
    docs = resources(os.path.join(root, variant))
    kinds = sorted(d["kind"] for d in docs)
    check(kinds == ["DaemonSet", "Namespace", "PodMonitor", "PrometheusRule", "Service", "ServiceAccount"],
          f"{variant}: kinds {kinds}")
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    tag = f"{variant}:"
    check(pod.get("hostPID") is True, f"{tag} hostPID")
    keys = {t.get("key") for t in pod.get("tolerations", [])}
    check({"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"} <= keys, f"{tag} control-plane tolerations")
    for probe in ("livenessProbe", "readinessProbe"):
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == "/healthz" and get.get("port") == "metrics", f"{tag} {probe} on /healthz")
    check(any(p["name"] == "metrics" and p["containerPort"] == 9688 for p in c["ports"]), f"{tag} metrics port 9688")
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          f"{tag} NODE_NAME from the downward API")
    res = c.get("resources", {})
    check("cpu" in res.get("requests", {}) and "memory" in res.get("requests", {}) and "memory" in res.get("limits", {}),
          f"{tag} requests and a memory limit")
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    for path, ro in MOUNTS.items():
        check(path in mounts, f"{tag} mounts {path}")
        if path in mounts:
            check(bool(mounts[path].get("readOnly")) == ro, f"{tag} {path} readOnly={ro}")
    volumes = {v["name"]: v for v in pod["volumes"]}
    for m in mounts.values():
        host = volumes.get(m["name"], {}).get("hostPath", {}).get("path")
        check(host is not None, f"{tag} volume {m['name']} is a hostPath")
        if host and m["mountPath"].startswith("/host"):
            check(m["mountPath"] == "/host" + host, f"{tag} {m['mountPath']} mirrors the host's {host}")
    # Every flag is one the agent takes, and every host directory it names is mounted.
    for arg in c["args"][1:]:
        flag, _, value = arg.partition("=")
        check(flag in help_text, f"{tag} agent takes {flag}")
        if value.startswith("/host"):
            check(value in mounts, f"{tag} {flag} points at a mount")
    sc = c.get("securityContext", {})
    if variant == "privileged":
        check(sc.get("privileged") is True, f"{tag} privileged")
    else:
        check(sc.get("privileged") is False, f"{tag} not privileged")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{tag} drops ALL")
        # The same set tests/integration/cli_errors_test.cpp proves sufficient under capsh.
        check(sorted(sc.get("capabilities", {}).get("add", [])) == ["BPF", "DAC_OVERRIDE", "NET_ADMIN", "PERFMON"],
              f"{tag} adds exactly BPF, PERFMON, DAC_OVERRIDE, NET_ADMIN")
        check(sc.get("readOnlyRootFilesystem") is True, f"{tag} read-only root filesystem")
        check(sc.get("allowPrivilegeEscalation") is False, f"{tag} no privilege escalation")
        check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{tag} seccomp RuntimeDefault")

# The TLS overlay: JSON patches that apply to the least-privilege variant as
# kustomize would, a flag the agent takes, the Secret mounted read-only, and
# a PodMonitor that scrapes over https with basic auth.
def apply_patch(doc, ops):
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if op["op"] == "add" and last == "-":
            node.append(op["value"])
        elif isinstance(node, list):
            node.insert(int(last), op["value"]) if op["op"] == "add" else node.__setitem__(int(last), op["value"])
        else:
            check(op["op"] == "add" or last in node, f"web-config: {op['path']} exists to replace")
            node[last] = op["value"]


overlay = os.path.join(root, "web-config")
kust = load(os.path.join(overlay, "kustomization.yaml"))[0]
check(kust["resources"] == ["../least-privilege"], "web-config: built on least-privilege")
docs = resources(os.path.join(root, "least-privilege"))
for p in kust["patchesJson6902"]:
    target = next((d for d in docs if d["kind"] == p["target"]["kind"] and d["metadata"]["name"] == p["target"]["name"]),
                  None)
    check(target is not None, f"web-config: patch target {p['target']['kind']} exists")
    if target:
        apply_patch(target, load(os.path.join(overlay, p["path"]))[0])
ds = next(d for d in docs if d["kind"] == "DaemonSet")
c = ds["spec"]["template"]["spec"]["containers"][0]
web = [a for a in c["args"] if a.startswith("--web.config.file=")]
check(len(web) == 1 and "--web.config.file" in help_text, "web-config: one --web.config.file the agent takes")
mount = next((m for m in c["volumeMounts"] if m["name"] == "web-config"), {})
check(mount.get("readOnly") is True and web and web[0].split("=", 1)[1].startswith(mount.get("mountPath", "?") + "/"),
      "web-config: the file is on a read-only mount")
vol = next((v for v in ds["spec"]["template"]["spec"]["volumes"] if v["name"] == "web-config"), {})
check("secretName" in vol.get("secret", {}), "web-config: mounted from a Secret")
for probe in ("livenessProbe", "readinessProbe"):
    check(c[probe]["httpGet"].get("scheme") == "HTTPS", f"web-config: {probe} over HTTPS")
ep = next(d for d in docs if d["kind"] == "PodMonitor")["spec"]["podMetricsEndpoints"][0]
check(ep.get("scheme") == "https" and "ca" in ep.get("tlsConfig", {}) and "password" in ep.get("basicAuth", {}),
      "web-config: PodMonitor scrapes over https with a CA and basic auth")

for f in failures:
    print("FAIL", f)
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
