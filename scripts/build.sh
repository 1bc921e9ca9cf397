#!/usr/bin/env bash
# Configures and builds into build/ (or $1), with extra CMake arguments after it;
# GLASSHOUSE_TARGET names one target to build instead of all.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$dir" ${GLASSHOUSE_TARGET:-}
