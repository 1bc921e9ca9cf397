#!/usr/bin/env bash
# First command of the README: install the dependencies, build, and scan this machine's loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
echo
echo "== glasshouse scan -p- 127.0.0.1 =="
build/glasshouse scan -p- --no-status 127.0.0.1
