#!/usr/bin/env bash
# Checks that the bash and zsh completions (packaging/completion/) offer
# exactly the commands and options `signet ... --help` shows, both ways, and
# that the man page (man/signet.1) describes every option --help shows and
# names no long option that does not exist, so none of them can drift.
# Run by CTest (test completions_and_man).
# Usage: check_completions.sh SIGNET_BINARY
set -uo pipefail
signet=$1
dir="$(dirname "$0")/../packaging/completion"
bash_file="$dir/signet.bash" zsh_file="$dir/_signet"
man_page="$(dirname "$0")/../man/signet.1"
status=0

# `signet PATH --help`, run once per path (load_help, in this shell).
declare -A help_cache
load_help() {
  # shellcheck disable=SC2086
  help_cache[x$1]=$("$signet" $1 --help)
}
help_text() {
  printf '%s\n' "${help_cache[x$1]}"
}
# Options (one per line, sorted) in the Options: section of `signet PATH --help`.
help_options() {
  help_text "$1" | awk '/^Options:/ {f = 1; next} /^[^ ]/ {f = 0} f && /^  -/ {print $1}' |
    tr ',' '\n' | sort -u
}
# Subcommands in the Subcommands: section.
help_commands() {
  help_text "$1" | awk '/^Subcommands:/ {f = 1; next} /^[^ ]/ {f = 0} f && /^  [a-z]/ {print $1}' |
    sort -u
}
# A variable of the bash completion, one word per line.
bash_words() {
  # shellcheck disable=SC1090
  bash -c 'source "$1" && printf "%s\n" ${!2}' _ "$bash_file" "$1" | grep . | sort -u
}
# The raw text of a zsh array, with $_signet_opts_* references expanded.
zsh_array() {
  local body ref
  body=$(awk -v name="$1" '
    !f && $0 ~ ("(^|[ ])" name "=[(]") {
      f = 1; $0 = substr($0, index($0, name "=(") + length(name) + 2)
      if ($0 ~ /[)]$/) { print substr($0, 1, length($0) - 1); exit }
    }
    f && /^ *[)]$/ { exit }
    f { print }' "$zsh_file")
  [ -n "$body" ] || { echo "zsh completion has no array $1" >&2; return 1; }
  for ref in $(grep -oE '\$_signet_opts_[a-z_]+' <<<"$body" | sort -u); do
    body+=$'\n'$(zsh_array "${ref#\$}")
  done
  printf '%s\n' "$body"
}
# The options a zsh array offers: every -x/--long outside [descriptions].
zsh_options() {
  zsh_array "$1" | sed -E 's/\[[^]]*\]//g' |
    grep -oE "(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*" | sed -E 's/^[^-]//' | sort -u
}
# The names in a zsh list of 'name:description' entries.
zsh_commands() {
  zsh_array "$1" | sed -nE "s/^ *'([a-z-]+):.*/\1/p" | sort -u
}

compare() {  # compare WHAT FROM_HELP FROM_COMPLETION
  local missing extra
  missing=$(comm -23 <(printf '%s\n' "$2") <(printf '%s\n' "$3"))
  extra=$(comm -13 <(printf '%s\n' "$2") <(printf '%s\n' "$3"))
  if [ -n "$missing" ]; then
    echo "$1: in --help but not in the completion:" $missing
    status=1
  fi
  if [ -n "$extra" ]; then
    echo "$1: in the completion but not in --help:" $extra
    status=1
  fi
}

# The commands that have subcommands of their own.
parents=(keys audit)
load_help ""
commands=$(help_commands "")
[ -n "$commands" ] || { echo "cannot read the commands from --help"; exit 1; }
compare "bash commands" "$commands" "$(bash_words _signet_commands)"
compare "zsh commands" "$commands" "$(zsh_commands commands)"

paths=("")
for c in $commands; do paths+=("$c"); done
for parent in "${parents[@]}"; do
  load_help "$parent"
  subcommands=$(help_commands "$parent")
  [ -n "$subcommands" ] || { echo "cannot read the subcommands of $parent from --help"; exit 1; }
  compare "bash $parent commands" "$subcommands" "$(bash_words "_signet_${parent}_commands")"
  compare "zsh $parent commands" "$subcommands" "$(zsh_commands "${parent}_commands")"
  for c in $subcommands; do paths+=("$parent $c"); done
done
for path in "${paths[@]}"; do load_help "$path"; done
for path in "${paths[@]}"; do
  name=${path:-global}
  name=${name// /_}
  name=${name//-/_}  # verify-receipt: _signet_opts_verify_receipt
  options=$(help_options "$path")
  [ -n "$options" ] || { echo "no options in signet $path --help"; status=1; continue; }
  compare "bash signet $path" "$options" "$(bash_words "_signet_opts_$name")"
  compare "zsh signet $path" "$options" "$(zsh_options "_signet_opts_$name")"
done
# The man page writes options with escaped dashes (\-\-listen).
all_options=$(for path in "${paths[@]}"; do help_options "$path"; done | sort -u)
man_options=$(sed 's/\\-/-/g' "$man_page" |
  grep -oE -- "(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*" | sed -E 's/^[^-]//' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$all_options") <(printf '%s\n' "$man_options"))
if [ -n "$missing" ]; then
  echo "man page: options in --help that it does not describe:" $missing
  status=1
fi
extra=$(comm -13 <(printf '%s\n' "$all_options") <(grep -- '^--' <<<"$man_options"))
if [ -n "$extra" ]; then
  echo "man page: names long options that --help does not show:" $extra
  status=1
fi
[ $status -eq 0 ] && echo "completions and man page: ${#paths[@]} commands match --help"
exit $status
