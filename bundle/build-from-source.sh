#!/usr/bin/env bash
# Build the bundle's binaries from their Go modules, through the Go module proxy.
#
#   bundle/build-from-source.sh [--list] [--list-conformance] [--force] [TARGET...]
#
# Targets, in priority order (the default is all of them):
#   crictl flanneld flannel kubeadm kubelet kubectl
#   kube-apiserver kube-controller-manager kube-scheduler kube-proxy
#   cni-plugins  (reference plugins into bundle/bin/cni/; Debian's package is the default source)
#   etcd etcdctl coredns pause  (the binaries of the etcd, coredns and pause images; pause is C,
#                               compiled with gcc -static from the k8s.io/kubernetes module zip)
# Conformance targets (--list-conformance; never built by default, never in manifest.json, and not what
# bundle/is-complete.sh requires for the cluster scenario): the network conformance subset's programs,
# from the same k8s.io/kubernetes tree, into bundle/verification/{bin,stamps}/:
#   e2e.test   `go test -c ./test/e2e` (runs on the controller: scripts/conformance.sh)
#   agnhost    ./test/images/agnhost (the binary of the agnhost test image, bundle/build-images.sh agnhost)
#
# Everything lands outside the repo, under $KF_CACHE (default /var/cache/kubeadm-flannel):
#   go/cache, go/mod      GOCACHE and GOMODCACHE
#   go/src/<name>@<ver>-<key>  writable build trees (module source + the edits listed in the manifest)
#   bundle/bin/<binary>   the outputs (reference CNI plugins under bundle/bin/cni/)
#   bundle/stamps/<binary>.json   one record per output (recipe key, sha256, provenance, timing)
#   bundle/verification/{bin,stamps}/  the same for the conformance targets
#   bundle/manifest.json  all records, rebuilt from the stamps at the end of every run
#   bundle/logs/<binary>.log      the build log of the last real build
#
# A binary is rebuilt only when its recipe key (module@version, package, cgo, tags, ldflags,
# go.mod edits, Go version, recipe revision) differs from its stamp, or its sha256 no longer
# matches the stamp. See bundle/README.md for the sources and why some versions differ.
set -euo pipefail

RECIPE_REV=1                      # bump when a recipe changes in a way the key does not capture
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
GO=${GO:-$(command -v /usr/local/go/bin/go || command -v go)}
NICE=${NICE:-nice -n 10}

# --- Recipes ---------------------------------------------------------------------------------
# Candidate lists are tried in order; the first module version the proxy serves is used, and the
# manifest records both the requested (first) and the built version.

# crictl: v1.22.0 wanted. This proxy serves no cri-tools release between v1.22.0 and v1.34.0
# (module path was github.com/kubernetes-sigs/cri-tools up to v1.25, sigs.k8s.io/cri-tools after).
CRICTL_CANDIDATES=${CRICTL_CANDIDATES:-"github.com/kubernetes-sigs/cri-tools@v1.22.0 sigs.k8s.io/cri-tools@v1.34.0"}
# flanneld: v0.16.1 wanted; v0.16.3 is the closest version this proxy serves.
FLANNEL_CANDIDATES=${FLANNEL_CANDIDATES:-"github.com/flannel-io/flannel@v0.16.1 github.com/flannel-io/flannel@v0.16.3"}
# flannel CNI plugin: github.com/flannel-io/cni-plugin v1.0.0 wanted (main package at the module
# root). Fallback: the same plugin before it moved out of containernetworking/plugins (v0.9.1,
# plugins/meta/flannel) - the very version flannel v0.16.x itself requires in its go.mod.
FLANNEL_CNI_CANDIDATES=${FLANNEL_CNI_CANDIDATES:-"github.com/flannel-io/cni-plugin@v1.0.0 github.com/containernetworking/plugins@v0.9.1"}
# Reference CNI plugins: v1.0.1 is the cni-plugins release kubespray pins for Kubernetes 1.22.
CNI_PLUGINS_CANDIDATES=${CNI_PLUGINS_CANDIDATES:-"github.com/containernetworking/plugins@v1.0.1"}
CNI_PLUGINS=${CNI_PLUGINS:-"bridge host-local loopback portmap bandwidth firewall tuning"}
# The Kubernetes release: K8S_VERSION (make-bundle.sh --kube-version), default the project's kube_version
# (roles/kube/defaults/main.yml). K8S_GIT_COMMIT: its tag's commit, from bundle/releases.tsv (the module proxy
# does not carry it). buildDate is the module's commit time from the proxy (.info). Both set below, after lib.sh.
# Runtime fix for Go >= 1.18: reflect2 v1.0.1 crashes (unsafe map iteration); json-iterator
# 1.1.12 is the release that requires reflect2 v1.0.2. Applied to every module built with client-go.
JSONITER_FIX="github.com/modern-go/reflect2=github.com/modern-go/reflect2@v1.0.2 github.com/json-iterator/go=github.com/json-iterator/go@v1.1.12"

# etcd, CoreDNS and pause: the versions the release's kubeadm deploys, read from its constants.go
# (kubeadm_constant; v1.22.5: etcd 3.5.0-0, CoreDNS v1.8.4, pause 3.5; v1.23.17: 3.5.6-0, v1.8.6, 3.6). The
# etcd image's "-0" is the image revision. ETCD_VERSION / COREDNS_CANDIDATES override them. The etcd repo is
# a multi-module tree since 3.5: the `etcd` main package is go.etcd.io/etcd/server/v3, `etcdctl` is
# go.etcd.io/etcd/etcdctl/v3, and both go.mod files point their sibling modules at ../<dir>.
ETCD_VERSION=${ETCD_VERSION:-}
COREDNS_CANDIDATES=${COREDNS_CANDIDATES:-}
# kubeadm's toolchain: Debian's Go 1.19 (v1.22.5 was released built with Go 1.16). Its preflight check
# HTTPProxyCIDR formats the service CIDR's first address as "[10.96.0.1]:1234" (net.IP of 16 bytes for
# an IPv4 address) and hands it to net/url; recent Go rejects an IPv4 literal in brackets, so a kubeadm
# built with the machine's Go fails that check on every cluster. Empty: build kubeadm with $GO.
KUBEADM_GO=${KUBEADM_GO-/usr/lib/go-1.19/bin/go}
# pause: Kubernetes' own build/pause/linux/pause.c as shipped in k8s.io/kubernetes@$K8S_VERSION.
# The version is kubeadm's PauseVersion (1.22.5's tree: its build/pause/Makefile says TAG=3.6, but the C
# source is the same one pause 3.5 was built from, only the version string differs; kubeadm 1.22 names the
# image pause:3.5).
PAUSE_CFLAGS=${PAUSE_CFLAGS:-"-Os -Wall -Werror -static"}

ALL_TARGETS="crictl flanneld flannel kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy cni-plugins etcd etcdctl coredns pause"
CONFORMANCE_TARGETS="e2e.test agnhost"
# Asked before anything is created (bundle/is-complete.sh --conformance asks it).
if [ "${1:-}" = --list-conformance ]; then echo "$CONFORMANCE_TARGETS" | tr ' ' '\n'; exit 0; fi

# --- Environment -----------------------------------------------------------------------------
KF_BUNDLE=${KF_BUNDLE:-$KF_CACHE/bundle}   # the bundle directory (make-bundle.sh --out)
BIN=$KF_BUNDLE/bin
STAMPS=$KF_BUNDLE/stamps
VBIN=$KF_BUNDLE/verification/bin        # conformance targets: beside the verification manifest
VSTAMPS=$KF_BUNDLE/verification/stamps
LOGS=$KF_BUNDLE/logs
SRC=$KF_CACHE/go/src
mkdir -p "$BIN" "$STAMPS" "$VBIN" "$VSTAMPS" "$LOGS" "$SRC" "$KF_CACHE/go/cache" "$KF_CACHE/go/mod"

