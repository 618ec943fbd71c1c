#!/usr/bin/env bash
# flanneld v0.16 with its etcd (v2 API) subnet manager, on two nodes made of network namespaces, to capture
# what flannel_facts reads with etcd_prefix: `etcdctl ls <prefix>/subnets` and `etcdctl get <lease>`.
#   kfa-fe-m, kfa-fe-w1: enp0s8 192.168.100.10 / .101 (a veth pair); etcd (the bundle's, --enable-v2) on
#   kfa-fe-m's 127.0.0.1 and 192.168.100.10; flanneld (the bundle's) --iface enp0s8 in each.
# etcdctl is Debian's etcd-client 3.4 (the one the lab's data-plane fixture installs; etcdctl 3.5 has no v2
# commands): ETCDCTL=<path> or unpacked from `apt-get download etcd-client` under the state directory.
# Nothing leaves these namespaces. Writes tests/unit/fixtures/captured/etcd/*.
#   flannel_etcd_leases.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/../fixtures/captured/etcd
KF=${KF_CACHE:-/var/cache/kubeadm-flannel}
B=$KF/bundle/bin
W=$(mktemp -d)
M=kfa-fe-m
W1=kfa-fe-w1
PREFIX=/coreos.com/network

cleanup() {
  for f in "$W"/*.pid; do if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi; done
  sleep 1
  ip netns del $M 2>/dev/null || true
  ip netns del $W1 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

if [ -z "${ETCDCTL:-}" ]; then
  (cd "$W" && apt-get download etcd-client >/dev/null 2>&1)
  dpkg-deb -x "$W"/etcd-client_*.deb "$W/client"
  ETCDCTL=$W/client/usr/bin/etcdctl
fi
etcdctl() { ip netns exec $M env ETCDCTL_API=2 "$ETCDCTL" "$@"; }

ip netns add $M
ip netns add $W1
ip -n $M link add enp0s8 type veth peer name enp0s8 netns $W1
ip -n $M addr add 192.168.100.10/24 dev enp0s8
ip -n $W1 addr add 192.168.100.101/24 dev enp0s8
for ns in $M $W1; do ip -n "$ns" link set lo up; ip -n "$ns" link set enp0s8 up; done

ip netns exec $M "$B/etcd" --enable-v2 --data-dir "$W/etcd" --name m \
  --listen-client-urls http://127.0.0.1:2379,http://192.168.100.10:2379 \
  --advertise-client-urls http://192.168.100.10:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster m=http://127.0.0.1:2380 >"$W/etcd.log" 2>&1 &
echo $! >"$W/etcd.pid"
for _ in $(seq 60); do etcdctl ls / >/dev/null 2>&1 && break; sleep 0.5; done
etcdctl set $PREFIX/config '{"Network": "172.16.0.0/16", "Backend": {"Type": "vxlan"}}' >/dev/null

for ns in $M $W1; do
  ip netns exec "$ns" "$B/flanneld" --etcd-endpoints http://192.168.100.10:2379 --etcd-prefix $PREFIX \
    --iface enp0s8 --ip-masq --subnet-file "$W/$ns.env" >"$W/$ns.log" 2>&1 &
  echo $! >"$W/$ns.pid"
done
for ns in $M $W1; do
  for _ in $(seq 60); do [ -s "$W/$ns.env" ] && break; sleep 0.5; done
  [ -s "$W/$ns.env" ] || { cat "$W/$ns.log" >&2; exit 1; }
done

mkdir -p "$OUT"
rm -f "$OUT"/etcdctl_*
etcdctl ls $PREFIX/subnets >"$OUT/etcdctl_ls_subnets.txt"
# one file per lease, as etcdctl printed it: etcdctl_get_<network>-<prefix>.txt
while read -r key; do etcdctl get "$key" >"$OUT/etcdctl_get_${key##*/}.txt"; done <"$OUT/etcdctl_ls_subnets.txt"
echo "captured into $OUT"
