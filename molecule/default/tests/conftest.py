"""Lab-scenario fixtures: one testinfra host per lab node, reached with `podman exec`.

Expected values come from the lab inventory and the lab role's defaults, never typed into the tests.
Molecule's testinfra verifier passes --ansible-inventory (its inventory directory, which links the lab
inventory); run by hand, the lab inventory itself is used.
"""

import dataclasses
import functools
import itertools
import pathlib

import pytest
import testinfra
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

REPO = pathlib.Path(__file__).resolve().parents[3]
LAB_INVENTORY = REPO / "lab" / "inventory" / "hosts.yml"
LAB_DEFAULTS = REPO / "lab" / "roles" / "lab" / "defaults" / "main.yml"
# The role defaults the tests compare against; every other default needs the podman host to evaluate.
EXPECTED_KEYS = (
    "lab_name",
    "lab_cluster_interface",
    "lab_cluster_network",
    "lab_nat_interface",
    "lab_nat_network",
    "lab_nat_address",
    "lab_nat_gateway",
    "lab_node_ulimits",
    # set by the lab inventory only (the nodes' kubernetes_bundle_url reads them too)
    "lab_outside_address",
    "lab_bundle_mirror_port",
)


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    container: str
    cluster_address: str
    settings: dict


@functools.lru_cache(maxsize=None)
def _lab_nodes(inventory: str) -> dict:
    defaults = yaml.safe_load(LAB_DEFAULTS.read_text(encoding="utf-8"))
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[inventory])
    variables = VariableManager(loader=loader, inventory=manager)
    nodes = {}
    for host in manager.get_hosts("kube_cluster"):
        hostvars = variables.get_vars(host=host)
        templar = Templar(loader=loader, variables=hostvars)
        settings = {key: hostvars.get(key, defaults.get(key)) for key in EXPECTED_KEYS}
        nodes[host.name] = Node(
            name=host.name,
            container=f'{templar.template(hostvars["lab_name"])}-{host.name}',
            cluster_address=hostvars["ansible_host"],
            settings=settings,
        )
    return nodes


def _inventory(config) -> str:
    option = config.getoption("ansible_inventory", default=None)
    return option or str(LAB_INVENTORY)


def pytest_generate_tests(metafunc):
    nodes = _lab_nodes(_inventory(metafunc.config))
    if "node_name" in metafunc.fixturenames:
        metafunc.parametrize("node_name", sorted(nodes))
    if "pair" in metafunc.fixturenames:
        pairs = list(itertools.permutations(sorted(nodes), 2))
        metafunc.parametrize("pair", pairs, ids=[f"{a}->{b}" for a, b in pairs])


@pytest.fixture(scope="session")
def lab(pytestconfig) -> dict:
    """Every lab node by inventory name."""
    return _lab_nodes(_inventory(pytestconfig))


@pytest.fixture
def node(lab, node_name) -> Node:
    return lab[node_name]


@functools.lru_cache(maxsize=None)
def _host(container: str):
    return testinfra.get_host(f"podman://{container}")


@pytest.fixture
def node_host(node):
    """testinfra host of the node under test."""
    return _host(node.container)


@pytest.fixture
def hosts(lab) -> dict:
    """testinfra host of every node, by inventory name."""
    return {name: _host(n.container) for name, n in lab.items()}
