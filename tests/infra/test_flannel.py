"""Flannel's data plane and the CNI wiring on every node, as judged by the project's one network oracle.

The expectations are not computed here: playbooks/verify.yml gathers every node's facts and
filter_plugins/netcheck.py compares them with the inventory and with each other (lease inside the cluster CIDR,
VTEP settings and MTU from the underlay's, routes/FDB/ARP entries towards every peer, flannel's iptables
rules in order, the CNI config, ...). Each test here asserts on the oracle's results for one node (or one node
pair) and one concern, so a failure names the node, the peer and the check, and fault tests can break one
thing and see the matching test fail. Live traffic (ping, HTTP, NAT) is tested in test_pods.py and
test_cluster_pods.py.
"""
from __future__ import annotations

import pytest

from conftest import _hosts, _inventory

# test -> the oracle's checks it asserts on (names as filter_plugins/netcheck.py reports them)
PER_NODE = {
    'lease_inside_cluster_cidr': ('subnet_in_cluster_cidr',),
    'subnet_env_matches_lease': ('subnet_env_settings', 'mtu_consistent'),
    'lease_published_by_subnet_manager': ('node_annotations',),
    'vtep_settings': ('vtep_present', 'vtep_local_ip', 'vtep_mtu', 'vtep_settings'),
    'vtep_rides_the_cluster_interface': ('vtep_underlay',),
    'vtep_holds_lease_network_address': ('vtep_address',),
    'cni0_address': ('bridge_gateway_address',),
    'links_up_and_pod_mtu': ('links_up', 'port_mtu'),
    'iptables_masquerade': ('masquerade_rules',),
    'iptables_forward': ('forward_rules',),
    'cni_config_and_plugins': ('cni_config_active', 'cni_plugins_present'),
}
PER_PAIR = {
    'route_to_peer': ('route_to_peer',),
    'fdb_entry_for_peer': ('fdb_to_peer',),
    'arp_entry_for_peer': ('neighbour_to_peer',),
}


def pytest_generate_tests(metafunc):
    """`pair`: every ordered (node, peer) of two different inventory hosts."""
    if 'pair' in metafunc.fixturenames:
        names = sorted(_hosts(_inventory(metafunc.config)))
        pairs = [(a, b) for a in names for b in names if a != b]
        metafunc.parametrize('pair', pairs, ids=[f'{a}->{b}' for a, b in pairs], scope='module')


@pytest.mark.parametrize('concern', list(PER_NODE))
def test_node(node, verdict, concern):
    verdict.assert_ok(node.name, PER_NODE[concern])


@pytest.mark.parametrize('concern', list(PER_PAIR))
def test_peer(pair, verdict, concern):
    node, peer = pair
    verdict.assert_ok(node, PER_PAIR[concern], about=f'({peer})')


def test_leases_disjoint_and_every_node_gathered(verdict):
    gathered = [r['message'] for r in verdict.results if r['check'] == 'facts_gathered']
    assert not gathered, '\n'.join(gathered)
    disjoint = [r for r in verdict.results if r['check'] == 'subnets_disjoint']
    assert disjoint and all(r['ok'] for r in disjoint), [r['message'] for r in disjoint]


def test_one_vtep_mtu_on_every_node(verdict):
    """Every VTEP at the smallest underlay MTU among the nodes minus VXLAN's overhead (the cross-node rule)."""
    uniform = [r for r in verdict.results if r['check'] == 'vtep_mtu_uniform']
    assert uniform and all(r['status'] == 'ok' for r in uniform), [r['message'] for r in uniform]


def test_nothing_else_failed(verdict):
    """Every check of the oracle, the pod and wiring checks included (test_pods.py names those per pod)."""
    failed = [r['message'] for r in verdict.results if not r['ok']]
    assert not failed, '\n'.join(failed)
