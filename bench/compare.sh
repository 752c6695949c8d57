#!/usr/bin/env bash
# Two signet builds side by side on the same machine, in one run: each figure
# is measured REPEAT times per build, alternating builds, and the median is
# printed with the ratio new/old. Loopback only.
#   bench/compare.sh OLD_SIGNET NEW_SIGNET [REPEAT]
# e.g. bench/compare.sh ../release/build/src/cli/signet build/src/cli/signet 3
set -u
old=$1 new=$2 repeat=${3:-3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config
psk="a long random secret for the benchmark run"

# One figure: runs `signet bench` against a fresh server of the same build
# and prints the number in the column the awk program picks.
#   measure BIN MODE(shared|key) SIZE INFLIGHT
measure() {
  local bin=$1 mode=$2 size=$3 inflight=$4 port=$((7900 + RANDOM % 90)) args=() sargs=()
  if [ "$mode" = shared ]; then
    export SHARED_SECRET_KEY=$psk
  else
    unset SHARED_SECRET_KEY
    [ -f "$work/server" ] || {
      "$bin" keygen -f "$work/server" -C server > /dev/null
      "$bin" keygen -f "$work/client" -C client > /dev/null
      "$bin" keys add "$work/client.pub" --authorized-keys "$work/ak" > /dev/null
    }
    sargs=(--identity "$work/server" --authorized-keys "$work/ak")
    args=(--identity "$work/client" --server-key "$("$bin" fingerprint "$work/server.pub" | awk '{print $2}')")
  fi
  "$bin" -q server --listen "127.0.0.1:$port" "${sargs[@]}" > /dev/null 2>&1 &
  local s=$!
  sleep 0.4
  local n=400000
  [ "$inflight" = 1 ] && n=20000
  [ "$size" -ge 65536 ] && n=20000
  "$bin" -q bench "127.0.0.1:$port" "${args[@]}" --size "$size" --inflight "$inflight" \
    --messages "$n" --rr-messages "$n" 2>/dev/null | tail -1
  kill $s; wait $s 2>/dev/null
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-34s %14s %14s %7s\n' figure old new new/old
for spec in "shared 64 256" "shared 65536 256" "shared 64 1" "key 64 256" "key 65536 256" "key 64 1"; do
  set -- $spec
  for _ in $(seq "$repeat"); do
    measure "$old" "$1" "$2" "$3" >> "$work/old.raw"
    measure "$new" "$1" "$2" "$3" >> "$work/new.raw"
  done
  # The last line of `signet bench`: ... msg/s MiB/s p50 p90 p99 max. Pipelined
  # 64 B: msg/s; pipelined 64 KiB: MiB/s; request-response: the p50 round trip.
  if [ "$3" = 1 ]; then col='{print $(NF-3)}'; unit="p50 us rtt"
  elif [ "$2" -ge 65536 ]; then col='{print $(NF-4)}'; unit="MiB/s"
  else col='{print $(NF-5)}'; unit="msg/s"; fi
  o=$(awk "$col" "$work/old.raw" | median); n=$(awk "$col" "$work/new.raw" | median)
  rm -f "$work/old.raw" "$work/new.raw"
  printf '%-34s %14s %14s %7s\n' "$1 $2 B, $3 in flight ($unit)" "$o" "$n" \
    "$(awk -v o="$o" -v n="$n" 'BEGIN {if (o > 0) printf "%.2f", n / o}')"
done
