#!/usr/bin/env bash
# Every figure the README and the issues report, in one run (loopback only):
# shared-key and key mode with signet bench, the plain TCP floor at the same
# pinning, handshake CPU against openssl s_server, idle memory, micro-benchmarks.
#   bench/report.sh   (after a release build in build/)
set -u
cd "$(dirname "$0")/.."
B=build/src/cli/signet; T=build/bench/tcp_pingpong
work=$(mktemp -d); export XDG_CONFIG_HOME=$work/config
export SHARED_SECRET_KEY="a long random secret for the benchmark run"
echo "### shared-key mode, unpinned"
$B -q server --listen 127.0.0.1:7979 > /dev/null 2>&1 & S=$!
$T server 7981 > /dev/null 2>&1 & P=$!
sleep 0.5
$B -q bench 127.0.0.1:7979 --size 64,65536 --messages 1000000 --rr-messages 20000 --inflight 1,256 | tail -4
$T client 7981 64 20000; $T client 7981 65536 20000
kill $S $P; wait $S $P 2>/dev/null
echo "### shared-key mode, server and client pinned to CPU 1"
taskset -c 1 $B -q server --listen 127.0.0.1:7979 --threads 1 > /dev/null 2>&1 & S=$!
taskset -c 1 $T server 7981 > /dev/null 2>&1 & P=$!
sleep 0.5
taskset -c 1 $B -q bench 127.0.0.1:7979 --size 64,65536 --rr-messages 20000 --inflight 1 | tail -2
taskset -c 1 $T client 7981 64 20000; taskset -c 1 $T client 7981 65536 20000
kill $S $P; wait $S $P 2>/dev/null
echo "### key mode (TLS 1.3, Ed25519), unpinned"
unset SHARED_SECRET_KEY
$B keygen -f $work/server -C server > /dev/null; $B keygen -f $work/client -C client > /dev/null
$B keys add $work/client.pub --authorized-keys $work/ak > /dev/null
$B -q server --listen 127.0.0.1:7980 --identity $work/server --authorized-keys $work/ak > /dev/null 2>&1 & S=$!
sleep 0.5
FP=$($B fingerprint $work/server.pub | awk '{print $2}')
$B -q bench 127.0.0.1:7980 --identity $work/client --server-key $FP --size 64,65536 --messages 1000000 --rr-messages 20000 --inflight 1,256 | tail -4
kill $S; wait $S 2>/dev/null
echo "### key mode, pinned to CPU 1"
taskset -c 1 $B -q server --listen 127.0.0.1:7980 --identity $work/server --authorized-keys $work/ak --threads 1 > /dev/null 2>&1 & S=$!
sleep 0.5
taskset -c 1 $B -q bench 127.0.0.1:7980 --identity $work/client --server-key $FP --size 64 --rr-messages 20000 --inflight 1 | tail -1
kill $S; wait $S 2>/dev/null
echo "### handshake CPU (10 s each)"
bench/handshake_cpu.sh 10
echo "### idle key-mode connections"
bench/idle_memory.sh 10000
echo "### micro-benchmarks"
build/bench/signet_micro_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null | grep median
rm -rf $work
