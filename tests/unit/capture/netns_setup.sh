#!/bin/sh
# shellcheck disable=SC2086  # $C (crictl and its options) and id lists split into words on purpose; paths are fixed, without spaces
# Builds a flannel-shaped node out of private network namespaces (kfa-cap-*), never touching the root netns.
set -eu
N=kfa-cap-node; P=kfa-cap-peer; A=kfa-cap-pod-a; B=kfa-cap-pod-b; X=kfa-cap-newfl
for ns in $N $P $A $B $X; do ip netns add $ns; done
# underlay: node enp0s8 <-> peer enp0s8
ip -n $N link add enp0s8 type veth peer name enp0s8 netns $P
ip -n $N addr add 192.168.100.10/24 dev enp0s8; ip -n $N link set enp0s8 up; ip -n $N link set lo up
ip -n $P addr add 192.168.100.101/24 dev enp0s8; ip -n $P link set enp0s8 up
# VTEP, as flannel's vxlan backend creates it
ip -n $N link add flannel.1 address a2:12:b0:b8:25:7c type vxlan id 1 local 192.168.100.10 dev enp0s8 dstport 8472 nolearning
ip -n $N link set flannel.1 mtu 1450
ip -n $N addr add 172.16.0.0/32 dev flannel.1
ip -n $N link set flannel.1 up
# routes/neigh/fdb for two remote nodes
ip -n $N route add 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink
ip -n $N route add 172.16.2.0/24 via 172.16.2.0 dev flannel.1 onlink
ip -n $N neigh replace 172.16.1.0 lladdr 42:7b:d8:d5:f7:8c dev flannel.1 nud permanent
ip -n $N neigh replace 172.16.2.0 lladdr 62:a9:f6:cb:35:22 dev flannel.1 nud permanent
bridge -n $N fdb replace 42:7b:d8:d5:f7:8c dev flannel.1 dst 192.168.100.101 self permanent
bridge -n $N fdb replace 62:a9:f6:cb:35:22 dev flannel.1 dst 192.168.100.102 self permanent
# bridge + two pods
ip -n $N link add cni0 type bridge
ip -n $N link set cni0 mtu 1450
ip -n $N addr add 172.16.0.1/24 dev cni0
ip -n $N link set cni0 up
i=2
for pod in $A $B; do
  v=veth$(printf '%08x' $i)
  ip -n $N link add $v mtu 1450 type veth peer name eth0 netns $pod
  ip -n $N link set $v master cni0
  ip -n $N link set $v type bridge_slave hairpin on
  ip -n $N link set $v up
  ip -n $pod addr add 172.16.0.$i/24 dev eth0
  ip -n $pod link set eth0 up; ip -n $pod link set lo up
  ip -n $pod route add default via 172.16.0.1
  i=$((i+1))
