#!/usr/bin/env bash
# Assemble the bundle's container images locally, from the bundle's binaries: no registry, no engine.
#
#   bundle/build-images.sh [--list] [--list-verification] [--list-conformance] [--force] [IMAGE...]
#
# Images (names exactly as the release's kubeadm (1.22.5 by default) and kube-flannel.yml v0.16.1 reference them, repository
# $KUBE_IMAGE_REPOSITORY = registry.k8s.io as roles/kube/defaults/main.yml sets it):
#   kube-apiserver kube-controller-manager kube-scheduler  FROM scratch: the static binary
#   kube-proxy                       Debian base (iptables, ip, conntrack, nsenter) + the binary
#   etcd                             FROM scratch: etcd, etcdctl
#   coredns                          FROM scratch: /coredns
#   pause                            FROM scratch: /pause (Kubernetes' pause.c, gcc -static)
#   flannel                          Debian base + /opt/bin/flanneld (v0.16.3 inside; see the label)
#   flannel-cni-plugin               FROM scratch: /flannel + a static busybox for the init container's cp
#   nettest                          verification only, not used by a rollout ($NETTEST_IMAGE):
#                                    Debian minbase + nginx-light, curl, ping, ip; nginx logs to stdout
# Conformance images (--list-conformance; built only when named, `make conformance-build`; not what
# bundle/is-complete.sh requires): what the network conformance subset of e2e.test runs (scripts/conformance.sh),
# tagged as e2e 1.22 names them (test/utils/image/manifest.go) under $E2E_REGISTRY, which KUBE_TEST_REPO_LIST
# maps e2e's promoterE2eRegistry to:
#   agnhost          $E2E_REGISTRY/agnhost:2.32: Debian minbase + dig, curl, nc, ip, iperf (what agnhost's
#                    Dockerfile adds to alpine) + /agnhost from k8s.io/kubernetes ./test/images/agnhost
#   jessie-dnsutils  $E2E_REGISTRY/jessie-dnsutils:1.4: the same Debian tree (dig, nslookup); bookworm, not
#                    jessie (the name is the tag e2e asks for; the label and provenance say what is inside)
# Verification and conformance images go to a manifest of their own, verification/manifest.json:
# the rollout (roles/kubernetes) imports what manifest.json lists and never sees them; the lab imports
# them into its nodes itself (lab/verification_images.yml).
#
# Output under $KF_CACHE/bundle (default /var/cache/kubeadm-flannel/bundle):
#   images/<name>_<tag>.oci.tar   single-image OCI archives (`ctr -n k8s.io images import` takes them)
#   image-stamps/<name>.json      reference, archive sha256, layers, provenance, recipe key
#   ../image-build/rootfs/debian-iptables-<key>/  the Debian base tree (debootstrap), cached
#   ../image-build/layers/        layer tars, cached by content key ($KF_CACHE/image-build)
#   manifest.json                 rewritten: binaries (.artifacts) and the rollout's images (.images)
#   verification/{images,image-stamps}/, verification/manifest.json   the same for verification images
# An image is rebuilt only when its recipe key (inputs' sha256, config, recipe revision) changes or
# its archive no longer matches the stamp. Run bundle/build-from-source.sh first.
set -euo pipefail

RECIPE_REV=1
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
NICE=${NICE:-nice -n 10}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1640995200}

KUBE_IMAGE_REPOSITORY=${KUBE_IMAGE_REPOSITORY:-registry.k8s.io}
# The Kubernetes release (K8S_VERSION, as for build-from-source.sh; default the project's kube_version): set
# after lib.sh. Every Kubernetes image's reference is what that release's kubeadm (the bundle's) lists.
FLANNEL_IMAGE=${FLANNEL_IMAGE:-docker.io/rancher/mirrored-flannelcni-flannel:v0.16.1}
FLANNEL_CNI_IMAGE=${FLANNEL_CNI_IMAGE:-docker.io/rancher/mirrored-flannelcni-flannel-cni-plugin:v1.0.0}

