#!/usr/bin/env bash
# Smoke test: the bundle's flannel CNI plugin delegating to a set of reference plugins
# (bridge, host-local; loopback and portmap are checked for CNI 0.3.1 support), run the way
# containerd runs them, entirely inside two network namespaces this script creates and removes
# (nothing touches the host's own network; no packets leave the namespaces).
#
#   bundle/check-cni.sh [PLUGIN_DIR]     PLUGIN_DIR defaults to /usr/lib/cni (Debian's package)
#
# Needs root (ip netns). Exit status 0 = ADD gave the pod an address from the node subnet of a
# flannel-style subnet.env, a default route via cni0, and DEL cleaned up.
set -euo pipefail
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
REF=${1:-/usr/lib/cni}
FLANNEL=${FLANNEL:-$KF_CACHE/bundle/bin/flannel}
W=$(mktemp -d /tmp/kf-cni-check.XXXXXX)
HOSTNS=kfcni-node-$$; PODNS=kfcni-pod-$$
cleanup() {
  ip netns del "$PODNS" 2>/dev/null || true
  ip netns del "$HOSTNS" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

for p in bridge host-local loopback portmap; do
  [ -x "$REF/$p" ] || { echo "FAIL: $REF/$p missing"; exit 1; }
  v=$(CNI_COMMAND=VERSION "$REF/$p" </dev/null)
  echo "$p: $v"
  grep -q '"0.3.1"' <<<"$v" || { echo "FAIL: $p does not support CNI 0.3.1"; exit 1; }
done
[ -x "$FLANNEL" ] || { echo "FAIL: $FLANNEL missing (run bundle/build-from-source.sh flannel)"; exit 1; }
echo "flannel: $(CNI_COMMAND=VERSION "$FLANNEL" </dev/null)"

mkdir -p "$W/bin"
cp "$FLANNEL" "$W/bin/flannel"
for p in bridge host-local loopback portmap; do ln -s "$REF/$p" "$W/bin/$p"; done
cat >"$W/subnet.env" <<'EOF'
FLANNEL_NETWORK=172.16.0.0/16
FLANNEL_SUBNET=172.16.1.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
EOF
# The DaemonSet's conflist entry (cbr0, 0.3.1, hairpinMode, isDefaultGateway), with state kept in $W.
jq -n --arg w "$W" \
  '{cniVersion:"0.3.1", name:"cbr0", type:"flannel", subnetFile:($w+"/subnet.env"), dataDir:($w+"/flannel"),
    delegate:{hairpinMode:true, isDefaultGateway:true}, ipam:{type:"host-local", dataDir:($w+"/ipam")}}' >"$W/conf.json"

ip netns add "$HOSTNS"; ip netns add "$PODNS"
ip -n "$HOSTNS" link set lo up
run() { ip netns exec "$HOSTNS" env CNI_COMMAND="$1" CNI_CONTAINERID=kfcheck CNI_NETNS="/var/run/netns/$PODNS" \
          CNI_IFNAME=eth0 CNI_PATH="$W/bin" "$W/bin/flannel" <"$W/conf.json"; }
out=$(run ADD); echo "ADD result: $out"
ip=$(jq -r '.ips[0].address' <<<"$out")
[[ $ip == 172.16.1.* ]] || { echo "FAIL: pod address $ip not in 172.16.1.0/24"; exit 1; }
ip -n "$HOSTNS" -br addr show cni0
# (outputs are captured first: `cmd | grep -q` can fail under pipefail when grep exits early)
link=$(ip -n "$HOSTNS" -d link show cni0)
[[ $link == *"mtu 1450"* ]] || { echo "FAIL: cni0 MTU is not 1450"; exit 1; }
routes=$(ip -n "$PODNS" route show); echo "$routes"
grep -q 'default via 172.16.1.1' <<<"$routes" || { echo "FAIL: no default route via cni0"; exit 1; }
grep -q '172.16.0.0/16 via 172.16.1.1' <<<"$routes" || { echo "FAIL: no route to the cluster network"; exit 1; }
if command -v ping >/dev/null; then
  ip netns exec "$PODNS" ping -c1 -W2 172.16.1.1 >/dev/null || { echo "FAIL: pod cannot reach cni0"; exit 1; }
fi
jq -e '.ipam.ranges[0][0].subnet == "172.16.1.0/24" and .ipMasq == false and .mtu == 1450 and .isGateway == true' \
   "$W/flannel/kfcheck" >/dev/null || { echo "FAIL: delegate config unexpected:"; cat "$W/flannel/kfcheck"; exit 1; }
run DEL
[ ! -e "$W/flannel/kfcheck" ] || { echo "FAIL: DEL left the delegate state"; exit 1; }
ip -n "$PODNS" link show eth0 >/dev/null 2>&1 && { echo "FAIL: DEL left eth0"; exit 1; }
echo "OK: flannel ($FLANNEL) + $REF plugins: ADD/DEL work with cniVersion 0.3.1"
