# bash completion for signet(1)
#
# The lists below are checked against `signet --help` by the CTest test
# completions (scripts/check_completions.sh): keep one variable per command,
# _signet_opts_<command>[_<subcommand>], with every option --help shows.

_signet_commands="server client send put get ls chat verify-receipt audit bench keygen fingerprint keys"
_signet_keys_commands="add list remove"
_signet_audit_commands="verify"

_signet_opts_global="-h --help --version --config -v --verbose -q --quiet --log-file"
_signet_opts_channel="--psk-file --psk-credential --algorithms --mac --max-message --protocol -i --identity
  --passphrase-file"
_signet_opts_server="-h --help -l --listen --log-messages $_signet_opts_channel --authorized-keys
  --add-keys --require-psk --handshake-timeout --idle-timeout --frame-timeout --max-buffered
  --max-connections --max-startups --max-startups-per-source --threads --echo --exec
  --exec-timeout --exec-concurrency --exec-queue --exec-max-output --files --max-file-size --max-total
  --stale-uploads --audit-log --audit-checkpoint"
_signet_opts_client="-h --help $_signet_opts_channel --known-hosts --accept-new --server-key
  --timeout"
_signet_opts_send="-h --help $_signet_opts_channel --known-hosts --accept-new --server-key
  --timeout --raw --receipt"
_signet_opts_verify_receipt="-h --help --server-key --server --known-hosts --message --file
  --psk-file"
_signet_opts_audit="-h --help"
_signet_opts_audit_verify="-h --help --server-key --psk-file"
_signet_opts_put="-h --help $_signet_opts_channel --known-hosts --accept-new --server-key
  --timeout --as --to -r --recursive -f --force -q --quiet --progress --receipt"
_signet_opts_get="-h --help $_signet_opts_channel --known-hosts --accept-new --server-key
  --timeout -o --output --to -r --recursive -f --force -q --quiet --progress --receipt
  --stale-parts"
_signet_opts_ls="-h --help $_signet_opts_channel --known-hosts --accept-new --server-key
  --timeout"
_signet_opts_chat="-h --help --listen $_signet_opts_channel --authorized-keys --add-keys
  --require-psk --known-hosts --accept-new --server-key --timeout --log --files"
_signet_opts_bench="-h --help $_signet_opts_channel --known-hosts --accept-new --server-key
  --size --messages --rr-messages --inflight --idle-connections --hold --connections --threads
  --timeout --receipt"
_signet_opts_keygen="-h --help -f --file -t --type -C --comment --passphrase-file --force"
_signet_opts_fingerprint="-h --help"
_signet_opts_keys="-h --help"
_signet_opts_keys_add="-h --help --authorized-keys"
_signet_opts_keys_list="-h --help --authorized-keys"
_signet_opts_keys_remove="-h --help --authorized-keys"

_signet() {
  local cur prev words cword
  _init_completion || return

  local i cmd="" sub=""
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      -*) ;;
      *)
        if [[ -z $cmd && " $_signet_commands " == *" ${words[i]} "* ]]; then
          cmd=${words[i]}
        elif [[ $cmd == keys && -z $sub && " $_signet_keys_commands " == *" ${words[i]} "* ]]; then
          sub=${words[i]}
        elif [[ $cmd == audit && -z $sub && " $_signet_audit_commands " == *" ${words[i]} "* ]]; then
          sub=${words[i]}
        fi
        ;;
    esac
  done

  case $prev in
    --config | --log-file | --psk-file | -i | --identity | --passphrase-file | \
      --authorized-keys | --known-hosts | --file | -o | --output | --receipt | --audit-log | --log)
      _filedir
      return
      ;;
    --add-keys | --files)
      _filedir -d
      return
      ;;
    --log-messages)
      mapfile -t COMPREPLY < <(compgen -W "auto yes no" -- "$cur")
      return
      ;;
    -t | --type)
      mapfile -t COMPREPLY < <(compgen -W "ed25519 ecdsa rsa" -- "$cur")
      return
      ;;
    --algorithms | --mac)
      mapfile -t COMPREPLY < <(compgen -W "aes-256-gcm chacha20-poly1305 hmac-sha256 hmac-sha512
        blake2b-256" -- "$cur")
      return
      ;;
    --psk-credential | -l | --listen | --exec | --server-key | -C | --comment | --[a-z]*-timeout | \
      --timeout | --max-* | --threads | --size | --messages | --rr-messages | --inflight | \
      --idle-connections | --hold | --connections | --exec-* | --as | --to | --stale-uploads | \
      --stale-parts | --server | --message | --audit-checkpoint)
      return
      ;;
  esac

  local var=_signet_opts_${cmd:-global}${sub:+_$sub}
  var=${var//-/_}
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${!var}" -- "$cur")
  elif [[ -z $cmd ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_signet_commands" -- "$cur")
  elif [[ $cmd == keys && -z $sub ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_signet_keys_commands" -- "$cur")
  elif [[ $cmd == audit && -z $sub ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_signet_audit_commands" -- "$cur")
  elif [[ $cmd == fingerprint || $cmd == put || $cmd == verify-receipt || $sub == add ||
    $sub == remove || $sub == verify ]]; then
    _filedir
  fi
}
complete -F _signet signet
