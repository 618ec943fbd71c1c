#!/usr/bin/env bash
# Make the air-gapped bundle: every binary and image a kubeadm 1.22.5 + containerd + Flannel rollout
# needs, plus manifest.json (sha256 and provenance of each). One interface, two sources:
#
#   bundle/make-bundle.sh --source source  [--out DIR]   build from Go modules (Go module proxy) and
#                                                         assemble the images locally (debootstrap base)
#   bundle/make-bundle.sh --source release [--out DIR]   download the official release files and images
#   ... --kube-version 1.23.17                            another Kubernetes release (bundle/releases.tsv)
#
# The release defaults to the project's kube_version (roles/kube/defaults/main.yml); DIR defaults to
# $KF_CACHE/bundle (/var/cache/kubeadm-flannel/bundle) for it, which is what kubernetes_bundle_dir points at,
# and to $KF_CACHE/bundle-<version> for another release (the upgrade's: playbooks/upgrade.yml). Both sources are cached and incremental: a second run rebuilds
# or downloads nothing that is already there and still matches its recorded sha256.
#
# Layout of DIR (both sources):
#   bin/{kubeadm,kubelet,kubectl,crictl}, bin/cni/<plugin>   copied to the nodes by roles/kubernetes
#   images/<name>_<tag>.{oci,docker}.tar                       imported with `ctr -n k8s.io images import`
#   manifest.json   .artifacts[] {name, version, sha256, provenance}, .images[] {ref, archive,
#                   archive_sha256, provenance}
#
# release: UNTESTED here (this machine reaches no dl.k8s.io, GitHub or registry). Binaries are checked
# against the pinned table kubernetes_checksums in roles/kubernetes/defaults/main.yml; images are copied with skopeo
# by tag and their registry digests recorded (there is no pinned digest table yet).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
SOURCE=""; OUT=""; KV_ARG=""
usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; }
while [ $# -gt 0 ]; do
  case $1 in
    --source) SOURCE=${2:-}; shift 2 ;;
    --source=*) SOURCE=${1#*=}; shift ;;
    --out) OUT=${2:-}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --kube-version) KV_ARG=${2:-}; shift 2 ;;
    --kube-version=*) KV_ARG=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case $SOURCE in source|release) ;; *) usage >&2; echo "--source source|release is required" >&2; exit 2 ;; esac
