#!/usr/bin/env bash
# Sets up a Debian 12 machine (packages, configure, build) and runs signet.
# Usage: scripts/run.sh [signet arguments...]   (default: server --listen 127.0.0.1:7878)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build >&2
if [ $# -eq 0 ]; then
  set -- server --listen 127.0.0.1:7878
fi
exec build/src/cli/signet "$@"
