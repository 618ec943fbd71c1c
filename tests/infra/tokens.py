"""Bootstrap tokens on a control-plane node, seen two ways: `kubeadm token list` and the Secrets behind it.

Plain functions that raise AssertionError naming what they found, so test_control_plane.py runs them on the
cluster and faults/test_cluster_faults.py on a cluster given a token on purpose. Messages name token IDs only
(the public half, also the Secret's name), never a whole token.
"""
from __future__ import annotations

from conftest import Node

ADMIN_CONF = '/etc/kubernetes/admin.conf'


def kubeadm_token_ids(node: Node) -> list:
    result = node.host.run(f'kubeadm token list --kubeconfig {ADMIN_CONF}')
    assert result.rc == 0, f'{node.name}: kubeadm token list failed: {result.stderr.strip()}'
    lines = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith('TOKEN')]
    return [line.split()[0].split('.')[0] for line in lines]


def secret_names(node: Node) -> list:
    result = node.host.run(f'kubectl --kubeconfig {ADMIN_CONF} --namespace kube-system get secrets '
                           '--field-selector type=bootstrap.kubernetes.io/token -o name')
    assert result.rc == 0, f'{node.name}: kubectl get secrets failed: {result.stderr.strip()}'
    return result.stdout.split()


def check_kubeadm_token_list_empty(node: Node) -> None:
    ids = kubeadm_token_ids(node)
    assert not ids, f'{node.name}: kubeadm token list shows {len(ids)} token(s), IDs {ids}'


def check_no_bootstrap_token_secret(node: Node) -> None:
    names = secret_names(node)
    assert not names, f'{node.name}: bootstrap-token Secrets left in kube-system: {names}'


def check_no_uploaded_certificates(node: Node) -> None:
    """The control-plane joins' kubeadm-certs Secret (the cluster's CA keys, encrypted) is gone after them."""
    result = node.host.run(f'kubectl --kubeconfig {ADMIN_CONF} --namespace kube-system get secret kubeadm-certs '
                           '--ignore-not-found -o name')
    assert result.rc == 0, f'{node.name}: kubectl get secret failed: {result.stderr.strip()}'
    assert not result.stdout.strip(), f'{node.name}: the uploaded control-plane certificates are left: {result.stdout}'
