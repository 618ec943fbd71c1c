#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# Private containerd (Debian 1.6) inside netns kfa-cap-node, so CNI's cni0/veths land there and nowhere else.
# Nothing here uses the host's /var/lib/containerd, /run/containerd or /etc/cni.
set -eu
CAP=/var/cache/kubeadm-flannel/capture
RUN=/run/kfa-capture
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p $CAP/containerd/root $RUN/containerd/state $CAP/net.d $CAP/cni-networks $CAP/images $CAP/logs
cat > $CAP/containerd/config.toml <<TOML
version = 2
root = "$CAP/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "k8s.gcr.io/pause:3.5"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # this machine denies lowering oom_score_adj (-998 for sandboxes): clamp it as rootless setups do
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CAP/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
      Root = "$RUN/runc"
TOML
jq -n --arg data "$CAP/cni-networks" '{name:"cbr0", cniVersion:"0.3.1", plugins:[
    {type:"bridge", bridge:"cni0", isGateway:true, isDefaultGateway:true, hairpinMode:true, ipMasq:false, mtu:1450,
     ipam:{type:"host-local", dataDir:$data, ranges:[[{subnet:"172.16.0.0/24", rangeStart:"172.16.0.10"}]],
           routes:[{dst:"172.16.0.0/16"}]}},
    {type:"portmap", capabilities:{portMappings:true}}]}' >"$CAP/net.d/10-cbr0.conflist"
jq -n '{cniVersion:"0.3.1", name:"lo-only", type:"loopback"}' >"$CAP/net.d/99-loopback.conf"
nsenter --net=/var/run/netns/kfa-cap-node containerd --config $CAP/containerd/config.toml > $CAP/logs/containerd.log 2>&1 &
echo $! > $RUN/containerd.pid
for _ in $(seq 1 50); do [ -S $RUN/containerd/containerd.sock ] && break; sleep 0.2; done
# image REF OUT BINARY PATH-IN-IMAGE ENTRYPOINT-ARGV... [-- SYMLINK...]: one static binary as a one-layer
# image, written by the bundle's image writer (bundle/oci-archive.py); symlinks point at the binary.
image() {
  ref=$1; out=$2; bin=$3; path=$4; shift 4
  stage=$(mktemp -d)
  install -D -m 0755 "$bin" "$stage$path"
  argv=""
  while [ $# -gt 0 ] && [ "$1" != -- ]; do argv="$argv$1
"; shift; done
  [ $# -eq 0 ] || shift
  for link in "$@"; do mkdir -p "$stage$(dirname "$link")"; ln -s "$path" "$stage$link"; done
  python3 "$HERE/../../../bundle/oci-archive.py" layer "$stage" "$out.layer"
  python3 "$HERE/../../../bundle/oci-archive.py" image --ref "$ref" --out "$out" --layer "$out.layer" \
    --entrypoint "$(printf '%s' "$argv" | jq -R . | jq -cs .)" >/dev/null
  rm -rf "$stage" "$out.layer"
}
image k8s.gcr.io/pause:3.5 $CAP/images/pause.tar /usr/bin/catatonit /pause /pause -P
image localhost/kfa-busybox:1 $CAP/images/busybox.tar /bin/busybox /bin/busybox /bin/sleep infinity -- /bin/sh /bin/sleep /bin/nc
ctr -a $RUN/containerd/containerd.sock -n k8s.io images import $CAP/images/pause.tar
ctr -a $RUN/containerd/containerd.sock -n k8s.io images import $CAP/images/busybox.tar
