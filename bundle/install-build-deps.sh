#!/bin/sh
# Host packages bundle/make-bundle.sh needs (Debian/Ubuntu, root). Idempotent: installs only what is
# missing, and touches nothing else. Go is not installed here: the project uses the toolchain already on
# the machine (/usr/local/go), except kubeadm's: Debian's golang-1.19-go (see KUBEADM_GO in build-from-source.sh).
#
#   sh bundle/install-build-deps.sh            for --source source
#   sh bundle/install-build-deps.sh --release  also what --source release needs (curl, skopeo)
set -eu
# source: jq (manifests), gcc + libc6-dev (cgo for kubelet/flanneld, static pause), file (linkage),
# util-linux (flock), debootstrap (Debian base of kube-proxy/flannel), busybox-static (cp in the flannel
# CNI-plugin image), python3 (bundle/oci-archive.py writes the image archives), binutils (strip),
# ca-certificates (TLS to the Go module proxy), golang-1.19-go (kubeadm's toolchain).
pkgs="jq gcc libc6-dev binutils file util-linux debootstrap busybox-static python3 ca-certificates golang-1.19-go"
[ "${1:-}" != --release ] || pkgs="$pkgs curl skopeo python3-yaml"
missing=""
for p in $pkgs; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -z "$missing" ]; then echo "bundle build dependencies: all present ($pkgs)"; exit 0; fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086  # a word list
apt-get install -y -q --no-install-recommends $missing
