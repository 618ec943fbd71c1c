"""Each check of test_cluster_pods.py catches its fault: on a rolled-out cluster, break one thing, see the same
check function (kube_pods.py) fail naming what it found, restore, see it green again.

Two kinds of fault: on the first worker's node (a route, a flannel iptables rule with flanneld frozen by
SIGSTOP so that its 5 s resync does not put the rule back before the check runs), and pods made wrong through
the API (host network, a shared PID namespace, a client that leaves the pod's namespaces). Then a sick node
under verify.yml itself: containerd or the kubelet stopped on the first worker must fail the verdict naming
that worker and the cause, while every other node is still judged, all green. Usable against any
inventory, like test_cluster_pods.py (--kube-inventory); it changes node state only between a break and its
restore (in a finally), and its pods live in namespaces deleted at the end.
"""
from __future__ import annotations

import ipaddress
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import kube_pods
import tokens
from conftest import run_verify

NAMESPACE = 'kf-cluster-faults'
BAD_NAMESPACE = 'kf-cluster-faults-bad'


@pytest.fixture(scope='module')
def pods(cluster):
    with kube_pods.standard_pods(cluster, NAMESPACE) as made:
        yield made


@pytest.fixture(scope='module')
def bad_pods(cluster):
    """Pods that break what a check expects of every pod, all on the first worker."""
    image, host = cluster.image, cluster.workers[0].name
    k8s = cluster.k8s_names[host]
    sleeper = {'name': 'sleeper', 'image': image, 'imagePullPolicy': 'Never', 'command': ['sleep', 'infinity']}
    unshared = kube_pods.client(image, prefix=('unshare', '--net', '--ipc', '--uts'))
    unshared['securityContext'] = {'capabilities': {'add': ['SYS_ADMIN']}}
    specs = {host: [
        kube_pods.pod_spec('host-network', k8s, [sleeper], hostNetwork=True),
        kube_pods.pod_spec('shared-pid', k8s, [kube_pods.nginx(image), kube_pods.client(image)],
                           shareProcessNamespace=True),
        kube_pods.pod_spec('unshared-client', k8s, [kube_pods.nginx(image), unshared]),
    ]}
    try:
        yield kube_pods.create_pods(cluster, BAD_NAMESPACE, specs)
    finally:
        kube_pods.delete_namespace(cluster, BAD_NAMESPACE)


# ------------------------------------------------------------------------------------------ node faults
def _peer_cidr(cluster) -> ipaddress.IPv4Network:
    name = cluster.k8s_names[cluster.workers[1].name]
    return ipaddress.ip_network(cluster.kubectl.out(f"get node {name} -o jsonpath='{{.spec.podCIDR}}'").strip())


def _flannel_rule(node, *words) -> str:
    """The nat POSTROUTING rule flanneld wrote that has all words, as iptables -S prints it."""
    rules = [r for r in node.host.check_output('iptables -t nat -S POSTROUTING').splitlines()
             if 'flannel' in r and all(w in r for w in words)]
    assert len(rules) == 1, f'{node.name}: flannel rules with {words}: {rules}'
    return rules[0]


def _flanneld_pid(node) -> int:
    ctr = node.host.check_output('crictl ps --name "^kube-flannel$" --state running -q').split()
    assert len(ctr) == 1, f'{node.name}: running kube-flannel containers {ctr}'
    return int(json.loads(node.host.check_output(f'crictl inspect {ctr[0]}'))['info']['pid'])


@dataclass
class NodeFault:
    check: Callable      # (cluster, pods) -> None, raises AssertionError
    expect: str          # text the failing check must say
    breaks: Callable     # (cluster, node) -> restore shell command (run on the node)


def _delete_route(cluster, node) -> str:
    cidr = _peer_cidr(cluster)
    vtep = f"flannel.{int(node.settings.get('flannel_vxlan_vni', 1))}"
    node.host.run_expect([0], f'ip route del {cidr} dev {vtep}')
    return f'ip route replace {cidr} via {cidr.network_address} dev {vtep} onlink'


def _delete_rule_with_flanneld_stopped(select: Callable) -> Callable:
    """A fault deleting the flannel rule with the words select(cluster CIDR) lists."""
    def breaks(cluster, node) -> str:
        rule = _flannel_rule(node, *select(ipaddress.ip_network(node.settings['kube_pod_subnet'])))
        pid = _flanneld_pid(node)
        node.host.run_expect([0], f'kill -STOP {pid} && iptables -t nat {rule.replace("-A", "-D", 1)}')
        # flanneld resyncs its rules every 5 s once it runs again
        return (f'kill -CONT {pid}; i=0; until iptables -t nat {rule.replace("-A", "-C", 1)} 2>/dev/null; '
                'do i=$((i+1)); [ $i -lt 60 ] || exit 1; sleep 0.5; done')
    return breaks


