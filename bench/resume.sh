#!/usr/bin/env bash
# Resuming figures (issue 8), loopback only, key mode: a put and a get of one
# file are killed (SIGKILL of the client) at 90%, then run again; how long
# until data flows again, how long the rest takes, and how many bytes were
# there already. Also the peak RSS of both sides for the whole file.
#
#   bench/resume.sh [GiB=4]     (after a release build in build/)
#
# "Until data flows" is measured two ways: from the start of the second
# command to the server's log line saying it resumed (after which the
# sender sends at once), and to the moment the receiver's part first grows
# past where the cut left it (an upper bound: the bytes between the last
# checkpoint and the cut are sent again first).
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${1:-4}
B=$PWD/build/src/cli/signet

. bench/lib.sh
bench_need bc time
bench_work
mkdir -p "$work/src" "$work/served" "$work/got"
src=$work/src/data.bin
head -c "$((gib << 30))" /dev/urandom > "$src"
bytes=$(stat -c %s "$src")
cut=$((bytes * 9 / 10))

$B keygen -f "$work/server" -C server > /dev/null
$B keygen -f "$work/client" -C client > /dev/null
$B keys add "$work/client.pub" --authorized-keys "$work/ak" > /dev/null
port=7932
$B server --listen 127.0.0.1:$port --identity "$work/server" --authorized-keys "$work/ak" \
  --files "$work/served" > /dev/null 2> "$work/server.log" &
server=$!
pids+=($server)
sleep 0.5
id=(--identity "$work/client")
echo pin > "$work/pin"  # the first connection pins the server's key
$B put 127.0.0.1:$port "$work/pin" -q "${id[@]}" --accept-new > /dev/null 2>&1
rm -f "$work/served/pin"

now() { date +%s.%N; }
# The size of the one hidden part in a folder (0 if none yet).
part_size() {
  local f
  f=$(find "$1" -maxdepth 1 -name '.signet-part-*' ! -name '*.resume' -print -quit)
  [ -n "$f" ] && stat -c %s "$f" 2> /dev/null || echo 0
}
# Starts "$@" in the background, kills it (SIGKILL) once the part in $dir
# holds $cut bytes; prints the part's size then.
cut_at() {
  local dir=$1
  shift
  "$@" > /dev/null 2>&1 &
  local p=$!
  while [ "$(part_size "$dir")" -lt "$cut" ]; do sleep 0.01; done
  kill -9 $p
  wait $p 2> /dev/null || true
  sleep 0.5  # the server sees the cut and writes its checkpoint
  part_size "$dir"
}
# Runs "$@" in the background; prints the seconds until the part in $dir
# grows past $2, until the server logs "$3 ... resumed", and until it ends,
# then the command's stderr.
resume() {
  local dir=$1 was=$2 verb=$3
  shift 3
  local lines t0 grown="" logged="" t_end
  lines=$(wc -l < "$work/server.log")
  t0=$(now)
  "$@" > /dev/null 2> "$work/resume.err" &
  local p=$!
  while kill -0 $p 2> /dev/null; do
    if [ -z "$grown" ] && [ "$(part_size "$dir")" -gt "$was" ]; then grown=$(now); fi
    if [ -z "$logged" ]; then
      local ts
      ts=$(tail -n +"$((lines + 1))" "$work/server.log" | grep -m1 " $verb .* resumed at " | cut -d' ' -f1 || true)
      [ -n "$ts" ] && logged=$(date -d "$ts" +%s.%N)
    fi
    sleep 0.005
  done
  wait $p
  t_end=$(now)
  printf "until the server resumed %.3f s, until the part grew past the cut %s s, all %.3f s\n" \
    "$(echo "${logged:-$t_end} - $t0" | bc -l)" \
    "$([ -n "$grown" ] && printf %.3f "$(echo "$grown - $t0" | bc -l)" || echo "n/a")" \
    "$(echo "$t_end - $t0" | bc -l)"
  grep -o "resumed; .*" "$work/resume.err" || cat "$work/resume.err"
}

echo "### $gib GiB file; each transfer killed at 90% ($cut bytes) and run again"
echo "--- put"
was=$(cut_at "$work/served" $B put 127.0.0.1:$port "$src" -q "${id[@]}")
echo "part at the cut: $was bytes"
resume "$work/served" "$was" put $B put 127.0.0.1:$port "$src" "${id[@]}"
cmp "$src" "$work/served/data.bin"
echo "--- get"
was=$(cut_at "$work/got" $B get 127.0.0.1:$port data.bin -o "$work/got/data.bin" -q "${id[@]}")
echo "part at the cut: $was bytes (the client was killed: its last checkpoint counts)"
resume "$work/got" "$was" get $B get 127.0.0.1:$port data.bin -o "$work/got/data.bin" "${id[@]}"
cmp "$src" "$work/got/data.bin"

echo "### peak RSS for the whole $gib GiB file (KiB)"
/usr/bin/time -f "put client %M" $B put 127.0.0.1:$port "$src" --as again -q "${id[@]}" 2>&1 > /dev/null | tail -1
/usr/bin/time -f "get client %M" $B get 127.0.0.1:$port again -o "$work/got/again" -q "${id[@]}" 2>&1 > /dev/null | tail -1
echo "server $(awk '/VmHWM/ {print $2}' /proc/$server/status)"
