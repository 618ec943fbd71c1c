"""Pods on the cluster network: pause process, address and namespace sharing per pod (as verify's oracle judged
them, filter_plugins/netcheck.py), then live traffic: pod-to-pod across nodes without NAT, localhost inside a
pod, masquerade on the way out of the cluster CIDR.

Pods are found on the live nodes through the CRI (crictl) when the tests are collected. The traffic
tests need pods that carry busybox (label kflab.io/tools=true, one per node, serving HTTP on 8080 and
logging every peer) and a two-container web pod (label kflab.io/web=true): lab/dataplane.yml
makes both. Without them those tests fail, naming what is missing.
"""
from __future__ import annotations

import functools
import json
import re
import time

from conftest import _hosts, _inventory
from cri import node_of as _node

HTTP_PORT = 8080
MASQ_PORT = 18080


@functools.lru_cache(maxsize=None)
def _pods(inventory: str) -> tuple:
    """(node, pod name, pod id, labels, [(container name, container id)]) of every pod on the pod network."""
    found = []
    for name in sorted(_hosts(inventory)):
        host = _node(inventory, name).host
        pods = json.loads(host.check_output('crictl pods -o json'))['items']
        for pod in pods:
            info = json.loads(host.check_output(f"crictl inspectp {pod['id']}"))
            options = info['info']['config'].get('linux', {}).get('security_context', {}).get('namespace_options', {})
            if options.get('network') == 2:      # host network: nothing of flannel's to check
                continue
            ctrs = json.loads(host.check_output(f"crictl ps --pod {pod['id']} -o json"))['containers']
            found.append((name, pod['metadata']['name'], pod['id'], pod.get('labels', {}),
                          tuple((c['metadata']['name'], c['id']) for c in ctrs)))
    return tuple(found)


def _labelled(inventory: str, label: str) -> list:
    return [p for p in _pods(inventory) if p[3].get(label) == 'true']


def pytest_generate_tests(metafunc):
    inventory = _inventory(metafunc.config)
    if 'pod' in metafunc.fixturenames:
        pods = [p[:3] for p in _pods(inventory)] or [('none', 'no ready pod on any node', '')]
        metafunc.parametrize('pod', pods, ids=[f'{p[0]}-{p[1]}' for p in pods])
    if 'pod_container' in metafunc.fixturenames:
        items = [(p[0], p[1], p[2], c) for p in _pods(inventory) for c in p[4]] or \
            [('none', 'no container in any pod', '', ('', ''))]
        metafunc.parametrize('pod_container', items, ids=[f'{i[0]}-{i[1]}-{i[3][0]}' for i in items])
    if 'tools_pair' in metafunc.fixturenames:
        tools = _labelled(inventory, 'kflab.io/tools')
        pairs = [(a, b) for a in tools for b in tools if a[0] != b[0]] or [None]
        metafunc.parametrize('tools_pair', pairs,
                             ids=[f'{a[1]}@{a[0]}->{b[1]}@{b[0]}' if a else 'missing' for a, b in
                                  [p or (None, None) for p in pairs]])
    if 'tools_pod' in metafunc.fixturenames:
        tools = _labelled(inventory, 'kflab.io/tools') or [None]
        metafunc.parametrize('tools_pod', tools, ids=[f'{t[1]}@{t[0]}' if t else 'missing' for t in tools])
    if 'web_pod' in metafunc.fixturenames:
        web = _labelled(inventory, 'kflab.io/web') or [None]
        metafunc.parametrize('web_pod', web, ids=[f'{w[1]}@{w[0]}' if w else 'missing' for w in web])


def _current(host, pod_name: str, ctr_name: str | None = None) -> str:
    """Id of the newest sandbox named pod_name (or of its container ctr_name) now: pods may have been made
    again since collection (a node restart, the fault tests), keeping names but not ids."""
    pod_id = host.check_output(f'crictl pods --name "^{pod_name}$" --latest -q')
    if ctr_name is None:
        return pod_id
    return host.check_output(f'crictl ps --pod {pod_id} --name "^{ctr_name}$" --latest -q')


def _need(item, what):
    assert item, f'no {what} found on any node (lab/dataplane.yml makes them)'


def pod_ip(host, pod_id: str) -> str:
    return json.loads(host.check_output(f'crictl inspectp {pod_id}'))['status']['network']['ip']


def in_pod(host, ctr_id: str, command: str):
    # busybox-static's wget -T crashes (SIGSEGV) here: crictl bounds the time instead
    return host.run(f'crictl exec --timeout 20 {ctr_id} sh -c {command!r}')


# ----------------------------------------------------------------------------------------------- per pod
def test_pod_has_one_live_pause_process(pod, verdict):
    node_name, name, pod_id = pod
    assert pod_id, name
    verdict.assert_ok(node_name, ('pod_single_pause',), about=f'/{name}')


