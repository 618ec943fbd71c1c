#!/bin/sh
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
cat > $CAP/net.d/10-cbr0.conflist <<JSON
{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "isDefaultGateway": true,
      "hairpinMode": true,
      "ipMasq": false,
      "mtu": 1450,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CAP/cni-networks",
        "ranges": [[{"subnet": "172.16.0.0/24", "rangeStart": "172.16.0.10"}]],
        "routes": [{"dst": "172.16.0.0/16"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
cat > $CAP/net.d/99-loopback.conf <<JSON
{"cniVersion": "0.3.1", "name": "lo-only", "type": "loopback"}
JSON
nsenter --net=/var/run/netns/kfa-cap-node containerd --config $CAP/containerd/config.toml > $CAP/logs/containerd.log 2>&1 &
echo $! > $RUN/containerd.pid
for i in $(seq 1 50); do [ -S $RUN/containerd/containerd.sock ] && break; sleep 0.2; done
python3 $HERE/oci_image.py --binary /usr/bin/catatonit --path /pause --entrypoint /pause,-P --name k8s.gcr.io/pause:3.5 --out $CAP/images/pause.tar
python3 $HERE/oci_image.py --binary /bin/busybox --path /bin/busybox --links /bin/sh,/bin/sleep,/bin/nc --entrypoint /bin/sleep,infinity --name localhost/kfa-busybox:1 --out $CAP/images/busybox.tar
ctr -a $RUN/containerd/containerd.sock -n k8s.io images import $CAP/images/pause.tar
ctr -a $RUN/containerd/containerd.sock -n k8s.io images import $CAP/images/busybox.tar