done
# flannel v0.16.1 ip-masq and forward rules (network/iptables.go order), plus kube-proxy's jump for realism
ip netns exec $N iptables -t nat -N KUBE-POSTROUTING
ip netns exec $N iptables -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
ip netns exec $N iptables -t nat -A POSTROUTING -s 172.16.0.0/16 -d 172.16.0.0/16 -j RETURN
ip netns exec $N iptables -t nat -A POSTROUTING -s 172.16.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully
ip netns exec $N iptables -t nat -A POSTROUTING ! -s 172.16.0.0/16 -d 172.16.0.0/24 -j RETURN
ip netns exec $N iptables -t nat -A POSTROUTING ! -s 172.16.0.0/16 -d 172.16.0.0/16 -j MASQUERADE --random-fully
ip netns exec $N iptables -t filter -A FORWARD -s 172.16.0.0/16 -j ACCEPT
ip netns exec $N iptables -t filter -A FORWARD -d 172.16.0.0/16 -j ACCEPT
# newer flannel layout (FLANNEL-POSTRTG / FLANNEL-FWD chains, comments as flannel >= 0.17 writes them)
ip netns exec $X iptables -t nat -N FLANNEL-POSTRTG
ip netns exec $X iptables -t nat -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
ip netns exec $X iptables -t nat -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
ip netns exec $X iptables -t nat -A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
ip netns exec $X iptables -t nat -A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
ip netns exec $X iptables -t nat -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
ip netns exec $X iptables -t nat -A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
ip netns exec $X iptables -t nat -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
ip netns exec $X iptables -t filter -N FLANNEL-FWD
ip netns exec $X iptables -t filter -A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
ip netns exec $X iptables -t filter -A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
ip netns exec $X iptables -t filter -A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
# a node whose flannel wrote through iptables-legacy while the host's iptables is nft (Debian 12 default):
# iptables-save shows only one backend, so the module must read both
D=kfa-cap-dual
ip netns add $D
ip netns exec $D iptables-nft -t nat -N KUBE-POSTROUTING
ip netns exec $D iptables-nft -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
ip netns exec $D iptables-legacy -t nat -A POSTROUTING -s 172.16.0.0/16 -d 172.16.0.0/16 -j RETURN
ip netns exec $D iptables-legacy -t nat -A POSTROUTING -s 172.16.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully
ip netns exec $D iptables-legacy -t nat -A POSTROUTING ! -s 172.16.0.0/16 -d 172.16.2.0/24 -j RETURN
ip netns exec $D iptables-legacy -t nat -A POSTROUTING ! -s 172.16.0.0/16 -d 172.16.0.0/16 -j MASQUERADE --random-fully
ip netns exec $D iptables-legacy -t filter -A FORWARD -s 172.16.0.0/16 -j ACCEPT
ip netns exec $D iptables-legacy -t filter -A FORWARD -d 172.16.0.0/16 -j ACCEPT
# the peer is a second flannel node (k8s-w1 of the seed): VTEP, bridge, route and FDB back to the node
ip -n $P link set lo up
ip -n $P link add flannel.1 address 42:7b:d8:d5:f7:8c type vxlan id 1 local 192.168.100.101 dev enp0s8 dstport 8472 nolearning
ip -n $P link set flannel.1 mtu 1450
ip -n $P addr add 172.16.1.0/32 dev flannel.1
ip -n $P link set flannel.1 up
ip -n $P link add cni0 type bridge
ip -n $P link set cni0 mtu 1450
ip -n $P addr add 172.16.1.1/24 dev cni0
ip -n $P link set cni0 up
ip -n $P route add 172.16.0.0/24 via 172.16.0.0 dev flannel.1 onlink
ip -n $P neigh replace 172.16.0.0 lladdr a2:12:b0:b8:25:7c dev flannel.1 nud permanent
bridge -n $P fdb replace a2:12:b0:b8:25:7c dev flannel.1 dst 192.168.100.10 self permanent
ip netns exec $P iptables -t nat -A POSTROUTING -s 172.16.0.0/16 -d 172.16.0.0/16 -j RETURN
ip netns exec $P iptables -t nat -A POSTROUTING -s 172.16.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully
ip netns exec $P iptables -t nat -A POSTROUTING ! -s 172.16.0.0/16 -d 172.16.1.0/24 -j RETURN
ip netns exec $P iptables -t nat -A POSTROUTING ! -s 172.16.0.0/16 -d 172.16.0.0/16 -j MASQUERADE --random-fully
ip netns exec $P iptables -t filter -A FORWARD -s 172.16.0.0/16 -j ACCEPT
ip netns exec $P iptables -t filter -A FORWARD -d 172.16.0.0/16 -j ACCEPT
# subnet files as flanneld writes them, one per node
CAP=/var/cache/kubeadm-flannel/capture
mkdir -p $CAP/kfa-cap-node $CAP/kfa-cap-peer
printf 'FLANNEL_NETWORK=172.16.0.0/16\nFLANNEL_SUBNET=172.16.0.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' > $CAP/kfa-cap-node/subnet.env
printf 'FLANNEL_NETWORK=172.16.0.0/16\nFLANNEL_SUBNET=172.16.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' > $CAP/kfa-cap-peer/subnet.env
# one python per namespace, so Ansible's local connection runs modules inside it (ansible_python_interpreter);
# "ip netns exec" rather than nsenter: it remounts /sys, where the setup module reads interfaces from
mkdir -p $CAP/bin
for ns in $N $P; do
  printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $ns "${KFA_PYTHON:-$(command -v python3)}" > $CAP/bin/python-$ns
  chmod +x $CAP/bin/python-$ns
done
