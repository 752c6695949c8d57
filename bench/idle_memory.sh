#!/usr/bin/env bash
# Server memory with N idle key-mode connections (default 10000): starts a
# key-mode server and `signet bench --idle-connections N`, reads the server's
# resident memory while the connections are held. Loopback only.
#
#   bench/idle_memory.sh [N=10000] [SIGNET=build/src/cli/signet]
set -euo pipefail
n=${1:-10000}
signet=$(realpath "${2:-build/src/cli/signet}")
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n $((n + 1024))  # each process holds one descriptor per connection
export XDG_CONFIG_HOME=$work/config
unset SHARED_SECRET_KEY
"$signet" keygen -f "$work/server" -C server >/dev/null
"$signet" keygen -f "$work/client" -C client >/dev/null
"$signet" keys add "$work/client.pub" --authorized-keys "$work/authorized_keys" >/dev/null
port=$((30000 + RANDOM % 10000))
"$signet" -q server --listen "127.0.0.1:$port" --identity "$work/server" \
  --authorized-keys "$work/authorized_keys" --max-connections $((n + 100)) >"$work/server.out" 2>&1 &
pids+=($!)
server=$!
sleep 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$server/status"; }
before=$(rss)
"$signet" -q bench "127.0.0.1:$port" --identity "$work/client" --server-key \
  "$("$signet" fingerprint "$work/server.pub" | awk '{ print $2 }')" \
  --idle-connections "$n" --hold 8 >"$work/bench.out" 2>&1 &
pids+=($!)
bench=$!
until grep -q "connections open" "$work/bench.out" 2>/dev/null; do
  kill -0 "$bench" 2>/dev/null || { cat "$work/bench.out" >&2; exit 1; }
  sleep 0.5
done
sleep 2
held=$(rss)
cat "$work/bench.out"
awk -v b="$before" -v h="$held" -v n="$n" 'BEGIN {
  printf "server RSS: %.1f MiB before, %.1f MiB with %d idle connections (%.1f KiB each)\n",
         b / 1024, h / 1024, n, (h - b) / n }'
wait "$bench"
