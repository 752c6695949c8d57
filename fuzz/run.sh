#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs all six at once for the
# given time each (on a 2-core machine they share the cores, so the wall time
# stays about `seconds` while each target gets about 2/3 of a core).
#
#   fuzz/run.sh [seconds=600] [--seeds]
#
# --seeds first rewrites the seed corpora in fuzz/corpus/ from the real code.
# New inputs go to fuzz/findings/<target>/corpus (the seed corpus is only read),
# crashes to fuzz/findings/<target>/crash-*, the log to fuzz/findings/<target>.log.
# UBSan reports stop the fuzzer (halt_on_error), so UB is a finding too.
# Exits non-zero if any fuzzer found something.
set -euo pipefail

seconds=600
seeds=0
for arg in "$@"; do
  case "$arg" in
    --seeds) seeds=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [seconds] [--seeds]" >&2; exit 2 ;;
    *) seconds="$arg" ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SIGNET_FUZZ_BUILD:-$root/build-fuzz}"
findings="$root/fuzz/findings"
# target:seed corpus directory
targets=(fuzz_frame_decoder:frame fuzz_handshake:handshake fuzz_keys:keys fuzz_proto_session:proto fuzz_file_frames:files
  fuzz_chat:chat)

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DSIGNET_BUILD_FUZZ=ON \
  -DSIGNET_BUILD_TESTS=OFF -DSIGNET_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" -j2 "${targets[@]%%:*}" fuzz_make_corpus

if [[ $seeds == 1 ]]; then
  "$build/fuzz/fuzz_make_corpus" "$root/fuzz/corpus"
fi

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

run() {
  local target="$1" seed_dir="$2"
  local out="$findings/$target"
  mkdir -p "$out/corpus"
  # The first corpus directory receives new inputs; the seeds stay untouched.
  "$build/fuzz/$target" "$out/corpus" "$seed_dir" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$out/" >"$findings/$target.log" 2>&1
}

mkdir -p "$findings"
pids=()
for t in "${targets[@]}"; do
  run "${t%%:*}" "$root/fuzz/corpus/${t#*:}" &
  pids+=($!)
done

status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done

for t in "${targets[@]}"; do
  target="${t%%:*}"
  echo "== $target"
  grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::)' "$findings/$target.log" || true
  ls "$findings/$target"/crash-* "$findings/$target"/leak-* "$findings/$target"/timeout-* \
    2>/dev/null || true
done
exit "$status"
