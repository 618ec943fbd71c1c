"""The rest of the seed's network model, on a rolled-out cluster, through verify.yml's live probes: kube-proxy's
rules for the kubernetes and kube-dns Services on every node, a ClusterIP whose endpoint is on another node,
cluster DNS, node -> pod, host-network pod -> pod without NAT, a NodePort from outside the cluster, and the pod
MTU end to end. verify.yml runs once for the module with verify_probe_image set to the verification image the
workers hold (kube_pods.connect); the assertions are on the oracle's results, as in test_flannel.py.
tests/infra/faults/test_network_model_faults.py breaks each of them.
"""
from __future__ import annotations

import json

import pytest

from conftest import Verdict, _hosts, _inventory, run_verify

CHECKS = ('service_rules', 'probe_pods_ready', 'service_dns', 'service_clusterip', 'node_to_pod', 'hostnet_to_pod',
          'nodeport', 'pod_mtu_path')


def verify_with_probes(cluster, report) -> Verdict:
    run = run_verify(cluster.inventory, report, '-e', f'verify_probe_image={cluster.image}')
    output = run.stdout + run.stderr
    assert report.exists(), f'verify.yml wrote no report (rc {run.returncode}):\n{output[-5000:]}'
    return Verdict(json.loads(report.read_text())['results'], output)


@pytest.fixture(scope='module')
def probed(cluster, tmp_path_factory) -> Verdict:
    return verify_with_probes(cluster, tmp_path_factory.mktemp('probed') / 'report.json')


def pytest_generate_tests(metafunc):
    if 'kube_host' in metafunc.fixturenames:
        metafunc.parametrize('kube_host', sorted(_hosts(_inventory(metafunc.config))))


@pytest.mark.parametrize('check', CHECKS)
def test_every_node(probed, kube_host, check):
    probed.assert_ok(kube_host, (check,))


def test_nothing_else_failed(probed):
    failed = [r['message'] for r in probed.results if not r['ok']]
    assert not failed, '\n'.join(failed)
