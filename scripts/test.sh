#!/usr/bin/env bash
# Second command of the README (and what CI runs: .ci/run): install, build, and run every test, in
# timed stages:
#   deps        scripts/install-deps.sh
#   build       the normal build (RelWithDebInfo)                         -> build/
#   unit        unit tests (ctest -L unit, in parallel)
#   lab         namespace-lab tests (ctest -L lab, serially, as root)
#   asan-build  clang build with ASan + UBSan and the libFuzzer targets     -> build-asan/
#   asan-unit   the unit tests under ASan + UBSan
#   asan-lab    the lab tests labelled `sanitize` with the ASan + UBSan binary
#   tsan-build  ThreadSanitizer build (GCC)                                 -> build-tsan/
#   tsan-unit   the unit tests under TSan (the engines' threads, the fake-transport driver tests)
#   tsan-lab    the lab tests labelled `sanitize` with the TSan binary
#   fuzz-replay every seed and regression input of fuzz/corpus/ once (build-asan/)
#   fuzz        each fuzz/ target fuzzed for GH_CI_FUZZ_BUDGET * jobs / targets seconds (the
#               budget shrinks to what is left of the 30 minutes)
#
# Sanitizer reports fail the test they happen in (halt_on_error); suppressions only in
# .ci/tsan.supp / .ci/ubsan.supp, each with its reason written beside it.
#
# Every ctest run writes a JUnit file into $GH_CI_OUT (build/ci/); scripts/ci_report.py counts
# them at the end and prints `N passed, N failed, N skipped` as the last line. With CI=true a
# skipped test fails the run unless its reason is in .ci/allowed-skips.txt (printed at the end).
# A failing stage does not stop the later ones (unless a build they need failed): one run shows
# every failure.
#
# Budget: the whole run must stay under 30 minutes on a 2-core machine; each stage's duration is
# printed, and the total at the end. Knobs (environment):
#   GH_CI_STAGES="unit lab ..."  run only these stages (builds they need are added)
#   GH_CI_JOBS=N                 parallel jobs for builds and parallel tests (default: nproc)
#   GH_CI_FUZZ_BUDGET=S          wall-clock seconds for the whole fuzz stage (default 180)
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=${GH_CI_JOBS:-$(nproc)}
GH_CI_OUT=${GH_CI_OUT:-$PWD/build/ci}
all_stages=(deps build unit lab asan-build asan-unit asan-lab tsan-build tsan-unit tsan-lab
  fuzz-replay fuzz)
read -ra want <<<"${GH_CI_STAGES:-${all_stages[*]}}"

wanted() {
  local s
  for s in "${want[@]}"; do [[ $s == "$1" ]] && return 0; done
  return 1
}
# The builds a wanted stage needs.
for s in "${want[@]}"; do
  case $s in
    unit | lab) want+=(build) ;;
    asan-unit | asan-lab | fuzz-replay | fuzz) want+=(asan-build) ;;
    tsan-unit | tsan-lab) want+=(tsan-build) ;;
  esac
done

run_start=$(date +%s)
timings=()
failed_stages=()
junits=()

# stage NAME CMD...: run CMD as stage NAME, timed; a failure is recorded, not fatal.
stage() {
  local name=$1 t0 rc
  shift
  wanted "$name" || return 0
  printf '\n== %s == (%s UTC)\n' "$name" "$(date -u +%T)"
  t0=$(date +%s)
  "$@"
  rc=$?
  local dt=$(($(date +%s) - t0))
  timings+=("$(printf '%-12s %5d s  %s' "$name" "$dt" "$([[ $rc -eq 0 ]] && echo ok || echo "FAILED (exit $rc)")")")
  printf -- '-- %s: %d s, exit %d\n' "$name" "$dt" "$rc"
  ((rc == 0)) || failed_stages+=("$name")
  return "$rc"
}

stage_failed() {
  local s
  for s in "${failed_stages[@]}"; do [[ $s == "$1" ]] && return 0; done
  return 1
}

# ctest_stage NAME DIR CTEST-ARGS...: ctest in DIR with a JUnit file for the report. Test
# failures show up in the report (from the JUnit file), not as a failed stage.
ctest_stage() {
  local name=$1 dir=$2
  shift 2
  local junit="$GH_CI_OUT/$name.xml"
  rm -f "$junit"
  junits+=("$name=$junit")
  ctest --test-dir "$dir" --output-on-failure --output-junit "$junit" "$@"
  [[ -s $junit ]] || return 1 # ctest itself failed (no JUnit file): the report counts it too
  return 0
}

