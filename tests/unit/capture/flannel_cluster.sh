#!/usr/bin/env bash
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# A two-node flannel cluster made of network namespaces, with the project's bundle binaries:
#   kfa-fl-api: bridge 192.168.100.1/24, etcd + kube-apiserver + kube-controller-manager (all from the bundle)
#   kfa-fl-m, kfa-fl-w1: enp0s8 192.168.100.10 / .101 on that bridge, flanneld --kube-subnet-mgr --iface enp0s8
#   --ip-masq in each (real flannel.1, routes, FDB, neighbours, iptables, subnet.env, Node annotations), and one
#   pod namespace per node wired by the flannel CNI plugin (cni0, veth, host-local lease).
# Nothing leaves these namespaces. State under /var/cache/kubeadm-flannel/flcap.
#   flannel_cluster.sh up | down
set -euo pipefail
KF=/var/cache/kubeadm-flannel
B=$KF/bundle/bin
# KFA_FL_PREFIX / KFA_FL_STATE let a test run its own copy next to a manual one
P=${KFA_FL_PREFIX:-kfa-fl}
W=${KFA_FL_STATE:-$KF/flcap}
ETCD=${ETCD:-$KF/bundle/bin/etcd}
# the Python that Ansible's modules run with inside each namespace (tests pass their own interpreter)
PY=${KFA_PYTHON:-$(command -v python3)}
API=$P-api
M=$P-m
W1=$P-w1
declare -A IP=([$M]=192.168.100.10 [$W1]=192.168.100.101)
declare -A NODE=([$M]=k8s-m [$W1]=k8s-w1)