# Debian base for the two images that program iptables. The lab nodes (Debian 12) and Debian 12 VMs
# use the nft backend (update-alternatives: iptables -> iptables-nft); flanneld and kube-proxy must
# write through the same backend as the node's own tools, so the base keeps Debian's default (nft).
BASE_SUITE=${BASE_SUITE:-bookworm}
BASE_MIRROR=${BASE_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=${BASE_PACKAGES:-iptables,iproute2,conntrack,ca-certificates}
BASE_IPTABLES_BACKEND=${BASE_IPTABLES_BACKEND:-nft}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# Verification image for tests/infra/test_cluster_pods.py (pods made through the Kubernetes API need an
# image, and no registry is reachable): a real nginx and the network tools the tests run inside pods.
# Not referenced by any rollout manifest, and listed in the verification manifest, not in manifest.json.
NETTEST_IMAGE=${NETTEST_IMAGE:-localhost/kubeadm-flannel/nettest:bookworm-1}
NETTEST_PACKAGES=${NETTEST_PACKAGES:-nginx-light,curl,iputils-ping,iproute2}

# Conformance images: e2e 1.22's names and tags, under a registry of our own (no upstream image is in them).
E2E_REGISTRY=${E2E_REGISTRY:-localhost/kubeadm-flannel/e2e-test-images}
# agnhost's Dockerfile (test/images/agnhost, alpine 3.12): bind-tools curl netcat-openbsd iproute2 iperf bash;
# Debian's names for the same tools (bash, hostname, getent and awk are in minbase). One tree for both images.
E2E_PACKAGES=${E2E_PACKAGES:-bind9-dnsutils,curl,netcat-openbsd,iproute2,iperf}
AGNHOST_TAG=${AGNHOST_TAG:-2.32}
JESSIE_DNSUTILS_TAG=${JESSIE_DNSUTILS_TAG:-1.4}

ALL_IMAGES="pause kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns flannel flannel-cni-plugin nettest"
VERIFICATION_IMAGES="nettest"
CONFORMANCE_IMAGES="agnhost jessie-dnsutils"
# Asked before anything is created (write-manifest.sh and is-complete.sh ask them).
if [ "${1:-}" = --list-verification ]; then echo "$VERIFICATION_IMAGES" | tr ' ' '\n'; exit 0; fi
if [ "${1:-}" = --list-conformance ]; then echo "$CONFORMANCE_IMAGES" | tr ' ' '\n'; exit 0; fi

B=${KF_BUNDLE:-$KF_CACHE/bundle}   # the bundle directory (make-bundle.sh --out)
OUT=$B/images
STAMPS=$B/image-stamps
VOUT=$B/verification/images       # verification images: archives and stamps beside their own manifest
VSTAMPS=$B/verification/image-stamps
LAYERS=$KF_CACHE/image-build/layers   # caches, outside the bundle directory
ROOTFS=$KF_CACHE/image-build/rootfs
mkdir -p "$OUT" "$STAMPS" "$VOUT" "$VSTAMPS" "$LAYERS" "$ROOTFS" "$B/logs"

log() { printf '%s [images] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=bundle/lib.sh
. "$HERE/lib.sh"
for c in jq "$PY" file; do command -v "$c" >/dev/null || die "$c is required (bundle/install-build-deps.sh)"; done

FORCE=0
parse_targets "$ALL_IMAGES" "$@"
K8S_TAG=${K8S_VERSION:-$(kube_default_version)}

exec 9>"$B/.images.lock"
flock -n 9 || { log "another image build holds $B/.images.lock; waiting"; flock 9; }

# bin NAME -> path of a bundle binary whose sha256 matches its stamp (built by build-from-source.sh).
# A conformance binary (build-from-source.sh --list-conformance) lives under verification/.
bin_dir() {
  case " $("$HERE/build-from-source.sh" --list-conformance | tr '\n' ' ') " in
    *" $1 "*) echo "$B/verification" ;; *) echo "$B" ;; esac
}
bin() {
  local d; d=$(bin_dir "$1")
  local f=$d/bin/$1 s=$d/stamps/$1.json
  # shellcheck disable=SC2015  # die exits: it runs only when a check fails
  [ -x "$f" ] && [ -f "$s" ] || die "$1: not in $d/bin; run bundle/build-from-source.sh $1"
  [ "$(sha256 "$f")" = "$(jq -r .sha256 "$s")" ] || die "$1: $f does not match its stamp $s"
  echo "$f"
}
# prov NAME -> the binary's manifest record (version, module) for the image's provenance.
prov() { jq -c '{name, version, requested, sha256, module: .provenance.module}' "$(bin_dir "$1")/stamps/$1.json"; }

