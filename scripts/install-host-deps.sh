#!/bin/sh
# Host packages the local lab needs (Debian/Ubuntu host, run as root).
#
#   podman, conmon, runc      rootful podman runs the privileged systemd node containers
#   netavark, aardvark-dns    podman 4.x network backend (podman refuses to run without one)
#   catatonit                 podman's init/pause helper
#   debootstrap, keyring      builds the Debian 12 node rootfs from Debian's archive, signature-checked
#   iproute2, iptables        the lab's own links, namespaces and NAT (lab/roles/lab/tasks/network.yml)
#   tar                       packs the rootfs for `podman import`
#   openssh-client, socat     Ansible logs in to the nodes over SSH, from the lab's outside namespace
#   graphviz                  dot lays out the network report's drawing verify writes on the controller
#
# Rootful lab only: no uidmap, slirp4netns or fuse-overlayfs (those serve rootless podman).
# Idempotent: installs only what is missing, and runs `apt-get update` once, only then.
#
#   sh scripts/install-host-deps.sh          the lab's packages (make host-deps)
#   sh scripts/install-host-deps.sh --lint   only what the static tests need besides the venv, the
#                                            package ShellCheck (make lint-deps; make lint and make test-unit)
#   sh scripts/install-host-deps.sh --report what the network report's tests need besides the venv: graphviz,
#                                            the font it lays text out in, and Chromium, the headless browser
#                                            that opens the page (make report-deps; make test-unit)
set -eu

case "${1:-}" in
    "") packages="podman conmon runc netavark aardvark-dns catatonit debootstrap debian-archive-keyring
iproute2 iptables tar openssh-client socat graphviz" ;;
    --lint) packages="shellcheck" ;;
    --report) packages="graphviz fonts-dejavu-core chromium" ;;
    *) echo "usage: $0 [--lint | --report]" >&2; exit 2 ;;
esac

missing=""
for pkg in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "install-host-deps: all present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-host-deps: must run as root to install:$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-host-deps: installing$missing"
# Other jobs on the same machine may hold the dpkg lock: wait for it instead of failing.
apt_opts="-q -o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086  # $apt_opts holds several words on purpose
apt-get $apt_opts update
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get $apt_opts install -y --no-install-recommends $missing
