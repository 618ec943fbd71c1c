#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
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
# flannel's rules in iptables-legacy, kube-proxy's in nft
for b in nft legacy; do for t in nat filter; do
  nsenter --net=/var/run/netns/kfa-cap-dual iptables-$b-save -t $t > dual_${b}_save_$t.txt
done; done
# a namespace that is no flannel node at all (a pod's view: lo + eth0)
nsenter --net=/var/run/netns/kfa-cap-pod-a ip -d -j addr show > plain_ip_d_j_addr.json
nsenter --net=/var/run/netns/kfa-cap-pod-a ip -j route show > plain_ip_j_route.json
nsenter --net=/var/run/netns/kfa-cap-pod-a iptables-save -t nat > plain_iptables_save_nat.txt
nsenter --net=/var/run/netns/kfa-cap-pod-a iptables-save -t filter > plain_iptables_save_filter.txt
# the peer is a second flannel node
P="nsenter --net=/var/run/netns/kfa-cap-peer"
$P ip -d -j addr show > peer_ip_d_j_addr.json
$P ip -j route show > peer_ip_j_route.json
$P bridge -j fdb show dev flannel.1 > peer_bridge_j_fdb_flannel1.json
$P ip -j neigh show dev flannel.1 > peer_ip_j_neigh_flannel1.json
$P iptables-save -t nat > peer_iptables_save_nat.txt
$P iptables-save -t filter > peer_iptables_save_filter.txt
cp $CAP/kfa-cap-node/subnet.env node_subnet.env
cp $CAP/kfa-cap-peer/subnet.env peer_subnet.env
nsenter --net=/var/run/netns/kfa-cap-newfl iptables-save -t nat > newfl_iptables_save_nat.txt
nsenter --net=/var/run/netns/kfa-cap-newfl iptables-save -t filter > newfl_iptables_save_filter.txt
# inode of every pinned netns, so a bridge port can be tied to a pod's netns
# (only the namespaces this capture made: other work on the machine pins its own namespaces there too)
python3 -c 'import os,json; d="/var/run/netns"; known=set(e["name"] for e in json.load(open("node_ip_j_netns_list_id.json"))); print(json.dumps({n: os.stat(os.path.join(d,n)).st_ino for n in sorted(os.listdir(d)) if n.startswith("kfa-cap-") or n in known}, indent=1))' > netns_inodes.json
$C version > kube_crictl_version.txt 2>/dev/null
$C pods -o json > crictl_pods.json 2>/dev/null
$C ps -o json > crictl_ps.json 2>/dev/null
# shellcheck disable=SC2046  # one argument per id
$C inspectp -o json $($C pods -q 2>/dev/null) > crictl_inspectp_multi.json 2>/dev/null
# shellcheck disable=SC2046  # one argument per id
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
# namespace links and comm of every sandbox/container process and of every process named pause
"${KFA_PYTHON:-python3}" - "$HERE/../../../module_utils" <<'PY'
import json, sys
import ansible.module_utils
ansible.module_utils.__path__.append(sys.argv[1])
from ansible.module_utils.sandbox_parse import read_proc_raw
pids = set(str(o["info"]["pid"]) for f in ("crictl_inspectp_multi.json", "crictl_inspect_multi.json")
           for o in json.load(open(f)))
everything = read_proc_raw()
pids |= set(p for p, e in everything.items() if e["comm"].strip() == "pause")
json.dump(dict((p, everything[p]) for p in pids if p in everything), open("proc_ns_raw.json", "w"),
          indent=1, sort_keys=True)
PY
