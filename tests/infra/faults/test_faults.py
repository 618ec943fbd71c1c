"""Each node check catches the fault it is for: break one thing on one lab node, run the check, see it
fail naming that thing, restore, see it pass again. Then survive a node restart.

Lab only (it changes a node and restarts a container): molecule's default and cluster scenarios run it after verify.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / 'tests' / 'infra'
NODE = 'k8s-w1'
CONTAINER = f'kflab-{NODE}'
RESTART_CONTAINERD = 'systemctl restart containerd && until ctr version >/dev/null 2>&1; do sleep 1; done'


@dataclass
class Fault:
    name: str
    check: str          # pytest node id under tests/infra, for NODE
    expect: str         # text the failing check must print
    breaks: str         # shell run in the node to cause the fault
    restores: str       # shell run in the node to undo it


FAULTS = [
    Fault('ip_forward_off', 'test_node_prep.py::test_sysctl_is_set_now[{n}-net.ipv4.ip_forward]',
          'net.ipv4.ip_forward', 'sysctl -qw net.ipv4.ip_forward=0', 'sysctl -qw net.ipv4.ip_forward=1'),
    Fault('sysctl_not_persisted', 'test_node_prep.py::test_sysctl_is_persisted[{n}-net.ipv4.ip_forward]',
          'net.ipv4.ip_forward not persisted',
          "sed -i.fault '/ip_forward/d' /etc/sysctl.d/99-kubernetes.conf",
          'mv /etc/sysctl.d/99-kubernetes.conf.fault /etc/sysctl.d/99-kubernetes.conf'),
    Fault('swap_in_fstab', 'test_node_prep.py::test_no_swap_in_fstab[{n}]', 'fstab would turn swap on',
          "cp /etc/fstab /etc/fstab.fault && echo '/swapfile none swap sw 0 0' >> /etc/fstab",
          'mv /etc/fstab.fault /etc/fstab'),
    Fault('containerd_stopped', 'test_containerd.py::test_containerd_answers_on_its_socket[{n}]',
          'containerd.sock', 'systemctl stop containerd', RESTART_CONTAINERD),
    Fault('cgroupfs_in_containerd',
          'test_containerd.py::test_systemd_cgroup_follows_the_cluster_cgroup_driver[{n}]', 'SystemdCgroup',
          "cp /etc/containerd/config.toml /tmp/config.toml.fault && "
          "sed -i 's/SystemdCgroup = true/SystemdCgroup = false/' /etc/containerd/config.toml",
          f'mv /tmp/config.toml.fault /etc/containerd/config.toml && {RESTART_CONTAINERD}'),
    Fault('wrong_sandbox_image', 'test_containerd.py::test_sandbox_image_is_kubeadms_pause[{n}]', 'pause:3.6',
          "cp /etc/containerd/config.toml /tmp/config.toml.fault && "
          "sed -i 's|/pause:3.5|/pause:3.6|' /etc/containerd/config.toml",
          f'mv /tmp/config.toml.fault /etc/containerd/config.toml && {RESTART_CONTAINERD}'),
]


def _check(test_id: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '--no-header', '-p', 'no:cacheprovider',
                           '-o', 'addopts=', str(INFRA / test_id.format(n=NODE))],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
                          env=dict(os.environ, NO_COLOR='1'))


def _infra_conftest(config):
    """tests/infra/conftest.py as pytest loaded it. Not `from conftest import`: when a run collects another
    conftest.py too, that name is whichever pytest imported last."""
    wanted = INFRA / 'conftest.py'
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, '__file__', None)
        if path and Path(path).resolve() == wanted:
            return plugin
    raise RuntimeError(f'pytest has not loaded {wanted}')


@pytest.fixture(scope='module')
def lab_node(request):
    """The node, reached as Ansible reaches it (SSH and sudo on the lab)."""
    infra = _infra_conftest(request.config)
    return infra.node_of(str(infra.DEFAULT_INVENTORY), NODE).host


@pytest.mark.parametrize('fault', FAULTS, ids=[f.name for f in FAULTS])
def test_check_catches_fault(lab_node, fault):
    before = _check(fault.check)
    assert before.returncode == 0, f'{fault.check} fails before the fault:\n{before.stdout}'
    lab_node.run_expect([0], fault.breaks)
    try:
        broken = _check(fault.check)
        assert broken.returncode == 1, f'{fault.check} did not catch {fault.name}:\n{broken.stdout}'
        assert fault.expect in broken.stdout, f'{fault.check} failed without naming {fault.expect}:\n{broken.stdout}'
    finally:
        lab_node.run_expect([0], fault.restores)
    after = _check(fault.check)
    assert after.returncode == 0, f'{fault.check} still fails after restoring:\n{after.stdout}'


def test_node_restart_keeps_prepared_state(lab_node, request):
    """Swap stays off, sysctls come back from sysctl.d at boot, containerd starts again by itself, and so does
    every service that ran before the restart (whatever else the scenario runs there, the data plane included),
    so that the tests after this one see the node whole again."""
    # the services enabled to start at boot that run now
    active = lab_node.check_output('systemctl list-units --type=service --state=active --plain --no-legend '
                                   '| cut -d" " -f1').split()
    enabled = lab_node.check_output('systemctl list-unit-files --type=service --state=enabled --no-legend '
                                    '| cut -d" " -f1').split()
    services = sorted(set(active) & set(enabled))
    # Undo the runtime value first: only the persisted setting can bring it back after the restart.
    lab_node.run_expect([0], 'sysctl -qw net.ipv4.ip_forward=0')
    subprocess.run(['podman', 'restart', '--time', '30', CONTAINER], check=True, capture_output=True, timeout=180)
    _infra_conftest(request.config).wait_for_login(lab_node)
    lab_node.run_expect([0], 'until systemctl is-system-running --wait 2>/dev/null | grep -qE "running|degraded"; '
                         'do sleep 1; done; until ctr version >/dev/null 2>&1; do sleep 1; done')
    back = lab_node.run(f'timeout 120 sh -c \'until systemctl is-active --quiet {" ".join(services)}; '
                        f'do sleep 1; done\'')
    inactive = lab_node.run(f'systemctl is-active {" ".join(services)} | paste -sd" "').stdout.split()
    assert back.rc == 0, f'not active again 120 s after the restart: ' \
        f'{[s for s, state in zip(services, inactive) if state != "active"]}'
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '--no-header', '-p', 'no:cacheprovider',
                             '-o', 'addopts=', '-k', NODE, str(INFRA / 'test_node_prep.py'),
                             str(INFRA / 'test_containerd.py')],
                            cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize('bad,expect', [
    ('kube_cluster_interface=enp0s9', "kube_cluster_interface 'enp0s9' does not exist on this host"),
    ('kube_pod_subnet=192.168.0.0/16', 'kube_pod_subnet 192.168.0.0/16 overlaps the node network 192.168.100.0/24'),
], ids=['missing_interface', 'overlapping_cidr'])
def test_broken_lab_inventory_stops_in_validate(bad, expect):
    """The whole site.yml against the live lab, with one bad setting: it ends in stage 1, nothing changed."""
    run = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-e', bad, 'site.yml'],
                         cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_CONFIG=str(REPO / 'lab' / 'ansible.cfg')))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert expect in output, output
    assert 'TASK [node_prep' not in output and 'TASK [containerd' not in output, output
    assert 'changed=0' in output and not re.search(r'changed=[1-9]', output), output
