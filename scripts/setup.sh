#!/usr/bin/env bash
# The two set-up commands of the README.
#   setup.sh run    install dependencies, build, start the agent (foreground)
#   setup.sh test   install dependencies, build, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "setup.sh: run as root (installs packages, loads BPF programs)" >&2
  exit 1
fi

case "${1:-}" in
  run)
    shift
    scripts/install-deps.sh
    scripts/build.sh
    exec build/agent/stallwatch run "$@"
    ;;
  test)
    scripts/install-deps.sh --test
    scripts/build.sh
    ctest --test-dir build --output-on-failure -j2
    ;;
  *)
    echo "usage: setup.sh run [agent flags] | setup.sh test" >&2
    exit 2
    ;;
esac
