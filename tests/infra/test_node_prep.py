"""Stage 2 on a live node: swap off for good, kernel features present, sysctls set and persisted."""
from __future__ import annotations

import re

import pytest

SYSCTLS = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables', 'net.ipv4.ip_forward']


def test_no_active_swap(node):
    swaps = node.host.file('/proc/swaps').content_string.splitlines()
    assert swaps[1:] == [], f'active swap: {swaps[1:]}'


def test_no_swap_in_fstab(node):
    active = [line for line in node.host.file('/etc/fstab').content_string.splitlines()
              if not line.lstrip().startswith('#') and re.search(r'\sswap\s', line)]
    assert active == [], f'fstab would turn swap on at boot: {active}'


@pytest.mark.parametrize('feature', ['overlay', 'br_netfilter'])
def test_kernel_feature_present(node, feature):
    (probe,) = [m['probe'] for m in node.settings['node_prep_kernel_modules'] if m['name'] == feature]
    assert node.host.file(probe).exists, f'{feature}: {probe} missing (neither loaded nor built in)'


@pytest.mark.parametrize('name', SYSCTLS)
def test_sysctl_is_set_now(node, name):
    assert node.host.sysctl(name) == int(node.settings['node_prep_sysctls'][name]), name


@pytest.mark.parametrize('name', SYSCTLS)
def test_sysctl_is_persisted(node, name):
    content = node.host.file(node.settings['node_prep_sysctl_file']).content_string
    assert re.search(rf'^{re.escape(name)}\s*=\s*{node.settings["node_prep_sysctls"][name]}\s*$', content, re.M), \
        f'{name} not persisted in {node.settings["node_prep_sysctl_file"]}'
