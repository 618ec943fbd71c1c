#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# Real pods for facts_bench.py --real: N sandboxes (two busybox containers each, own pid namespaces as the
# kubelet asks) in the private capture containerd of tests/unit/capture (containerd_up.sh must have run).
#   containerd_pods.sh add N      create pods until N exist
#   containerd_pods.sh delete     stop and remove them
set -eu
CAP=/var/cache/kubeadm-flannel/capture
CRICTL=${CRICTL:-/var/cache/kubeadm-flannel/bundle/bin/crictl}
C="$CRICTL -r unix:///run/kfa-capture/containerd/containerd.sock -t 60s"
D=$CAP/bench-specs; mkdir -p $D
case "$1" in
add)
  have=$($C pods -q --label kfa-bench=1 2>/dev/null | wc -l)
  i=$have
  while [ "$i" -lt "$2" ]; do
    jq -n --arg n "bench-real-$i" --arg logs "$CAP/logs/bench" \
      '{metadata:{name:$n, namespace:"bench", uid:$n, attempt:0}, hostname:$n, log_directory:$logs,
        labels:{"kfa-bench":"1"},
        linux:{cgroup_parent:"/kfa-capture", security_context:{namespace_options:{network:0, pid:1, ipc:0}}}}' >"$D/pod.json"
    pod=$($C runp $D/pod.json 2>/dev/null)
    for n in app sidecar; do
      jq -n --arg n "$n" '{metadata:{name:$n}, image:{image:"localhost/kfa-busybox:1"},
        command:["/bin/sleep","infinity"], linux:{security_context:{namespace_options:{pid:1}}}}' >"$D/$n.json"
      $C start "$($C create $pod $D/$n.json $D/pod.json 2>/dev/null)" >/dev/null 2>&1
    done
    i=$((i + 1))
  done
  ;;
delete)
  ids=$($C pods -q --label kfa-bench=1 2>/dev/null)
  [ -n "$ids" ] && $C stopp $ids >/dev/null 2>&1 && $C rmp $ids >/dev/null 2>&1
  ;;
esac
$C pods -q --label kfa-bench=1 2>/dev/null | wc -l
