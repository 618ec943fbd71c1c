#!/bin/sh
# Wire one lab node's network namespace the way VirtualBox wires a VM (called by lab/roles/lab/tasks/network.yml).
#
#   node netns                      router netns ("NAT engine")            host
#   enp0s3 10.0.2.15/24  <-veth->   lan 10.0.2.2/24   wan <uplink>/30 <-veth-> <host uplink>/30 -> MASQUERADE out
#   enp0s8 192.168.100.x <-veth->   ------------------------------------------ <cluster bridge> (no address)
#
# Every node gets the same NAT address, because each has its own router namespace that masquerades it.
# Idempotent: creates only what is missing, replaces addresses/routes only when they differ, and prints
# "changed: ..." for each thing it did (Ansible's changed_when reads that).
set -eu

usage() {
    echo "usage: $0 NODE_NS ROUTER_NS BRIDGE HOST_CLUSTER_LINK HOST_UPLINK_LINK" >&2
    echo "          CLUSTER_IF CLUSTER_CIDR CLUSTER_MAC NAT_IF NAT_CIDR NAT_GW NAT_MAC UPLINK_HOST_CIDR UPLINK_ROUTER_CIDR" >&2
    exit 2
}
[ $# -eq 14 ] || usage
node_ns=$1 router_ns=$2 bridge=$3 host_cluster=$4 host_uplink=$5
cluster_if=$6 cluster_cidr=$7 cluster_mac=$8
nat_if=$9 nat_cidr=${10} nat_gw=${11} nat_mac=${12}
uplink_host_cidr=${13} uplink_router_cidr=${14}
nat_prefix=${nat_cidr#*/}

say() { echo "changed: $*"; }

# ns_ip NS ARGS...: run `ip` in namespace NS ("" = the host).
ns_ip() {
    ns=$1; shift
    if [ -n "$ns" ]; then ip -n "$ns" "$@"; else ip "$@"; fi
}

link_exists() { ns_ip "$1" link show dev "$2" >/dev/null 2>&1; }

ensure_netns() {
    [ -e "/run/netns/$1" ] && return 0
    ip netns add "$1"
    say "netns $1"
}

ensure_up() {
    if ! ns_ip "$1" -o link show dev "$2" | grep -q '[<,]UP[,>]'; then
        ns_ip "$1" link set dev "$2" up
        say "link $2 up in ${1:-host}"
    fi
}

ensure_addr() {
    # Exactly one IPv4 address, the wanted one.
    have=$(ns_ip "$1" -4 -o addr show dev "$2" | awk '{print $4}')
    [ "$have" = "$3" ] && return 0
    ns_ip "$1" -4 addr flush dev "$2"
    ns_ip "$1" addr add "$3" dev "$2"
    say "address $3 on $2 in ${1:-host}"
}

ensure_mac() {
    have=$(ns_ip "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    [ "$have" = "$3" ] && return 0
    ns_ip "$1" link set dev "$2" address "$3"
    say "mac $3 on $2 in ${1:-host}"
}

ensure_default_route() {
    have=$(ns_ip "$1" -4 route show default)
    case "$have" in
        "default via $2 dev $3"*) return 0 ;;
    esac
    ns_ip "$1" route replace default via "$2" dev "$3"
    say "default route via $2 in $1"
}

# --- namespaces ------------------------------------------------------------------------------
ensure_netns "$node_ns"
ensure_netns "$router_ns"
ensure_up "$node_ns" lo
ensure_up "$router_ns" lo

# --- cluster side: node <-> host bridge (the bridge is made by network.yml) -----------------------
if ! link_exists "" "$host_cluster"; then
    ip link add "$host_cluster" type veth peer name "$cluster_if" netns "$node_ns"
    say "veth $host_cluster <-> $node_ns/$cluster_if"
fi
if ! ip -o link show dev "$host_cluster" | grep -q " master $bridge "; then
    ip link set dev "$host_cluster" master "$bridge"
    say "$host_cluster joined $bridge"
fi
ensure_up "" "$host_cluster"
ensure_mac "$node_ns" "$cluster_if" "$cluster_mac"
ensure_addr "$node_ns" "$cluster_if" "$cluster_cidr"
ensure_up "$node_ns" "$cluster_if"

# --- NAT side: node <-> router --------------------------------------------------------------
if ! link_exists "$router_ns" lan; then
    ip -n "$router_ns" link add lan type veth peer name "$nat_if" netns "$node_ns"
    say "veth $router_ns/lan <-> $node_ns/$nat_if"
fi
ensure_addr "$router_ns" lan "$nat_gw/$nat_prefix"
ensure_up "$router_ns" lan
ensure_mac "$node_ns" "$nat_if" "$nat_mac"
ensure_addr "$node_ns" "$nat_if" "$nat_cidr"
ensure_up "$node_ns" "$nat_if"
ensure_default_route "$node_ns" "$nat_gw" "$nat_if"

# --- uplink: router <-> host ----------------------------------------------------------------
if ! link_exists "" "$host_uplink"; then
    ip link add "$host_uplink" type veth peer name wan netns "$router_ns"
    say "veth $host_uplink <-> $router_ns/wan"
fi
ensure_addr "" "$host_uplink" "$uplink_host_cidr"
ensure_up "" "$host_uplink"
ensure_addr "$router_ns" wan "$uplink_router_cidr"
ensure_up "$router_ns" wan
ensure_default_route "$router_ns" "${uplink_host_cidr%/*}" wan

# --- the router's NAT engine ----------------------------------------------------------------
if [ "$(ip netns exec "$router_ns" cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
    ip netns exec "$router_ns" sysctl -qw net.ipv4.ip_forward=1
    say "ip_forward in $router_ns"
fi
if ! ip netns exec "$router_ns" iptables -t nat -C POSTROUTING -o wan -j MASQUERADE 2>/dev/null; then
    ip netns exec "$router_ns" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
    say "masquerade in $router_ns"
fi
