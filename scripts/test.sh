#!/usr/bin/env bash
# Second command of the README (and what CI runs): install, build, and run every test:
#   1. the normal build: unit tests and the namespace-lab tests (lab tests need root);
#   2. a second build with AddressSanitizer and UndefinedBehaviorSanitizer: the unit tests again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
echo "== build (RelWithDebInfo) =="
scripts/build.sh build
echo "== tests: unit + lab =="
ctest --test-dir build --output-on-failure -j"$jobs" -L unit
ctest --test-dir build --output-on-failure -L lab

echo "== build (ASan + UBSan) =="
GLASSHOUSE_TARGET=unit_tests scripts/build.sh build-asan -DGLASSHOUSE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "== tests: unit under ASan + UBSan =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit
