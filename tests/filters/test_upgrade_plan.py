"""filter_plugins/upgrade_plan.py: which hosts upgrade.yml upgrades, and every reason it refuses before a change, from
answers shaped as kubectl gives them (get nodes -o json, the kubeadm-config ClusterConfiguration, get pods -o json)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    'upgrade_plan', Path(__file__).resolve().parents[2] / 'filter_plugins' / 'upgrade_plan.py')
plan_module = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(plan_module)

CPS = ['k8s-m1', 'k8s-m2', 'k8s-m3']
WORKERS = ['k8s-w1', 'k8s-w2']
HOSTS = CPS + WORKERS
OLD, NEW = 'v1.22.5', 'v1.23.17'


def _nodes(versions: dict) -> dict:
    return {'kind': 'List', 'items': [{'metadata': {'name': n}, 'status': {'nodeInfo': {'kubeletVersion': v}}}
                                      for n, v in versions.items()]}


def _pods(versions: dict) -> dict:
    """The three control-plane static pods of each control plane, at the version given for it."""
    items = []
    for node, version in versions.items():
        for component in ('kube-apiserver', 'kube-controller-manager', 'kube-scheduler'):
            items.append({'metadata': {'name': f'{component}-{node}'},
                          'spec': {'nodeName': node, 'containers': [
                              {'name': component, 'image': f'registry.k8s.io/{component}:{version}'}]}})
    return {'kind': 'List', 'items': items}


def plan(kubelets=None, cluster=OLD, pods=None, target=NEW, hosts=HOSTS, play=HOSTS):
    kubelets = kubelets if kubelets is not None else dict.fromkeys(HOSTS, OLD)
    pods = pods if pods is not None else dict.fromkeys(CPS, OLD)
    return plan_module.upgrade_plan(_nodes(kubelets), {'kubernetesVersion': cluster}, _pods(pods), target,
                                    hosts, CPS, play)


def test_a_cluster_one_minor_release_behind_is_upgraded_everywhere():
    result = plan()
    assert result['errors'] == []
    assert result['behind'] == HOSTS
    assert result['cluster_version'] == OLD


def test_a_cluster_at_the_target_has_nothing_to_do():
    result = plan(dict.fromkeys(HOSTS, NEW), NEW, dict.fromkeys(CPS, NEW))
    assert result == {'cluster_version': NEW, 'kubelets': dict.fromkeys(HOSTS, NEW), 'behind': [], 'errors': []}


def test_a_run_stopped_at_a_worker_goes_on_from_that_worker():
    kubelets = dict.fromkeys(HOSTS, NEW) | {'k8s-w2': OLD}
    result = plan(kubelets, NEW, dict.fromkeys(CPS, NEW))
    assert result['errors'] == [] and result['behind'] == ['k8s-w2']


def test_a_control_plane_whose_pods_are_behind_is_behind_though_its_kubelet_is_not():
    result = plan(dict.fromkeys(HOSTS, NEW), NEW, dict.fromkeys(CPS, NEW) | {'k8s-m2': OLD})
    assert result['behind'] == ['k8s-m2']


def test_the_first_control_plane_is_behind_while_the_cluster_version_is():
    result = plan(dict.fromkeys(HOSTS, NEW), OLD, dict.fromkeys(CPS, NEW))
    assert result['behind'] == ['k8s-m1']


def test_a_newer_patch_of_the_same_minor_release_is_an_upgrade():
    result = plan(target='v1.22.17')
    assert result['errors'] == [] and result['behind'] == HOSTS


def test_a_downgrade_is_refused():
    result = plan(dict.fromkeys(HOSTS, NEW), NEW, dict.fromkeys(CPS, NEW), target=OLD)
    assert result['errors'] == ["kube_version 1.22.5 is older than the cluster's v1.23.17: upgrade.yml never goes down"]


def test_two_minor_releases_at_once_are_refused():
    result = plan(target='v1.24.9')
    assert len(result['errors']) == 1
    assert 'more than one minor release ahead' in result['errors'][0] and 'go to v1.23 first' in result['errors'][0]


def test_another_major_release_is_refused():
    assert 'more than one minor release ahead' in plan(target='v2.0.0')['errors'][0]


def test_kubelets_newer_than_the_target_are_refused():
    result = plan(dict.fromkeys(HOSTS, OLD) | {'k8s-w1': 'v1.24.0'})
    assert result['errors'] == ['the kubelets of k8s-w1 are newer than v1.23.17']


def test_a_host_with_no_node_is_refused():
    result = plan({h: OLD for h in HOSTS if h != 'k8s-w2'})
    assert result['errors'] == ['k8s-w2 is in the inventory but no Node of the cluster '
                                '(add it with playbooks/scale.yml first)']


def test_a_node_the_inventory_does_not_have_is_refused():
    result = plan(dict.fromkeys(HOSTS + ['k8s-w9'], OLD))
    assert result['errors'] == ['the Nodes k8s-w9 are in no group of kube_cluster: the upgrade would leave them behind']


def test_a_limit_that_leaves_a_control_plane_behind_is_refused():
    result = plan(play=['k8s-w1'])
    assert len(result['errors']) == 1 and 'k8s-m1, k8s-m2, k8s-m3 are behind v1.23.17 and not in this run' \
        in result['errors'][0]


def test_a_limit_to_workers_once_the_control_planes_are_done_is_fine():
    kubelets = dict.fromkeys(CPS, NEW) | dict.fromkeys(WORKERS, OLD)
    result = plan(kubelets, NEW, dict.fromkeys(CPS, NEW), play=['k8s-w1'])
    assert result['errors'] == [] and result['behind'] == WORKERS


def test_a_version_that_is_no_release_is_refused_without_an_exception():
    assert plan(target='vlatest')['errors'] == ['kube_version vlatest is no release version (x.y.z)']
    assert "is no release version" in plan(cluster='')['errors'][0]
