#!/usr/bin/env bash
# Checks that each layer of src/ includes only itself and the layers below it
# (docs/ARCHITECTURE.md), and that OpenSSL, Asio, spdlog, CLI11, libsystemd,
# nlohmann-json and curses headers appear only where the architecture allows
# them. Prints every violation; exit status 1 if any.
# Run by CTest (test "layers").
set -u
cd "$(dirname "$0")/../src"

# layer: the project layers it may include (itself included).
declare -A allowed=(
  [util]="util"
  [crypto]="util crypto"
  [wire]="util wire"
  [proto]="util wire proto"
  [keys]="util crypto keys"
  [files]="util crypto files"
  [channel]="util crypto wire channel"
  [net]="util crypto wire channel net"
  [api]="util crypto wire proto keys files channel net api"
  [cli]="util crypto wire proto keys files channel net api cli"
)
# layer: the third-party header families it may include.
declare -A external=(
  [util]=""
  [crypto]="openssl"
  [wire]=""
  [proto]=""
  [keys]=""
  [files]=""
  [channel]="openssl"
  [net]="asio spdlog"
  [api]="asio spdlog nlohmann"
  [cli]="asio spdlog CLI systemd nlohmann curses"
)

status=0
for layer in "${!allowed[@]}"; do
  [ -d "$layer" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    include=$(sed -E 's/.*#include [<"]([^>"]+)[>"].*/\1/' <<< "${line#*:}")
    family=${include%%/*}
    if [[ "$line" == *'#include "'* ]]; then
      [[ " ${allowed[$layer]} " == *" $family "* ]] && continue
      echo "$file: includes \"$include\": layer $layer may include only: ${allowed[$layer]}"
      status=1
    elif [[ "$family" == openssl || "$family" == asio || "$family" == asio.hpp ||
            "$family" == spdlog || "$family" == CLI || "$family" == systemd ||
            "$family" == nlohmann || "$family" == curses.h || "$family" == ncurses.h || "$family" == ncursesw ]]; then
      [[ "$family" == curses.h || "$family" == ncurses.h || "$family" == ncursesw ]] && family=curses
      [ "$family" = asio.hpp ] && family=asio
      [[ " ${external[$layer]} " == *" $family "* ]] && continue
      echo "$file: includes <$include>: layer $layer may not use $family"
      status=1
    fi
  done < <(grep -HE '^\s*#include [<"]' "$layer"/*.cpp "$layer"/*.hpp 2>/dev/null)
done
[ $status -eq 0 ] && echo "layers: every include points down (or stays in its layer)"
exit $status
