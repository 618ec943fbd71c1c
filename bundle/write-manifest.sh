#!/usr/bin/env bash
# Rewrite $KF_CACHE/bundle/manifest.json from the per-artifact records:
#   .artifacts[]  binaries  (bundle/stamps/*.json, written by build-from-source.sh)
#   .images[]     images    (bundle/image-stamps/*.json, written by build-images.sh)
# Called by both scripts after every target, so the manifest always lists exactly what is on disk.
set -euo pipefail
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
B=${KF_BUNDLE:-$KF_CACHE/bundle}   # the bundle directory (make-bundle.sh --out)
m=$B/manifest.json
shopt -s nullglob
bins=("$B"/stamps/*.json)
imgs=("$B"/image-stamps/*.json)
jq -n --arg cache "$KF_CACHE" --arg bundle "$B" --slurpfile a <(cat /dev/null "${bins[@]}") --slurpfile i <(cat /dev/null "${imgs[@]}") \
  '{generated_by:"bundle/build-from-source.sh + bundle/build-images.sh", cache:$cache,
    bin_dir:($bundle+"/bin"), images_dir:($bundle+"/images"),
    artifacts:($a|sort_by(.name)), images:($i|sort_by(.ref))}' >"$m.tmp"
mv "$m.tmp" "$m"
printf '%s [bundle] manifest: %s (%s binaries, %s images)\n' "$(date -u +%H:%M:%S)" "$m" \
  "$(jq '.artifacts|length' "$m")" "$(jq '.images|length' "$m")" >&2
