"""reset.yml on one control plane of an HA cluster takes its etcd member out; site.yml puts it back.

kubeadm reset on a stacked-etcd control plane removes the node's own member from etcd before it wipes the node
(playbooks/reset.yml resets control planes one at a time, the last of the inventory first). The others keep a
majority of a smaller cluster: the API answers and takes writes through the virtual address, and one node holds
it. Then site.yml, unchanged, joins the node again as a control plane (a new certificate key, a new member), and
its own verify stage is green. Destructive for one control plane; lab or any HA inventory (--kube-inventory).
"""
from __future__ import annotations

import time

import ha
from conftest import _inventory, run_playbook

NAMESPACE = 'default'


def test_reset_of_one_control_plane_removes_its_member_and_site_rejoins_it(request, measured):
    cp = ha.control_plane(_inventory(request.config))
    assert cp.vip and len(cp.masters) >= 3, f'{cp.inventory}: not an HA inventory'
    gone, witness = cp.masters[-1], cp.masters[0]
    before = ha.etcd_members(witness)
    assert gone.name in before and len(before) == len(cp.masters), f'etcd members before the reset: {before}'

    started = time.monotonic()
    reset = run_playbook(cp.inventory, 'playbooks/reset.yml', '--limit', gone.name)
    reset_secs = time.monotonic() - started
    assert reset.returncode == 0, f'reset.yml --limit {gone.name} failed:\n{reset.stdout[-4000:]}{reset.stderr[-2000:]}'
    assert ha.etcd_members(witness) == [m for m in before if m != gone.name], \
        f'after reset.yml --limit {gone.name}, etcd still lists {ha.etcd_members(witness)}'
    assert not gone.host.file('/etc/kubernetes/manifests/etcd.yaml').exists
    ha.wait_on(witness, ha.api_and_write(cp, f'after-reset-of-{gone.name}', NAMESPACE), ha.FAILOVER_LIMIT)
    ha.kubectl(witness, f'--namespace {NAMESPACE} delete configmap after-reset-of-{gone.name}')
    holders = cp.holders()
    assert len(holders) == 1 and holders[0] != gone.name, f'after the reset the address is held by {holders}'

    started = time.monotonic()
    site = run_playbook(cp.inventory, 'site.yml')
    site_secs = time.monotonic() - started
    assert site.returncode == 0, f'site.yml after the reset failed:\n{site.stdout[-6000:]}{site.stderr[-2000:]}'
    assert ha.etcd_members(witness) == before, f'after site.yml etcd lists {ha.etcd_members(witness)}'
    measured(f'reset.yml --limit {gone.name} {reset_secs:.0f} s (etcd {len(before)} -> {len(before) - 1} members); '
             f'site.yml joined it again in {site_secs:.0f} s, verify green')
