#!/usr/bin/env python3
"""Asserts what a first-class node agent's DaemonSet must have, in both
variants: the host access the agent needs and no more, probes on /healthz,
every taint tolerated, flags the agent actually takes; monitors that keep the
workloads' namespace/pod/container labels; and, where kubectl can render
kustomizations, that it renders each overlay to the documents checked here.

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
    """Every document a kustomization directory lists, recursively, less
    those its `$patch: delete` patches remove."""
    docs = []
    kust = load(os.path.join(kdir, "kustomization.yaml"))[0]
    for res in kust["resources"]:
        path = os.path.join(kdir, res)
        check(os.path.exists(path), f"{kdir}: listed resource {res} exists")
        if os.path.isdir(path):
            docs += resources(path)
        elif os.path.exists(path):
            docs += load(path)
    for patch in kust.get("patchesStrategicMerge", []):
        for p in load(os.path.join(kdir, patch)):
            if p.get("$patch") == "delete":
                before = len(docs)
                docs = [d for d in docs if (d["kind"], d["metadata"]["name"]) != (p["kind"], p["metadata"]["name"])]
                check(len(docs) == before - 1, f"{kdir}: {patch} deletes one {p['kind']}")
    return docs


def rendered_kinds(kdir):
    """Kinds kubectl's kustomize renders the directory to; None without one."""
    try:
        r = subprocess.run(["kubectl", "kustomize", kdir], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        check(False, f"{kdir}: kubectl kustomize: {r.stderr.strip()[:300]}")
        return None
    return sorted(d["kind"] for d in yaml.safe_load_all(r.stdout) if d)


def check_relabelings(tag, endpoint, dropped):
    """The Operator's own namespace/pod/container (and service) target labels
    are the agent's: dropped, so that the workloads' labels keep their names;
    the node comes from the pod's."""
    rl = endpoint.get("relabelings", [])
    check(any(r.get("sourceLabels") == ["__meta_kubernetes_pod_node_name"] and r.get("targetLabel") == "node"
              for r in rl), f"{tag} node from __meta_kubernetes_pod_node_name")
    drops = [r for r in rl if r.get("action") == "labeldrop"]
    check(len(drops) == 1 and set(drops[0]["regex"].split("|")) == dropped,
          f"{tag} drops exactly {sorted(dropped)} from the target")
    check(not endpoint.get("honorLabels"), f"{tag} no honorLabels (a series without namespace would take the agent's)")


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
    expected = ["DaemonSet", "Namespace", "NetworkPolicy", "PodMonitor", "PrometheusRule", "Role", "RoleBinding",
                "Service", "ServiceAccount"]
    check(kinds == expected, f"{variant}: kinds {kinds}")
    rendered = rendered_kinds(os.path.join(root, variant))
    check(rendered is None or rendered == expected, f"{variant}: kubectl kustomize renders {rendered}")
    ns = next(d for d in docs if d["kind"] == "Namespace")
    check(ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
          f"{variant}: namespace admits privileged pods (Pod Security admission)")
    pm = next(d for d in docs if d["kind"] == "PodMonitor")
    check_relabelings(f"{variant}: PodMonitor", pm["spec"]["podMetricsEndpoints"][0], {"namespace", "pod", "container"})
    np = next(d for d in docs if d["kind"] == "NetworkPolicy")
    check(np["spec"]["ingress"][0]["ports"] == [{"port": "metrics", "protocol": "TCP"}] and
          "podSelector" in np["spec"]["ingress"][0]["from"][0], f"{variant}: NetworkPolicy admits the scraper only")
    rb = next(d for d in docs if d["kind"] == "RoleBinding")
    check(rb["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}],
          f"{variant}: kube-prometheus's Prometheus may discover the agents")
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    tag = f"{variant}:"
    check(pod.get("hostPID") is True, f"{tag} hostPID")
    check(pod.get("tolerations") == [{"operator": "Exists"}], f"{tag} tolerates every taint")
    check(pod.get("nodeSelector") == {"kubernetes.io/os": "linux"}, f"{tag} Linux nodes only")
    check(ds["spec"].get("updateStrategy", {}).get("rollingUpdate", {}).get("maxUnavailable") is not None,
          f"{tag} rolling update with maxUnavailable")
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
        # The runtime's default profile refuses bpf() without CAP_SYS_ADMIN
        # (tests/image/image_test.sh proves it): the image's own profile, put in
        # place by an init container that itself runs under the default.
        check(sc.get("seccompProfile") == {"type": "Localhost", "localhostProfile": "stallwatch.json"},
              f"{tag} seccomp: the Localhost profile stallwatch.json")
        init = {i["name"]: i for i in pod.get("initContainers", [])}.get("seccomp-profile", {})
        check(init.get("command") == ["cp", "/usr/share/stallwatch/seccomp.json",
                                      "/host/var/lib/kubelet/seccomp/stallwatch.json"], f"{tag} init container installs it")
        check(init.get("image") == c["image"], f"{tag} init container runs the agent's image")
        isc = init.get("securityContext", {})
        check(isc.get("capabilities") == {"drop": ["ALL"]} and isc.get("seccompProfile") == {"type": "RuntimeDefault"}
              and isc.get("readOnlyRootFilesystem") is True, f"{tag} init container holds no capability")
        check(volumes.get("kubelet-seccomp", {}).get("hostPath", {}).get("path") == "/var/lib/kubelet/seccomp",
              f"{tag} kubelet's seccomp directory mounted into the init container")

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

# The ServiceMonitor overlay: the same DaemonSet, a ServiceMonitor in place of
# the PodMonitor, with the same relabelings (and `service` dropped too).
sm_dir = os.path.join(root, "servicemonitor")
docs = resources(sm_dir)
kinds = sorted(d["kind"] for d in docs)
expected = ["DaemonSet", "Namespace", "NetworkPolicy", "PrometheusRule", "Role", "RoleBinding", "Service",
            "ServiceAccount", "ServiceMonitor"]
check(kinds == expected, f"servicemonitor: kinds {kinds}")
rendered = rendered_kinds(sm_dir)
check(rendered is None or rendered == expected, f"servicemonitor: kubectl kustomize renders {rendered}")
sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
check_relabelings("servicemonitor:", sm["spec"]["endpoints"][0], {"namespace", "pod", "container", "service"})
svc = next(d for d in docs if d["kind"] == "Service")
check(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(),
      "servicemonitor: selects the Service")
check(rendered_kinds(overlay) in (None, sorted(d["kind"] for d in resources(os.path.join(root, "least-privilege")))),
      "web-config: kubectl kustomize renders the least-privilege documents")

for f in failures:
    print("FAIL", f)
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
