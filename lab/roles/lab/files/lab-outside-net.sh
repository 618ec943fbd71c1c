#!/bin/sh
# The lab's "outside": a network namespace on the cluster bridge with an address of the cluster network that
# belongs to no node, like a machine next to the seed's VMs on their host-only network. verify's NodePort
# probe runs from it (lab/inventory: host lab-outside), and nothing else uses it. Called by
# lab/roles/lab/tasks/network.yml; idempotent, prints "changed: ..." for each thing it did.
#
#   lab-outside-net.sh NS BRIDGE HOST_LINK IF CIDR PYTHON_WRAPPER
set -eu
[ $# -eq 6 ] || { echo "usage: $0 NS BRIDGE HOST_LINK IF CIDR PYTHON_WRAPPER" >&2; exit 2; }
ns=$1 bridge=$2 host_link=$3 ifname=$4 cidr=$5 wrapper=$6
say() { echo "changed: $*"; }

if [ ! -e "/run/netns/$ns" ]; then ip netns add "$ns"; say "netns $ns"; fi
ip -n "$ns" link set lo up
if ! ip -n "$ns" link show dev "$ifname" >/dev/null 2>&1; then
    ip link add "$host_link" type veth peer name "$ifname" netns "$ns"
    say "veth $host_link <-> $ns/$ifname"
fi
ip link set "$host_link" master "$bridge" up
ip -n "$ns" link set "$ifname" up
if ! ip -n "$ns" -o addr show dev "$ifname" | grep -q " $cidr "; then
    ip -n "$ns" addr flush dev "$ifname"
    ip -n "$ns" addr add "$cidr" dev "$ifname"
    say "address $cidr on $ns/$ifname"
fi
# Ansible runs its modules there through this interpreter (ansible_python_interpreter of lab-outside)
want=$(printf '#!/bin/sh\nexec ip netns exec %s /usr/bin/python3 "$@"\n' "$ns")
if [ "$(cat "$wrapper" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$(dirname "$wrapper")"
    printf '%s\n' "$want" >"$wrapper"
    chmod 0755 "$wrapper"
    say "interpreter $wrapper"
fi
