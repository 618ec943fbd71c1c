#!/bin/sh
# iperf3 (Debian, installed on the nodes by lab/roles/lab_dataplane) across two lab nodes, one run each:
#   node-to-node on the cluster interface (enp0s8) and pod-to-pod through flannel's VXLAN, then the ratio.
# Pod side: iperf3 runs inside the pods' network namespaces (nsenter into the pause process's netns), so the
# packets take the pod path (veth -> cni0 -> flannel.1 -> enp0s8). Traffic stays between the lab's nodes.
#   benchmarks/iperf_dataplane.sh [SECONDS]      (lab_name kflab, pods pod-1 on k8s-w1 and pod-2 on k8s-w2)
set -eu
T=${1:-10}
LAB=${LAB_NAME:-kflab}
A=${A_NODE:-k8s-w1}; B=${B_NODE:-k8s-w2}
PA=${A_POD:-pod-1}; PB=${B_POD:-pod-2}
x() { _n=$1; shift; podman exec "$LAB-$_n" sh -c "$*"; }
pause_pid() { x "$1" "crictl inspectp \$(crictl pods --name '^$2\$' --state ready -q) | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"info\"][\"pid\"])'"; }
gbps() { python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'; }

b_ip=$(x "$B" "ip -j -4 addr show enp0s8" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr_info"][0]["local"])')
pb_pid=$(pause_pid "$B" "$PB"); pa_pid=$(pause_pid "$A" "$PA")
pb_ip=$(x "$B" "crictl inspectp \$(crictl pods --name '^$PB\$' --state ready -q)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["network"]["ip"])')

x "$B" "iperf3 -s -1 -D -p 5201 --logfile /tmp/iperf-node.log"
sleep 1
node=$(x "$A" "iperf3 -J -t $T -c $b_ip -p 5201" | gbps)

x "$B" "nsenter -t $pb_pid -n iperf3 -s -1 -D -p 5202 --logfile /tmp/iperf-pod.log"
sleep 1
pod=$(x "$A" "nsenter -t $pa_pid -n iperf3 -J -t $T -c $pb_ip -p 5202" | gbps)

echo "node-to-node $A -> $B ($b_ip, enp0s8): $node Gbit/s"
echo "pod-to-pod   $PA@$A -> $PB@$B ($pb_ip, VXLAN): $pod Gbit/s"
python3 -c "print('ratio pod/node: %.2f' % ($pod / $node))"
