"""Each data-plane check catches its fault: break one thing on one live lab node, see the matching testinfra
test (which asserts on verify's oracle for that node and concern) AND playbooks/verify.yml's summary fail
naming it, restore, see both green. Then survive flanneld being killed
(with its state wiped) and a node container restart, printing the time to green.

Lab only (needs lab/roles/lab_dataplane's fixture: flanneld under systemd, etcd on the control plane, CRI pods);
molecule's default scenario runs it.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DEFAULT_INVENTORY, node_of, run_verify, wait_for_login

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / 'tests' / 'infra'
NODE, PEER, CONTROL = 'k8s-w1', 'k8s-w2', 'k8s-m'
POD = 'pod-1'                  # the tools pod lab/roles/lab_dataplane puts on NODE
ENV = dict(os.environ, NO_COLOR='1', ANSIBLE_NOCOLOR='1', PY_COLORS='0',
           ANSIBLE_CONFIG=str(REPO / 'lab' / 'ansible.cfg'))
WAIT_FLANNELD = 'until [ -s /run/flannel/subnet.env ]; do sleep 1; done'


def host(name: str):
    """The node `name`, reached as Ansible reaches it (SSH and sudo on the lab)."""
    return node_of(str(DEFAULT_INVENTORY), name).host


def _pytest(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '--no-header', '-p', 'no:cacheprovider',
                           '-o', 'addopts=', *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          check=False, env=ENV)


def _check(test_id: str) -> subprocess.CompletedProcess:
    return _pytest(str(INFRA / test_id))


def _verify(report: Path) -> subprocess.CompletedProcess:
    return run_verify(str(REPO / 'lab' / 'inventory' / 'hosts.yml'), report)


def _verify_failed(output: str, check: str) -> bool:
    """verify's summary line for NODE and check counts at least one failure."""
    return re.search(rf'{NODE}\s+{check}\s+\d+\s+[1-9]', output) is not None


@dataclass
class Fault:
    name: str
    check: str          # pytest node id under tests/infra
    expect: str         # text the failing check must print
    verify: str  # the verify.yml check that must fail on NODE
    breaks: str         # shell run in NODE
    restores: str       # shell run in NODE


def nat_rule(node, spec: str) -> str:
    """The nat POSTROUTING rule with `spec` as `iptables -t nat -S` prints it, minus its leading `-A POSTROUTING `.

    Found by what it does, not by its comment: flannel v0.16.3 writes `-m comment --comment "flannel masq"` into
    its rules, v0.16.1 writes no comment at all, and either may add `--random-fully` to a MASQUERADE. The text
    returned is the rule as this flanneld wrote it, ready for `iptables -t nat -D|-C POSTROUTING <text>`.
    """
    lines = node.check_output('iptables -t nat -S POSTROUTING').splitlines()
    for line in lines:
        bare = re.sub(r' -m comment --comment ("[^"]*"|\S+)', '', line)
        if re.sub(r' --random-fully$', '', bare) == f'-A POSTROUTING {spec}':
            return line[len('-A POSTROUTING '):]
    raise AssertionError(f'no nat POSTROUTING rule "{spec}" among:\n' + '\n'.join(lines))


@pytest.fixture(scope='module')
def lab():
    """What the faults need to know about the live lab: leases, VTEP MACs, addresses, the pod's pause."""
    node, peer = host(NODE), host(PEER)
    peer_env = dict(line.split('=', 1) for line in peer.file('/run/flannel/subnet.env').content_string.split())
    peer_subnet = ipaddress.ip_interface(peer_env['FLANNEL_SUBNET']).network
    peer_mac = json.loads(peer.check_output('ip -j link show flannel.1'))[0]['address']
    peer_ip = json.loads(peer.check_output('ip -j -4 addr show enp0s8'))[0]['addr_info'][0]['local']
    mtu = json.loads(node.check_output('ip -j link show flannel.1'))[0]['mtu']
    network = dict(line.split('=', 1) for line in node.file('/run/flannel/subnet.env').content_string.split())[
        'FLANNEL_NETWORK']
    # flannel's MASQUERADE for pod traffic leaving the cluster CIDR, as this flanneld wrote it
    masq = nat_rule(node, f'-s {network} ! -d 224.0.0.0/4 -j MASQUERADE')
    return {'peer_subnet': peer_subnet, 'peer_mac': peer_mac, 'peer_ip': peer_ip, 'mtu': mtu, 'network': network,
            'masq': masq}


