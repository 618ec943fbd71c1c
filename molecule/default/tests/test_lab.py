"""The podman lab looks, from inside each node, like the seed's VirtualBox VMs.

enp0s8 on the cluster network with the node's own address; enp0s3 with the same NAT address on every node
and the default route; systemd booted in a cgroup namespace of its own; /var on a volume; the rlimits runc
needs; apt reaching Debian's archive through the NAT side.

The lab's nodes, read from the lab inventory and the lab role's defaults, never typed into the tests, and a
testinfra host per node reached with `podman exec` (these are the lab's own checks, not a site's). The fixtures
live in this module, not in a conftest.py: in molecule's default scenario the checks of tests/infra run too,
and they import their helpers as `conftest`, which must be tests/infra's. Molecule's testinfra verifier passes
--ansible-inventory (its inventory directory, which links the lab inventory); run by hand, the lab inventory
itself is used.
"""

import dataclasses
import functools
import ipaddress
import itertools
import json
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



def _ipv4(host, ifname):
    out = json.loads(host.check_output(f"ip -j -4 addr show dev {ifname}"))
    return [f"{a['local']}/{a['prefixlen']}" for link in out for a in link["addr_info"]]


def test_systemd_finished_booting(node_host):
    state = node_host.run("systemctl is-system-running").stdout.strip()
    failed = node_host.run("systemctl --failed --no-legend --plain").stdout.strip()
    assert state == "running", f"systemd is {state!r}; failed units: {failed or 'none'}"


def test_hostname_is_the_node_name(node, node_host):
    assert node_host.check_output("hostname") == node.name


def test_cluster_interface_has_the_node_address(node, node_host):
    prefix = ipaddress.ip_network(node.settings["lab_cluster_network"]).prefixlen
    assert _ipv4(node_host, node.settings["lab_cluster_interface"]) == [f"{node.cluster_address}/{prefix}"]


def test_nat_interface_has_the_shared_nat_address(node, node_host):
    prefix = ipaddress.ip_network(node.settings["lab_nat_network"]).prefixlen
    assert _ipv4(node_host, node.settings["lab_nat_interface"]) == [f"{node.settings['lab_nat_address']}/{prefix}"]


def test_default_route_leaves_through_the_nat_interface(node, node_host):
    routes = json.loads(node_host.check_output("ip -j -4 route show default"))
    assert [(r.get("gateway"), r.get("dev")) for r in routes] == [
        (node.settings["lab_nat_gateway"], node.settings["lab_nat_interface"])
    ]


def test_every_node_reaches_every_other_on_the_cluster_network(lab, hosts, pair):
    src, dst = pair
    iface = lab[src].settings["lab_cluster_interface"]
    result = hosts[src].run(f"ping -c 1 -W 2 -I {iface} {lab[dst].cluster_address}")
    assert result.rc == 0, result.stdout + result.stderr


def test_nodes_fetch_from_the_bundle_mirror(node, node_host):
    """The bundle directory is served on the outside's address (lab/roles/lab/tasks/mirror.yml) and every node
    gets an answer from it: the nodes' kubernetes_bundle_url works."""
    url = f"http://{node.settings['lab_outside_address']}:{node.settings['lab_bundle_mirror_port']}/"
    got = node_host.run("python3 -c 'import sys, urllib.request; "
                        f"print(urllib.request.urlopen(sys.argv[1], timeout=5).status)' {url}")
    assert got.stdout.strip() == "200", f"{url} from {node.name}: {got.stdout}{got.stderr}"


def test_machine_ids_differ(hosts):
    ids = {name: h.file("/etc/machine-id").content_string.strip() for name, h in hosts.items()}
    assert all(len(i) == 32 for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids), ids


def test_node_has_its_own_cgroup_namespace(node_host):
    # systemd must see itself at the root of every hierarchy, name=systemd included; podman's systemd mode
    # on cgroup v1 would show a path outside the node (/../..) and share the host's hierarchy.
    lines = node_host.file("/proc/1/cgroup").content_string.splitlines()
    systemd_line = [line.split(":", 1)[1] for line in lines if ":name=systemd:" in line]
    assert systemd_line == ["name=systemd:/init.scope"], lines


def test_root_mount_is_shared(node_host):
    # Mount propagation for the kubelet's volumes (lab-rshared.service).
    assert node_host.check_output("findmnt -no PROPAGATION /") == "shared"


def test_var_is_not_on_the_overlay_root(node_host):
    assert node_host.check_output("findmnt -no FSTYPE /var") != "overlay"


@pytest.mark.parametrize("kind,label", [("nofile", "Max open files"), ("nproc", "Max processes")])
def test_init_has_the_fixed_rlimits(node, node_host, kind, label):
    # runc inside the node cannot raise rlimits on this kind of host: podman must have set them.
    wanted = dict(u.split("=") for u in node.settings["lab_node_ulimits"])[kind].split(":")
    limits = node_host.file("/proc/1/limits").content_string.splitlines()
    row = [line[len(label) :].split()[:2] for line in limits if line.startswith(label)]
    assert row == [wanted], limits


def test_apt_reaches_the_archive(node_host):
    result = node_host.run("apt-get -q update")
    assert result.rc == 0, result.stdout + result.stderr


def test_lab_egress_ends_in_drops(lab):
    # The lab's forward chain on the podman host: whatever is not accepted above (DNS to the host's
    # resolvers, HTTP(S) to Debian's archive, replies, the cluster bridge) is dropped.
    host = testinfra.get_host("local://")
    chain = next(iter(lab.values())).settings["lab_name"].upper() + "-FORWARD"
    rules = [r for r in host.iptables.rules("filter", chain) if r.startswith("-A ")]
    assert rules, f"no {chain} chain: is the lab up?"
    assert all(r.endswith("-j DROP") for r in rules[-2:]), rules
    assert all(r.endswith("-j ACCEPT") for r in rules[:-2]), rules
    assert not [r for r in rules if "--dports 80,443" in r and " -d " not in r], "archive rule without a destination"


SHIELDED = [
    "/proc/sys/kernel/panic",
    "/proc/sys/kernel/panic_on_oops",
    "/proc/sys/vm/overcommit_memory",
    "/proc/sys/vm/panic_on_oom",
    "/proc/sys/kernel/keys/root_maxkeys",
    "/proc/sys/kernel/keys/root_maxbytes",
    "/proc/sys/net/netfilter/nf_conntrack_max",
    "/sys/module/nf_conntrack/parameters/hashsize",
]


@pytest.mark.parametrize("path", SHIELDED)
def test_host_wide_kernel_setting_is_shielded(node_host, path):
    # A write inside the node (as the kubelet / kube-proxy would make) must not reach the podman host.
    # Never write through an unshielded path: that would change the host's own setting.
    mountpoints = [line.split()[4] for line in node_host.file("/proc/self/mountinfo").content_string.splitlines()]
    assert path in mountpoints, f"{path} is not shielded in the node"
    host = testinfra.get_host("local://")
    before = host.file(path).content_string.strip()
    inside = node_host.file(path).content_string.strip()
    probe = str(int(before) + 1)
    node_host.check_output(f"sh -c 'echo {probe} > {path}'")
    try:
        assert node_host.file(path).content_string.strip() == probe
        assert host.file(path).content_string.strip() == before
    finally:
        node_host.check_output(f"sh -c 'echo {inside} > {path}'")
