"""The validate stage's filters: right answers on sound input, and no exception on odd input."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    'inventory_checks', Path(__file__).resolve().parents[2] / 'filter_plugins' / 'inventory_checks.py')
checks = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(checks)


def _nic(address, prefix, active=True):
    return {'active': active, 'mtu': 1500, 'ipv4': {'address': address, 'prefix': str(prefix)}}


FACTS = {
    'interfaces': ['lo', 'enp0s3', 'enp0s8', 'bond0.100'],
    'lo': _nic('127.0.0.1', 8),
    'enp0s3': _nic('10.0.2.15', 24),
    'enp0s8': _nic('192.168.100.101', 24),
    'bond0.100': _nic('192.168.50.5', 24),
    'default_ipv4': {'interface': 'enp0s3', 'address': '10.0.2.15'},
}


@pytest.mark.parametrize('duration,seconds', [
    ('15m', 900), ('1h30m', 5400), ('1.5h', 5400), ('90s', 90), ('0', 0), (0, 0), ('0s', 0),
    ('15', None), (15, None), ('', None), ('15 m', None), (None, None), (True, None), (['15m'], None),
])
def test_duration_seconds(duration, seconds):
    assert checks.duration_seconds(duration) == seconds


@pytest.mark.parametrize('regex,matches', [
    ('^enp0s8$', ['enp0s8']), ('^enp0s', ['enp0s3', 'enp0s8']), (r'^10\.0\.2\.', ['enp0s3']),
    ('^eth', []), (r'^bond0\.100$', ['bond0.100']),
])
def test_iface_regex_select(regex, matches):
    assert checks.iface_regex_select(regex, FACTS) == {'valid': True, 'matches': matches}


@pytest.mark.parametrize('regex', ['^enp0s(8', '', None, 5, ['x']])
def test_iface_regex_select_refuses_odd_regexes(regex):
    assert checks.iface_regex_select(regex, FACTS)['valid'] is False


@pytest.mark.parametrize('destination,route', [
    ('192.168.100.10', {'interface': 'enp0s8', 'via': 'connected'}),
    ('192.168.200.10', {'interface': 'enp0s3', 'via': 'default'}),
    ('not an address', {'interface': '', 'via': 'unknown'}),
])
def test_route_interface(destination, route):
    assert checks.route_interface(FACTS, destination) == route


def test_route_interface_without_default_route_facts():
    facts = {k: v for k, v in FACTS.items() if k != 'default_ipv4'}
    assert checks.route_interface(facts, '192.168.200.10')['via'] == 'unknown'
    assert checks.route_interface(dict(facts, default_ipv4={}), '192.168.200.10')['via'] == 'none'


@pytest.mark.parametrize('devices,stale', [
    ({'cni0': _nic('172.16.1.1', 24), 'flannel.1': _nic('172.16.1.0', 32)}, []),
    ({'cni0': _nic('10.244.1.1', 24)}, ['cni0']),
    ({'cni0': _nic('172.16.1.1', 16)}, ['cni0']),
    ({'cni0': _nic('172.16.1.2', 24)}, ['cni0']),
    ({'flannel.1': _nic('172.16.1.1', 32)}, ['flannel.1']),
    ({'flannel.4': _nic('10.1.0.0', 32)}, ['flannel.4']),
    ({'cni0': {'active': True}}, []),
])
def test_cni_leftovers(devices, stale):
    facts = dict(FACTS, interfaces=FACTS['interfaces'] + list(devices), **devices)
    found = checks.cni_leftovers(facts, '172.16.0.0/16', 24)
    assert [f['interface'] for f in found] == stale


@pytest.mark.parametrize('args', [({}, None, 24), ({}, '172.16.0.0/16', 'x'), (None, '172.16.0.0/16', 24),
                                  ({'interfaces': 'cni0'}, '172.16.0.0/16', 24)])
def test_cni_leftovers_odd_input(args):
    assert checks.cni_leftovers(*args) == []


def test_owned_paths_set():
    owned = ['node-ip', 'cgroup-driver', 'config']
    assert checks.owned_paths_set({'--node_ip': '1.2.3.4', 'v': 2}, owned, flags=True) == ['node-ip']
    assert checks.owned_paths_set({'Config': 'x'}, owned, flags=True) == ['config']
    cluster = {'networking': {'podSubnet': 'x'}, 'controllerManager': {'extraArgs': {'node_cidr_mask_size': '25'}}}
    assert checks.owned_paths_set(cluster, ['networking.podSubnet', 'networking.dnsDomain',
                                            'controllerManager.extraArgs.node-cidr-mask-size']) == [
        'networking.podSubnet', 'controllerManager.extraArgs.node-cidr-mask-size']
    assert checks.owned_paths_set('node-ip=1', owned) == []
    assert checks.owned_paths_set({'networking': 'x'}, ['networking.podSubnet']) == []


@pytest.mark.parametrize('value,expected', [(8472, True), ('8472', True), (True, False), (8472.5, False),
                                            ('8472a', False), (None, False), (-1, True), ('-1', False)])
def test_is_integer(value, expected):
    assert checks.is_integer(value) is expected


def test_ipv4_overlapping():
    reserved = ['127.0.0.0/8', '224.0.0.0/4']
    assert checks.ipv4_overlapping('96.0.0.0/3', reserved) == ['127.0.0.0/8']
    assert checks.ipv4_overlapping('10.0.0.0/8', reserved) == []
    assert checks.ipv4_overlapping(172, reserved) == []
    assert checks.ipv4_overlapping('10.0.0.0/8', 'x') == []
