#!/usr/bin/env python3
"""Prints the `podman run` arguments that run one container of a shipped
DaemonSet as the kubelet would, one per line: hostPID, the hostPath volumes
(remapped where the test keeps its own copy), the security context
(capabilities, read-only root without podman's extra tmpfs mounts, no
privilege escalation, the seccomp profile: RuntimeDefault is the runtime's
own, Localhost is read from the kubelet's seccomp directory), NODE_NAME from
the downward API, the image, then the container's command and args.

    podman_args.py DAEMONSET.yaml CONTAINER IMAGE NODE KUBELET_SECCOMP_DIR [HOSTPATH=REPLACEMENT ...]
"""
import os
import sys

import yaml

path, name, image, node, seccomp_dir = sys.argv[1:6]
remap = dict(a.split("=", 1) for a in sys.argv[6:])
with open(path) as f:
    ds = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "DaemonSet")
pod = ds["spec"]["template"]["spec"]
containers = {c["name"]: c for c in pod.get("initContainers", []) + pod["containers"]}
if name not in containers:
    sys.exit(f"podman_args.py: no container {name} in {path}")
c = containers[name]
volumes = {v["name"]: v for v in pod.get("volumes", [])}

args = ["--pid=host"] if pod.get("hostPID") else []
for m in c.get("volumeMounts", []):
    host = volumes[m["name"]]["hostPath"]
    src = remap.get(host["path"], host["path"])
    if host.get("type") == "DirectoryOrCreate":
        os.makedirs(src, exist_ok=True)  # as the kubelet does
    args.append(f"--volume={src}:{m['mountPath']}" + (":ro" if m.get("readOnly") else ""))
sc = c.get("securityContext", {})
if sc.get("privileged"):
    args.append("--privileged")
else:
    caps = sc.get("capabilities", {})
    if "ALL" in caps.get("drop", []):
        args.append("--cap-drop=ALL")
    for cap in caps.get("add", []):
        args.append(f"--cap-add=CAP_{cap}")
    if sc.get("readOnlyRootFilesystem"):
        # A pod's read-only root has no writable /tmp or /run unless a volume gives one.
        args += ["--read-only", "--read-only-tmpfs=false"]
    if sc.get("allowPrivilegeEscalation") is False:
        args.append("--security-opt=no-new-privileges")
    profile = sc.get("seccompProfile", {"type": "RuntimeDefault"})
    if profile["type"] == "Localhost":
        args.append(f"--security-opt=seccomp={seccomp_dir}/{profile['localhostProfile']}")
    elif profile["type"] == "Unconfined":
        args.append("--security-opt=seccomp=unconfined")
if "runAsUser" in sc:
    args.append(f"--user={sc['runAsUser']}")
for e in c.get("env", []):
    if e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
        args.append(f"--env={e['name']}={node}")
    elif "value" in e:
        args.append(f"--env={e['name']}={e['value']}")
command = c.get("command", [])
if command:
    args.append(f"--entrypoint={command[0]}")
args.append(image)
args += command[1:] + c.get("args", [])
print("\n".join(args))
