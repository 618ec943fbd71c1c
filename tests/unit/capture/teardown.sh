#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# Undo netns_setup.sh, containerd_up.sh and crictl_pods.sh: pods, the private containerd, the namespaces.
CAP=/var/cache/kubeadm-flannel/capture
RUN=/run/kfa-capture
CRICTL=${CRICTL:-/var/cache/kubeadm-flannel/bundle/bin/crictl}
if [ -S $RUN/containerd/containerd.sock ]; then
  C="$CRICTL -r unix://$RUN/containerd/containerd.sock -t 30s"
  ids=$($C pods -q 2>/dev/null)
  [ -n "$ids" ] && $C stopp $ids >/dev/null 2>&1 && $C rmp $ids >/dev/null 2>&1
fi
if [ -f $RUN/containerd.pid ]; then
  kill "$(cat $RUN/containerd.pid)" 2>/dev/null
  sleep 1
fi
for ns in kfa-cap-node kfa-cap-peer kfa-cap-pod-a kfa-cap-pod-b kfa-cap-newfl kfa-cap-dual; do
  ip netns delete $ns 2>/dev/null
done
rm -rf "${RUN:?}" "${CAP:?}/bin" $CAP/kfa-cap-node $CAP/kfa-cap-peer
ip netns list | grep -c '^kfa-cap-' || true