# --- Debian trees (debootstrap), cached by key -----------------------------------------------------
# bootstrap DIR PACKAGES: debootstrap minbase + PACKAGES into DIR.tmp (debootstrap itself puts a
# policy-rc.d and a fake start-stop-daemon in place while it installs: no service starts on this host).
bootstrap() {
  local r=$1 packages=$2
  command -v debootstrap >/dev/null || die "debootstrap is required (bundle/install-build-deps.sh)"
  rm -rf "$r" "$r.tmp"
  $NICE debootstrap --variant=minbase --include="$packages" "$BASE_SUITE" "$r.tmp" "$BASE_MIRROR" \
    >"$KF_CACHE/image-build/debootstrap.log" 2>&1 || { tail -20 "$KF_CACHE/image-build/debootstrap.log" >&2; die "debootstrap failed"; }
}
# trim DIR: drop what a container runtime provides or nobody reads in an image; record the packages.
trim() {
  local r=$1 list=$2
  rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/log/* "$r"/usr/share/doc/* \
    "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/var/cache/ldconfig/aux-cache \
    "$r"/etc/hostname "$r"/etc/resolv.conf "$r"/etc/machine-id "$r"/debootstrap
  # shellcheck disable=SC2016  # a dpkg-query format, not a shell expansion
  chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' >"$list"
}
# tree_layer NAME DIR -> a layer tar of DIR (owners kept, runtime-provided dirs left empty), cached by name.
tree_layer() {
  local out=$LAYERS/$1.tar
  if [ ! -s "$out" ]; then
    $NICE "$PY" "$HERE/oci-archive.py" layer "$2" "$out" --keep-owner \
      --exclude '.kf-complete' --exclude 'dev/*' --exclude 'proc/*' --exclude 'sys/*' --exclude 'run/*' --exclude 'tmp/*'
  fi
  echo "$out"
}

# Debian base for kube-proxy and flannel.
BASE_KEY=""; BASE_LAYER=""
base() {
  [ -z "$BASE_LAYER" ] || return 0
  BASE_KEY=$(key_of "$RECIPE_REV" "$BASE_SUITE" "$BASE_MIRROR" "$BASE_PACKAGES" "$BASE_IPTABLES_BACKEND")
  local r=$ROOTFS/debian-iptables-$BASE_KEY
  if [ ! -f "$r/.kf-complete" ]; then
    log "base: debootstrap $BASE_SUITE minbase + $BASE_PACKAGES from $BASE_MIRROR"
    local start; start=$(date +%s)
    bootstrap "$r" "$BASE_PACKAGES"
    chroot "$r.tmp" update-alternatives --set iptables "/usr/sbin/iptables-$BASE_IPTABLES_BACKEND" >/dev/null
    chroot "$r.tmp" update-alternatives --set ip6tables "/usr/sbin/ip6tables-$BASE_IPTABLES_BACKEND" >/dev/null
    trim "$r.tmp" "$r.tmp/../debian-iptables-$BASE_KEY.packages"
    touch "$r.tmp/.kf-complete"
    mv "$r.tmp" "$r"
    log "base: rootfs in $(( $(date +%s) - start ))s ($(du -sh "$r" | cut -f1))"
  fi
  BASE_LAYER=$(tree_layer "debian-iptables-$BASE_KEY" "$r")
}

# files_layer NAME SRC:DEST[:MODE]... -> a layer tar holding those files (plus /etc basics), cached by content.
files_layer() {
  local name=$1; shift
  local spec k t=$LAYERS/.stage-$name
  k=$(key_of "$RECIPE_REV" "$@" "$(for spec in "$@"; do sha256 "${spec%%:*}"; done)")
  local out=$LAYERS/$name-$k.tar
  if [ ! -s "$out" ]; then
    rm -rf "$t"; mkdir -p "$t"
    for spec in "$@"; do
      IFS=: read -r src dest mode <<<"$spec"
      install -D -m "${mode:-0755}" "$src" "$t$dest"
    done
    $NICE "$PY" "$HERE/oci-archive.py" layer "$t" "$out"
    rm -rf "$t"
  fi
  echo "$out"
}

# A FROM-scratch image still wants a few files a Go program may read: who root is, how to resolve.
etc_layer() {
  local t=$LAYERS/.stage-etc k out
  k=$(key_of "$RECIPE_REV" etc-v1)
  out=$LAYERS/etc-$k.tar
  if [ ! -s "$out" ]; then
    rm -rf "$t"; mkdir -p "$t/etc" "$t/tmp"
    chmod 1777 "$t/tmp"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$t/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$t/etc/group"
    printf 'hosts: files dns\n' >"$t/etc/nsswitch.conf"
    chmod 0644 "$t"/etc/*
    "$PY" "$HERE/oci-archive.py" layer "$t" "$out"
    rm -rf "$t"
  fi
  echo "$out"
}

# image ID REF PROVENANCE_JSON [oci-archive.py image args: --layer ... --entrypoint ... --label ...]
# A verification image's archive and stamp go under verification/; `archive` in a stamp is relative to the
# directory of the manifest that lists it (images/<file> in both).
image() {
  local id=$1 ref=$2 provj=$3; shift 3
  local stamp=$STAMPS/$id.json tag=${ref##*:} base_name=${ref%:*} outdir=$OUT
  local file k out start res
  case " $VERIFICATION_IMAGES $CONFORMANCE_IMAGES " in *" $id "*) stamp=$VSTAMPS/$id.json; outdir=$VOUT ;; esac
  file=$(basename "$base_name")_$tag.oci.tar
  out=$outdir/$file
  # Key: everything the archive is made of (layer files are content-keyed or hashed here).
  local a lay=()
  for a in "$@"; do [ -f "$a" ] && lay+=("$(sha256 "$a")"); done
  k=$(key_of "$RECIPE_REV" "$ref" "$SOURCE_DATE_EPOCH" "$@" "${lay[@]}")
  if [ "$FORCE" != 1 ] && [ -f "$stamp" ] && [ -f "$out" ] && [ "$(jq -r .recipe_key "$stamp")" = "$k" ] \
     && [ "$(jq -r .archive_sha256 "$stamp")" = "$(sha256 "$out")" ]; then
    log "$ref: up to date ($file), nothing to build"; return 0
  fi
  start=$(date +%s)
  res=$($NICE "$PY" "$HERE/oci-archive.py" image --ref "$ref" --out "$out" "$@")
  jq -n --arg id "$id" --arg ref "$ref" --arg name "$base_name" --arg tag "$tag" --arg file "images/$file" \
        --argjson res "$res" --argjson prov "$provj" --arg key "$k" --arg built "$(date -u +%FT%TZ)" \
        --argjson secs $(( $(date +%s) - start )) --arg size "$(stat -c %s "$out")" \
    '{id:$id, ref:$ref, name:$name, tag:$tag, archive:$file, format:"oci-archive",
      archive_sha256:$res.archive_sha256, size:($size|tonumber), manifest_digest:$res.manifest_digest,
      config_digest:$res.config_digest, layers:$res.layers, provenance:$prov,
      recipe_key:$key, built_at:$built, build_seconds:$secs}' >"$stamp"
  log "$ref: $file in $(jq .build_seconds "$stamp")s, sha256 $(jq -r .archive_sha256 "$stamp" | cut -c1-12)"
}

label_src() { echo "--label=io.kubeadm-flannel.bundle.built-from=$1"; }
# JSON is built by jq, never by string escaping. (The entrypoints are part of the recipe key: jq -c prints
# them exactly as the literals this replaced, so keys are unchanged.)
# entrypoint ARG... -> ["ARG",...]
entrypoint() { printf '%s\n' "$@" | jq -R . | jq -cs .; }
# scratch_prov NAME... -> {"binaries":[records of NAME...],"base":"scratch"}
scratch_prov() { local n; for n in "$@"; do prov "$n"; done | jq -cs '{binaries:., base:"scratch"}'; }
# base_prov -> the Debian base's record (after base)
base_prov() {
  jq -cn --arg d "$BASE_SUITE minbase + $BASE_PACKAGES" --arg m "$BASE_MIRROR" --arg i "$BASE_IPTABLES_BACKEND" \
    --arg k "$BASE_KEY" '{debootstrap:$d, mirror:$m, iptables:$i, key:$k}'
}

# kube_ref NAME -> the reference the bundle's kubeadm gives the image NAME (kube-apiserver, ..., etcd, coredns,
# pause) for $K8S_TAG under $KUBE_IMAGE_REPOSITORY: `kubeadm config images list`, no network. The names are
# kubeadm's own choice (1.22.5: <repo>/coredns:v1.8.4; 1.23.17: <repo>/coredns/coredns:v1.8.6). Called inside
# $(...), so kubeadm runs once per image (a fraction of a second).
kube_ref() {
  local k refs ref
  k=$(bin kubeadm)
  [ "$("$k" version -o short)" = "$K8S_TAG" ] || die "the bundle's kubeadm is $("$k" version -o short), not $K8S_TAG"
  refs=$("$k" config images list --kubernetes-version "$K8S_TAG" --image-repository "$KUBE_IMAGE_REPOSITORY" 2>/dev/null) \
    || die "kubeadm config images list failed"
  ref=$(awk -v n="$1" '{r=$0; sub(/:[^:]*$/, "", r); m=split(r, p, "/"); if (p[m] == n) print $0}' <<<"$refs")
  [ -n "$ref" ] || die "kubeadm $K8S_TAG lists no $1 image: $refs"
  echo "$ref"
}

do_k8s_scratch() {
  local n=$1 b; b=$(bin "$n")
  image "$n" "$(kube_ref "$n")" "$(scratch_prov "$n")" \
    --layer "$(etc_layer)" --layer "$(files_layer "$n" "$b:/usr/local/bin/$n")" \
    --entrypoint "$(entrypoint "/usr/local/bin/$n")" "$(label_src "k8s.io/kubernetes@$K8S_TAG ./cmd/$n")"
}

do_kube_proxy() {
  local b; b=$(bin kube-proxy); base
  image kube-proxy "$(kube_ref kube-proxy)" \
    "$(jq -cn --argjson b "$(prov kube-proxy)" --argjson base "$(base_prov)" '{binaries:[$b], base:$base}')" \
    --layer "$BASE_LAYER" --layer "$(files_layer kube-proxy "$b:/usr/local/bin/kube-proxy")" \
    --entrypoint '["/usr/local/bin/kube-proxy"]' "$(label_src "k8s.io/kubernetes@$K8S_TAG ./cmd/kube-proxy")" \
    --label "io.kubeadm-flannel.bundle.iptables-backend=$BASE_IPTABLES_BACKEND"
}

do_etcd() {
  local e c v; e=$(bin etcd); c=$(bin etcdctl); v=$(jq -r .version "$B/stamps/etcd.json")
  image etcd "$(kube_ref etcd)" "$(scratch_prov etcd etcdctl)" \
    --layer "$(etc_layer)" --layer "$(files_layer etcd "$e:/usr/local/bin/etcd" "$c:/usr/local/bin/etcdctl")" \
    --entrypoint '["/usr/local/bin/etcd"]' "$(label_src "go.etcd.io/etcd/server/v3@$v, go.etcd.io/etcd/etcdctl/v3@$v")"
}

do_coredns() {
  local b; b=$(bin coredns)
  image coredns "$(kube_ref coredns)" "$(scratch_prov coredns)" \
    --layer "$(etc_layer)" --layer "$(files_layer coredns "$b:/coredns")" \
    --entrypoint '["/coredns"]' "$(label_src "github.com/coredns/coredns@$(jq -r .version "$B/stamps/coredns.json")")"
}

do_pause() {
  local b; b=$(bin pause)
  image pause "$(kube_ref pause)" "$(scratch_prov pause)" \
    --layer "$(files_layer pause "$b:/pause")" --entrypoint '["/pause"]' \
    "$(label_src "k8s.io/kubernetes@$K8S_TAG build/pause/linux/pause.c, gcc -static -Os")"
}

do_flannel() {
  local b v; b=$(bin flanneld); base
  v=$(jq -r .version "$B/stamps/flanneld.json")
  # The tag is the one kube-flannel.yml references; the flanneld inside is what the proxy serves.
  image flannel "$FLANNEL_IMAGE" \
    "$(jq -cn --argjson b "$(prov flanneld)" --argjson base "$(base_prov)" \
       --arg note "tagged ${FLANNEL_IMAGE##*:} because the manifest references that tag; the flanneld inside is $v built from source, because ${FLANNEL_IMAGE##*:} is not served by the Go module proxy here" \
       '{binaries:[$b], base:$base, note:$note}')" \
    --layer "$BASE_LAYER" --layer "$(files_layer flannel "$b:/opt/bin/flanneld")" \
    --entrypoint '["/opt/bin/flanneld"]' "$(label_src "github.com/flannel-io/flannel@$v")" \
    --label "io.kubeadm-flannel.bundle.flanneld-version=$v" \
    --label "io.kubeadm-flannel.bundle.note=tag ${FLANNEL_IMAGE##*:} is what kube-flannel.yml references; flanneld inside is $v built from source (${FLANNEL_IMAGE##*:} is not served by the Go module proxy)" \
    --label "io.kubeadm-flannel.bundle.iptables-backend=$BASE_IPTABLES_BACKEND"
}

do_flannel_cni() {
  local b v bb; b=$(bin flannel)
  v=$(jq -r .version "$B/stamps/flannel.json")
  # shellcheck disable=SC2015  # die exits: it runs only when a check fails
  [ -x "$BUSYBOX" ] && file -L "$BUSYBOX" | grep -q 'statically linked' \
    || die "flannel-cni-plugin: $BUSYBOX must be a static busybox (Debian busybox-static) for the init container's cp"
  bb=$(readlink -f "$BUSYBOX")
  # The DaemonSet's init container runs `cp -f /flannel /opt/cni/bin/flannel`: busybox provides cp.
  local t=$LAYERS/.stage-cp k; k=$(key_of "$RECIPE_REV" cp-link)
  if [ ! -s "$LAYERS/cp-link-$k.tar" ]; then
    rm -rf "$t"; mkdir -p "$t/bin"; ln -s busybox "$t/bin/cp"; ln -s busybox "$t/bin/sh"
    "$PY" "$HERE/oci-archive.py" layer "$t" "$LAYERS/cp-link-$k.tar"; rm -rf "$t"
  fi
  image flannel-cni-plugin "$FLANNEL_CNI_IMAGE" \
    "$(jq -cn --argjson b "$(prov flannel)" --arg path "$bb" --arg sha "$(sha256 "$bb")" \
       --arg deb "$(dpkg -S "$bb" 2>/dev/null | cut -d: -f1 | head -1) $(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || true)" \
       --arg note "tagged ${FLANNEL_CNI_IMAGE##*:} as kube-flannel.yml references it; the plugin inside is $(jq -r .provenance.module "$B/stamps/flannel.json") (flannel-io/cni-plugin is not served by the Go module proxy here)" \
       '{binaries:[$b], busybox:{path:$path, sha256:$sha, deb:$deb}, base:"scratch", note:$note}')" \
    --layer "$(files_layer flannel-cni "$b:/flannel" "$bb:/bin/busybox")" --layer "$LAYERS/cp-link-$k.tar" \
    --entrypoint '["/bin/cp"]' "$(label_src "$(jq -r .provenance.module "$B/stamps/flannel.json")")" \
    --label "io.kubeadm-flannel.bundle.note=flannel CNI plugin from $(jq -r .provenance.module "$B/stamps/flannel.json") (flannel-io/cni-plugin is not served by the Go module proxy)"
}

do_nettest() {
  local k r start pkgs
  k=$(key_of "$RECIPE_REV" nettest-v1 "$BASE_SUITE" "$BASE_MIRROR" "$NETTEST_PACKAGES")
  r=$ROOTFS/debian-nettest-$k
  if [ ! -f "$r/.kf-complete" ]; then
    log "nettest: debootstrap $BASE_SUITE minbase + $NETTEST_PACKAGES from $BASE_MIRROR"
    start=$(date +%s)
    bootstrap "$r" "$NETTEST_PACKAGES"
    trim "$r.tmp" "$r.tmp/../debian-nettest-$k.packages"
    # As `kubectl logs` shows them (the tests read the peers' addresses there): access log to stdout.
    mkdir -p "$r.tmp/var/log/nginx"
    ln -s /dev/stdout "$r.tmp/var/log/nginx/access.log"
    ln -s /dev/stderr "$r.tmp/var/log/nginx/error.log"
    # IPv4 only: a pod's peers are logged as the IPv4 addresses the tests expect (Debian's default site
    # also listens on [::]:80, which fails where a pod has no IPv6).
    # shellcheck disable=SC2016  # nginx variables, not shell ones
    printf '%s\n' 'server {' '    listen 80 default_server;' '    root /var/www/html;' \
      '    index index.nginx-debian.html;' '    location / { try_files $uri $uri/ =404; }' '}' \
      >"$r.tmp/etc/nginx/sites-available/default"
    touch "$r.tmp/.kf-complete"
    mv "$r.tmp" "$r"
    log "nettest: rootfs in $(( $(date +%s) - start ))s ($(du -sh "$r" | cut -f1))"
  fi
  pkgs=$(grep -E "^(${NETTEST_PACKAGES//,/|}) " "$ROOTFS/debian-nettest-$k.packages" | jq -R . | jq -cs .)
  image nettest "$NETTEST_IMAGE" \
    "$(jq -cn --arg d "$BASE_SUITE minbase + $NETTEST_PACKAGES" --arg m "$BASE_MIRROR" --arg k "$k" --argjson p "$pkgs" \
       '{purpose:"verification image for tests/infra/test_cluster_pods.py; not needed by a rollout",
         base:{debootstrap:$d, mirror:$m, key:$k, packages:$p}}')" \
    --layer "$(tree_layer "debian-nettest-$k" "$r")" \
    --entrypoint '["/usr/sbin/nginx","-g","daemon off;"]' \
    --label "io.kubeadm-flannel.bundle.purpose=verification image (tests/infra/test_cluster_pods.py), not needed by a rollout" \
    "$(label_src "debootstrap $BASE_SUITE minbase + $NETTEST_PACKAGES")"
}

# The conformance images' Debian tree (agnhost, jessie-dnsutils), cached by key like nettest's.
E2E_KEY=""; E2E_LAYER=""
e2e_base() {
  [ -z "$E2E_LAYER" ] || return 0
  E2E_KEY=$(key_of "$RECIPE_REV" e2e-v1 "$BASE_SUITE" "$BASE_MIRROR" "$E2E_PACKAGES")
  local r=$ROOTFS/debian-e2e-$E2E_KEY start
  if [ ! -f "$r/.kf-complete" ]; then
    log "e2e base: debootstrap $BASE_SUITE minbase + $E2E_PACKAGES from $BASE_MIRROR"
    start=$(date +%s)
    bootstrap "$r" "$E2E_PACKAGES"
    trim "$r.tmp" "$r.tmp/../debian-e2e-$E2E_KEY.packages"
    touch "$r.tmp/.kf-complete"
    mv "$r.tmp" "$r"
    log "e2e base: rootfs in $(( $(date +%s) - start ))s ($(du -sh "$r" | cut -f1))"
  fi
  E2E_LAYER=$(tree_layer "debian-e2e-$E2E_KEY" "$r")
}
# e2e_prov PURPOSE -> the Debian tree's record (packages with their versions) and what the image is for.
e2e_prov() {
  local pkgs
  pkgs=$(grep -E "^(${E2E_PACKAGES//,/|}) " "$ROOTFS/debian-e2e-$E2E_KEY.packages" | jq -R . | jq -cs .)
  jq -cn --arg d "$BASE_SUITE minbase + $E2E_PACKAGES" --arg m "$BASE_MIRROR" --arg k "$E2E_KEY" \
    --argjson p "$pkgs" --arg purpose "$1" '{purpose:$purpose, base:{debootstrap:$d, mirror:$m, key:$k, packages:$p}}'
}
E2E_PURPOSE="conformance image for scripts/conformance.sh (e2e.test's network subset); not needed by a rollout"

do_agnhost() {
  local b porter k t out; b=$(bin agnhost); e2e_base
  # The porter's certificate, as agnhost's Dockerfile adds it; from the same module as the binary.
  porter=$KF_CACHE/go/mod/k8s.io/kubernetes@$K8S_TAG/test/images/agnhost/porter
  if [ ! -f "$porter/localhost.crt" ] || [ ! -f "$porter/localhost.key" ]; then
    die "agnhost: no $porter/localhost.{crt,key} (run bundle/build-from-source.sh agnhost first)"
  fi
  # The Dockerfile's layout: /agnhost, /agnhost-2 -> agnhost (entrypoint tests), /uploads (netexec).
  k=$(key_of "$RECIPE_REV" agnhost-files-v1 "$(sha256 "$b")" "$(sha256 "$porter/localhost.crt")" "$(sha256 "$porter/localhost.key")")
  out=$LAYERS/agnhost-$k.tar; t=$LAYERS/.stage-agnhost
  if [ ! -s "$out" ]; then
    rm -rf "$t"; mkdir -p "$t/uploads"
    install -m 0755 "$b" "$t/agnhost"; ln -s agnhost "$t/agnhost-2"
    install -m 0644 "$porter/localhost.crt" "$porter/localhost.key" "$t/"
    $NICE "$PY" "$HERE/oci-archive.py" layer "$t" "$out"; rm -rf "$t"
  fi
  image agnhost "$E2E_REGISTRY/agnhost:$AGNHOST_TAG" \
    "$(jq -cn --argjson b "$(prov agnhost)" --argjson e "$(e2e_prov "$E2E_PURPOSE")" '$e + {binaries:[$b]}')" \
    --layer "$E2E_LAYER" --layer "$out" --entrypoint '["/agnhost"]' --cmd '["pause"]' \
    "$(label_src "k8s.io/kubernetes@$K8S_TAG ./test/images/agnhost; debootstrap $BASE_SUITE minbase + $E2E_PACKAGES")" \
    --label "io.kubeadm-flannel.bundle.purpose=$E2E_PURPOSE"
}

do_jessie_dnsutils() {
  e2e_base
  image jessie-dnsutils "$E2E_REGISTRY/jessie-dnsutils:$JESSIE_DNSUTILS_TAG" "$(e2e_prov "$E2E_PURPOSE")" \
    --layer "$E2E_LAYER" --cmd '["/bin/bash"]' \
    "$(label_src "debootstrap $BASE_SUITE minbase + $E2E_PACKAGES")" \
    --label "io.kubeadm-flannel.bundle.purpose=$E2E_PURPOSE" \
    --label "io.kubeadm-flannel.bundle.note=tag $JESSIE_DNSUTILS_TAG is what e2e 1.22 asks for; the tree is Debian $BASE_SUITE (dig, nslookup from bind9-dnsutils), not jessie"
}

run_start=$(date +%s)
# First, so that a verification image an older run recorded beside the rollout's images is found where
# image() looks for it (write-manifest.sh moves it; same recipe key, so it is not rebuilt).
KF_BUNDLE=$B "$HERE/write-manifest.sh"
for tgt in "${targets[@]}"; do
  t0=$(date +%s)
  case $tgt in
    kube-apiserver|kube-controller-manager|kube-scheduler) do_k8s_scratch "$tgt" ;;
    kube-proxy) do_kube_proxy ;;
    etcd) do_etcd ;;
    coredns) do_coredns ;;
    pause) do_pause ;;
    flannel) do_flannel ;;
    flannel-cni-plugin) do_flannel_cni ;;
    nettest) do_nettest ;;
    agnhost) do_agnhost ;;
    jessie-dnsutils) do_jessie_dnsutils ;;
    *) die "unknown image $tgt (see --list, --list-conformance)" ;;
  esac
  log "$tgt: step took $(( $(date +%s) - t0 ))s"
done
KF_BUNDLE=$B "$HERE/write-manifest.sh"
log "done in $(( $(date +%s) - run_start ))s"
