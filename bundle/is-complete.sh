#!/usr/bin/env bash
# Is the bundle complete? Exit 0 when every binary target of build-from-source.sh and every image of
# build-images.sh has its record (stamps/, image-stamps/, verification/image-stamps/) and its file matches
# the recorded sha256, and both manifests (manifest.json, verification/manifest.json) exist;
# otherwise print what is missing or damaged and exit 1. Reads the bundle only: builds and fetches nothing.
#
#   bundle/is-complete.sh [DIR]                DIR defaults to $KF_CACHE/bundle
#   bundle/is-complete.sh --conformance [DIR]  only the conformance artifacts (build-from-source.sh and
#                                              build-images.sh --list-conformance: e2e.test, agnhost,
#                                              jessie-dnsutils) and the kubectl e2e.test runs
#
# CI uses it to decide whether the cluster scenario can run without a cold bundle build (~45 min), and
# (--conformance) whether the network conformance subset runs inside it. The two are apart on purpose:
# the cluster scenario never needs the conformance artifacts. A complete bundle may still be stale (a
# recipe changed): make bundle / make conformance-build rebuild what is stale.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
conformance=0
if [ "${1:-}" = --conformance ]; then conformance=1; shift; fi
B=${1:-${KF_BUNDLE:-$KF_CACHE/bundle}}
missing=()

# check RECORD FILE-FIELD SHA-FIELD: the record exists and the file it names has the recorded sha256.
check() {
  local record=$1 path=$2 sha=$3
  if [ ! -f "$record" ]; then missing+=("$(basename "$record" .json): no record ($record)"); return; fi
  if [ ! -f "$path" ]; then missing+=("$(basename "$record" .json): $path is missing"); return; fi
  [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$(jq -r "$sha" "$record")" ] \
    || missing+=("$(basename "$record" .json): $path does not match its recorded sha256")
}

if [ "$conformance" = 1 ]; then
  for t in $("$HERE/build-from-source.sh" --list-conformance); do
    check "$B/verification/stamps/$t.json" "$B/verification/bin/$t" .sha256
  done
  for i in $("$HERE/build-images.sh" --list-conformance); do
    record=$B/verification/image-stamps/$i.json
    check "$record" "$B/verification/$(jq -r .archive "$record" 2>/dev/null || echo "images/$i")" .archive_sha256
  done
  check "$B/stamps/kubectl.json" "$B/bin/kubectl" .sha256
  [ -f "$B/verification/manifest.json" ] || missing+=("verification/manifest.json is missing")
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'conformance artifacts in %s are not complete:\n' "$B" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
  fi
  echo "conformance artifacts in $B are complete"
  exit 0
fi

for t in $("$HERE/build-from-source.sh" --list); do
  if [ "$t" = cni-plugins ]; then
    # One record per plugin (cni-bridge.json, ...); the set is build-from-source.sh's CNI_PLUGINS.
    # shellcheck disable=SC2013,SC2016  # one plugin name per word; the pattern matches a literal ${
    for p in $(sed -n 's/^CNI_PLUGINS=\${CNI_PLUGINS:-"\(.*\)"}$/\1/p' "$HERE/build-from-source.sh"); do
      check "$B/stamps/cni-$p.json" "$B/bin/cni/$p" .sha256
    done
  else
    check "$B/stamps/$t.json" "$B/bin/$t" .sha256
  fi
done
# Each image's record sits beside the manifest that lists it (verification images: verification/), and its
# archive is relative to that directory.
old_layout=0
verification=" $("$HERE/build-images.sh" --list-verification | tr '\n' ' ') "
for i in $("$HERE/build-images.sh" --list); do
  d=$B
  case $verification in *" $i "*) d=$B/verification ;; esac
  # A bundle built before verification/ existed: complete all the same (the next write-manifest.sh moves it).
  if [ ! -f "$d/image-stamps/$i.json" ] && [ -f "$B/image-stamps/$i.json" ]; then
    echo "$i: recorded beside the rollout's images (older layout); make bundle moves it to verification/" >&2
    d=$B; old_layout=1
  fi
  record=$d/image-stamps/$i.json
  check "$record" "$d/$(jq -r .archive "$record" 2>/dev/null || echo "images/$i")" .archive_sha256
done
[ -f "$B/manifest.json" ] || missing+=("manifest.json is missing")
[ -f "$B/verification/manifest.json" ] || [ "$old_layout" = 1 ] \
  || missing+=("verification/manifest.json is missing")

if [ ${#missing[@]} -gt 0 ]; then
  printf 'bundle %s is not complete:\n' "$B" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "bundle $B is complete"
