"""Flannel's data plane on every node, as flanneld (vxlan backend) must have made it.

Expectations come from the inventory (kube_pod_subnet, kube_node_prefix, kube_cluster_interface, flannel
VNI/port) and from what the nodes report (their cluster address, the underlay MTU, each peer's lease and
VTEP MAC); nothing names one lab's addresses. Leases are read where flannel's subnet manager keeps them:
the Node objects (kube subnet manager) when a kubeconfig is on the control plane, else etcd's v2 keys.
"""
from __future__ import annotations

import functools
import ipaddress
import json
import re

import pytest

from conftest import Node, _hosts, _inventory

import testinfra

ETCD_PREFIX = '/coreos.com/network'
SUBNET_ENV = '/run/flannel/subnet.env'
VXLAN_OVERHEAD = 50


def pytest_generate_tests(metafunc):
    """`pair`: every ordered (node, peer) of two different inventory hosts."""
    if 'pair' in metafunc.fixturenames:
        names = sorted(_hosts(_inventory(metafunc.config)))
        pairs = [(a, b) for a in names for b in names if a != b]
        metafunc.parametrize('pair', pairs, ids=[f'{a}->{b}' for a, b in pairs], scope='module')


@functools.lru_cache(maxsize=None)
def _node(inventory: str, name: str) -> Node:
    url, settings = _hosts(inventory)[name]
    return Node(name, testinfra.get_host(url), settings)


def vni(node: Node) -> int:
    return int(node.settings.get('flannel_vxlan_vni', 1))


def vtep_name(node: Node) -> str:
    return f'flannel.{vni(node)}'


def link(node: Node, name: str) -> dict:
    out = node.host.run(f'ip -d -j addr show dev {name}')
    assert out.rc == 0, f'{node.name}: no {name} ({out.stderr.strip()})'
    return json.loads(out.stdout)[0]


def subnet_env(node: Node) -> dict:
    content = node.host.file(SUBNET_ENV)
    assert content.exists, f'{node.name}: {SUBNET_ENV} missing'
    return dict(line.split('=', 1) for line in content.content_string.splitlines() if '=' in line)


@functools.lru_cache(maxsize=None)
def _leases(inventory: str) -> dict:
    """public IP -> {'subnet': IPv4Network, 'vtep_mac': str} from the subnet manager of the cluster."""
    control = sorted(n for n in _hosts(inventory) if n in _control_plane(inventory))[0]
    host = _node(inventory, control).host
    kube = host.run('test -s /etc/kubernetes/admin.conf && '
                    'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json')
    leases = {}
    if kube.rc == 0:
        for item in json.loads(kube.stdout)['items']:
            notes = item['metadata'].get('annotations', {})
            backend = json.loads(notes.get('flannel.alpha.coreos.com/backend-data', '{}'))
            leases[notes.get('flannel.alpha.coreos.com/public-ip')] = {
                'subnet': ipaddress.ip_network(item['spec']['podCIDR']), 'vtep_mac': backend.get('VtepMAC')}
        return leases
    keys = host.run(f'ETCDCTL_API=2 etcdctl ls {ETCD_PREFIX}/subnets')
    assert keys.rc == 0, f'no subnet manager to read: no admin.conf on {control}, etcd says {keys.stderr.strip()}'
    for key in keys.stdout.split():
        value = json.loads(host.check_output(f'ETCDCTL_API=2 etcdctl get {key}'))
        network = key.rsplit('/', 1)[1].replace('-', '/')
        leases[value['PublicIP']] = {'subnet': ipaddress.ip_network(network),
                                     'vtep_mac': (value.get('BackendData') or {}).get('VtepMAC')}
    return leases


@functools.lru_cache(maxsize=None)
def _control_plane(inventory: str) -> tuple:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    return tuple(h.name for h in InventoryManager(loader=DataLoader(), sources=[inventory])
                 .get_hosts('kube_control_plane'))


def lease(node: Node, request) -> dict:
    leases = _leases(_inventory(request.config))
    ip = node.cluster_ip()
    assert ip in leases, f'{node.name}: the subnet manager holds no lease for {ip} (leases: {sorted(leases)})'
    return leases[ip]


def underlay_mtu(node: Node) -> int:
    return int(link(node, node.settings['kube_cluster_interface'])['mtu'])


