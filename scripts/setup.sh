#!/usr/bin/env bash
# Installs the Debian 12 packages signet builds with, then configures and builds.
# Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libssl-dev openssl            # every cryptographic primitive, TLS 1.3
  libasio-dev                   # standalone Asio, C++20 coroutines
  libspdlog-dev libfmt-dev      # logging and formatting
  libcli11-dev                  # command line
  nlohmann-json3-dev            # JSON: the audit log's records (signet server --audit-log)
  libncurses-dev                # the chat's terminal screen (ncursesw)
  libsystemd-dev                # sd_notify: the server as a Type=notify systemd service
  dpkg-dev                      # cpack -G DEB: dpkg-shlibdeps finds the .deb's Depends
  libgtest-dev libgmock-dev     # tests (CTest)
  libbenchmark-dev              # micro-benchmarks
  clang libclang-rt-14-dev      # libFuzzer and sanitizers
  openssh-client                # ssh-keygen: cross-checks key formats in tests
  tmux                          # tests see the terminal programs as a person does
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build_dir" -j "$(nproc)"
