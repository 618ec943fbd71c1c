"""playbooks/reset.yml undoes a rollout on every node, and site.yml then rolls out a working cluster again.

Destructive: the whole cluster is torn down and rolled out again (its last stage, verify.yml, must pass).
Molecule's cluster scenario runs it before the other cluster checks, so those then check the re-rolled cluster.
Usable against any inventory (--kube-inventory); never run it against a cluster you want to keep.
"""
from __future__ import annotations

import time

import kube_pods
from conftest import _inventory, run_playbook

# What a rollout leaves on a node and reset.yml must remove.
LEFTOVERS = ('/etc/kubernetes/admin.conf', '/etc/kubernetes/kubelet.conf',
             '/etc/kubernetes/manifests/kube-apiserver.yaml',
             '/etc/cni/net.d/10-flannel.conflist', '/run/flannel/subnet.env')


def _playbook(inventory: str, playbook: str):
    start = time.monotonic()
    result = run_playbook(inventory, playbook)
    return result, time.monotonic() - start


def _ready_nodes(cluster: kube_pods.Cluster) -> dict:
    items = cluster.kubectl.json('get nodes')['items']
    return {i['metadata']['name']: next((c['status'] for c in i['status'].get('conditions', [])
                                         if c['type'] == 'Ready'), 'Unknown') for i in items}


def test_reset_then_site_gives_a_working_cluster(request, measured):
    inventory = _inventory(request.config)
    cluster = kube_pods.connect(inventory)
    names = kube_pods.groups(inventory)
    nodes = [cluster.node(n) for n in names['kube_control_plane'] + names['kube_workers']]
    before = _ready_nodes(cluster)
    assert before and set(before.values()) == {'True'}, f'cluster not Ready before the reset: {before}'

    reset, reset_secs = _playbook(inventory, 'playbooks/reset.yml')
    assert reset.returncode == 0, f'reset.yml failed:\n{reset.stdout[-4000:]}{reset.stderr[-2000:]}'
    for node in nodes:
        left = [p for p in LEFTOVERS if node.host.file(p).exists]
        links = [i for i in ('flannel.1', 'cni0') if node.host.run(f'ip link show {i}').rc == 0]
        assert not left and not links, f'{node.name} after reset.yml still has {left + links}'
        assert not node.host.service('kubelet').is_running, f'{node.name}: kubelet still running after reset.yml'

    site, site_secs = _playbook(inventory, 'site.yml')
    assert site.returncode == 0, f'site.yml after reset failed:\n{site.stdout[-6000:]}{site.stderr[-2000:]}'
    after = _ready_nodes(cluster)
    assert set(after) == set(before) and set(after.values()) == {'True'}, f'after reset + site.yml: {after}'
    measured(f'reset.yml {reset_secs:.0f} s; site.yml from reset nodes to verify green {site_secs:.0f} s')