# ----------------------------------------------------------------------------------------------- per node
def test_lease_inside_cluster_cidr(node, request):
    subnet = lease(node, request)['subnet']
    cluster = ipaddress.ip_network(node.settings['kube_pod_subnet'])
    assert subnet.subnet_of(cluster), f'{node.name}: lease {subnet} outside {cluster}'
    assert subnet.prefixlen == int(node.settings['kube_node_prefix']), \
        f'{node.name}: lease {subnet} is not a /{node.settings["kube_node_prefix"]}'


def test_subnet_env_matches_lease(node, request):
    env = subnet_env(node)
    subnet = lease(node, request)['subnet']
    want = {'FLANNEL_NETWORK': str(ipaddress.ip_network(node.settings['kube_pod_subnet'])),
            'FLANNEL_SUBNET': f'{subnet.network_address + 1}/{subnet.prefixlen}',
            'FLANNEL_MTU': str(underlay_mtu(node) - VXLAN_OVERHEAD),
            'FLANNEL_IPMASQ': 'true'}
    found = {k: env.get(k) for k in want}
    assert found == want, f'{node.name}: subnet.env {found}, expected {want}'


def test_vtep_settings(node):
    dev = link(node, vtep_name(node))
    info = dev.get('linkinfo', {})
    data = info.get('info_data', {})
    port = int(node.settings.get('flannel_vxlan_port', 8472)) or 8472
    found = {'kind': info.get('info_kind'), 'vni': data.get('id'), 'port': data.get('port'),
             'local': data.get('local'), 'learning': data.get('learning'), 'mtu': dev.get('mtu')}
    want = {'kind': 'vxlan', 'vni': vni(node), 'port': port, 'local': node.cluster_ip(), 'learning': False,
            'mtu': underlay_mtu(node) - VXLAN_OVERHEAD}
    assert found == want, f'{node.name}: {vtep_name(node)} {found}, expected {want}'


def test_vtep_rides_the_cluster_interface(node):
    dev = link(node, vtep_name(node))
    underlay = link(node, node.settings['kube_cluster_interface'])
    found = dev['linkinfo']['info_data'].get('link')
    assert found in (underlay['ifname'], underlay['ifindex']), \
        f'{node.name}: {vtep_name(node)} on {found}, expected {underlay["ifname"]}'


def test_vtep_holds_lease_network_address(node, request):
    subnet = lease(node, request)['subnet']
    found = [f"{a['local']}/{a['prefixlen']}" for a in link(node, vtep_name(node)).get('addr_info', [])
             if a['family'] == 'inet']
    assert found == [f'{subnet.network_address}/32'], f'{node.name}: {vtep_name(node)} addresses {found}'


def test_vtep_mac_published(node, request):
    mac = link(node, vtep_name(node))['address']
    assert lease(node, request)['vtep_mac'] == mac, \
        f"{node.name}: lease publishes VtepMAC {lease(node, request)['vtep_mac']}, {vtep_name(node)} has {mac}"


def test_cni0_address_and_mtu(node, request):
    subnet = lease(node, request)['subnet']
    if not node.host.run('ip link show dev cni0').rc == 0:
        # The bridge appears with the first pod; a node without pods must have none on the pod network.
        pods = node.host.run('ls /var/lib/cni/networks/cbr0 2>/dev/null | grep -c "^[0-9]"').stdout.strip()
        assert pods in ('', '0'), f'{node.name}: host-local leases {pods} but no cni0'
        return
    dev = link(node, 'cni0')
    found = [f"{a['local']}/{a['prefixlen']}" for a in dev.get('addr_info', []) if a['family'] == 'inet']
    assert found == [f'{subnet.network_address + 1}/{subnet.prefixlen}'], f'{node.name}: cni0 addresses {found}'
    # A bridge's MTU follows its ports; with none (every pod of the node gone) the kernel puts it back to
    # 1500: only a bridge with ports shows the MTU flannel gave it.
    ports = json.loads(node.host.check_output('ip -j link show master cni0'))
    if ports:
        assert dev['mtu'] == underlay_mtu(node) - VXLAN_OVERHEAD, \
            f"{node.name}: cni0 mtu {dev['mtu']} with ports {[p['ifname'] for p in ports]}"