def faults(lab) -> list:
    s, mac, ip, n, masq = lab['peer_subnet'], lab['peer_mac'], lab['peer_ip'], lab['network'], lab['masq']
    return [
        Fault('route_deleted', f'test_flannel.py::test_peer[{NODE}->{PEER}-route_to_peer]', f'({PEER}): expected',
              'route_to_peer', f'ip route del {s} dev flannel.1',
              f'ip route replace {s} via {s.network_address} dev flannel.1 onlink'),
        Fault('fdb_deleted', f'test_flannel.py::test_peer[{NODE}->{PEER}-fdb_entry_for_peer]', f'no entry for {mac}',
              'fdb_to_peer', f'bridge fdb del {mac} dev flannel.1 dst {ip}',
              f'bridge fdb append {mac} dev flannel.1 dst {ip} self permanent'),
        # flanneld re-adds its rules every 5 s (--iptables-resync): it is stopped while the rule is missing
        Fault('masquerade_rule_deleted', f'test_flannel.py::test_node[{NODE}-iptables_masquerade]',
              f'missing: -s {n} ! -d 224.0.0.0/4 -j MASQUERADE', 'masquerade_rules',
              f'systemctl stop flanneld && iptables -t nat -D POSTROUTING {masq}',
              f'systemctl start flanneld && until iptables -t nat -C POSTROUTING {masq} 2>/dev/null; '
              'do sleep 1; done'),
        Fault('vtep_mtu_changed', f'test_flannel.py::test_node[{NODE}-vtep_settings]',
              f"expected {lab['mtu']}, found {lab['mtu'] - 100}",
              'vtep_mtu', f"ip link set flannel.1 mtu {lab['mtu'] - 100}", f"ip link set flannel.1 mtu {lab['mtu']}"),
        Fault('flanneld_on_nat_interface', f'test_flannel.py::test_node[{NODE}-vtep_settings]', 'found 10.0.2.15',
              'vtep_local_ip',
              'mkdir -p /etc/systemd/system/flanneld.service.d && '
              "sed -n 's/^ExecStart=/ExecStart=\\nExecStart=/p' /etc/systemd/system/flanneld.service | "
              "sed 's/--iface=[^ ]*/--iface=enp0s3/' | { echo '[Service]'; cat; } "
              '> /etc/systemd/system/flanneld.service.d/fault.conf && '
              'systemctl daemon-reload && systemctl restart flanneld && '
              'until ip -d link show flannel.1 | grep -q "local 10.0.2.15"; do sleep 1; done',
              # the lease flanneld took for the NAT address goes too, so that no peer keeps a route to it
              'bad=$(sed -n "s/^FLANNEL_SUBNET=//p" /run/flannel/subnet.env); '
              'rm /etc/systemd/system/flanneld.service.d/fault.conf && systemctl daemon-reload && '
              'systemctl restart flanneld && until ip -d link show flannel.1 | grep -q "local 192.168"; '
              'do sleep 1; done; echo "$bad" > /tmp/kflab-bad-lease'),
        Fault('pause_killed', f'test_pods.py::test_pod_has_one_live_pause_process[{NODE}-{POD}]', 'pause process',
              'pod_single_pause',
              f'kill -9 $(crictl inspectp $(crictl pods --name "^{POD}$" -q) | '
              "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"info\"][\"pid\"])') && sleep 2",
              'systemctl restart kflab-pods'),
    ]


FAULT_NAMES = ['route_deleted', 'fdb_deleted', 'masquerade_rule_deleted', 'vtep_mtu_changed',
               'flanneld_on_nat_interface', 'pause_killed']


def _drop_bad_lease():
    """After flanneld_on_nat_interface: remove the lease it took for 10.0.2.15 from etcd."""
    node = host(NODE)
    if not node.file('/tmp/kflab-bad-lease').exists:
        return
    bad = ipaddress.ip_interface(node.file('/tmp/kflab-bad-lease').content_string.strip()).network
    if str(bad) != ipaddress.ip_interface(dict(line.split('=', 1) for line in node.file(
            '/run/flannel/subnet.env').content_string.split())['FLANNEL_SUBNET']).network.with_prefixlen:
        host(CONTROL).run(f'ETCDCTL_API=2 etcdctl rm /coreos.com/network/subnets/{bad.network_address}-{bad.prefixlen}')
    node.run('rm -f /tmp/kflab-bad-lease')


def _green_within(check: str, seconds: int) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + seconds
    while True:
        result = _check(check)
        if result.returncode == 0 or time.monotonic() > deadline:
            return result
        time.sleep(2)


