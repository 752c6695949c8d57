#!/usr/bin/env bash
# Mixed traffic against one server for a while, sampling its RSS and
# descriptor count every second: good clients (checked load), garbage,
# stalled and trickling peers, wrong keys. Once warm, neither should grow.
#   bench/soak.sh [SECONDS]   (default 600; after a release build in build/)
# Prints start / peak / end of both series and the good clients' counts; the
# samples are left in soak.csv in the current directory.
set -u
here=$(pwd)
cd "$(dirname "$0")/.."
B=build/src/cli/signet H=build/bench/hostile_peers
seconds=${1:-600}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config
export SHARED_SECRET_KEY="a long random secret for the soak run"
ulimit -n "$(ulimit -Hn)"

$B -q server --listen 127.0.0.1:7976 --echo > /dev/null 2> "$work/server.log" &
S=$!
sleep 0.5
end=$((SECONDS + seconds))

good() {  # checked load in rounds: 20 connections x 2,000 messages
  while [ $SECONDS -lt $end ]; do
    $B -q bench 127.0.0.1:7976 --connections 20 --messages 2000 --inflight 8 2>&1 |
      grep -E '^sent' >> "$work/good.txt"
  done
}
garbage() {  # random bytes, then close
  while [ $SECONDS -lt $end ]; do
    head -c 512 /dev/urandom > /dev/tcp/127.0.0.1/7976 2>/dev/null
    sleep 0.05
  done
}
wrong_key() {
  while [ $SECONDS -lt $end ]; do
    SHARED_SECRET_KEY="not the right key, but long enough" $B -q send 127.0.0.1:7976 x \
      > /dev/null 2>&1
    sleep 0.1
  done
}
good & garbage & wrong_key &
$H 7976 --stall 100 --trickle 100 --sources 5 --seconds "$seconds" > "$work/hostile.out" &

echo "second,rss_kb,fds" > "$here/soak.csv"
for ((t = 1; t <= seconds; t++)); do
  sleep 1
  echo "$t,$(awk '/VmRSS/ {print $2}' /proc/$S/status),$(ls /proc/$S/fd | wc -l)" >> "$here/soak.csv"
done
wait $(jobs -p | grep -v "^$S\$") 2>/dev/null
awk -F, 'NR == 2 {r0 = $2; f0 = $3} NR > 1 {if ($2 > rm) rm = $2; if ($3 > fm) fm = $3; r = $2; f = $3}
         END {printf "RSS kB: start %d, peak %d, end %d\ndescriptors: start %d, peak %d, end %d\n",
              r0, rm, r, f0, fm, f}' "$here/soak.csv"
echo "good clients (one line per round of 40,000 messages):"
sort "$work/good.txt" | uniq -c
cat "$work/hostile.out" | tail -1
echo "server: $(ls /proc/$S/fd | wc -l) descriptors after the traffic, log $(wc -l < "$work/server.log") lines"
kill $S; wait $S 2>/dev/null
