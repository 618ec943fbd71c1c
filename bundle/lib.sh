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

# The Kubernetes release a bundle is made for. The project's default is roles/kube/defaults/main.yml's
# kube_version (what a rollout installs unless the inventory says otherwise); make-bundle.sh --kube-version
# (K8S_VERSION) names another. Printed with the leading "v".
kube_default_version() {
  local v
  v=$(sed -n 's/^kube_version: *"\([0-9.]*\)".*/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../roles/kube/defaults/main.yml")
  [ -n "$v" ] || die "no kube_version in roles/kube/defaults/main.yml"
  echo "v$v"
}

# release_commit VERSION -> the commit of the release's tag, from bundle/releases.tsv (the module proxy does
# not carry it; every official binary prints it in `version`).
release_commit() {
  local c
  c=$(awk -v v="$1" '$1 == v {print $2}' "$(dirname "${BASH_SOURCE[0]}")/releases.tsv")
  [ -n "$c" ] || die "$1: no commit in bundle/releases.tsv (add the release's tag commit there to build it)"
  echo "$c"
}

# kubeadm_constant MODULE_DIR NAME -> the string constant NAME of kubeadm's constants.go in the
# k8s.io/kubernetes module at MODULE_DIR (DefaultEtcdVersion "3.5.0-0", CoreDNSVersion "v1.8.4",
# PauseVersion "3.5" for v1.22.5): the versions of etcd, CoreDNS and pause that release's kubeadm deploys.
kubeadm_constant() {
  local v
  v=$(sed -n "s/^\s*$2 = \"\([^\"]*\)\"/\1/p" "$1/cmd/kubeadm/app/constants/constants.go" | head -1)
  [ -n "$v" ] || die "$2 not found in $1/cmd/kubeadm/app/constants/constants.go"
  echo "$v"
}
