#!/usr/bin/env bash
# Rewrite the bundle's two manifests from the per-artifact records:
#   $KF_CACHE/bundle/manifest.json               what a rollout installs (roles/kubernetes imports every
#     .artifacts[]  binaries  (bundle/stamps/*.json, written by build-from-source.sh)      image it lists)
#     .images[]     images    (bundle/image-stamps/*.json, written by build-images.sh)
#   $KF_CACHE/bundle/verification/manifest.json  what only tests need, never a rollout
#     .artifacts[]  binaries  (bundle/verification/stamps/*.json: build-from-source.sh --list-conformance,
#                   e2e.test and agnhost, run on the controller / baked into the agnhost image)
#     .images[]     images    (bundle/verification/image-stamps/*.json: build-images.sh --list-verification
#                   and --list-conformance); the lab imports them itself
# In both, an image's `archive` is relative to the manifest's own directory.
# Called by both scripts after every target, so the manifests always list exactly what is on disk.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
B=${KF_BUNDLE:-$KF_CACHE/bundle}   # the bundle directory (make-bundle.sh --out)
V=$B/verification
m=$B/manifest.json
vm=$V/manifest.json
mkdir -p "$V/image-stamps" "$V/stamps"

# A verification image an older build-images.sh recorded beside the rollout's images moves, stamp and
# archive, to verification/ (its recipe key is the same there: nothing is rebuilt).
for id in $("$HERE/build-images.sh" --list-verification); do
  old=$B/image-stamps/$id.json
  [ -f "$old" ] || continue
  archive=$(jq -r .archive "$old")
  if [ -f "$B/$archive" ]; then mkdir -p "$(dirname "$V/$archive")"; mv "$B/$archive" "$V/$archive"; fi
  mv "$old" "$V/image-stamps/$id.json"
  printf '%s [bundle] %s: moved to %s\n' "$(date -u +%H:%M:%S)" "$id" "$V" >&2
done

shopt -s nullglob
bins=("$B"/stamps/*.json)
imgs=("$B"/image-stamps/*.json)
vimgs=("$V"/image-stamps/*.json)
vbins=("$V"/stamps/*.json)
jq -n --arg cache "$KF_CACHE" --arg bundle "$B" --slurpfile a <(cat /dev/null "${bins[@]}") --slurpfile i <(cat /dev/null "${imgs[@]}") \
  '{generated_by:"bundle/build-from-source.sh + bundle/build-images.sh", cache:$cache,
    bin_dir:($bundle+"/bin"), images_dir:($bundle+"/images"),
    artifacts:($a|sort_by(.name)), images:($i|sort_by(.ref))}' >"$m.tmp"
mv "$m.tmp" "$m"
jq -n --arg cache "$KF_CACHE" --arg dir "$V" --slurpfile i <(cat /dev/null "${vimgs[@]}") \
  --slurpfile a <(cat /dev/null "${vbins[@]}") \
  '{generated_by:"bundle/build-images.sh (+ bundle/build-from-source.sh for the conformance binaries)", cache:$cache,
    purpose:"verification images: for tests only, never imported by a rollout (lab/verification_images.yml imports them into the lab)",
    images_dir:($dir+"/images"), images:($i|sort_by(.ref))}
   + (if ($a|length) > 0 then {bin_dir:($dir+"/bin"), artifacts:($a|sort_by(.name))} else {} end)' >"$vm.tmp"
mv "$vm.tmp" "$vm"
printf '%s [bundle] manifest: %s (%s binaries, %s images); %s (%s verification images, %s test binaries)\n' \
  "$(date -u +%H:%M:%S)" "$m" "$(jq '.artifacts|length' "$m")" "$(jq '.images|length' "$m")" "$vm" \
  "$(jq '.images|length' "$vm")" "$(jq '.artifacts // [] | length' "$vm")" >&2
