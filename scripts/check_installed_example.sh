#!/usr/bin/env bash
# Installs the built signet into a staging directory, then configures, builds
# and runs examples/ against it as an outside project would
# (find_package(signet), signet::signet). Run by CTest (example_outside_project).
# Usage: check_installed_example.sh BUILD_DIR EXAMPLES_DIR CXX_COMPILER [FLAGS]
# (FLAGS: compiler and linker flags the build's libraries need, e.g. sanitizers)
set -euo pipefail
build=$1 examples=$2 cxx=$3 flags=${4:-}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/signet-example.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/stage" >/dev/null
# Only the installed copy may be used: no path back into the source tree.
test -f "$scratch/stage/include/signet/api/signet.hpp"
test -f "$scratch/stage/lib/cmake/signet/signetConfig.cmake" ||
  test -f "$scratch/stage/lib/x86_64-linux-gnu/cmake/signet/signetConfig.cmake"
if grep -rq --include='*.cmake' "$(cd "$examples/.." && pwd)" "$scratch/stage"; then
  echo "the installed package refers to the source tree" >&2
  exit 1
fi
cmake -S "$examples" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  -DCMAKE_PREFIX_PATH="$scratch/stage" >/dev/null
cmake --build "$scratch/build" -j 2
"$scratch/build/signet_example"
echo "example_outside_project: built against $scratch/stage and ran"
