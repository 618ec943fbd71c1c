"""The seed's pod experiments, reproduced through the Kubernetes API on a rolled-out cluster (site.yml):

- a pod on each of two workers (nginx): they ping each other by pod IP across VXLAN, and each one's nginx
  logs the other's pod IP (no NAT between pods);
- a two-container pod (nginx + a client curling http://localhost): nginx logs 127.0.0.1, and on the node
  (crictl) both containers share net, ipc and uts with the pod's pause process and have their own mnt and pid;
- every pod IP is inside its node's podCIDR;
- a pod reaching another node's cluster address (outside the cluster CIDR) is masqueraded to its node's.

Usable against any inventory (pytest tests/infra/test_cluster_pods.py --kube-inventory=...): kubectl runs on
the first kube_control_plane host, pods go to the first two kube_workers, expectations come from the
inventory and the cluster. The pods live in their own namespace, deleted afterwards whatever happened.
The checks themselves are in kube_pods.py; tests/infra/faults/test_cluster_faults.py breaks each one.
"""
from __future__ import annotations

import pytest

import kube_pods
from conftest import _inventory

NAMESPACE = 'kf-cluster-pods'


def _pair_ids(config) -> list:
    workers = kube_pods.groups(_inventory(config))['kube_workers'][:2]
    return [f'{a}->{b}' for a, b in (workers, workers[::-1])] if len(workers) == 2 else ['two-workers-needed']


def pytest_generate_tests(metafunc):
    if 'direction' in metafunc.fixturenames:
        ids = _pair_ids(metafunc.config)
        metafunc.parametrize('direction', list(range(len(ids))), ids=ids)
    if 'pod_name' in metafunc.fixturenames:
        workers = kube_pods.groups(_inventory(metafunc.config))['kube_workers'][:2]
        metafunc.parametrize('pod_name', [kube_pods.web_name(w) for w in workers] + ['duo'])


@pytest.fixture(scope='module')
def pods(cluster):
    with kube_pods.standard_pods(cluster, NAMESPACE) as made:
        yield made


def _pair(cluster, pods, direction: int) -> tuple:
    a, b = (kube_pods.web_name(w.name) for w in cluster.workers)
    return (pods[a], pods[b]) if direction == 0 else (pods[b], pods[a])


def test_pod_pings_pod_on_other_worker(cluster, pods, direction):
    kube_pods.check_ping(cluster, *_pair(cluster, pods, direction))


def test_receiver_sees_sender_pod_ip(cluster, pods, direction):
    kube_pods.check_no_nat(cluster, *_pair(cluster, pods, direction))


def test_two_container_pod_client_is_localhost(cluster, pods):
    kube_pods.check_localhost_client(cluster, pods['duo'])


@pytest.mark.parametrize('container', ['nginx', 'client'])
def test_two_container_pod_shares_pause_namespaces(pods, container):
    kube_pods.check_namespaces(pods['duo'], container)


def test_pod_ip_in_node_pod_cidr(cluster, pods, pod_name):
    kube_pods.check_pod_cidr(cluster, pods[pod_name])


def test_pod_to_other_node_address_is_masqueraded(cluster, pods, direction):
    src, dst = _pair(cluster, pods, direction)
    kube_pods.check_masquerade(cluster, src, dst.node)
