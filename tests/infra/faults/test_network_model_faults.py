"""Each part of the network model verify.yml probes is named when it breaks: on a rolled-out cluster, break one
thing, run verify.yml with its probes, see the failing checks name the node (and peer) and the layer, restore.
A last run after every restore must be green again.

- kube-proxy's KUBE-SERVICES chain flushed on the first worker while its kube-proxy is frozen (SIGSTOP), so it
  cannot put the rules back before verify reads them;
- CoreDNS scaled to 0: the kube-dns Service has no endpoint, names stop resolving;
- the first worker's cluster NIC at a smaller MTU than the others: the VTEP MTU no longer fits it, and full-size
  pod packets from the node before it in the probe ring are black-holed;
- the NodePort range dropped on the first worker's cluster address.

Usable against any inventory like test_network_model.py; node state changes only between a break and its
restore (in a finally).
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from test_network_model import verify_with_probes


def _kube_proxy_pid(node) -> int:
    ctr = node.host.check_output('crictl ps --name "^kube-proxy$" --state running -q').split()
    assert len(ctr) == 1, f'{node.name}: running kube-proxy containers {ctr}'
    return int(json.loads(node.host.check_output(f'crictl inspect {ctr[0]}'))['info']['pid'])


def _flush_services_with_kube_proxy_frozen(cluster, node) -> str:
    pid = _kube_proxy_pid(node)
    node.host.run_expect([0], f'kill -STOP {pid} && iptables -t nat -F KUBE-SERVICES')
    # kube-proxy rewrites its whole ruleset on its next sync once it runs again
    return (f'kill -CONT {pid}; i=0; until iptables -t nat -S KUBE-SERVICES | grep -q "default/kubernetes"; '
            'do i=$((i+1)); [ $i -lt 120 ] || exit 1; sleep 0.5; done')


def _coredns_scaled_to_zero(cluster, node) -> str:
    replicas = cluster.kubectl.out("-n kube-system get deployment coredns -o jsonpath='{.spec.replicas}'").strip()
    cluster.kubectl.out('-n kube-system scale deployment coredns --replicas=0')
    cluster.kubectl.out('-n kube-system wait --for=delete pod -l k8s-app=kube-dns --timeout=120s')
    # restored on the control plane node (the restore command runs on `node`, which may be a worker)
    return (f'kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system scale deployment coredns '
            f'--replicas={replicas} && kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system rollout '
            'status deployment coredns --timeout=180s')


def _nic_mtu_lowered(cluster, node) -> str:
    nic = node.settings['kube_cluster_interface']
    mtu = int(node.host.check_output(f'cat /sys/class/net/{nic}/mtu'))
    node.host.run_expect([0], f'ip link set {nic} mtu {mtu - 100}')
    return f'ip link set {nic} mtu {mtu}'


def _nodeport_range_dropped(cluster, node) -> str:
    rule = f'PREROUTING -d {node.cluster_ip()}/32 -p tcp --dport 30000:32767 -j DROP'
    node.host.run_expect([0], f'iptables -t raw -I {rule}')
    return f'iptables -t raw -D {rule}'


@dataclass
class Fault:
    breaks: Callable      # (cluster, node) -> restore command, run on the node (or the control plane: on_cp)
    expect: list          # (check, node role, text) the verdict must hold as failed: 'node' is the broken node,
                          # 'before' the node before it in the probe ring, '*' any node
    on_cp: bool = False


FAULTS = {
    'kube_proxy_rules_flushed': Fault(_flush_services_with_kube_proxy_frozen, [
        ('service_rules', 'node', 'no rule in KUBE-SERVICES'),
        ('service_clusterip', 'node', 'no answer'),
        ('service_dns', 'node', 'no answer')]),
    'coredns_scaled_to_zero': Fault(_coredns_scaled_to_zero, [
        ('service_rules', '*', 'no ready endpoint'),
        ('service_dns', '*', 'no answer')], on_cp=True),
    'nic_mtu_lowered': Fault(_nic_mtu_lowered, [
        ('vtep_mtu', 'node', ''),
        ('pod_mtu_path', 'before', 'lost')]),
    'nodeport_dropped': Fault(_nodeport_range_dropped, [
        ('nodeport', 'node', 'no answer')]),
}


def _ring_before(cluster, name) -> str:
    """The host whose pod probes `name`'s pod (verify's ring: each node probes the next in kube_cluster's order)."""
    manager = InventoryManager(loader=DataLoader(), sources=[cluster.inventory])
    order = [h.name for h in manager.get_hosts('kube_cluster')]
    return order[order.index(name) - 1]


@pytest.fixture
def fresh_ssh(monkeypatch):
    """verify.yml's SSH connections made anew, not taken over from an earlier run (Ansible keeps one master
    connection per node for 60 s). A TCP connection keeps the segment size agreed when it opened: after the
    cluster NIC's MTU is lowered, an old master sends full-size segments that the node's NIC drops, and the node
    looks unreachable; a new connection agrees on the smaller size, as a new SSH session would on a real site."""
    with tempfile.TemporaryDirectory(prefix='kfcp-') as control:
        monkeypatch.setenv('ANSIBLE_SSH_CONTROL_PATH_DIR', control)
        yield


@pytest.mark.parametrize('name', list(FAULTS))
def test_network_fault_is_named(cluster, tmp_path, name, measured, fresh_ssh):
    fault, node = FAULTS[name], cluster.workers[0]
    started = time.monotonic()
    restore = fault.breaks(cluster, node)
    try:
        verdict = verify_with_probes(cluster, tmp_path / 'report.json')
    finally:
        (cluster.kubectl.node if fault.on_cp else node).host.run_expect([0], restore)
    measured(f'{name}: verify with probes on the broken cluster and restore took {time.monotonic() - started:.0f} s')
    failed = [r for r in verdict.results if not r['ok']]
    print(f'\n{name}:\n' + '\n'.join(r['message'] for r in failed))
    before = _ring_before(cluster, node.name)
    for check, who, text in fault.expect:
        want = {'node': node.name, 'before': before}.get(who)
        named = [r for r in failed if r['check'] == check and (want is None or r['node'] == want)
                 and text in r['message']]
        assert named, (f'{name}: no failed {check} on {want or "any node"} saying {text!r}; failed:\n'
                       + '\n'.join(r['message'] for r in failed))


def test_green_again_after_every_restore(cluster, tmp_path):
    verdict = verify_with_probes(cluster, tmp_path / 'report.json')
    failed = [r['message'] for r in verdict.results if not r['ok']]
    assert not failed, '\n'.join(failed)
