#!/usr/bin/env bash
# Checks the systemd unit packaging/signet.service: `systemd-analyze verify`
# accepts it (with ExecStart= pointing at the built program, since
# /usr/bin/signet is not installed here), its offline security exposure
# stays at or below 2.0, and it passes no key through Environment=.
# Skips (exit 77) when systemd-analyze is not installed.
# Run by CTest (test systemd_unit). Usage: check_unit.sh SIGNET_BINARY
set -euo pipefail
signet=$(realpath "$1")
unit="$(dirname "$0")/../packaging/signet.service"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed, the unit cannot be verified"
  exit 77
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/signet-unit.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
sed "s|^ExecStart=/usr/bin/signet |ExecStart=$signet |" "$unit" >"$scratch/signet.service"
grep -q "^ExecStart=$signet " "$scratch/signet.service" || { echo "no ExecStart=/usr/bin/signet"; exit 1; }
# --man=no: the man page named in Documentation= is not installed here.
systemd-analyze verify --man=no "$scratch/signet.service"

if grep -iE '^Environment=.*(PSK|KEY|SECRET)' "$unit"; then
  echo "the unit passes a key through Environment=; use LoadCredential="
  exit 1
fi
for setting in Type=notify DynamicUser=yes StateDirectory=signet ConfigurationDirectory=signet \
  NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service \
  CapabilityBoundingSet= 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$setting" "$unit" || { echo "the unit lacks $setting"; exit 1; }
done

# systemd 252 rates a unit file without loading it (--offline=yes).
if report=$(systemd-analyze security --offline=yes "$unit" 2>&1); then
  score=$(sed -nE 's/.*Overall exposure level for [^:]+: ([0-9.]+).*/\1/p' <<<"$report")
  [ -n "$score" ] || { echo "no exposure level in: $report"; exit 1; }
  echo "systemd-analyze security --offline=yes: exposure $score"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "exposure $score is above 2.0"; exit 1; }
else
  echo "systemd-analyze security --offline=yes is not supported here: $report"
fi
echo "systemd_unit: verified"
