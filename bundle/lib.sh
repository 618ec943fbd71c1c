# shellcheck shell=bash
# Shared by bundle/build-from-source.sh and bundle/build-images.sh (sourced, not run). The caller defines
# log and die first, and sets FORCE to its default.

sha256() { sha256sum "$1" | cut -d' ' -f1; }
# key_of WORDS... -> 16 hex digits naming one recipe (a cache key).
key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

# parse_targets "ALL TARGETS" ARGS... -> the array `targets` (ALL when no target is named) and FORCE=1 with
# --force. --list prints ALL one a line and exits; --help prints the calling script's header comment.
# shellcheck disable=SC2034  # FORCE and targets are the calling script's
parse_targets() {
  local all=$1 a; shift
  targets=()
  for a in "$@"; do
    case $a in
      --force) FORCE=1 ;;
      --list) echo "$all" | tr ' ' '\n'; exit 0 ;;
      -h|--help) awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; exit 0 ;;
      -*) die "unknown option $a" ;;
      *) targets+=("$a") ;;
    esac
  done
  [ ${#targets[@]} -gt 0 ] || read -ra targets <<<"$all"
}