down() {
  for f in "$W"/*.pid; do if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi; done
  sleep 1
  for f in "$W"/*.pid; do if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi; done
  for ns in $API $M $W1 $M-pod $W1-pod; do ip netns del $ns 2>/dev/null || true; done
  rm -rf "$W"
}

bg() { local name=$1 ns=$2; shift 2; ip netns exec "$ns" "$@" >"$W/$name.log" 2>&1 & echo $! >"$W/$name.pid"; }
K() { ip netns exec $API "$B/kubectl" --kubeconfig "$W/kubeconfig" "$@"; }

up() {
  mkdir -p "$W"
  ip netns add $API
  ip -n $API link set lo up
  ip -n $API link add br0 type bridge
  ip -n $API addr add 192.168.100.1/24 dev br0
  ip -n $API link set br0 up
  for ns in $M $W1; do
    ip netns add $ns
    ip -n $ns link set lo up
    ip -n $API link add "v-${NODE[$ns]}" type veth peer name enp0s8 netns $ns
    ip -n $API link set "v-${NODE[$ns]}" master br0 up
    ip -n $ns addr add "${IP[$ns]}/24" dev enp0s8
    ip -n $ns link set enp0s8 up
  done
  openssl genrsa -out "$W/sa.key" 2048 2>/dev/null
  openssl rsa -in "$W/sa.key" -pubout -out "$W/sa.pub" 2>/dev/null
  echo "kfatoken,admin,admin,system:masters" >"$W/tokens.csv"
  cat >"$W/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: s, cluster: {server: "https://192.168.100.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: a, user: {token: kfatoken}}]
contexts: [{name: c, context: {cluster: s, user: a}}]
current-context: c
EOF
  bg etcd $API "$ETCD" --data-dir "$W/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380
  bg kube-apiserver $API "$B/kube-apiserver" --etcd-servers http://127.0.0.1:2379 --bind-address 192.168.100.1 \
    --advertise-address 192.168.100.1 --secure-port 6443 --cert-dir "$W/certs" \
    --service-account-key-file "$W/sa.pub" --service-account-signing-key-file "$W/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.0.0/12 \
    --token-auth-file "$W/tokens.csv" --authorization-mode RBAC
  for _ in $(seq 1 90); do K get --raw /readyz >/dev/null 2>&1 && break; sleep 2; done
  K get --raw /readyz >/dev/null
  bg kube-controller-manager $API "$B/kube-controller-manager" --kubeconfig "$W/kubeconfig" \
    --authentication-kubeconfig "$W/kubeconfig" --authorization-kubeconfig "$W/kubeconfig" \
    --bind-address 127.0.0.1 --allocate-node-cidrs --cluster-cidr 172.16.0.0/16 --node-cidr-mask-size 24 \
    --service-account-private-key-file "$W/sa.key" --use-service-account-credentials=false \
    --controllers nodeipam,serviceaccount-token,namespace
  for ns in $M $W1; do
    K apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata: {name: ${NODE[$ns]}, labels: {kubernetes.io/hostname: ${NODE[$ns]}}}
status: {addresses: [{type: InternalIP, address: ${IP[$ns]}}]}
EOF
  done
  for ns in $M $W1; do
    for _ in $(seq 1 60); do [ -n "$(K get node "${NODE[$ns]}" -o jsonpath='{.spec.podCIDR}')" ] && break; sleep 2; done
  done
  echo '{"Network": "172.16.0.0/16", "Backend": {"Type": "vxlan"}}' >"$W/net-conf.json"
  for ns in $M $W1; do
    mkdir -p "$W/$ns"
    bg "flanneld-$ns" $ns env NODE_NAME="${NODE[$ns]}" "$B/flanneld" --kube-subnet-mgr --kubeconfig-file "$W/kubeconfig" \
      --net-config-path "$W/net-conf.json" --subnet-file "$W/$ns/subnet.env" --iface enp0s8 --ip-masq
  done
  for ns in $M $W1; do
    for _ in $(seq 1 60); do [ -s "$W/$ns/subnet.env" ] && break; sleep 1; done
  done
  # wait until each node has learnt the other's lease (route through flannel.1)
  for ns in $M $W1; do
    for _ in $(seq 1 60); do [ "$(ip -n $ns route show dev flannel.1 | wc -l)" -ge 1 ] && break; sleep 1; done
  done
  # every CNI plugin in one directory, as the runtime needs them (flannel delegates through CNI_PATH)
  mkdir -p "$W/cni-bin"
  for p in bridge host-local loopback portmap; do ln -sf "$B/cni/$p" "$W/cni-bin/$p"; done
  ln -sf "$B/flannel" "$W/cni-bin/flannel"
  # one pod namespace per node, wired the way containerd would: flannel CNI plugin -> bridge + host-local
  for ns in $M $W1; do
    ip netns add "$ns-pod"
    mkdir -p "$W/$ns/net.d" "$W/$ns/networks" "$W/$ns/flannel-data"
    jq -n --arg d "$W/$ns" '{name:"cbr0", cniVersion:"0.3.1", plugins:[
        {type:"flannel", subnetFile:($d+"/subnet.env"), dataDir:($d+"/flannel-data"),
         ipam:{type:"host-local", dataDir:($d+"/networks")}, delegate:{hairpinMode:true, isDefaultGateway:true}},
        {type:"portmap", capabilities:{portMappings:true}}]}' >"$W/$ns/net.d/10-flannel.conflist"
    # the flannel plugin alone (portmap needs the runtime's port mappings): its entry as a single config
    jq -c '{cniVersion: .cniVersion, name: .name} + .plugins[0]' "$W/$ns/net.d/10-flannel.conflist" >"$W/$ns/flannel-add.json"
    ip netns exec $ns env CNI_COMMAND=ADD CNI_CONTAINERID="kfa-$ns-pod" CNI_NETNS="/var/run/netns/$ns-pod" \
      CNI_IFNAME=eth0 CNI_PATH="$W/cni-bin" "$W/cni-bin/flannel" <"$W/$ns/flannel-add.json" >"$W/$ns/cni-add.json"
    # a python per namespace for Ansible's local connection (ip netns exec remounts /sys for the setup module)
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $ns "$PY" >"$W/$ns/python"
    chmod +x "$W/$ns/python"
  done
  K get nodes -o wide
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
