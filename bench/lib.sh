# Shared by the benchmark scripts (sourced, not run).

# bench_need PACKAGE...: installs those of the Debian packages that are
# missing through apt-get, as scripts/setup.sh does.
bench_need() {
  local need=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
}

# bench_work: makes the run's folder ($work) and the list of processes to
# stop ($pids, by process id) and removes both at exit.
bench_work() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
  export XDG_CONFIG_HOME=$work/config
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
