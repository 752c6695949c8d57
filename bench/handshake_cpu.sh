#!/usr/bin/env bash
# Server CPU time per mutual-auth TLS 1.3 handshake: signet's key-mode server
# against `openssl s_server`, both driven by `openssl s_time` for the same time
# with the same Ed25519 client and server keys. Loopback only.
#
#   bench/handshake_cpu.sh [SECONDS=10] [SIGNET=build/src/cli/signet]
set -euo pipefail
seconds=${1:-10}
signet=$(realpath "${2:-build/src/cli/signet}")
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_CONFIG_HOME=$work/config
unset SHARED_SECRET_KEY

"$signet" keygen -f "$work/server" -C server >/dev/null
"$signet" keygen -f "$work/client" -C client >/dev/null
for k in server client; do
  openssl req -x509 -new -key "$work/$k" -subj "/CN=$k" -days 1 -out "$work/$k.crt" 2>/dev/null
done
"$signet" keys add "$work/client.pub" --authorized-keys "$work/authorized_keys" >/dev/null

ticks=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$ticks" '{ printf "%.0f", ($14 + $15) * 1000 / t }' "/proc/$1/stat"; }

# Runs s_time against PID listening on PORT; prints "connections cpu_ms".
drive() {
  local pid=$1 port=$2 before after out n
  before=$(cpu_ms "$pid")
  out=$(openssl s_time -connect "127.0.0.1:$port" -new -cert "$work/client.crt" \
    -key "$work/client" -time "$seconds" 2>&1)
  after=$(cpu_ms "$pid")
  n=$(echo "$out" | awk '/connections in/ { print $1; exit }')
  echo "$n $((after - before))"
}

port_signet=$((20000 + RANDOM % 10000))
port_openssl=$((port_signet + 1))
"$signet" -q server --listen "127.0.0.1:$port_signet" --identity "$work/server" \
  --authorized-keys "$work/authorized_keys" --threads 1 >"$work/signet.out" 2>&1 &
pids+=($!)
signet_pid=$!
openssl s_server -quiet -accept "$port_openssl" -cert "$work/server.crt" -key "$work/server" \
  -Verify 1 -CAfile "$work/client.crt" -tls1_3 -naccept 1000000 >/dev/null 2>&1 &
pids+=($!)
openssl_pid=$!
sleep 1

read -r n_signet ms_signet < <(drive "$signet_pid" "$port_signet")
read -r n_openssl ms_openssl < <(drive "$openssl_pid" "$port_openssl")
printf "%-16s %12s %14s %22s\n" server handshakes "server CPU ms" "CPU per handshake (ms)"
awk -v n="$n_signet" -v ms="$ms_signet" 'BEGIN { printf "%-16s %12d %14d %22.3f\n", "signet", n, ms, ms / n }'
awk -v n="$n_openssl" -v ms="$ms_openssl" 'BEGIN { printf "%-16s %12d %14d %22.3f\n", "openssl s_server", n, ms, ms / n }'
