#!/bin/sh
# Stand-in for the kubelet in the lab: makes every pod described under $KFLAB_PODS_DIR run through
# containerd's CRI, as the kubelet would (sandbox first, then each container). A pod whose sandbox is
# ready and whose containers all run is left alone; any other (e.g. after the node restarted, when
# containerd keeps the sandbox record but not its processes) is removed and made again, as the kubelet
# does with a sandbox that died. Prints "changed: <pod>" for every pod it (re)made.
set -eu
DIR=${KFLAB_PODS_DIR:-/etc/kflab/pods}
SUBNET_ENV=${KFLAB_SUBNET_ENV:-/run/flannel/subnet.env}

# The flannel CNI plugin refuses ADD until flanneld has written its lease.
i=0
until [ -s "$SUBNET_ENV" ]; do
  i=$((i + 1))
  [ "$i" -le 180 ] || { echo "no $SUBNET_ENV after 180 s" >&2; exit 1; }
  sleep 1
done
# containerd loads the CNI config asynchronously after it appears: wait for its NetworkReady condition.
network_ready() {
  crictl info | python3 -c 'import json, sys
conditions = json.load(sys.stdin)["status"]["conditions"]
sys.exit(0 if any(c["type"] == "NetworkReady" and c["status"] for c in conditions) else 1)'
}
i=0
until network_ready; do
  i=$((i + 1))
  [ "$i" -le 60 ] || { echo "containerd's CNI network not ready after 60 s" >&2; exit 1; }
  sleep 1
done

for pod in "$DIR"/*/; do
  [ -f "$pod/pod.json" ] || continue
  name=$(basename "$pod")
  ready=$(crictl pods --name "^$name\$" --state ready -q)
  if [ -n "$ready" ]; then
    want=$(find "$pod" -name 'ctr-*.json' | wc -l)
    running=$(crictl ps --pod "$ready" --state running -q | wc -l)
    [ "$want" -eq "$running" ] && continue
  fi
  for id in $(crictl pods --name "^$name\$" -q); do
    crictl stopp "$id" >/dev/null
    crictl rmp "$id" >/dev/null
  done
  id=$(crictl runp "$pod/pod.json")
  for ctr in "$pod"/ctr-*.json; do
    crictl start "$(crictl create "$id" "$ctr" "$pod/pod.json")" >/dev/null
  done
  echo "changed: $name"
done