log() { printf '%s [make-bundle] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=bundle/lib.sh
. "$HERE/lib.sh"
DEFAULT_KV=$(kube_default_version)
KV_ARG=${KV_ARG#v}
K8S_VERSION=v${KV_ARG:-${DEFAULT_KV#v}}
release_commit "$K8S_VERSION" >/dev/null   # a release the project knows, before anything is built
if [ "$K8S_VERSION" = "$DEFAULT_KV" ]; then OUT=${OUT:-$KF_CACHE/bundle}; else OUT=${OUT:-$KF_CACHE/bundle-${K8S_VERSION#v}}; fi
export K8S_VERSION
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export KF_CACHE KF_BUNDLE=$OUT
start=$(date +%s)

if [ "$SOURCE" = source ]; then
  log "source: Kubernetes $K8S_VERSION; binaries from Go modules into $OUT/bin"
  "$HERE/build-from-source.sh" crictl flanneld flannel kubeadm kubelet kubectl kube-apiserver \
    kube-controller-manager kube-scheduler kube-proxy cni-plugins etcd etcdctl coredns pause
  log "source: images into $OUT/images"
  "$HERE/build-images.sh"
  log "done in $(( $(date +%s) - start ))s: $OUT/manifest.json"
  exit 0
fi

# --- release ---------------------------------------------------------------------------------
for c in curl jq skopeo python3 tar; do
  command -v "$c" >/dev/null || { log "ERROR: $c is required (bundle/install-build-deps.sh --release)"; exit 1; }
done
ARCH=${ARCH:-amd64}
# Versions and checksums from the project's pinned table (never from the network).
pins=$(python3 - "$REPO/roles/kube/defaults/main.yml" "$REPO/roles/kubernetes/defaults/main.yml" "$ARCH" "${K8S_VERSION#v}" <<'EOF'
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1])) | yaml.safe_load(open(sys.argv[2]))
arch = sys.argv[3]
kv, cv, pv = sys.argv[4], d["kubernetes_crictl_version"], d["kubernetes_cni_plugins_version"]
c = d["kubernetes_checksums"]
print(json.dumps({"kube_version": kv, "crictl_version": cv, "cni_version": pv,
                  "repo": d["kube_image_repository"],
                  "sha": {"kubeadm": c["kubeadm"][kv][arch], "kubelet": c["kubelet"][kv][arch],
                          "kubectl": c["kubectl"][kv][arch], "crictl": c["crictl"][cv][arch],
                          "cni_plugins": c["cni_plugins"][pv][arch]}}))
EOF
)
KV=$(jq -r .kube_version <<<"$pins"); CV=$(jq -r .crictl_version <<<"$pins"); PV=$(jq -r .cni_version <<<"$pins")
REPO_IMG=$(jq -r .repo <<<"$pins")
DL=$KF_CACHE/release-downloads; mkdir -p "$DL" "$OUT/bin/cni" "$OUT/stamps" "$OUT/images" "$OUT/image-stamps"

# fetch URL SHA256 -> path in $DL (kept; re-downloaded only when missing or wrong).
fetch() {
  local url=$1 want=$2 f
  f=$DL/$(basename "$1")
  if [ -f "$f" ] && [ "$(sha256 "$f")" = "$want" ]; then echo "$f"; return 0; fi
  log "downloading $url"
  curl -fsSL --retry 3 -o "$f.tmp" "$url"
  [ "$(sha256 "$f.tmp")" = "$want" ] || { log "ERROR: $url: sha256 $(sha256 "$f.tmp") != pinned $want"; rm -f "$f.tmp"; exit 1; }
  mv "$f.tmp" "$f"; echo "$f"
}
# stamp NAME VERSION FILE URL ARCHIVE_SHA -> bundle/stamps/NAME.json, same record shape as source builds.
stamp() {
  jq -n --arg name "$1" --arg version "$2" --arg sha "$(sha256 "$3")" --arg url "$4" --arg asha "$5" \
    '{name:$name, version:$version, requested:$version, sha256:$sha,
      provenance:{source:"release", url:$url, pinned_sha256:$asha}}' >"$OUT/stamps/${1//\//-}.json"
}

for b in kubeadm kubelet kubectl; do
  url=https://dl.k8s.io/release/v$KV/bin/linux/$ARCH/$b
  f=$(fetch "$url" "$(jq -r ".sha.$b" <<<"$pins")")
  install -m 0755 "$f" "$OUT/bin/$b"; stamp "$b" "v$KV" "$OUT/bin/$b" "$url" "$(jq -r ".sha.$b" <<<"$pins")"
done
url=https://github.com/kubernetes-sigs/cri-tools/releases/download/v$CV/crictl-v$CV-linux-$ARCH.tar.gz
f=$(fetch "$url" "$(jq -r .sha.crictl <<<"$pins")")
tar -xzf "$f" -C "$OUT/bin" crictl; chmod 0755 "$OUT/bin/crictl"
stamp crictl "v$CV" "$OUT/bin/crictl" "$url" "$(jq -r .sha.crictl <<<"$pins")"
url=https://github.com/containernetworking/plugins/releases/download/v$PV/cni-plugins-linux-$ARCH-v$PV.tgz
f=$(fetch "$url" "$(jq -r .sha.cni_plugins <<<"$pins")")
tar -xzf "$f" -C "$OUT/bin/cni"
for p in "$OUT"/bin/cni/*; do stamp "cni/$(basename "$p")" "v$PV" "$p" "$url" "$(jq -r .sha.cni_plugins <<<"$pins")"; done
# The flannel CNI binary reaches the nodes through its image (the DaemonSet's init container).

# Images, named as kubeadm and kube-flannel.yml reference them. docker-archive keeps the full name
# in RepoTags, which `ctr images import` uses as the image name.
# The Kubernetes images are what the release's kubeadm (just checked against its pin) lists.
mapfile -t images < <("$OUT/bin/kubeadm" config images list --kubernetes-version "v$KV" --image-repository "$REPO_IMG")
images+=(
  "docker.io/rancher/mirrored-flannelcni-flannel:v0.16.1"
  "docker.io/rancher/mirrored-flannelcni-flannel-cni-plugin:v1.0.0"
)
for ref in "${images[@]}"; do
  name=${ref%:*}; tag=${ref##*:}; file=images/$(basename "$name")_$tag.docker.tar
  id=$(basename "$name"); case $ref in *flannel-cni-plugin*) id=flannel-cni-plugin ;; *flannelcni-flannel:*) id=flannel ;; esac
  st=$OUT/image-stamps/$id.json
  if [ -f "$st" ] && [ -f "$OUT/$file" ] && [ "$(jq -r .archive_sha256 "$st")" = "$(sha256 "$OUT/$file")" ]; then
    log "$ref: present"; continue
  fi
  digest=$(skopeo inspect --override-arch "$ARCH" --override-os linux --format '{{.Digest}}' "docker://$ref")
  log "$ref ($digest): copying"
  rm -f "$OUT/$file"
  skopeo copy --override-arch "$ARCH" --override-os linux "docker://$ref@$digest" "docker-archive:$OUT/$file:$ref"
  jq -n --arg id "$id" --arg ref "$ref" --arg name "$name" --arg tag "$tag" --arg file "$file" \
        --arg sha "$(sha256 "$OUT/$file")" --arg digest "$digest" \
    '{id:$id, ref:$ref, name:$name, tag:$tag, archive:$file, format:"docker-archive", archive_sha256:$sha,
      provenance:{source:"release", registry_digest:$digest}}' >"$st"
done
"$HERE/write-manifest.sh"
log "done in $(( $(date +%s) - start ))s: $OUT/manifest.json (release: untested on this offline machine)"
