"""testinfra suite for live nodes: the lab or real VMs.

Run against any inventory:
    pytest tests/infra --hosts='ansible://kube_cluster' --ansible-inventory=inventories/<site>/hosts.yml

Expected values are computed from the inventory merged over the roles' defaults (what the rollout itself
used), and from what the node says about its own interfaces; nothing here names the seed's addresses.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

REPO = Path(__file__).resolve().parents[2]
# Role defaults the checks read, in the order the roles are applied (later ones may use earlier ones).
DEFAULT_FILES = ('kube', 'node_prep', 'containerd', 'kube_binaries', 'flannel')
# Defaults that need facts; the tests read those values from the node instead.
FACT_DEPENDENT = {'kube_node_ip', 'kube_arch'}


def pytest_addoption(parser):
    parser.addoption('--kube-inventory', default=None,
                     help='inventory the expectations are computed from (default: --ansible-inventory)')


@functools.lru_cache(maxsize=None)
def _settings(inventory: str) -> dict:
    defaults = {}
    for role in DEFAULT_FILES:
        defaults.update(yaml.safe_load((REPO / 'roles' / role / 'defaults' / 'main.yml').read_text()) or {})
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[inventory])
    variables = VariableManager(loader=loader, inventory=manager)
    result = {}
    for host in manager.get_hosts('kube_cluster'):
        hostvars = {k: v for k, v in defaults.items() if k not in FACT_DEPENDENT}
        hostvars.update(variables.get_vars(host=host))
        hostvars['inventory_hostname'] = host.name
        templar = Templar(loader=loader, variables=hostvars)
        result[host.name] = {k: templar.template(v) for k, v in hostvars.items()
                             if k in defaults and k not in FACT_DEPENDENT}
    return result


@pytest.fixture(scope='module')
def settings(request, host) -> dict:
    """The rollout's settings for this host: role defaults with the inventory's values over them."""
    inventory = request.config.getoption('--kube-inventory') or request.config.getoption('ansible_inventory')
    if not inventory:
        pytest.fail('tests/infra needs --ansible-inventory (or --kube-inventory) to compute expectations')
    name = host.backend.get_hostname()
    everything = _settings(str(Path(inventory).resolve()))
    if name not in everything:
        pytest.fail(f'{name} is not in group kube_cluster of {inventory}')
    return everything[name]


@pytest.fixture(scope='module')
def node_ip(host, settings) -> str:
    """IPv4 address of the cluster interface, as the node reports it."""
    iface = settings['kube_cluster_interface']
    out = host.check_output(f'ip -j -4 addr show dev {iface}')
    addresses = [a['local'] for link in json.loads(out) for a in link.get('addr_info', [])]
    assert addresses, f'{iface} has no IPv4 address'
    return addresses[0]
