#!/usr/bin/env bash
# Builds the .deb from the build tree (cpack, no rebuild) and checks it:
# contents (dpkg-deb -c), metadata (dpkg-deb -I: Depends, conffiles), and
# that the program unpacked with dpkg -x runs. Run by CTest (package_deb).
# Usage: check_deb.sh BUILD_DIR VERSION
set -euo pipefail
build=$1 version=$2
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "check_deb: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
scratch=$(mktemp -d "${TMPDIR:-/tmp}/signet-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
fail() { echo "check_deb: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log" >&2; fail "cpack failed"; }
arch=$(dpkg --print-architecture)
deb="$scratch/out/signet_${version}_${arch}.deb"
[ -f "$deb" ] || fail "no $(basename "$deb"); cpack made: $(ls "$scratch/out")"

contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
for path in /usr/bin/signet /usr/share/man/man1/signet.1.gz \
            /usr/share/bash-completion/completions/signet \
            /usr/share/zsh/vendor-completions/_signet \
            /usr/lib/systemd/system/signet.service /etc/signet/server.conf; do
  grep -qx "$path" <<<"$contents" || fail "$path is not in the package"
done
# The program's package carries no static library, headers or CMake files.
if grep -Eq '\.a$|/include/|/cmake/' <<<"$contents"; then
  fail "development files in the package: $(grep -E '\.a$|/include/|/cmake/' <<<"$contents" | head -3)"
fi

info=$(dpkg-deb -I "$deb")
grep -q "^ Package: signet$" <<<"$info" || fail "no Package: signet"
grep -q "^ Version: ${version}$" <<<"$info" || fail "no Version: $version"
depends=$(grep "^ Depends: " <<<"$info") || fail "no Depends line (dpkg-shlibdeps)"
for lib in libc6 libssl3 libsystemd0; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
[ "$(dpkg-deb -f "$deb" Installed-Size)" -gt 0 ] || fail "no Installed-Size"
description=$(dpkg-deb -f "$deb" Description)
[ "$(head -1 <<<"$description")" = "authenticated messages between machines" ] &&
  grep -q "^ signet sends messages" <<<"$description" || fail "malformed Description: $description"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/signet/server.conf ||
  fail "/etc/signet/server.conf is not a conffile"

dpkg -x "$deb" "$scratch/root"
zcat "$scratch/root/usr/share/man/man1/signet.1.gz" | grep -q '^\.TH SIGNET 1' || fail "the man page is not signet(1)"
out=$("$scratch/root/usr/bin/signet" --version)
grep -q "^signet ${version}$" <<<"$out" || fail "unpacked signet --version printed: $out"
grep -q "^protocol versions 1, 2$" <<<"$out" || fail "unpacked signet --version printed: $out"
echo "check_deb: $(basename "$deb") ok"
grep -E "^ (Installed-Size|Depends):" <<<"$info"
