#!/usr/bin/env bash
# Sets up a Debian 12 machine and runs every test:
#   1. release build with warnings as errors: unit and integration tests (CTest);
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build: the same tests again;
#   3. a short smoke run of each libFuzzer target (clang).
# Usage: scripts/test.sh   (SIGNET_FUZZ_SECONDS=N changes the fuzz smoke length; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== release build, all tests"
scripts/setup.sh build -DSIGNET_WERROR=ON
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build, all tests"
scripts/setup.sh build-asan -DSIGNET_WERROR=ON -DSIGNET_SANITIZE=ON -DSIGNET_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

fuzz_seconds=${SIGNET_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" -gt 0 ] && [ -x fuzz/run.sh ]; then
  echo "== libFuzzer smoke run, ${fuzz_seconds}s per target"
  fuzz/run.sh "$fuzz_seconds"
fi
echo "== all tests passed"
