#!/usr/bin/env bash
# Shared-key mode with each algorithm, in one run: 64-byte pipelined messages
# per second and 64 KiB throughput (medians of REPEAT runs, server and client
# unpinned on loopback), next to what OpenSSL itself does with the same
# primitive on one core (`openssl speed -aead` / `-hmac`, 64 bytes and 16 KiB).
#   bench/algorithms.sh [REPEAT]   (after a release build in build/)
set -u
cd "$(dirname "$0")/.."
B=build/src/cli/signet
repeat=${1:-3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config
export SHARED_SECRET_KEY="a long random secret for the benchmark run"
all=aes-256-gcm,chacha20-poly1305,hmac-sha256,hmac-sha512,blake2b-256

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

$B -q server --listen 127.0.0.1:7977 --algorithms $all > /dev/null 2>&1 &
S=$!
sleep 0.5
printf '%-20s %16s %16s\n' algorithm "64 B msg/s" "64 KiB MiB/s"
for alg in aes-256-gcm chacha20-poly1305 hmac-sha256; do
  : > "$work/small"; : > "$work/large"
  for _ in $(seq "$repeat"); do
    # The last line of `signet bench`: ... msg/s MiB/s p50 p90 p99 max.
    $B -q bench 127.0.0.1:7977 --algorithms $alg --size 64 --inflight 256 --messages 400000 \
      2>/dev/null | tail -1 | awk '{print $(NF-5)}' >> "$work/small"
    $B -q bench 127.0.0.1:7977 --algorithms $alg --size 65536 --inflight 256 --messages 20000 \
      2>/dev/null | tail -1 | awk '{print $(NF-4)}' >> "$work/large"
  done
  printf '%-20s %16s %16s\n' $alg "$(median < "$work/small")" "$(median < "$work/large")"
done
kill $S; wait $S 2>/dev/null

echo
echo "OpenSSL on one core, same machine, same run (bytes per second):"
for spec in "-aead -evp aes-256-gcm" "-aead -evp chacha20-poly1305" "-hmac sha256"; do
  for size in 64 16384; do
    rate=$(openssl speed -seconds 2 -bytes $size $spec 2>/dev/null | awk '/^[a-zA-Z].* [0-9.]+k$/ {v=$NF} END {print v}')
    printf '  %-32s %6s bytes: %s\n' "openssl speed $spec" $size "$rate"
  done
done
