"""Reset removes what the rollout made where the inventory put it: paths come from the roles that create them."""
from __future__ import annotations

import json

# The rollout's defaults: what reset removed before it read the other roles' variables.
DEFAULT_TARGETS = {
    'links': ['cni0', 'flannel.1'],
    'paths': ['/etc/cni/net.d/10-flannel.conflist', '/var/lib/cni', '/run/flannel', '/etc/kubernetes/addons',
              '/etc/kubernetes/kubeadm-config.yaml', '/etc/kubernetes/kubeadm-join.yaml', '/root/.kube/config'],
    'kubeadm': '/usr/local/bin/kubeadm',
}

MOVED = {
    'kube_cni_conf_dir': '/srv/cni/conf',
    'flannel_vxlan_vni': 7,
    'flannel_cni_conf_name': '05-flannel.conflist',
    'flannel_subnet_file': '/var/run/flannel-alt/subnet.env',
    'flannel_manifest_file': '/srv/addons/kube-flannel.yml',
    'control_plane_kubeadm_config_file': '/srv/kubeadm/init.yaml',
    'workers_join_config_file': '/srv/kubeadm/join.yaml',
    'control_plane_admin_kubeconfig': '/home/admin/.kube/config',
    'kubernetes_bin_dir': '/opt/kubernetes/bin',
}
MOVED_TARGETS = {
    'links': ['cni0', 'flannel.7'],
    'paths': ['/srv/cni/conf/05-flannel.conflist', '/var/lib/cni', '/var/run/flannel-alt', '/srv/addons',
              '/srv/kubeadm/init.yaml', '/srv/kubeadm/join.yaml', '/home/admin/.kube/config'],
    'kubeadm': '/opt/kubernetes/bin/kubeadm',
}


def _targets(site) -> dict:
    """host -> what reset would remove there."""
    out = site.root / 'reset-targets'
    out.mkdir()
    run = site.playbook('tests/render/reset_targets.yml', extra=['-e', f'reset_targets_dir={out}'])
    assert run.rc == 0, run.output
    return {path.stem: json.loads(path.read_text()) for path in out.glob('*.json')}


def test_reset_removes_the_rollouts_default_paths(sample_site):
    assert _targets(sample_site) == dict.fromkeys(['k8s-m', 'k8s-w1', 'k8s-w2'], DEFAULT_TARGETS)


def test_reset_follows_paths_the_inventory_moved(sample_site):
    sample_site.set_vars(MOVED)
    assert _targets(sample_site) == dict.fromkeys(['k8s-m', 'k8s-w1', 'k8s-w2'], MOVED_TARGETS)
