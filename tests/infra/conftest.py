"""testinfra suite for live nodes: the lab or real VMs.

Run against any inventory (the podman lab is the default):
    pytest tests/infra --kube-inventory=inventories/<site>/hosts.yml

Every test takes `node`: one inventory host of group kube_cluster, with a testinfra Host (SSH with sudo,
as Ansible logs in, the lab included; podman exec or Ansible's plugin for other connections) and the
rollout's settings for it: the roles' defaults with the inventory's values over them. Expectations come
from those settings and from what the node says about its own interfaces; nothing here names the seed's addresses.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

REPO = Path(__file__).resolve().parents[2]
DEFAULT_INVENTORY = REPO / 'lab' / 'inventory' / 'hosts.yml'
# Role defaults the checks read, in the order the roles are applied (later ones may use earlier ones).
DEFAULT_FILES = ('kube', 'node_prep', 'containerd', 'kubernetes', 'flannel', 'verify')
# Defaults that need facts; the tests read those values from the node instead.
FACT_DEPENDENT = {'kube_node_ip', 'kubernetes_arch'}


@dataclass
class Node:
    name: str
    host: testinfra.host.Host
    settings: dict

    def cluster_ip(self) -> str:
        """IPv4 address of the cluster interface, as the node reports it."""
        iface = self.settings['kube_cluster_interface']
        out = self.host.check_output(f'ip -j -4 addr show dev {iface}')
        addresses = [a['local'] for link in json.loads(out) for a in link.get('addr_info', [])]
        assert addresses, f'{self.name}: {iface} has no IPv4 address'
        return addresses[0]


def pytest_collection_modifyitems(items):
    """Everything here needs live nodes: marked `lab` (pytest.ini), whatever file of tests/infra it is in."""
    infra = Path(__file__).resolve().parent
    for item in items:
        if infra in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.lab)


def pytest_addoption(parser):
    parser.addoption('--kube-inventory', default=str(DEFAULT_INVENTORY),
                     help='inventory whose kube_cluster hosts are checked (default: the podman lab)')
    parser.addoption('--verify-report', default=None,
                     help='judge by this report of a verify.yml run (verify_report_file) instead of running it')


def _inventory(config) -> str:
    return str(Path(config.getoption('--kube-inventory')).resolve())


@functools.lru_cache(maxsize=None)
def _hosts(inventory: str) -> dict:
    """name -> (testinfra backend URL, settings) for every host of kube_cluster."""
    loader = DataLoader()
    defaults = {}
    for role in DEFAULT_FILES:
        path = str(REPO / 'roles' / role / 'defaults' / 'main.yml')
        # Trusted as templates, as Ansible treats a role's defaults.
        defaults.update(loader.load_from_file(path, trusted_as_template=True) or {})
    manager = InventoryManager(loader=loader, sources=[inventory])
    variables = VariableManager(loader=loader, inventory=manager)
    result = {}
    for host in manager.get_hosts('kube_cluster'):
        hostvars = {k: v for k, v in defaults.items() if k not in FACT_DEPENDENT}
        hostvars.update(variables.get_vars(host=host))
        templar = Templar(loader=loader, variables=hostvars)
        settings = {k: templar.template(v) for k, v in hostvars.items() if k in defaults and k not in FACT_DEPENDENT}
        result[host.name] = (_target(host.name, inventory, hostvars, templar), settings)
    return result


@dataclass(frozen=True)
class Target:
    """How testinfra reaches one node: a backend URL and its options."""
    url: str
    options: tuple = ()

    def host(self) -> testinfra.host.Host:
        return testinfra.get_host(self.url, **dict(self.options))


def _target(name: str, inventory: str, hostvars: dict, templar: Templar) -> Target:
    """SSH as Ansible logs in (user, key, ssh arguments, sudo when it becomes), from the inventory's templated
    values (testinfra's ansible:// backend reads them untemplated); podman exec for a podman connection; anything
    else through testinfra's Ansible backend."""
    def var(key, default=None):
        return templar.template(hostvars[key]) if key in hostvars else default

    connection = var('ansible_connection', 'ssh')
    if connection in ('lab_podman', 'containers.podman.podman'):
        return Target(f"podman://{var('ansible_host', name)}")
    if connection != 'ssh':
        return Target(f'ansible://{name}?ansible_inventory={inventory}')
    user = var('ansible_user')
    address = var('ansible_host', name)
    ssh_args = (var('ansible_ssh_common_args'), var('ansible_ssh_extra_args'))
    options = {'sudo': bool(var('ansible_become', False)), 'ssh_extra_args': ' '.join(filter(None, ssh_args))}
    key = var('ansible_ssh_private_key_file', var('ansible_private_key_file'))
    if key:
        options['ssh_identity_file'] = str(Path(key).expanduser())
    return Target(f"ssh://{f'{user}@' if user else ''}{address}", tuple(sorted(options.items())))


def wait_for_login(host: testinfra.host.Host, timeout: float = 180) -> None:
    """Until `host` runs a command again, after its machine restarted: over SSH the node answers only once its
    sshd is up (testinfra raises RuntimeError while ssh itself fails, exit status 255)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if host.run('true').rc == 0:
                return
        except RuntimeError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f'{host.backend.hostname}: no login within {timeout:.0f} s')
        time.sleep(2)


def node_of(inventory: str, name: str) -> Node:
    """The Node `name` of `inventory`: for tests that pick their node themselves (fault tests, CRI helpers)."""
    target, settings = _hosts(str(Path(inventory).resolve()))[name]
    return Node(name, target.host(), settings)


def pytest_generate_tests(metafunc):
    if 'node' in metafunc.fixturenames:
        names = sorted(_hosts(_inventory(metafunc.config)))
        metafunc.parametrize('node', names, indirect=True, scope='module')


@pytest.fixture(scope='module')
def node(request) -> Node:
    return node_of(_inventory(request.config), request.param)


# A YAML file of variables every verify.yml run here gets (-e @file): what a scenario's nodes lack on purpose
# (molecule default runs flanneld without a kubelet). An environment variable, so that the pytest runs the
# fault tests start inherit it.
VERIFY_VARS_ENV = 'KFA_VERIFY_VARS'


def run_playbook(inventory: str, playbook: str, *extra: str, timeout: int = 1800,
                 env: dict | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook `playbook` (relative to the repository) on `inventory`, with the ansible.cfg that goes with
    the inventory (the lab's loads its connection plugin) unless ANSIBLE_CONFIG names one (in the environment or in
    `env`, more environment variables for this run); output captured."""
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', **(env or {}))
    configs = [d / 'ansible.cfg' for d in Path(inventory).resolve().parents if REPO in (d, *d.parents)]
    env.setdefault('ANSIBLE_CONFIG', str(next((c for c in configs if c.exists()), REPO / 'ansible.cfg')))
    return subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', inventory, playbook, *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def play_recap(output: str) -> dict:
    """host -> {ok, changed, unreachable, failed, skipped, ...} from an ansible-playbook run's PLAY RECAP."""
    recap = {}
    for line in output.split('PLAY RECAP')[-1].splitlines()[1:]:
        words = line.split()
        if len(words) > 2 and words[1] == ':':
            recap[words[0]] = dict((k, int(v)) for k, v in (w.split('=') for w in words[2:]))
    return recap


def run_verify(inventory: str, report: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """playbooks/verify.yml on `inventory`, writing every check result of the oracle to `report` and the network
    report's JSON and page beside it (verify_report_dir); `extra` are more ansible-playbook arguments
    (-e verify_probe_image=... for the live probes)."""
    scenario = ['-e', f'@{os.environ[VERIFY_VARS_ENV]}'] if os.environ.get(VERIFY_VARS_ENV) else []
    return run_playbook(inventory, 'playbooks/verify.yml', '-e', f'verify_report_file={report}',
                        '-e', f'verify_report_dir={report.parent}', *scenario, *extra, timeout=900, env=env)


@dataclass
class Verdict:
    """What verify.yml's oracle (filter_plugins/netcheck.py) said about every node, and the run's output."""
    results: list
    output: str

    def of(self, node: str, checks: tuple, about: str = '') -> list:
        """Results of `checks` on `node` (or on a pair naming it) whose object ends with `about`."""
        return [r for r in self.results if r['check'] in checks and node in r['node'].split(',')
                and r['object'].endswith(about)]

    def assert_ok(self, node: str, checks: tuple, about: str = '') -> None:
        """Every result of `checks` on `node` passed. A check that did not run there (status 'not run': ok, since
        nothing is known broken) does not pass a test that asks for it: it fails naming the reason."""
        found = self.of(node, checks, about)
        assert found, (f'{node}: verify reported no {"/".join(checks)} result{" for " + about if about else ""}; '
                       f'output:\n{self.output[-3000:]}')
        failed = [r['message'] for r in found if r.get('status', 'ok' if r['ok'] else 'FAILED') != 'ok']
        assert not failed, '\n'.join(failed)


@pytest.fixture(scope='module')
def verdict(request, tmp_path_factory) -> Verdict:
    """One verify.yml run per test module: testinfra asserts on the project's one oracle, never on its own copy."""
    given = request.config.getoption('--verify-report')
    if given:
        return Verdict(json.loads(Path(given).read_text())['results'], f'(the report {given})')
    report = tmp_path_factory.mktemp('verify') / 'report.json'
    run = run_verify(_inventory(request.config), report)
    output = run.stdout + run.stderr
    assert report.exists(), f'verify.yml wrote no report (rc {run.returncode}):\n{output[-5000:]}'
    return Verdict(json.loads(report.read_text())['results'], output)


@pytest.fixture(scope='module')
def cluster(request):
    """The Kubernetes cluster behind the inventory (kube_pods.Cluster): kubectl on its control plane."""
    import kube_pods  # imports this module: loaded here, not at the top
    return kube_pods.connect(_inventory(request.config))


# --- measurements ------------------------------------------------------------------------------------------
# Figures the fault tests measure (time to green, resync delay) are printed in one block at the end of the
# run, so CI's log shows them without -s.
_MEASURED: list[str] = []


@pytest.fixture
def measured(request):
    """measured(text): keep one line for the run's 'measured' summary, prefixed with the test's name."""
    def record(text: str) -> None:
        _MEASURED.append(f'{request.node.name}: {text}')
    return record


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section('measured')
        for line in _MEASURED:
            terminalreporter.write_line(line)
