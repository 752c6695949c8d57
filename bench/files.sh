#!/usr/bin/env bash
# File transfer figures (issue 8), loopback only, side by side in one run:
# signet put and get of one file in key mode and shared-key mode, next to
# `ssh host 'cat > file'` and scp (SFTP) with aes256-gcm@openssh.com on a
# private sshd this script starts on 127.0.0.1 and stops, and the physical
# bound from `openssl speed` (per byte each side computes SHA-256 and
# AES-256-GCM once; the two sides run in parallel on two cores, so
# bound = 1 / (1/sha256 + 1/aes256gcm)). Also the peak RSS of both signet
# processes.
#
#   bench/files.sh [MiB=1024] [runs=3]     (after a release build in build/)
#
# Installs what it needs that the build does not (openssh-server, rsync, bc, time)
# through apt-get, as scripts/setup.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
runs=${2:-3}
B=$PWD/build/src/cli/signet

. bench/lib.sh
bench_need openssh-server openssh-client rsync bc time
bench_work
mkdir -p "$work/src" "$work/served" "$work/got" "$work/ssh"
src=$work/src/data.bin
head -c "$((mib << 20))" /dev/urandom > "$src"
bytes=$(stat -c %s "$src")

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# Seconds one command takes (its output dropped).
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
rate() { echo "scale=3; $bytes / $1 / 1000000" | bc -l; }  # MB/s (10^6)

echo "### openssl speed -evp at 16 KiB (GB/s)"
speed() {
  openssl speed -evp "$1" -bytes 16384 -seconds 3 2>/dev/null |
    awk -v n="$1" 'tolower($1) == tolower(n) || $1 == "AES-256-GCM" || $1 == "sha256" {v = $NF} END {sub("k", "", v); printf "%.3f\n", v * 1000 / 1e9}'
}
sha=$(speed sha256)
aes=$(speed aes-256-gcm)
bound=$(echo "scale=6; 1000 / (1 / $sha + 1 / $aes)" | bc -l)
echo "sha256 $sha GB/s, aes-256-gcm $aes GB/s, bound $bound MB/s"

# --- sshd on 127.0.0.1 -------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host" > /dev/null
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/user" > /dev/null
cp "$work/ssh/user.pub" "$work/ssh/authorized_keys"
sport=7922
cat > "$work/ssh/sshd_config" <<EOF
Port $sport
ListenAddress 127.0.0.1
HostKey $work/ssh/host
AuthorizedKeysFile $work/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $work/ssh/sshd.pid
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/ssh/sshd_config" 2> "$work/ssh/log" &
pids+=($!)
sshopts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -i "$work/ssh/user" -c aes256-gcm@openssh.com)
sleep 0.5

# --- signet servers ------------------------------------------------------------------
$B keygen -f "$work/server" -C server > /dev/null
$B keygen -f "$work/client" -C client > /dev/null
$B keys add "$work/client.pub" --authorized-keys "$work/ak" > /dev/null
$B -q server --listen 127.0.0.1:7930 --identity "$work/server" --authorized-keys "$work/ak" \
  --files "$work/served" > /dev/null 2>&1 &
key_server=$!
pids+=($key_server)
SHARED_SECRET_KEY="a long random secret for the benchmark run" \
  $B -q server --listen 127.0.0.1:7931 --files "$work/served" > /dev/null 2>&1 &
psk_server=$!
pids+=($psk_server)
sleep 0.5
kput=(put 127.0.0.1:7930 "$src" --as data.bin --force -q --identity "$work/client" --accept-new)
kget=(get 127.0.0.1:7930 data.bin -o "$work/got/data.bin" --force -q --identity "$work/client")
pput=(put 127.0.0.1:7931 "$src" --as data.bin --force -q)
pget=(get 127.0.0.1:7931 data.bin -o "$work/got/data.bin" --force -q)
export SHARED_SECRET_KEY_FOR_RUN="a long random secret for the benchmark run"

declare -A t
for ((i = 0; i < runs; i++)); do
  t[ssh]+="$(timed sh -c "ssh ${sshopts[*]} -p $sport root@127.0.0.1 'cat > $work/served/ssh.bin' < $src") "
  t[scp_put]+="$(timed scp -q -P $sport "${sshopts[@]}" "$src" "root@127.0.0.1:$work/served/scp.bin") "
  t[scp_get]+="$(timed scp -q -P $sport "${sshopts[@]}" "root@127.0.0.1:$work/served/scp.bin" "$work/got/scp.bin") "
  t[key_put]+="$(timed $B "${kput[@]}") "
  t[key_get]+="$(timed $B "${kget[@]}") "
  t[psk_put]+="$(timed env SHARED_SECRET_KEY="$SHARED_SECRET_KEY_FOR_RUN" $B "${pput[@]}") "
  t[psk_get]+="$(timed env SHARED_SECRET_KEY="$SHARED_SECRET_KEY_FOR_RUN" $B "${pget[@]}") "
done
cmp "$src" "$work/got/data.bin"

echo "### $mib MiB over loopback, median of $runs (MB/s = 10^6 bytes/s)"
for k in ssh scp_put scp_get key_put key_get psk_put psk_get; do
  m=$(echo "${t[$k]}" | tr ' ' '\n' | grep . | median)
  r=$(rate "$m")
  printf "%-8s %7.3f s  %7.1f MB/s  %5.1f%% of bound  %4.2fx ssh cat\n" "$k" "$m" "$r" \
    "$(echo "100 * $r / $bound" | bc -l)" "$(echo "$r / $(rate "$(echo "${t[ssh]}" | tr ' ' '\n' | grep . | median)")" | bc -l)"
done

echo "### 10,000 files of 4 KiB in 10 folders, median of $runs (signet key mode)"
mkdir -p "$work/many"
for d in $(seq 0 9); do
  mkdir -p "$work/many/d$d"
  for i in $(seq 0 999); do head -c 4096 /dev/urandom > "$work/many/d$d/f$i"; done
done
declare -A m
for ((i = 0; i < runs; i++)); do
  rm -rf "$work/served/many" "$work/served/scp-many" "$work/served/rsync-many" "$work/got/many"
  m[scp_r]+="$(timed scp -q -r -P $sport "${sshopts[@]}" "$work/many" "root@127.0.0.1:$work/served/scp-many") "
  m[rsync]+="$(timed rsync -a -e "ssh -p $sport ${sshopts[*]}" "$work/many/" "root@127.0.0.1:$work/served/rsync-many/") "
  m[put_r]+="$(timed $B put 127.0.0.1:7930 -r "$work/many" -q --identity "$work/client") "
  m[get_r]+="$(timed $B get 127.0.0.1:7930 -r many --to "$work/got/many" -q --identity "$work/client") "
done
diff -r "$work/many" "$work/got/many"
scp_m=$(echo "${m[scp_r]}" | tr ' ' '\n' | grep . | median)
for k in scp_r rsync put_r get_r; do
  v=$(echo "${m[$k]}" | tr ' ' '\n' | grep . | median)
  printf "%-8s %7.3f s  %6.0f files/s  %4.2fx scp -r\n" "$k" "$v" "$(echo "10000 / $v" | bc -l)" \
    "$(echo "$scp_m / $v" | bc -l)"
done

echo "### peak RSS (KiB)"
echo "key server $(awk '/VmHWM/ {print $2}' /proc/$key_server/status), shared-key server $(awk '/VmHWM/ {print $2}' /proc/$psk_server/status)"
for cmd in kput kget; do
  declare -n a=$cmd
  /usr/bin/time -f "$cmd client %M" $B "${a[@]}" 2>&1 >/dev/null | tail -1
done
