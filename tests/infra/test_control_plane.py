"""The control plane after site.yml: no bootstrap token outlives the rollout.

kubeadm init's own token (roles/control_plane: one of minutes, deleted right after init) and the workers'
join token (roles/workers: deleted when the joins are over) must both be gone: `kubeadm token list` on the
control plane is empty, and so is the list of bootstrap-token Secrets behind it. The checks are in tokens.py;
faults/test_cluster_faults.py mints a token and sees both name it.

Usable against any inventory: pytest tests/infra/test_control_plane.py --kube-inventory=inventories/<site>/hosts.yml
"""
from __future__ import annotations

import pytest

import kube_pods
import tokens
from conftest import _inventory
from cri import node_of


@pytest.fixture(scope='module')
def control_plane(request):
    inventory = _inventory(request.config)
    names = kube_pods.groups(inventory)['kube_control_plane']
    assert names, f'{inventory}: no host in kube_control_plane'
    return node_of(inventory, names[0])


def test_kubeadm_token_list_is_empty(control_plane):
    tokens.check_kubeadm_token_list_empty(control_plane)


def test_no_bootstrap_token_secret_is_left(control_plane):
    tokens.check_no_bootstrap_token_secret(control_plane)