def golden_rules(network: str, subnet: str, random_fully: bool) -> dict:
    """flannel v0.16.x --ip-masq rules (network/iptables.go), in order, as iptables -S prints them."""
    rnd = ' --random-fully' if random_fully else ''
    # v0.16.x tags the multicast-exempt MASQUERADE "flannel masq" when --random-fully is used
    masq = 'flannel masq' if random_fully else 'flanneld masq'
    return {
        ('nat', 'POSTROUTING'): [
            f'-A POSTROUTING -s {network} -d {network} -m comment --comment "flanneld masq" -j RETURN',
            f'-A POSTROUTING -s {network} ! -d 224.0.0.0/4 -m comment --comment "{masq}" -j MASQUERADE{rnd}',
            f'-A POSTROUTING ! -s {network} -d {subnet} -m comment --comment "flanneld masq" -j RETURN',
            f'-A POSTROUTING ! -s {network} -d {network} -m comment --comment "flanneld masq" -j MASQUERADE{rnd}',
        ],
        ('filter', 'FORWARD'): [
            f'-A FORWARD -s {network} -m comment --comment "flanneld forward" -j ACCEPT',
            f'-A FORWARD -d {network} -m comment --comment "flanneld forward" -j ACCEPT',
        ],
    }


def flannel_version(node: Node) -> str:
    # on the node (systemd unit) or, under Kubernetes, in the kube-flannel container of the DaemonSet's pod
    out = node.host.run('flanneld --version 2>&1 || /opt/bin/flanneld --version 2>&1 || '
                        '{ c=$(crictl ps --name "^kube-flannel$" -q | head -1) && [ -n "$c" ] && '
                        'crictl exec "$c" /opt/bin/flanneld --version 2>&1; }')
    match = re.search(r'v(\d+\.\d+\.\d+)', out.stdout)
    assert match, f'{node.name}: cannot tell the flanneld version: {out.stdout.strip()}'
    return match.group(1)


@pytest.mark.parametrize('table,chain', [('nat', 'POSTROUTING'), ('filter', 'FORWARD')])
def test_iptables_rules(node, request, table, chain):
    version = tuple(int(x) for x in flannel_version(node).split('.'))
    assert version[:2] == (0, 16), f'{node.name}: flanneld v{version}: only the v0.16.x layout is known here'
    subnet = str(lease(node, request)['subnet'])
    network = str(ipaddress.ip_network(node.settings['kube_pod_subnet']))
    random_fully = node.host.run('iptables -t nat -C POSTROUTING -s 127.0.0.2/32 -j MASQUERADE --random-fully '
                                 '2>&1').stdout.find('unknown option') < 0
    want = golden_rules(network, subnet, random_fully)[(table, chain)]
    found = [r for r in node.host.check_output(f'iptables -t {table} -S {chain}').splitlines() if 'flannel' in r]
    assert found == want, f'{node.name}: {table} {chain} flannel rules\n found {found}\n expected {want}'


# ------------------------------------------------------------------------------------------ per node pair
def test_route_to_peer(pair, request):
    inventory = _inventory(request.config)
    node, peer = _node(inventory, pair[0]), _node(inventory, pair[1])
    subnet = lease(peer, request)['subnet']
    routes = json.loads(node.host.check_output(f'ip -j -4 route show {subnet}'))
    want = {'dst': str(subnet), 'gateway': str(subnet.network_address), 'dev': vtep_name(node), 'onlink': True}
    found = [{'dst': r.get('dst'), 'gateway': r.get('gateway'), 'dev': r.get('dev'),
              'onlink': 'onlink' in r.get('flags', [])} for r in routes]
    assert found == [want], f'{node.name}: route to {peer.name} ({subnet}): found {found}, expected {want}'


def test_fdb_entry_for_peer(pair, request):
    inventory = _inventory(request.config)
    node, peer = _node(inventory, pair[0]), _node(inventory, pair[1])
    mac = link(peer, vtep_name(peer))['address']
    entries = json.loads(node.host.check_output(f'bridge -j fdb show dev {vtep_name(node)}'))
    dsts = [e.get('dst') for e in entries if e.get('mac') == mac]
    assert dsts == [peer.cluster_ip()], \
        f'{node.name}: FDB entry for {peer.name} ({mac}): dst {dsts}, expected [{peer.cluster_ip()}]'


def test_arp_entry_for_peer(pair, request):
    inventory = _inventory(request.config)
    node, peer = _node(inventory, pair[0]), _node(inventory, pair[1])
    mac = link(peer, vtep_name(peer))['address']
    gateway = str(lease(peer, request)['subnet'].network_address)
    neigh = json.loads(node.host.check_output(f'ip -j neigh show {gateway} dev {vtep_name(node)}'))
    found = [n.get('lladdr') for n in neigh]
    assert found == [mac], f'{node.name}: neighbour {gateway} ({peer.name}): {found}, expected [{mac}]'
