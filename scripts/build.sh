#!/usr/bin/env bash
# Configures and builds into build/ (or $1), with extra CMake arguments after it;
# GLASSHOUSE_TARGET names one target to build instead of all. Uses ccache when it is installed
# (paths are made relative to the checkout, so several checkouts share one cache).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
ninja -C "$dir" ${GLASSHOUSE_TARGET:-}
