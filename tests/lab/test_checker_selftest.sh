#!/usr/bin/env bash
# Self-test of the lab's result checker (check_results.py) and random_ports on hand-made files.
# Needs neither root nor the network; the binary argument that CTest passes is not used.
#
#   bash tests/lab/test_checker_selftest.sh [/path/to/glasshouse]
set -euo pipefail
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed"; exit 77; }
exec python3 "$(dirname "$0")/check_results_selftest.py"
