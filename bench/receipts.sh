#!/usr/bin/env bash
# Signed receipts (issue 10): messages per second with receipts on versus
# off, same server, same run. One key-mode `signet server --echo` on
# 127.0.0.1; `signet bench` of 64-byte messages without and with --receipt
# (every message asks for a signed receipt and the client checks each),
# alternately, RUNS times each, pipelined (128 in flight) and
# request-response. Prints the median msg/s of each and the ratio on/off,
# and the CPU seconds per message of the server (utime+stime from
# /proc/PID/stat around each bench) and of the client (the shell's `time`),
# with receipts and without; their difference is the cost of one receipt
# (the server signs it, the client checks it). Loopback only.
#
#   bench/receipts.sh [RUNS=3]     (after a release build in build/;
#                                   SIGNET=path/to/signet picks another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
B=$(realpath "${SIGNET:-build/src/cli/signet}")
port=${PORT:-7944}
size=64
# Messages per bench run (pipelined, request-response): fewer with receipts,
# which are slower, so that both take a few seconds; the same mix (10 to 1),
# so that the CPU per message of the two compares.
off_counts=(--messages 200000 --rr-messages 20000)
on_counts=(--messages 20000 --rr-messages 2000)

. bench/lib.sh
bench_work
unset SHARED_SECRET_KEY

"$B" keygen -f "$work/server" -C server > /dev/null
"$B" keygen -f "$work/client" -C client > /dev/null
"$B" keys add "$work/client.pub" --authorized-keys "$work/ak" > /dev/null
fp=$("$B" fingerprint "$work/server.pub" | awk '{print $2}')
"$B" -q server --listen "127.0.0.1:$port" --echo --identity "$work/server" \
  --authorized-keys "$work/ak" > "$work/server.log" 2>&1 &
server=$!
pids+=("$server")
sleep 0.5
kill -0 "$server" 2> /dev/null || { cat "$work/server.log" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
server_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

# One bench run: appends "mode msg/s p50_us" lines to $work/KIND.rows and
# "messages server_ticks client_seconds" to $work/KIND.cpu, and shows its rows.
#   one KIND(off|on) BENCH_ARGS...
one() {
  local kind=$1 before after TIMEFORMAT='%U %S'
  shift
  before=$(server_ticks)
  { time "$B" -q bench "127.0.0.1:$port" --identity "$work/client" --server-key "$fp" \
    --size "$size" --inflight 128,1 "$@" > "$work/out" 2> "$work/err"; } 2> "$work/time" || {
    echo "signet bench ($kind) failed:" >&2
    cat "$work/out" "$work/err" >&2
    exit 1
  }
  after=$(server_ticks)
  # A row: MODE... size messages seconds msg/s MiB/s p50 p90 p99 max.
  awk '/^(pipelined|request-response)/ {print $1, $(NF-5), $(NF-3)}' "$work/out" >> "$work/$kind.rows"
  echo "$(awk '/^(pipelined|request-response)/ {n += $(NF-7)} END {print n}' "$work/out")" \
    "$((after - before))" "$(awk '{print $1 + $2}' "$work/time")" >> "$work/$kind.cpu"
  grep -E '^(pipelined|request-response)' "$work/out" | sed "s/^/  /"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "### $("$B" --version 2>/dev/null | head -1), key mode, $size B messages, $runs runs each, alternating"
for ((i = 0; i < runs; i++)); do
  one off "${off_counts[@]}"
  one on "${on_counts[@]}" --receipt
done

echo "### median msg/s (receipts on: every message asks for one and the client checks it)"
printf '%-18s %12s %12s %8s %14s %14s\n' mode off on on/off "p50 us off" "p50 us on"
for mode in pipelined request-response; do
  off=$(awk -v m="$mode" '$1 == m {print $2}' "$work/off.rows" | median)
  on=$(awk -v m="$mode" '$1 == m {print $2}' "$work/on.rows" | median)
  loff=$(awk -v m="$mode" '$1 == m {print $3}' "$work/off.rows" | median)
  lon=$(awk -v m="$mode" '$1 == m {print $3}' "$work/on.rows" | median)
  printf '%-18s %12.0f %12.0f %8.3f %14.1f %14.1f\n' "$mode" "$off" "$on" \
    "$(awk -v a="$on" -v b="$off" 'BEGIN {print a / b}')" "$loff" "$lon"
done

echo "### CPU per message, all runs (us = microseconds)"
# CPU us per message of the server and the client: N TICKS CLIENT_SECONDS summed.
per_message() {
  awk -v t="$ticks" '{n += $1; s += $2; c += $3} END {printf "%d %.3f %.3f\n", n, s / t * 1e6 / n, c * 1e6 / n}' "$1"
}
read -r n_off s_off c_off <<< "$(per_message "$work/off.cpu")"
read -r n_on s_on c_on <<< "$(per_message "$work/on.cpu")"
printf 'receipts off: %8s messages, server %7.2f us/msg, client %7.2f us/msg\n' "$n_off" "$s_off" "$c_off"
printf 'receipts on:  %8s messages, server %7.2f us/msg, client %7.2f us/msg\n' "$n_on" "$s_on" "$c_on"
awk -v so="$s_on" -v sf="$s_off" -v co="$c_on" -v cf="$c_off" 'BEGIN {
  printf "per receipt (on - off): server %.1f us CPU (%.6f s) to sign it, client %.1f us CPU to check it\n",
    so - sf, (so - sf) / 1e6, co - cf
}'
# The server is stopped by its process id (bench_cleanup, at exit).
