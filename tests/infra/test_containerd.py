"""Stage 3 on a live node: containerd running, answering, configured as the cluster settings say."""
from __future__ import annotations

import tomllib

import pytest


@pytest.fixture(scope='module')
def cri(node):
    """The CRI section of the configuration containerd itself reads (config dump: file + built-in defaults)."""
    dump = node.host.check_output('containerd config dump')
    return tomllib.loads(dump)['plugins']['io.containerd.grpc.v1.cri']


def test_containerd_running_and_enabled(node):
    service = node.host.service('containerd')
    assert service.is_running
    assert service.is_enabled


def test_containerd_answers_on_its_socket(node):
    socket = node.settings['kube_cri_socket'].removeprefix('unix://')
    run = node.host.run(f'ctr --address {socket} version')
    assert run.rc == 0, run.stderr
    assert 'Server:' in run.stdout


def test_systemd_cgroup_follows_the_cluster_cgroup_driver(node, cri):
    runc = cri['containerd']['runtimes']['runc']
    assert runc['runtime_type'] == 'io.containerd.runc.v2'
    assert runc['options']['SystemdCgroup'] is (node.settings['kube_cgroup_driver'] == 'systemd')


def test_sandbox_image_is_kubeadms_pause(node, cri):
    assert cri['sandbox_image'] == node.settings['kube_pause_image']


def test_cni_directories(node, cri):
    assert cri['cni']['bin_dir'] == node.settings['kube_cni_bin_dir']
    assert cri['cni']['conf_dir'] == node.settings['kube_cni_conf_dir']
    for path in (node.settings['kube_cni_bin_dir'], node.settings['kube_cni_conf_dir']):
        assert node.host.file(path).is_directory, path