@pytest.mark.parametrize('name', FAULT_NAMES)
def test_checks_catch_fault(lab, name):
    fault = {f.name: f for f in faults(lab)}[name]
    before = _check(fault.check)
    assert before.returncode == 0, f'{fault.check} fails before the fault:\n{before.stdout}'
    node = host(NODE)
    node.run_expect([0], fault.breaks)
    report = Path(tempfile.mkdtemp()) / 'report.json'
    try:
        # one verify.yml run judges the broken state; the testinfra test asserts on its report
        verify = _verify(report)
        broken = _pytest(str(INFRA / fault.check), f'--verify-report={report}')
    finally:
        node.run_expect([0], fault.restores)
        _drop_bad_lease()
    assert broken.returncode == 1, f'{fault.check} did not catch {fault.name}:\n{broken.stdout}'
    assert fault.expect in broken.stdout, f'{fault.check} failed without naming {fault.expect}:\n{broken.stdout}'
    output = verify.stdout + verify.stderr
    assert verify.returncode != 0, f'verify.yml passed with {fault.name}:\n{output[-3000:]}'
    assert _verify_failed(output, fault.verify), f'verify.yml did not name {fault.verify} on {NODE}:\n{output[-3000:]}'
    # the pod maker (kubelet stand-in) makes a new sandbox after pause_killed: its test id is the same
    after = _green_within(fault.check, 90)
    assert after.returncode == 0, f'{fault.check} still fails after restoring:\n{after.stdout}'


def test_flanneld_resync_restores_a_deleted_rule(lab, measured):
    """Measure how soon a running flanneld puts back a deleted masquerade rule (--iptables-resync, 5 s)."""
    rule = lab['masq']
    node = host(NODE)
    node.run_expect([0], f'iptables -t nat -D POSTROUTING {rule}')
    start = time.monotonic()
    node.run_expect([0], f'i=0; until iptables -t nat -C POSTROUTING {rule} 2>/dev/null; do i=$((i+1)); '
                         '[ $i -lt 300 ] || exit 1; sleep 0.1; done')
    elapsed = time.monotonic() - start
    measured(f'flanneld re-added the deleted masquerade rule after {elapsed:.1f} s')
    assert elapsed < 15, f'rule came back only after {elapsed:.1f} s'


def _time_to_green(selection: list, seconds: int) -> tuple:
    start = time.monotonic()
    while True:
        result = _pytest('-k', NODE, *selection)
        elapsed = time.monotonic() - start
        if result.returncode == 0 or elapsed > seconds:
            return result, elapsed
        time.sleep(2)


def test_killed_flanneld_rebuilds_everything(measured):
    """kill -9 flanneld after wiping what it made (VTEP with its routes/FDB/ARP, subnet.env, rules)."""
    node = host(NODE)
    network = ipaddress.ip_interface(dict(line.split('=', 1) for line in node.file(
        '/run/flannel/subnet.env').content_string.split())['FLANNEL_NETWORK']).network
    # flannel's nat rules are the POSTROUTING rules naming its network (v0.16.1 writes them without a comment)
    node.run_expect([0], 'systemctl kill -s KILL flanneld && ip link del flannel.1 && rm /run/flannel/subnet.env && '
                         f'iptables -t nat -S POSTROUTING | grep -F -- " {network} " | sed "s/^-A/-D/" | '
                         'xargs -r -L1 iptables -t nat')
    # systemd restarts flanneld within seconds, faster than a verify.yml run: the wipe is seen directly (the
    # checks that name each part of it are the fault cases above)
    gone = node.run('ip link show flannel.1 || test -e /run/flannel/subnet.env')
    assert gone.rc != 0, f'flanneld state not wiped ({network}): {gone.stdout}'
    result, elapsed = _time_to_green([str(INFRA / 'test_flannel.py')], 180)
    measured(f'kill -9 flanneld + wiped state: flannel checks on {NODE} green again after {elapsed:.0f} s')
    assert result.returncode == 0, result.stdout


def test_node_restart_comes_back_green(measured):
    """podman restart of NODE: flanneld, the data plane and the pods come back by themselves."""
    node = host(NODE)
    before = node.check_output('crictl pods -o json')
    ips_before = {p['metadata']['name']: json.loads(node.check_output(f"crictl inspectp {p['id']}"))['status']
                  ['network']['ip'] for p in json.loads(before)['items']}
    start = time.monotonic()
    subprocess.run(['podman', 'restart', '--time', '30', f'kflab-{NODE}'], check=True, capture_output=True,
                   timeout=180)
    wait_for_login(node)
    node.run_expect([0], 'until systemctl is-system-running --wait 2>/dev/null | grep -qE "running|degraded"; '
                         f'do sleep 1; done; {WAIT_FLANNELD}; systemctl is-active --wait kflab-pods || true')
    result, _ = _time_to_green([str(INFRA / 'test_flannel.py'), str(INFRA / 'test_pods.py')], 300)
    elapsed = time.monotonic() - start
    ready = json.loads(node.check_output('crictl pods --state ready -o json'))['items']
    ips_after = {p['metadata']['name']: json.loads(node.check_output(f"crictl inspectp {p['id']}"))['status']
                 ['network']['ip'] for p in ready}
    measured(f'node restart: checks on {NODE} green again after {elapsed:.0f} s; pod IPs before {ips_before}, '
          f'after {ips_after}')
    assert result.returncode == 0, result.stdout[-5000:]
