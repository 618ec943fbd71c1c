#!/usr/bin/env bash
# Capture what control_plane_facts reads on the HA lab (`make lab-ha`), for tests/unit/test_control_plane.py:
#   captured/control_plane/<node>_etcd_health.json        curl .../health on each control plane's etcd member
#   captured/control_plane/<node>_etcd_member_list.json   curl -X POST .../v3/cluster/member/list
#   captured/control_plane/<node>_etcd_status.json        curl -X POST .../v3/maintenance/status
#   captured/control_plane/<node>_readyz.txt              curl -w '\n%{http_code}' https://<node ip>:6443/readyz
#   captured/control_plane/<node>_ip_j_addr_<nic>.json    ip -j addr show dev <nic> (one of them holds the VIP)
#   captured/control_plane/vip_readyz.txt                 the API's /readyz through the virtual address
#   captured/control_plane/<node>_kubeadm_certs_check_expiration.txt   kubeadm certs check-expiration
# The commands are the module's own (the same curl options), run over the lab's SSH config with sudo. Reads only.
set -euo pipefail
OUT=tests/unit/fixtures/captured/control_plane
SSH_CONFIG=${SSH_CONFIG:-/run/kflab/ssh/config}
NIC=${NIC:-enp0s8}
VIP=${VIP:-192.168.100.100}
declare -A NODES=([k8s-m1]=192.168.100.11 [k8s-m2]=192.168.100.12 [k8s-m3]=192.168.100.13)
PKI=/etc/kubernetes/pki
ETCD_TLS="--cacert $PKI/etcd/ca.crt --cert $PKI/etcd/healthcheck-client.crt --key $PKI/etcd/healthcheck-client.key"
mkdir -p "$OUT"
on() { ssh -F "$SSH_CONFIG" "$1" sudo "${@:2}"; }
for node in "${!NODES[@]}"; do
  ip=${NODES[$node]}
  # shellcheck disable=SC2086  # ETCD_TLS is several words on purpose
  on "$ip" curl --silent --show-error $ETCD_TLS https://127.0.0.1:2379/health >"$OUT/${node}_etcd_health.json"
  # shellcheck disable=SC2086
  on "$ip" curl --silent --show-error $ETCD_TLS --request POST --data '{}' \
    https://127.0.0.1:2379/v3/cluster/member/list >"$OUT/${node}_etcd_member_list.json"
  # shellcheck disable=SC2086
  on "$ip" curl --silent --show-error $ETCD_TLS --request POST --data '{}' \
    https://127.0.0.1:2379/v3/maintenance/status >"$OUT/${node}_etcd_status.json"
  on "$ip" curl --silent --show-error --write-out "'\n%{http_code}'" --cacert $PKI/ca.crt \
    "https://$ip:6443/readyz" >"$OUT/${node}_readyz.txt"
  on "$ip" ip -j addr show dev "$NIC" >"$OUT/${node}_ip_j_addr_${NIC}.json"
  on "$ip" env LC_ALL=C kubeadm certs check-expiration >"$OUT/${node}_kubeadm_certs_check_expiration.txt"
done
on 192.168.100.101 curl --silent --show-error --write-out "'\n%{http_code}'" --cacert $PKI/ca.crt \
  "https://$VIP:8443/readyz" >"$OUT/vip_readyz.txt"
echo "captured into $OUT"