# after BUILD-STAGE CMD...: CMD, unless the build it needs failed (then a failure, with a note).
after() {
  if stage_failed "$1"; then
    echo "not run: stage $1 failed"
    return 1
  fi
  shift
  "$@"
}

mkdir -p "$GH_CI_OUT"

stage deps scripts/install-deps.sh || { echo "installing the dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

GLASSHOUSE_TARGET="glasshouse unit_tests" stage build scripts/build.sh build
stage unit after build ctest_stage unit build -j"$jobs" -L unit
stage lab after build ctest_stage lab build -L lab

# One clang tree for ASan + UBSan and fuzzing (GLASSHOUSE_FUZZ): a build less in the budget. The
# fuzz budget is wall-clock time for every target together, `jobs` of them at once.
fuzz_targets=$(find fuzz -maxdepth 1 -name 'fuzz_*.cpp' | wc -l)
fuzz_budget=${GH_CI_FUZZ_BUDGET:-180}
fuzz_seconds=$((fuzz_budget * jobs / (fuzz_targets > 0 ? fuzz_targets : 1)))
((fuzz_seconds >= 5)) || fuzz_seconds=5
ASAN_FLAGS=(-DGLASSHOUSE_FUZZ=ON -DGLASSHOUSE_FUZZ_SECONDS="$fuzz_seconds" -DCMAKE_CXX_COMPILER=clang++
  -DCMAKE_BUILD_TYPE=RelWithDebInfo)
# A tree configured by another compiler (GCC's ASan build of earlier versions) is made anew.
if [[ -f build-asan/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build-asan/CMakeCache.txt; then
  rm -rf build-asan
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/.ci/ubsan.supp
stage asan-build scripts/build.sh build-asan "${ASAN_FLAGS[@]}"
stage asan-unit after asan-build ctest_stage asan-unit build-asan -j"$jobs" -L unit
stage asan-lab after asan-build ctest_stage asan-lab build-asan -L sanitize

TSAN_FLAGS=(-DGLASSHOUSE_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo)
tsan_options="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/.ci/tsan.supp"
GLASSHOUSE_TARGET="glasshouse unit_tests" stage tsan-build scripts/build.sh build-tsan "${TSAN_FLAGS[@]}"
TSAN_OPTIONS=$tsan_options stage tsan-unit after tsan-build ctest_stage tsan-unit build-tsan -j"$jobs" -L unit
TSAN_OPTIONS=$tsan_options stage tsan-lab after tsan-build ctest_stage tsan-lab build-tsan -L sanitize

stage fuzz-replay after asan-build ctest_stage fuzz-replay build-asan -j"$jobs" -L '^fuzz_replay$'
# Fuzzing gets its budget, or what is left of the 30 minutes (2 minutes kept for the rest), at
# least 10 s a target.
left=$((1800 - ($(date +%s) - run_start) - 120))
((left < fuzz_budget)) && fuzz_budget=$left
export GH_FUZZ_SECONDS=$((fuzz_budget * jobs / (fuzz_targets > 0 ? fuzz_targets : 1)))
((GH_FUZZ_SECONDS >= 10)) || GH_FUZZ_SECONDS=10
wanted fuzz && echo "fuzz: $fuzz_targets targets, ${GH_FUZZ_SECONDS} s each, $jobs at a time"
stage fuzz after asan-build ctest_stage fuzz build-asan -j"$jobs" -L '^fuzz$'

printf '\n== stage times ==\n'
printf '  %s\n' "${timings[@]}"
total=$(($(date +%s) - run_start))
printf '  %-12s %5d s (budget 1800 s)\n' total "$total"
((total <= 1800)) || echo "warning: this run took over the 30-minute CI budget"

strict=()
[[ ${CI:-} == true ]] && strict=(--strict)
failed_args=()
for s in "${failed_stages[@]}"; do failed_args+=(--failed-stage "$s"); done
python3 scripts/ci_report.py "${strict[@]}" --allow .ci/allowed-skips.txt "${failed_args[@]}" \
  "${junits[@]}"
