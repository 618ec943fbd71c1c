#!/bin/sh
# Capture real command output from the kfa-cap-* namespaces and the private containerd into fixtures.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/../fixtures/captured
CAP=/var/cache/kubeadm-flannel/capture
CRICTL=${CRICTL:-/var/cache/kubeadm-flannel/bundle/bin/crictl}
C="$CRICTL -r unix:///run/kfa-capture/containerd/containerd.sock -t 30s"
N="nsenter --net=/var/run/netns/kfa-cap-node"
cd "$OUT"
$N ip -d -j addr show > node_ip_d_j_addr.json
$N ip -j route show > node_ip_j_route.json
$N bridge -j fdb show dev flannel.1 > node_bridge_j_fdb_flannel1.json
$N ip -j neigh show dev flannel.1 > node_ip_j_neigh_flannel1.json
$N ip -j netns list-id > node_ip_j_netns_list_id.json
$N iptables-save -t nat > node_iptables_save_nat.txt
$N iptables-save -t filter > node_iptables_save_filter.txt
nsenter --net=/var/run/netns/kfa-cap-newfl iptables-save -t nat > newfl_iptables_save_nat.txt
nsenter --net=/var/run/netns/kfa-cap-newfl iptables-save -t filter > newfl_iptables_save_filter.txt
# inode of every pinned netns, so a bridge port can be tied to a pod's netns
python3 -c 'import os,json; d="/var/run/netns"; print(json.dumps({n: os.stat(os.path.join(d,n)).st_ino for n in sorted(os.listdir(d))}, indent=1))' > netns_inodes.json
$C version > crictl_version.txt 2>/dev/null
$C pods -o json > crictl_pods.json 2>/dev/null
$C ps -o json > crictl_ps.json 2>/dev/null
$C inspectp -o json $($C pods -q 2>/dev/null) > crictl_inspectp_multi.json 2>/dev/null
$C inspect -o json $($C ps -q 2>/dev/null) > crictl_inspect_multi.json 2>/dev/null
# host-local leases and the CNI conf dir, as files
python3 - "$CAP" <<'PY'
import json, os, sys
cap = sys.argv[1]
def tree(d):
    return {n: (tree(os.path.join(d, n)) if os.path.isdir(os.path.join(d, n)) else open(os.path.join(d, n)).read())
            for n in sorted(os.listdir(d))}
json.dump(tree(os.path.join(cap, "cni-networks")), open("host_local_tree.json", "w"), indent=1)
json.dump(tree(os.path.join(cap, "net.d")), open("cni_conf_dir.json", "w"), indent=1)
json.dump(sorted(os.listdir("/usr/lib/cni")), open("cni_bin_dir.json", "w"), indent=1)
PY
