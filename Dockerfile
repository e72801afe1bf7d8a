# syntax=docker/dockerfile:1
# stallwatch node agent image: built by the same two scripts the README's
# set-up uses, run on a slim Debian 12 with only the shared libraries the
# binary links (the BPF programs, libbpf and libelf are inside it).
#
#   podman build --build-arg REVISION=$(git rev-parse --short=12 HEAD) -t stallwatch:0.1.0 .
#   (or docker build; BASE names another Debian 12 base image, e.g. a local one)
# Run it as the DaemonSets in deploy/kubernetes do: privileged, or with
# BPF, PERFMON, DAC_OVERRIDE, NET_ADMIN and the seccomp profile this image
# carries in /usr/share/stallwatch/seccomp.json; hostPID, /sys/kernel/btf,
# /sys/kernel/tracing and /sys/fs/cgroup mounted from the host.

ARG BASE=debian:12.8-slim
FROM ${BASE} AS build
ARG REVISION=unknown
WORKDIR /src
COPY . .
# The programs compile against the checked-in bpf/vmlinux/ header, so the
# build does not depend on the builder's kernel; they are CO-RE, so any
# BTF-enabled kernel runs them.
RUN scripts/install-deps.sh && scripts/build.sh -DSTALLWATCH_TESTS=OFF -DSTALLWATCH_REVISION=${REVISION}

FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libmicrohttpd12 libgnutls30 libyaml-cpp0.7 zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/agent/stallwatch /usr/sbin/stallwatch
# The least-privilege DaemonSet's init container copies it to the node's
# kubelet seccomp directory (deploy/seccomp/README.md).
COPY deploy/seccomp/stallwatch.json /usr/share/stallwatch/seccomp.json
EXPOSE 9688
ENTRYPOINT ["/usr/sbin/stallwatch"]
CMD ["run", "--events-file=-"]
