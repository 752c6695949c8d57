#!/usr/bin/env bash
# The load figures, both modes, one run: CONNECTIONS connections at once, each
# sending MESSAGES distinct messages to a server run with --echo, every reply
# checked (signet bench --connections); with the server's peak RSS.
#   bench/load.sh [CONNECTIONS] [MESSAGES] [WINDOW]   (default 1000 1000 16)
set -u
cd "$(dirname "$0")/.."
B=build/src/cli/signet
n=${1:-1000} m=${2:-1000} w=${3:-16}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config
ulimit -n "$(ulimit -Hn)"

run() {  # run NAME SERVER_ARGS... -- CLIENT_ARGS...
  local name=$1; shift
  local sargs=() cargs=()
  while [ "$1" != -- ]; do sargs+=("$1"); shift; done
  shift; cargs=("$@")
  $B -q server --listen 127.0.0.1:7975 --echo "${sargs[@]}" > /dev/null 2>&1 &
  local s=$!
  sleep 0.5
  echo "### $name: $n connections x $m messages, $w in flight each"
  $B -q bench 127.0.0.1:7975 --connections "$n" --messages "$m" --inflight "$w" "${cargs[@]}" 2>&1 |
    grep -E "^(connections|sent|[0-9])"
  echo "exit status ${PIPESTATUS[0]}; server peak RSS $(awk '/VmHWM/ {print $2}' /proc/$s/status) kB"
  kill $s; wait $s 2>/dev/null
}

export SHARED_SECRET_KEY="a long random secret for the benchmark run"
run "shared-key mode" --
unset SHARED_SECRET_KEY
$B keygen -f "$work/server" -C server > /dev/null; $B keygen -f "$work/client" -C client > /dev/null
$B keys add "$work/client.pub" --authorized-keys "$work/ak" > /dev/null
fp=$($B fingerprint "$work/server.pub" | awk '{print $2}')
run "key mode" --identity "$work/server" --authorized-keys "$work/ak" -- \
  --identity "$work/client" --server-key "$fp"
