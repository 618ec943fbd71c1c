#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# Capture the real flanneld state of flannel_cluster.sh into fixtures/captured/flannel/ (one prefix per node).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/../fixtures/captured/flannel
W=/var/cache/kubeadm-flannel/flcap
B=/var/cache/kubeadm-flannel/bundle/bin
mkdir -p "$OUT"
cd "$OUT"
for ns in kfa-fl-m kfa-fl-w1; do
  p=${ns#kfa-fl-}
  X="nsenter --net=/var/run/netns/$ns"
  $X ip -d -j addr show > ${p}_ip_d_j_addr.json
  $X ip -j route show > ${p}_ip_j_route.json
  $X bridge -j fdb show dev flannel.1 > ${p}_bridge_j_fdb_flannel1.json
  $X ip -j neigh show dev flannel.1 > ${p}_ip_j_neigh_flannel1.json
  $X ip -j netns list-id > ${p}_ip_j_netns_list_id.json
  $X iptables-save -t nat > ${p}_iptables_save_nat.txt
  $X iptables-save -t filter > ${p}_iptables_save_filter.txt
  cp $W/$ns/subnet.env ${p}_subnet.env
  cp $W/$ns/net.d/10-flannel.conflist ${p}_10-flannel.conflist
  cp $W/$ns/cni-add.json ${p}_cni_add_result.json
  python3 -c 'import os,sys,json; d=sys.argv[1]; print(json.dumps({n: {f: open(os.path.join(d,n,f)).read() for f in sorted(os.listdir(os.path.join(d,n)))} for n in sorted(os.listdir(d))}, indent=1))' $W/$ns/networks > ${p}_host_local_tree.json
done
nsenter --net=/var/run/netns/kfa-fl-m $B/kubectl --kubeconfig $W/kubeconfig get nodes -o json > kubectl_get_nodes.json
$B/flanneld --version > flanneld_version.txt 2>&1