def _pair(cluster, pods):
    a, b = (kube_pods.web_name(w.name) for w in cluster.workers)
    return pods[a], pods[b]


NODE_FAULTS = {
    # no route to the peer's podCIDR: the ping leaves by the default route and gets no answer
    'route_to_peer_deleted': NodeFault(lambda c, p: kube_pods.check_ping(c, *_pair(c, p)), 'cannot ping',
                                       _delete_route),
    # flannel's "-s <cluster> -d <cluster> RETURN" gone: pod-to-pod traffic falls into the masquerade rule
    'pod_to_pod_return_rule_deleted': NodeFault(
        lambda c, p: kube_pods.check_no_nat(c, *_pair(c, p)), 'NATed',
        _delete_rule_with_flanneld_stopped(lambda n: (f'-s {n} -d {n} ', '-j RETURN'))),
    # flannel's masquerade rule for traffic leaving the cluster CIDR gone: the listener sees the pod IP
    'masquerade_rule_deleted': NodeFault(
        lambda c, p: kube_pods.check_masquerade(c, _pair(c, p)[0], _pair(c, p)[1].node), 'expected the masqueraded',
        _delete_rule_with_flanneld_stopped(lambda n: (f'-s {n} ! -d 224.0.0.0/4 ', '-j MASQUERADE'))),
}


def _green_within(check: Callable, seconds: int) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return ''
        except AssertionError as error:
            if time.monotonic() > deadline:
                return str(error)
            time.sleep(2)


@pytest.mark.parametrize('name', list(NODE_FAULTS))
def test_node_fault_is_caught(cluster, pods, name):
    fault, node = NODE_FAULTS[name], cluster.workers[0]
    fault.check(cluster, pods)   # green before
    restore = fault.breaks(cluster, node)
    try:
        with pytest.raises(AssertionError) as caught:
            fault.check(cluster, pods)
    finally:
        node.host.run_expect([0], restore)
    print(f'\n{name}: {caught.value}')
    assert fault.expect in str(caught.value), \
        f'{name}: the check failed without saying {fault.expect!r}: {caught.value}'
    still = _green_within(lambda: fault.check(cluster, pods), 60)
    assert not still, f'{name}: still failing after the restore: {still}'


# ------------------------------------------------------------------------------------------- pod faults
POD_FAULTS = {
    # the good pod passes, the bad one fails: (check on a pod, good pod, bad pod, what the failure says)
    'pod_in_host_network': (lambda c, pod: kube_pods.check_pod_cidr(c, pod), 'duo', 'host-network',
                            "outside its node"),
    'pod_shares_pid_namespace': (lambda c, pod: kube_pods.check_namespaces(pod, 'client'), 'duo', 'shared-pid',
                                 'pid shared'),
    'client_leaves_pod_namespaces': (lambda c, pod: kube_pods.check_namespaces(pod, 'client'), 'duo',
                                     'unshared-client', 'net not shared, ipc not shared, uts not shared'),
    'client_cannot_reach_localhost': (lambda c, pod: kube_pods.check_localhost_client(c, pod), 'duo',
                                      'unshared-client', 'as [] in'),
}


@pytest.mark.parametrize('name', list(POD_FAULTS))
def test_pod_fault_is_caught(cluster, pods, bad_pods, name):
    check, good, bad, expect = POD_FAULTS[name]
    check(cluster, pods[good])
    with pytest.raises(AssertionError) as caught:
        check(cluster, bad_pods[bad])
    print(f'\n{name}: {caught.value}')
    assert expect in str(caught.value), f'{name}: the check failed without saying {expect!r}: {caught.value}'


# ------------------------------------------------------------------------------------ a sick node, verify.yml
@dataclass
class ServiceFault:
    service: str        # systemd unit stopped on the worker
    check: str          # the oracle's check that must fail for that worker
    cause: str          # what its message must say about why
    ready: str          # shell on the worker: returns 0 once the service is back and answering