def test_pod_address_in_node_lease(pod, verdict):
    node_name, name, pod_id = pod
    assert pod_id, name
    verdict.assert_ok(node_name, ('pod_address_in_lease',), about=f'/{name}')


def test_pod_eth0_at_the_pod_mtu(pod, verdict):
    node_name, name, pod_id = pod
    assert pod_id, name
    verdict.assert_ok(node_name, ('pod_mtu',), about=f'/{name}')


def test_container_shares_namespaces_with_pause(pod_container, verdict):
    node_name, name, pod_id, (ctr_name, _) = pod_container
    assert pod_id, name
    verdict.assert_ok(node_name, ('pod_namespaces',), about=f'/{name} container {ctr_name}')


# --------------------------------------------------------------------------------------------- traffic
def test_pod_to_pod_across_nodes_without_nat(tools_pair, request):
    _need(tools_pair, 'pair of kflab.io/tools pods on two nodes')
    inventory = _inventory(request.config)
    (src_node, src_name, src_id, _, src_ctrs), (dst_node, dst_name, dst_id, _, dst_ctrs) = tools_pair
    src, dst = _node(inventory, src_node).host, _node(inventory, dst_node).host
    src_id, dst_id = _current(src, src_name), _current(dst, dst_name)
    src_ctrs = [(src_ctrs[0][0], _current(src, src_name, src_ctrs[0][0]))]
    dst_ctrs = [(dst_ctrs[0][0], _current(dst, dst_name, dst_ctrs[0][0]))]
    src_ip, dst_ip = pod_ip(src, src_id), pod_ip(dst, dst_id)
    ping = in_pod(src, src_ctrs[0][1], f'ping -c 2 -W 2 {dst_ip}')
    assert ping.rc == 0, f'{src_name}@{src_node} cannot ping {dst_name}@{dst_node} ({dst_ip}): {ping.stdout}'
    marker = f'/kflab-{src_name}-{time.time_ns()}'
    fetch = in_pod(src, src_ctrs[0][1], f'wget -q -O - http://{dst_ip}:{HTTP_PORT}{marker}')
    # 404 is fine: the request reached the server, whose log is what counts
    assert fetch.rc in (0, 1), f'{src_name} -> {dst_name}: {fetch.stderr}'
    logs = dst.check_output(f'crictl logs {dst_ctrs[0][1]} 2>&1')
    peers = re.findall(r'\[?(?:::ffff:)?([\d.]+)\]?:\d+: url:' + re.escape(marker), logs)
    assert peers == [src_ip], \
        f'{dst_name}@{dst_node} saw {src_name}@{src_node} ({src_ip}) as {peers}: NATed or lost on the way'


def test_web_pod_serves_its_own_localhost(web_pod, request):
    _need(web_pod, 'kflab.io/web pod')
    node_name, name, _, _, ctrs = web_pod
    host = _node(_inventory(request.config), node_name).host
    web = _current(host, name, 'web')
    logs = host.check_output(f'crictl logs --tail 40 {web} 2>&1')
    peers = set(re.findall(r'\[?(?:::ffff:)?([\d.]+)\]?:\d+: url:', logs))
    assert peers == {'127.0.0.1'}, f'{name}@{node_name}: web server peers {peers}, expected the client on 127.0.0.1'


def test_pod_leaving_cluster_cidr_is_masqueraded(tools_pod, request):
    _need(tools_pod, 'kflab.io/tools pod')
    inventory = _inventory(request.config)
    node_name, name, pod_id, _, ctrs = tools_pod
    names = sorted(_hosts(inventory))
    target = _node(inventory, names[(names.index(node_name) + 1) % len(names)])
    node = _node(inventory, node_name)
    pod_id = _current(node.host, name)
    ctrs = [(ctrs[0][0], _current(node.host, name, ctrs[0][0]))]
    log = f'/tmp/kflab-masq-{name}.log'
    target.host.run_expect([0], f'mkdir -p /tmp/kflab-masq && rm -f {log} && '
                                f'(timeout 30 busybox httpd -f -vv -p {MASQ_PORT} -h /tmp/kflab-masq >{log} 2>&1 & '
                                f'echo $! >{log}.pid)')
    try:
        time.sleep(1)
        in_pod(node.host, ctrs[0][1], f'wget -q -O - http://{target.cluster_ip()}:{MASQ_PORT}/masq')
        peers = re.findall(r'\[?(?:::ffff:)?([\d.]+)\]?:\d+: url:/masq', target.host.check_output(f'cat {log}'))
    finally:
        target.host.run(f'kill $(cat {log}.pid)')
    assert peers == [node.cluster_ip()], \
        f'{target.name} saw {name}@{node_name} ({pod_ip(node.host, pod_id)}) as {peers}, ' \
        f'expected the masqueraded {node.cluster_ip()}'
