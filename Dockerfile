# syntax=docker/dockerfile:1
# stallwatch node agent image: built by the same two scripts the README's
# set-up uses, run on a slim Debian 12 with only the shared libraries the
# binary links (the BPF programs, libbpf and libelf are inside it).
#
#   docker build -t stallwatch .
# Run it as the DaemonSet in deploy/kubernetes does: privileged (or with
# BPF, PERFMON, DAC_OVERRIDE, NET_ADMIN), hostPID, /sys/kernel/btf and /sys/fs/cgroup
# mounted from the host.

FROM debian:12.8-slim AS build
WORKDIR /src
COPY . .
# The programs compile against the checked-in bpf/vmlinux/ header, so the
# build does not depend on the builder's kernel; they are CO-RE, so any
# BTF-enabled kernel runs them.
RUN scripts/install-deps.sh && scripts/build.sh

FROM debian:12.8-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libmicrohttpd12 libgnutls30 libyaml-cpp0.7 zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/agent/stallwatch /usr/sbin/stallwatch
EXPOSE 9688
ENTRYPOINT ["/usr/sbin/stallwatch"]
CMD ["run", "--events-file=-"]