export GOCACHE=$KF_CACHE/go/cache
export GOMODCACHE=$KF_CACHE/go/mod
export GOTOOLCHAIN=local          # never download another toolchain
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export GOPROXY=${GOPROXY:-https://proxy.golang.org}   # the only network source (no ",direct")
unset GOOS GOARCH
GO_VERSION=$("$GO" env GOVERSION)
HOST_ARCH=$("$GO" env GOARCH)

log() { printf '%s [bundle] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
command -v jq >/dev/null || die "jq is required"

FORCE=${KF_FORCE:-0}
# shellcheck source=bundle/lib.sh
. "$(dirname "$0")/lib.sh"
parse_targets "$ALL_TARGETS" "$@"
K8S_VERSION=${K8S_VERSION:-$(kube_default_version)}
K8S_GIT_COMMIT=${K8S_GIT_COMMIT:-$(release_commit "$K8S_VERSION")}

# One run at a time per cache.
exec 9>"$KF_BUNDLE/.lock"
flock -n 9 || { log "another build holds $KF_BUNDLE/.lock; waiting"; flock 9; }

# --- Helpers ---------------------------------------------------------------------------------

# download MODULE@VERSION -> prints the module JSON ({Path,Version,Dir,Sum,...}) or fails.
# If the proxy's checksum database cannot vouch for the module (404 on /sumdb/...), it is fetched
# again without the sumdb check; the manifest then says so ("sumdb":"unverified").
download() {
  local mv=$1 out
  out=$("$GO" mod download -json "$mv" 2>/dev/null || true)
  if [ -n "$out" ] && [ "$(jq -r '.Error // empty' <<<"$out")" = "" ]; then
    jq -c '. + {sumdb:"verified"}' <<<"$out"; return 0
  fi
  if grep -q 'sumdb/sum.golang.org/lookup' <<<"$out"; then
    out=$(GONOSUMDB=${mv%@*} "$GO" mod download -json "$mv" 2>/dev/null || true)
    if [ -n "$out" ] && [ "$(jq -r '.Error // empty' <<<"$out")" = "" ]; then
      log "  $mv: sum.golang.org has no record through this proxy; using the proxy's zip (h1 $(jq -r .Sum <<<"$out"))"
      jq -c '. + {sumdb:"unverified"}' <<<"$out"; return 0
    fi
  fi
  local msg="no answer from the proxy"
  [ -z "$out" ] || msg=$(jq -r '.Error // "unknown error"' <<<"$out" | head -1)
  log "  $mv: $msg"
  return 1
}

# pick CANDIDATES... -> module JSON of the first candidate the proxy serves (+ requested).
pick() {
  local first=$1 c j
  for c in "$@"; do
    if j=$(download "$c"); then
      [ "$c" = "$first" ] || log "  using $c instead of $first"
      jq -c --arg req "$first" '. + {requested:$req}' <<<"$j"; return 0
    fi
  done
  return 1
}

# k8s_constant NAME -> kubeadm's constant NAME in k8s.io/kubernetes@$K8S_VERSION (the module is downloaded once).
K8S_MOD_DIR=""
k8s_constant() {
  local mj
  if [ -z "$K8S_MOD_DIR" ]; then
    mj=$(pick "k8s.io/kubernetes@$K8S_VERSION") || die "k8s.io/kubernetes@$K8S_VERSION is not served by $GOPROXY"
    K8S_MOD_DIR=$(jq -r .Dir <<<"$mj")
  fi
  kubeadm_constant "$K8S_MOD_DIR" "$1"
}

# tree NAME MODJSON EDITS... -> prints a writable copy of the module with go.mod edits applied.
# EDITS are `go mod edit` flags (-replace=a=b@v, -require=a@v). Keyed, so a changed edit list
# gets a fresh tree; an existing complete tree is reused (Go's build cache does the rest).
tree() {
  local name=$1 mj=$2; shift 2
  local dir ver k t
  dir=$(jq -r .Dir <<<"$mj"); ver=$(jq -r .Version <<<"$mj")
  k=$(key_of "$RECIPE_REV" "$(jq -r .Sum <<<"$mj")" "$@")
  t=$SRC/$name@$ver-$k
  if [ ! -f "$t/.kf-tree-complete" ]; then
    rm -rf "$t" "$t.tmp"
    cp -a "$dir" "$t.tmp"; chmod -R u+w "$t.tmp"
    # Module zips carry at most vendor/modules.txt, never the vendored code: build in module mode.
    rm -rf "$t.tmp/vendor"
    [ $# -eq 0 ] || (cd "$t.tmp" && "$GO" mod edit "$@")
    printf '%s\n' "$@" >"$t.tmp/.kf-edits"
    touch "$t.tmp/.kf-tree-complete"
    mv "$t.tmp" "$t"
  fi
  echo "$t"
}

# build NAME MODJSON TREE PKG CGO TAGS LDFLAGS [EXTRA_KEY...]
# Skips when the stamp matches; otherwise builds into a temp file, checks it, stamps it.
# The toolchain is $GO unless the caller sets BUILD_GO (kubeadm: see KUBEADM_GO). BUILD_TEST=1 compiles the
# package's tests (`go test -c`, e2e.test) instead of `go build`; BUILD_BIN / BUILD_STAMPS put the output and
# its stamp elsewhere than bin/ and stamps/ (the conformance targets: verification/).
build() {
  local name=$1 mj=$2 t=$3 pkg=$4 cgo=$5 tags=$6 ldflags=$7; shift 7
  local mod ver k stamp out start secs go=${BUILD_GO:-$GO} go_version gocmd=(build) mode=()
  # Only a test build adds to the key, so the keys of the other targets stay what they were.
  if [ "${BUILD_TEST:-0}" = 1 ]; then gocmd=(test -c); mode=(go-test-c); fi
  go_version=$("$go" env GOVERSION)
  mod=$(jq -r .Path <<<"$mj"); ver=$(jq -r .Version <<<"$mj")
  k=$(key_of "$RECIPE_REV" "$name" "$mod@$ver" "$(jq -r .Sum <<<"$mj")" "$pkg" "$cgo" "$tags" "$ldflags" \
             "$(cat "$t/.kf-edits")" "$go_version" "$HOST_ARCH" "${mode[@]}" "$@")
  local id=${name//\//-}         # cni/bridge -> cni-bridge for stamp and log names
  stamp=${BUILD_STAMPS:-$STAMPS}/$id.json; out=${BUILD_BIN:-$BIN}/$name
  mkdir -p "$(dirname "$out")"
  if [ "$FORCE" != 1 ] && [ -f "$stamp" ] && [ -x "$out" ] \
     && [ "$(jq -r .recipe_key "$stamp")" = "$k" ] && [ "$(jq -r .sha256 "$stamp")" = "$(sha256 "$out")" ]; then
    log "$name $ver: up to date ($(jq -r .sha256 "$stamp" | cut -c1-12)), nothing to build"
    return 0
  fi
  log "$name $ver: go ${gocmd[*]} $mod@$ver $pkg (CGO_ENABLED=$cgo${tags:+ tags=$tags})"
  start=$(date +%s)
  if ! (cd "$t" && CGO_ENABLED=$cgo $NICE "$go" "${gocmd[@]}" ${tags:+-tags "$tags"} -ldflags "$ldflags" \
          -o "$out.tmp" "$pkg") >"$LOGS/$id.log" 2>&1; then
    grep -v '^go: downloading' "$LOGS/$id.log" | tail -25 >&2
    die "$name: go ${gocmd[*]} failed (full log: $LOGS/$id.log)"
  fi
  secs=$(( $(date +%s) - start ))
  mv -f "$out.tmp" "$out"
  jq -n --arg name "$name" --arg version "$ver" --arg requested "$(jq -r .requested <<<"$mj")" \
        --arg modpath "$mod" --arg sum "$(jq -r .Sum <<<"$mj")" --arg sumdb "$(jq -r .sumdb <<<"$mj")" \
        --arg package "$pkg" --arg go "$go_version" --arg goflags "$GOFLAGS" --arg cgo "$cgo" --arg tags "$tags" \
        --arg ldflags "$ldflags" --arg edits "$(cat "$t/.kf-edits")" --arg sha "$(sha256 "$out")" \
        --arg key "$k" --argjson secs "$secs" --arg built "$(date -u +%FT%TZ)" \
        --arg linkage "$(file -b "$out" | grep -o 'statically linked\|dynamically linked' || echo unknown)" \
        --arg size "$(stat -c %s "$out")" --arg gocmd "go ${gocmd[*]}" \
    '{name:$name, version:$version, requested:$requested, sha256:$sha, size:($size|tonumber),
      linkage:$linkage, provenance:({module:($modpath+"@"+$version), module_sum:$sum, sumdb:$sumdb,
      package:$package, go:$go, goflags:$goflags, cgo_enabled:$cgo, tags:$tags, ldflags:$ldflags,
      go_mod_edits:($edits|split("\n")|map(select(.!="")))}
      + (if $gocmd == "go build" then {} else {command:$gocmd} end)),
      recipe_key:$key, built_at:$built, build_seconds:$secs}' >"$stamp"
  log "$name $ver: built in ${secs}s, sha256 $(sha256 "$out")"
}

manifest() { KF_CACHE=$KF_CACHE KF_BUNDLE=$KF_BUNDLE "$(dirname "$0")/write-manifest.sh"; }

# --- Components ------------------------------------------------------------------------------
do_crictl() {
  local mj t mod ver
  # shellcheck disable=SC2086  # the candidate list is one word per module@version
  mj=$(pick $CRICTL_CANDIDATES) || die "crictl: no candidate module is served by $GOPROXY"
  mod=$(jq -r .Path <<<"$mj"); ver=$(jq -r .Version <<<"$mj")
  t=$(tree cri-tools "$mj")
  # cri-tools' Makefile: CGO_ENABLED=0, -X <module>/pkg/version.Version=<version without v>.
  build crictl "$mj" "$t" ./cmd/crictl 0 "" "-s -w -X $mod/pkg/version.Version=${ver#v}"
}

do_flanneld() {
  local mj t ver edits=()
  # shellcheck disable=SC2086  # the candidate list is one word per module@version
  mj=$(pick $FLANNEL_CANDIDATES) || die "flanneld: no candidate module is served by $GOPROXY"
  ver=$(jq -r .Version <<<"$mj")
  for r in $JSONITER_FIX; do edits+=("-replace=$r"); done
  t=$(tree flannel "$mj" "${edits[@]}")
  grep -q 'var Version' "$t/version/version.go" || die "flanneld: version/version.go has no 'var Version'"
  # Upstream (Makefile, amd64): CGO_ENABLED=1 for the UDP backend's C proxy, linked with
  # -extldflags -static. netgo/osusergo keep name and user lookups out of static glibc's NSS.
  build flanneld "$mj" "$t" . 1 "netgo osusergo" \
    "-s -w -X github.com/flannel-io/flannel/version.Version=$ver -extldflags -static"
}

do_flannel_cni() {
  local mj t mod ver
  # shellcheck disable=SC2086  # the candidate list is one word per module@version
  mj=$(pick $FLANNEL_CNI_CANDIDATES) || die "flannel CNI plugin: no candidate module is served by $GOPROXY"
  mod=$(jq -r .Path <<<"$mj"); ver=$(jq -r .Version <<<"$mj")
  t=$(tree "$(basename "$mod")" "$mj")
  case $mod in
    github.com/flannel-io/cni-plugin)
      build flannel "$mj" "$t" . 0 "netgo osusergo" "-s -w -X main.Version=$ver -X main.Program=flannel" ;;
    github.com/containernetworking/plugins)
      build flannel "$mj" "$t" ./plugins/meta/flannel 0 "" \
        "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$ver" ;;
  esac
}

do_cni_plugins() {
  local mj t ver p dir
  # shellcheck disable=SC2086  # the candidate list is one word per module@version
  mj=$(pick $CNI_PLUGINS_CANDIDATES) || die "cni-plugins: no candidate module is served by $GOPROXY"
  ver=$(jq -r .Version <<<"$mj")
  t=$(tree plugins "$mj")
  for p in $CNI_PLUGINS; do
    # shellcheck disable=SC2012  # module paths: plain names, no spaces or newlines
    dir=$(cd "$t" && ls -d plugins/*/"$p" 2>/dev/null | head -1) || true
    [ -n "$dir" ] || die "cni-plugins: no plugins/*/$p in $(jq -r .Path <<<"$mj")@$ver"
    build "cni/$p" "$mj" "$t" "./$dir" 0 "" \
      "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$ver"
  done
}

# etcd 3.5: NAME MODULE PKG. Sibling modules replaced by "../x" (not in the zip) point at the same tag.
do_etcd() {
  local name=$1 mod=$2 pkg=$3 mj t edits=() m
  [ -n "$ETCD_VERSION" ] || { ETCD_VERSION=$(k8s_constant DefaultEtcdVersion); ETCD_VERSION=v${ETCD_VERSION%-*}; }
  mj=$(pick "$mod@$ETCD_VERSION") || die "$name: $mod@$ETCD_VERSION is not served by $GOPROXY"
  # ...at the same release: v3.5.0, except client/v2 whose major is 2 (v3.5.0 -> v2.305.0).
  local v=${ETCD_VERSION#v3.} v2ver
  v2ver=v2.3$(printf '%02d' "${v%%.*}").${v#*.}
  for m in $("$GO" mod edit -json "$(jq -r .GoMod <<<"$mj")" \
             | jq -r '.Replace[] | select(.New.Path|startswith("../")) | .Old.Path'); do
    case $m in */v2) edits+=("-replace=$m=$m@$v2ver") ;; *) edits+=("-replace=$m=$m@$ETCD_VERSION") ;; esac
  done
  t=$(tree "$(basename "$(dirname "$mod")")" "$mj" "${edits[@]}")
  # etcd's build script: CGO_ENABLED=0, GitSHA stamped (the proxy has no commit: say where it came from).
  build "$name" "$mj" "$t" "$pkg" 0 "" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION"
}

do_coredns() {
  local mj t ver edits=()
  [ -n "$COREDNS_CANDIDATES" ] || COREDNS_CANDIDATES="github.com/coredns/coredns@$(k8s_constant CoreDNSVersion)"
  # shellcheck disable=SC2086  # the candidate list is one word per module@version
  mj=$(pick $COREDNS_CANDIDATES) || die "coredns: no candidate module is served by $GOPROXY"
  ver=$(jq -r .Version <<<"$mj")
  for r in $JSONITER_FIX; do edits+=("-replace=$r"); done   # its kubernetes plugin uses client-go
  t=$(tree coredns "$mj" "${edits[@]}")
  # coredns' Makefile: CGO_ENABLED=0, -X coremain.GitCommit.
  build coredns "$mj" "$t" . 0 "" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=module-$ver"
}

# pause: a C program, so no `go build`; same stamp/skip logic as build().
do_pause() {
  local mj src k stamp out start secs cc ccver
  mj=$(pick "k8s.io/kubernetes@$K8S_VERSION") || die "pause: k8s.io/kubernetes@$K8S_VERSION is not served by $GOPROXY"
  src=$(jq -r .Dir <<<"$mj")/build/pause/linux/pause.c
  [ -f "$src" ] || die "pause: no build/pause/linux/pause.c in k8s.io/kubernetes@$K8S_VERSION"
  cc=${CC:-gcc}; ccver=$("$cc" --version | head -1)
  local pv; pv=$(k8s_constant PauseVersion)
  local defs="-DVERSION=v$pv-k8s-$K8S_VERSION"
  k=$(key_of "$RECIPE_REV" pause "$(jq -r .Sum <<<"$mj")" "$(sha256 "$src")" "$PAUSE_CFLAGS" "$defs" "$ccver" "$HOST_ARCH")
  stamp=$STAMPS/pause.json; out=$BIN/pause
  if [ "$FORCE" != 1 ] && [ -f "$stamp" ] && [ -x "$out" ] \
     && [ "$(jq -r .recipe_key "$stamp")" = "$k" ] && [ "$(jq -r .sha256 "$stamp")" = "$(sha256 "$out")" ]; then
    log "pause: up to date ($(jq -r .sha256 "$stamp" | cut -c1-12)), nothing to build"; return 0
  fi
  start=$(date +%s)
  # shellcheck disable=SC2086  # CFLAGS are words
  $NICE "$cc" $PAUSE_CFLAGS $defs -o "$out.tmp" "$src" >"$LOGS/pause.log" 2>&1 \
    || { cat "$LOGS/pause.log" >&2; die "pause: gcc failed"; }
  strip "$out.tmp"; mv -f "$out.tmp" "$out"; secs=$(( $(date +%s) - start ))
  jq -n --arg sha "$(sha256 "$out")" --arg key "$k" --arg mod "k8s.io/kubernetes@$K8S_VERSION" \
        --arg sum "$(jq -r .Sum <<<"$mj")" --arg sumdb "$(jq -r .sumdb <<<"$mj")" --arg cflags "$PAUSE_CFLAGS $defs" \
        --arg cc "$ccver" --arg srcsha "$(sha256 "$src")" --argjson secs "$secs" --arg built "$(date -u +%FT%TZ)" \
        --arg linkage "$(file -b "$out" | grep -o 'statically linked\|dynamically linked' || echo unknown)" \
        --arg size "$(stat -c %s "$out")" \
        --arg pv "$pv" --arg minor "${K8S_VERSION%.*}" \
    '{name:"pause", version:$pv, requested:("pause "+$pv+" (kubeadm "+($minor|ltrimstr("v"))+")"), sha256:$sha, size:($size|tonumber),
      linkage:$linkage, provenance:{module:$mod, module_sum:$sum, sumdb:$sumdb,
      source:"build/pause/linux/pause.c", source_sha256:$srcsha, cc:$cc, cflags:$cflags},
      recipe_key:$key, built_at:$built, build_seconds:$secs}' >"$stamp"
  log "pause: built in ${secs}s, sha256 $(sha256 "$out")"
}

# Kubernetes: one prepared tree serves every binary.
K8S_TREE=""; K8S_MJ=""; K8S_LDFLAGS=""
k8s_prepare() {
  [ -z "$K8S_TREE" ] || return 0
  local mj t edits=() m info_time ld p
  mj=$(pick "k8s.io/kubernetes@$K8S_VERSION") || die "k8s.io/kubernetes@$K8S_VERSION is not served by $GOPROXY"
  # go.mod replaces each staging module with ./staging/src/k8s.io/<name>, which the module zip
  # does not contain (nested modules are cut out): point each at its published v0.<minor>.<patch>.
  local staging_ver="v0.${K8S_VERSION#v1.}"
  for m in $("$GO" mod edit -json "$(jq -r .GoMod <<<"$mj")" | jq -r '.Replace[] | select(.New.Path|startswith("./staging/")) | .Old.Path'); do
    edits+=("-replace=$m=$m@$staging_ver")
  done
  for r in $JSONITER_FIX; do edits+=("-replace=$r"); done
  t=$(tree kubernetes "$mj" "${edits[@]}")

  # Generated OpenAPI definitions (pkg/generated/openapi/zz_generated.openapi.go) are not in the
  # module: generate them as build/root/Makefile.generated_files does, with the openapi-gen of the
  # kube-openapi version this go.mod pins, over every package tagged '+k8s:openapi-gen=' in
  # kubernetes and its staging modules (minus code-generator and sample-apiserver).
  local gen=$t/pkg/generated/openapi/zz_generated.openapi.go
  if [ ! -s "$gen" ]; then
    log "kubernetes $K8S_VERSION: generating pkg/generated/openapi (openapi-gen)"
    local start; start=$(date +%s)
    (cd "$t" && $NICE "$GO" build -o "$t/.kf-openapi-gen" k8s.io/kube-openapi/cmd/openapi-gen) \
      >"$LOGS/openapi-gen.log" 2>&1 || { tail -20 "$LOGS/openapi-gen.log" >&2; die "openapi-gen: build failed"; }
    tagged() { (cd "$1" && find . \( -name '_*' -o -name '.[^.]*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print0 \
                 | xargs -0 -r grep -l --color=never '+k8s:openapi-gen=' | xargs -r -n1 dirname \
                 | sed 's|^\./||; s|^\.$||' | sed "s|^|$2/|; s|/$||") || true; }  # no tagged file: grep exits 1
    {
      tagged "$t" k8s.io/kubernetes
      for m in $("$GO" mod edit -json "$(jq -r .GoMod <<<"$mj")" | jq -r '.Replace[] | select(.New.Path|startswith("./staging/")) | .Old.Path'); do
        case $m in k8s.io/code-generator|k8s.io/sample-apiserver) continue ;; esac
        local d
        if d=$(download "$m@$staging_ver"); then tagged "$(jq -r .Dir <<<"$d")" "$m"
        else log "  (no $m@$staging_ver on the proxy: its packages are not needed by any target)"; fi
      done
    } | LC_ALL=C sort -u >"$t/.kf-openapi-dirs"
    local boiler; boiler=$(jq -r .Dir <<<"$(download "k8s.io/code-generator@$staging_ver")")/hack/boilerplate.go.txt
    rm -rf "$t/.kf-openapi-out"
    (cd "$t" && $NICE "$t/.kf-openapi-gen" --logtostderr -i "$(paste -sd, "$t/.kf-openapi-dirs")" \
        -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi -h "$boiler" \
        -o "$t/.kf-openapi-out" -r "$t/.kf-openapi-violations.report") >>"$LOGS/openapi-gen.log" 2>&1 \
      || { tail -20 "$LOGS/openapi-gen.log" >&2; die "openapi-gen failed"; }
    # Same check as upstream's Makefile: the API-rule violations must equal the known list.
    if ! diff -q "$t/.kf-openapi-violations.report" "$t/api/api-rules/violation_exceptions.list" >/dev/null; then
      die "openapi-gen: API rule violations differ from api/api-rules/violation_exceptions.list (input set is wrong)"
    fi
    cp "$t/.kf-openapi-out/k8s.io/kubernetes/pkg/generated/openapi/zz_generated.openapi.go" "$gen.tmp"
    mv "$gen.tmp" "$gen"
    log "kubernetes $K8S_VERSION: openapi generated from $(wc -l <"$t/.kf-openapi-dirs") packages in $(( $(date +%s) - start ))s"
  fi

  # Version stamping, as hack/lib/version.sh does (both packages, all six variables).
  info_time=$(jq -r .Time "$(dirname "$(jq -r .GoMod <<<"$mj")")/$K8S_VERSION.info")
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitCommit=$K8S_GIT_COMMIT -X $p.gitTreeState=clean -X $p.buildDate=$info_time"
  done
  K8S_TREE=$t; K8S_MJ=$mj; K8S_LDFLAGS=$ld
}

do_k8s() {
  local name=$1 cgo=0
  k8s_prepare
  # hack/lib/golang.sh KUBE_STATIC_LIBRARIES: everything but the kubelet is built with CGO off.
  [ "$name" != kubelet ] || cgo=1
  local bgo=$GO
  if [ "$name" = kubeadm ] && [ -n "$KUBEADM_GO" ]; then
    [ -x "$KUBEADM_GO" ] || die "kubeadm: KUBEADM_GO=$KUBEADM_GO is not there (bundle/install-build-deps.sh installs golang-1.19-go)"
    bgo=$KUBEADM_GO
  fi
  BUILD_GO=$bgo build "$name" "$K8S_MJ" "$K8S_TREE" "./cmd/$name" "$cgo" "" "$K8S_LDFLAGS" \
    "openapi:$(sha256 "$K8S_TREE/pkg/generated/openapi/zz_generated.openapi.go")"
}

# The network conformance subset's programs (scripts/conformance.sh), from the same prepared tree as the
# Kubernetes binaries, into verification/: the rollout never sees them.
do_e2e_test() {
  k8s_prepare
  # hack/lib/golang.sh builds test binaries with `go test -c` and the same version ldflags (so e2e.test
  # reports v1.22.5); CGO off, as for every Kubernetes binary but the kubelet: it runs on any controller.
  BUILD_TEST=1 BUILD_BIN=$VBIN BUILD_STAMPS=$VSTAMPS build e2e.test "$K8S_MJ" "$K8S_TREE" ./test/e2e 0 "" "$K8S_LDFLAGS"
}

do_agnhost() {
  k8s_prepare
  # test/images/image-util.sh: CGO_ENABLED=0 go build --ldflags '-w'. Its version (2.32) is a literal in
  # agnhost.go, the tag e2e 1.22 asks for (test/utils/image/manifest.go).
  BUILD_BIN=$VBIN BUILD_STAMPS=$VSTAMPS build agnhost "$K8S_MJ" "$K8S_TREE" ./test/images/agnhost 0 "" "-s -w"
}

# --- Main ------------------------------------------------------------------------------------
log "Go $GO_VERSION ($GO), cache $KF_CACHE, proxy $GOPROXY"
run_start=$(date +%s)
for tgt in "${targets[@]}"; do
  t0=$(date +%s)
  case $tgt in
    crictl) do_crictl ;;
    flanneld) do_flanneld ;;
    flannel|flannel-cni) do_flannel_cni ;;
    kubeadm|kubelet|kubectl|kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy) do_k8s "$tgt" ;;
    cni-plugins) do_cni_plugins ;;
    etcd) do_etcd etcd go.etcd.io/etcd/server/v3 . ;;
    etcdctl) do_etcd etcdctl go.etcd.io/etcd/etcdctl/v3 . ;;
    coredns) do_coredns ;;
    pause) do_pause ;;
    e2e.test) do_e2e_test ;;
    agnhost) do_agnhost ;;
    *) die "unknown target $tgt (see --list, --list-conformance)" ;;
  esac
  log "$tgt: step took $(( $(date +%s) - t0 ))s"
  manifest
done
log "done in $(( $(date +%s) - run_start ))s"
