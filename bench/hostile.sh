#!/usr/bin/env bash
# A well-behaved client's round trip on a quiet server, then while 1,000
# connections stall in the handshake and 1,000 trickle a frame a byte at a
# time (bench/hostile_peers, from 20 loopback addresses), in one run; with
# the server's RSS and descriptor count. Shared-key mode, loopback only.
#   bench/hostile.sh [STALL] [TRICKLE] [SECONDS]   (after a release build in build/)
set -u
cd "$(dirname "$0")/.."
B=build/src/cli/signet H=build/bench/hostile_peers
stall=${1:-1000} trickle=${2:-1000} seconds=${3:-40}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config
export SHARED_SECRET_KEY="a long random secret for the benchmark run"
ulimit -n "$(ulimit -Hn)"

$B -q server --listen 127.0.0.1:7978 --echo > /dev/null 2> "$work/server.log" &
S=$!
sleep 0.5
probe() {  # the good client: 20,000 request-response round trips on one connection,
           # connecting again while the server answers busy, as a patient client does
  $B -q bench 127.0.0.1:7978 --connections 1 --messages 20000 --inflight 1 --size 64 2>&1 |
    awk '/connect retries/ {r=$0; sub(/.*connect retries after busy /, "", r); sub(/\).*/, "", r)}
         /round trip/ {sub(/.*round trip /, ""); print $0 ", connect retries " r}'
}
server_state() {
  echo "server RSS $(awk '/VmRSS/ {print $2}' /proc/$S/status) kB (peak $(awk '/VmHWM/ {print $2}' /proc/$S/status) kB), $(ls /proc/$S/fd | wc -l) descriptors"
}
echo "quiet server:        $(probe)"
server_state
$H 7978 --stall "$stall" --trickle "$trickle" --sources 20 --seconds "$seconds" > "$work/hostile.out" &
P=$!
sleep 10
echo "under attack:        $(probe)"
server_state
wait $P
cat "$work/hostile.out"
sleep 1
echo "after the attack:    $(probe)"
server_state
echo "server log: $(wc -l < "$work/server.log") lines, $(grep -c 'not logged' "$work/server.log") summaries"
kill $S; wait $S 2>/dev/null
