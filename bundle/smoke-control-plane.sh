#!/usr/bin/env bash
# Run-time smoke test of the built binaries, inside one network namespace this script creates and
# deletes (only loopback and a veth pair inside it; no traffic leaves it):
#   etcd (Debian etcd-server) -> kube-apiserver (serves /openapi/v2, i.e. the generated OpenAPI
#   definitions work) -> kube-controller-manager (allocates a node podCIDR from 172.16.0.0/16) ->
#   kube-scheduler (becomes leader) -> flanneld --kube-subnet-mgr (reads the Node through client-go,
#   i.e. json-iterator/reflect2 decode paths, creates flannel.1, writes subnet.env, annotates the Node).
#
#   bundle/smoke-control-plane.sh        needs root, openssl, iptables; ETCD=/path/to/etcd optional
set -euo pipefail
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
B=$KF_CACHE/bundle/bin
W=$(mktemp -d /tmp/kf-smoke.XXXXXX)
NS=kfsmoke-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$W"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }

ETCD=${ETCD:-$(command -v etcd || true)}
if [ -z "$ETCD" ]; then   # Debian's etcd-server, unpacked into the cache (not installed, not started)
  d=$KF_CACHE/bundle/debs; mkdir -p "$d"
  ls "$d"/etcd-server_*.deb >/dev/null 2>&1 || (cd "$d" && apt-get download etcd-server >/dev/null 2>&1)
  rm -rf "$d/etcd-server"
  # shellcheck disable=SC2012  # Debian package file names: no spaces or newlines
  dpkg-deb -x "$(ls "$d"/etcd-server_*.deb | head -1)" "$d/etcd-server"
  ETCD=$d/etcd-server/usr/bin/etcd
fi
nsx() { ip netns exec "$NS" "$@"; }
bg() { local log=$1; shift; ip netns exec "$NS" "$@" >"$W/$log.log" 2>&1 & pids+=($!); }  # $! = the daemon itself (ip and env exec)

ip netns add "$NS"
nsx ip link set lo up
nsx ip link add enp0s8 type veth peer name enp0s8p   # no dummy driver in this kernel; veth is built in
nsx ip link set enp0s8p up
nsx ip addr add 192.168.100.10/24 dev enp0s8
nsx ip link set enp0s8 up

openssl genrsa -out "$W/sa.key" 2048 2>/dev/null
openssl rsa -in "$W/sa.key" -pubout -out "$W/sa.pub" 2>/dev/null
echo "smoketoken,admin,admin,system:masters" >"$W/tokens.csv"
cat >"$W/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: s, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: a, user: {token: smoketoken}}]
contexts: [{name: c, context: {cluster: s, user: a}}]
current-context: c
EOF
K() { nsx "$B/kubectl" --kubeconfig "$W/kubeconfig" "$@"; }

bg etcd "$ETCD" --data-dir "$W/etcd" --listen-client-urls http://127.0.0.1:2379 \
  --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380
bg kube-apiserver "$B/kube-apiserver" --etcd-servers http://127.0.0.1:2379 --bind-address 127.0.0.1 \
  --advertise-address 192.168.100.10 --secure-port 6443 --cert-dir "$W/certs" \
  --service-account-key-file "$W/sa.pub" --service-account-signing-key-file "$W/sa.key" \
  --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.0.0/12 \
  --token-auth-file "$W/tokens.csv" --authorization-mode RBAC
t0=$(date +%s)
until K get --raw /readyz >/dev/null 2>&1; do
  [ $(( $(date +%s) - t0 )) -lt 120 ] || fail "kube-apiserver not ready after 120 s"; sleep 2
done
echo "kube-apiserver ready after $(( $(date +%s) - t0 ))s: $(K version -o json | jq -r .serverVersion.gitVersion)"
n=$(K get --raw /openapi/v2 | jq '.definitions | length')
[ "$n" -gt 400 ] || fail "/openapi/v2 has only $n definitions"
echo "/openapi/v2: $n definitions"