SERVICE_FAULTS = {
    # crictl cannot reach the runtime: the worker's facts cannot be read (facts_gathered, with crictl's error);
    # its pods keep running (containerd's shims outlive it) and the other nodes are judged as usual
    'containerd_stopped': ServiceFault('containerd', 'facts_gathered', 'crictl', 'crictl info >/dev/null 2>&1'),
    # nothing listens on the kubelet's health port: kubelet_healthy names the refused connection
    'kubelet_stopped': ServiceFault('kubelet', 'kubelet_healthy', 'Connection refused',
                                    'test "$(curl -s http://127.0.0.1:10248/healthz)" = ok'),
}


def _verify_report(cluster) -> tuple:
    """(results, output, rc) of one playbooks/verify.yml run on the cluster's inventory."""
    report = Path(tempfile.mkdtemp()) / 'report.json'
    run = run_verify(cluster.inventory, report)
    output = run.stdout + run.stderr
    assert report.exists(), f'verify.yml wrote no report (rc {run.returncode}):\n{output[-5000:]}'
    return json.loads(report.read_text())['results'], output, run.returncode


@pytest.mark.parametrize('name', list(SERVICE_FAULTS))
def test_verify_names_a_sick_node_and_judges_the_others(cluster, name):
    # the pod fault tests' wrong pods (on the same worker) would fail the "green again" verdict on purpose:
    # they go first (the module-scoped fixture's own cleanup then finds nothing to delete)
    kube_pods.delete_namespace(cluster, BAD_NAMESPACE)
    fault, worker = SERVICE_FAULTS[name], cluster.workers[0]
    others = [n for group in kube_pods.groups(cluster.inventory).values() for n in group if n != worker.name]
    worker.host.run_expect([0], f'systemctl stop {fault.service}')
    try:
        results, output, rc = _verify_report(cluster)
    finally:
        worker.host.run_expect([0], f'systemctl start {fault.service}; i=0; until {fault.ready}; do i=$((i+1)); '
                                    '[ $i -lt 120 ] || exit 1; sleep 1; done')
    failed = [r for r in results if r['status'] == 'FAILED']
    print(f'\n{name}: ' + '\n'.join(r['message'] for r in failed))
    assert rc != 0, f'verify.yml passed with {fault.service} stopped on {worker.name}:\n{output[-3000:]}'
    named = [r for r in failed if r['node'] == worker.name and r['check'] == fault.check]
    assert named, f'verify.yml did not fail {fault.check} on {worker.name}:\n{output[-3000:]}'
    assert any(fault.cause in r['message'] for r in named), \
        f'{fault.check} on {worker.name} does not say {fault.cause!r}: {[r["message"] for r in named]}'
    assert [r['node'] for r in failed if worker.name not in r['node'].split(',')] == [], \
        'only the sick worker may fail: ' + '\n'.join(r['message'] for r in failed)
    for other in others:
        judged = [r for r in results if r['node'] == other]
        assert judged, f'{other}: no result at all while {fault.service} was stopped on {worker.name}'
        assert all(r['status'] == 'ok' for r in judged), [r['message'] for r in judged if r['status'] != 'ok']
    # restored: green again
    results, output, rc = _verify_report(cluster)
    assert rc == 0 and not [r for r in results if not r['ok']], \
        f'verify.yml still fails after {fault.service} was started again on {worker.name}:\n{output[-3000:]}'


# ------------------------------------------------------------------------------------------- token fault
@pytest.mark.parametrize('check', [tokens.check_kubeadm_token_list_empty, tokens.check_no_bootstrap_token_secret],
                         ids=['kubeadm_token_list', 'bootstrap_token_secrets'])
def test_a_left_bootstrap_token_is_caught(cluster, check):
    """A token minted on the control plane (as one left by an interrupted rollout would be) is named by its ID;
    deleted again, the check is green. The token itself is never printed."""
    node = cluster.kubectl.node
    check(node)   # green before
    made = node.host.run(f'kubeadm token create --ttl 5m --description kf-fault-test --kubeconfig {tokens.ADMIN_CONF}')
    assert made.rc == 0, f'{node.name}: kubeadm token create failed: {made.stderr.strip()}'
    token_id = made.stdout.strip().split('.')[0]
    try:
        with pytest.raises(AssertionError) as caught:
            check(node)
    finally:
        node.host.run_expect([0], f'kubeadm token delete --kubeconfig {tokens.ADMIN_CONF} {token_id}')
    print(f'\n{check.__name__}: {caught.value}')
    assert token_id in str(caught.value) and made.stdout.strip() not in str(caught.value)
    check(node)
