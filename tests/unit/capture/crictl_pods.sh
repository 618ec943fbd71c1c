#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# Pod sandboxes shaped like the seed's: a two-container pod (own pid namespaces, as the kubelet asks),
# a pod sharing its process namespace, and a host-network pod.
set -eu
CAP=/var/cache/kubeadm-flannel/capture
CRICTL=${CRICTL:-/var/cache/kubeadm-flannel/bundle/bin/crictl}
C="$CRICTL -r unix:///run/kfa-capture/containerd/containerd.sock -t 30s"
D=$CAP/specs; mkdir -p $D
pod() { # name uid pidmode netmode (a host-network pod, netmode 2, has no hostname of its own)
jq -n --arg name "$1" --arg uid "$2" --argjson pid "$3" --argjson net "$4" --arg logs "$CAP/logs/$1" \
  '{metadata:{name:$name, namespace:"default", uid:$uid, attempt:0}}
   + (if $net == 2 then {} else {hostname:$name} end)
   + {log_directory:$logs,
      linux:{cgroup_parent:"/kfa-capture", security_context:{namespace_options:{network:$net, pid:$pid, ipc:0}}}}' \
  >"$D/pod-$1.json"
}
ctr() { # name pidmode argv... (the kubelet repeats the pod's pid mode in every container config)
n=$1; m=$2; shift 2
# argv as a JSON array through jq (jq 1.6's --args would take "-f" for an option of its own)
jq -n --arg n "$n" --argjson pid "$m" --argjson argv "$(printf '%s\n' "$@" | jq -R . | jq -cs .)" \
  '{metadata:{name:$n}, image:{image:"localhost/kfa-busybox:1"}, command:$argv, log_path:($n+".log"),
    linux:{security_context:{namespace_options:{pid:$pid}}}}' >"$D/ctr-$n.json"
}
pod myweb2 ff755d5c-8ea7-4b8c-a65b-b2be9b077492 1 0
pod shared-pid 0b7c1a52-62f7-4a0e-9a0d-3f1c2e0a7d11 0 0
pod hostnet 5f6a2d3e-1b7c-4d8e-9f00-112233445566 1 2
ctr nginx 1 /bin/busybox httpd -f -p 80 -h /
ctr netshoot 1 /bin/sleep infinity
ctr app 0 /bin/sleep infinity
ctr agent 1 /bin/sleep infinity
P1=$($C runp $D/pod-myweb2.json)
$C start "$($C create $P1 $D/ctr-nginx.json $D/pod-myweb2.json)"
$C start "$($C create $P1 $D/ctr-netshoot.json $D/pod-myweb2.json)"
P2=$($C runp $D/pod-shared-pid.json)
$C start "$($C create $P2 $D/ctr-app.json $D/pod-shared-pid.json)"
P3=$($C runp $D/pod-hostnet.json)
$C start "$($C create $P3 $D/ctr-agent.json $D/pod-hostnet.json)"