bg kube-controller-manager "$B/kube-controller-manager" --kubeconfig "$W/kubeconfig" \
  --authentication-kubeconfig "$W/kubeconfig" --authorization-kubeconfig "$W/kubeconfig" \
  --bind-address 127.0.0.1 --allocate-node-cidrs --cluster-cidr 172.16.0.0/16 --node-cidr-mask-size 24 \
  --service-account-private-key-file "$W/sa.key" --use-service-account-credentials=false \
  --controllers nodeipam,serviceaccount-token,namespace
bg kube-scheduler "$B/kube-scheduler" --kubeconfig "$W/kubeconfig" --authentication-kubeconfig "$W/kubeconfig" \
  --authorization-kubeconfig "$W/kubeconfig" --bind-address 127.0.0.1

K apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata: {name: k8s-m, labels: {kubernetes.io/hostname: k8s-m}}
status: {addresses: [{type: InternalIP, address: 192.168.100.10}]}
EOF
t0=$(date +%s)
until [ -n "$(K get node k8s-m -o jsonpath='{.spec.podCIDR}' 2>/dev/null)" ]; do
  [ $(( $(date +%s) - t0 )) -lt 90 ] || fail "controller-manager allocated no podCIDR"; sleep 2
done
echo "kube-controller-manager: node podCIDR $(K get node k8s-m -o jsonpath='{.spec.podCIDR}')"
t0=$(date +%s)
until K -n kube-system get lease kube-scheduler >/dev/null 2>&1; do
  [ $(( $(date +%s) - t0 )) -lt 90 ] || fail "kube-scheduler took no leader lease"; sleep 2
done
echo "kube-scheduler: holds lease $(K -n kube-system get lease kube-scheduler -o jsonpath='{.spec.holderIdentity}')"

mkdir -p "$W/flannel"
echo '{"Network": "172.16.0.0/16", "Backend": {"Type": "vxlan"}}' >"$W/flannel/net-conf.json"
bg flanneld env NODE_NAME=k8s-m "$B/flanneld" --kube-subnet-mgr --kubeconfig-file "$W/kubeconfig" \
  --net-config-path "$W/flannel/net-conf.json" --subnet-file "$W/flannel/subnet.env" --iface enp0s8 --ip-masq
t0=$(date +%s)
until [ -s "$W/flannel/subnet.env" ]; do
  [ $(( $(date +%s) - t0 )) -lt 60 ] || fail "flanneld wrote no subnet.env"; sleep 1
done
cat "$W/flannel/subnet.env"
grep -q '^FLANNEL_SUBNET=172.16.0.1/24$' "$W/flannel/subnet.env" || fail "unexpected FLANNEL_SUBNET"
dev=$(nsx ip -d link show flannel.1)
[[ $dev == *"vxlan id 1 local 192.168.100.10 dev enp0s8"* && $dev == *"dstport 8472"* ]] || fail "flannel.1: $dev"
echo "flannel.1: $(grep -o 'vxlan id 1 local [^ ]* dev [^ ]* srcport [0-9 ]* dstport [0-9]*' <<<"$dev")"
ann=$(K get node k8s-m -o json | jq -c '.metadata.annotations | with_entries(select(.key|startswith("flannel")))')
echo "node annotations: $ann"
jq -e '."flannel.alpha.coreos.com/public-ip" == "192.168.100.10" and ."flannel.alpha.coreos.com/backend-type" == "vxlan"' <<<"$ann" >/dev/null \
  || fail "flannel annotations"
nat=$(nsx iptables -t nat -S POSTROUTING)
grep -q -- '-s 172.16.0.0/16 -d 172.16.0.0/16 .*-j RETURN' <<<"$nat" || fail "no flannel masq rules: $nat"
echo "OK: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, flanneld run together"
