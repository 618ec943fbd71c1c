"""Every file the roles template, rendered for two very different inventories, checked field by field.

Expectations come from the inventory and the recorded facts (see EXPECTED), never from the template.
"""
from __future__ import annotations

import json
import re
import tomllib

import kubernetes_validate
import pytest
import yaml

from sites import make_site

# What each site's inventory and facts say, written down independently of the roles.
EXPECTED = {
    'sample': {
        'control_plane': 'k8s-m',
        'nodes': {'k8s-m': '192.168.100.10', 'k8s-w1': '192.168.100.101', 'k8s-w2': '192.168.100.102'},
        'nat_ip': '10.0.2.15', 'iface': 'enp0s8', 'pod_subnet': '172.16.0.0/16', 'node_prefix': 24,
        'service_subnet': '10.96.0.0/12', 'dns_domain': 'cluster.local', 'cgroup': 'systemd',
        'repo': 'registry.k8s.io', 'vni': 1, 'port': 8472, 'extra_kubelet_args': '',
    },
    'alt': {
        'control_plane': 'cp1',
        'nodes': {'cp1': '10.20.0.11', 'node1': '10.20.0.21', 'node2': '10.20.0.22'},
        'nat_ip': '10.0.2.15', 'iface': 'eth1', 'pod_subnet': '10.244.0.0/16', 'node_prefix': 25,
        'service_subnet': '10.112.0.0/16', 'dns_domain': 'alt.example', 'cgroup': 'cgroupfs',
        'repo': 'mirror.alt.example/k8s', 'vni': 4, 'port': 4789, 'extra_kubelet_args': ' --max-pods=60',
    },
}
SITES = list(EXPECTED)


@pytest.fixture(scope='module', params=SITES)
def rendered(request, tmp_path_factory):
    site_name = request.param
    site = make_site(tmp_path_factory.mktemp(site_name), site_name, site_name)
    out = site.root / 'rendered'
    run = site.playbook('tests/render/render.yml', extra=['-e', f'render_dir={out}'])
    assert run.rc == 0, run.output
    return site_name, EXPECTED[site_name], out


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _by_kind(docs):
    return {d['kind']: d for d in docs}


def test_containerd_cgroup_driver_follows_the_kubelet(rendered):
    _, exp, out = rendered
    for host in exp['nodes']:
        toml = tomllib.loads((out / host / 'containerd-config.toml').read_text())
        runc = toml['plugins']['io.containerd.grpc.v1.cri']['containerd']['runtimes']['runc']
        kubelet = _by_kind(_docs(out / exp['control_plane'] / 'kubeadm-config.yaml'))['KubeletConfiguration']
        assert runc['options']['SystemdCgroup'] is (exp['cgroup'] == 'systemd')
        assert kubelet['cgroupDriver'] == exp['cgroup']
        assert runc['runtime_type'] == 'io.containerd.runc.v2'


def test_containerd_sandbox_image_and_cni_dirs(rendered):
    _, exp, out = rendered
    for host in exp['nodes']:
        cri = tomllib.loads((out / host / 'containerd-config.toml').read_text())['plugins']['io.containerd.grpc.v1.cri']
        assert cri['sandbox_image'] == f"{exp['repo']}/pause:3.5"
        assert cri['cni'] == {'bin_dir': '/opt/cni/bin', 'conf_dir': '/etc/cni/net.d'}


def test_kubelet_node_ip_is_the_cluster_nic_never_the_nat_address(rendered):
    _, exp, out = rendered
    for host, ip in exp['nodes'].items():
        env = (out / host / 'kubelet.env').read_text()
        assert f'KUBELET_EXTRA_ARGS="--node-ip={ip}{exp["extra_kubelet_args"]}"' in env
        assert exp['nat_ip'] not in env


def test_kubelet_dropin_reads_kubeadm_and_project_flags(rendered):
    _, exp, out = rendered
    dropin = (out / exp['control_plane'] / '10-kubeadm.conf').read_text()
    assert 'EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env' in dropin
    assert 'EnvironmentFile=-/etc/default/kubelet' in dropin
    assert re.search(r'^ExecStart=$\n^ExecStart=/usr/local/bin/kubelet .*\$KUBELET_EXTRA_ARGS$', dropin, re.M)


def test_kubeadm_init_config(rendered):
    _, exp, out = rendered
    cp = exp['control_plane']
    docs = _docs(out / cp / 'kubeadm-config.yaml')
    assert [d['kind'] for d in docs] == ['InitConfiguration', 'ClusterConfiguration',
                                         'KubeletConfiguration', 'KubeProxyConfiguration']
    kinds = _by_kind(docs)
    init, cluster = kinds['InitConfiguration'], kinds['ClusterConfiguration']
    assert init['apiVersion'] == cluster['apiVersion'] == 'kubeadm.k8s.io/v1beta3'
    assert init['localAPIEndpoint'] == {'advertiseAddress': exp['nodes'][cp], 'bindPort': 6443}
    assert init['nodeRegistration']['name'] == cp
    # Left empty, kubeadm 1.22 would make one token of 24 h; init gets one of minutes, no value (kubeadm draws it),
    # and the role deletes it after init.
    (token,) = init['bootstrapTokens']
    assert sorted(token) == ['description', 'ttl']
    assert token['ttl'] == '15m0s'
    assert 'deleted' in token['description']
    assert init['nodeRegistration']['criSocket'] == 'unix:///run/containerd/containerd.sock'
    assert cluster['kubernetesVersion'] == 'v1.22.5'
    assert cluster['imageRepository'] == exp['repo']
    assert cluster['controlPlaneEndpoint'] == f"{exp['nodes'][cp]}:6443"
    assert cluster['networking'] == {'podSubnet': exp['pod_subnet'], 'serviceSubnet': exp['service_subnet'],
                                     'dnsDomain': exp['dns_domain']}
    assert cluster['controllerManager']['extraArgs']['node-cidr-mask-size'] == str(exp['node_prefix'])
    assert exp['nodes'][cp] in cluster['apiServer']['certSANs']
    assert kinds['KubeProxyConfiguration']['mode'] == 'iptables'
    assert kinds['KubeProxyConfiguration']['clusterCIDR'] == exp['pod_subnet']
    assert exp['nat_ip'] not in (out / cp / 'kubeadm-config.yaml').read_text()


def test_kubeadm_join_config_parses_the_join_command(rendered):
    _, exp, out = rendered
    for host in exp['nodes']:
        (join,) = _docs(out / host / 'kubeadm-join.yaml')
        assert join['kind'] == 'JoinConfiguration'
        token = join['discovery']['bootstrapToken']
        assert token['apiServerEndpoint'] == '192.0.2.1:6443'
        assert token['token'] == 'abcdef.0123456789abcdef'
        assert token['caCertHashes'] == ['sha256:' + '0f' * 32]
        assert join['nodeRegistration']['name'] == host


def test_a_control_plane_joins_as_one(rendered):
    """A control plane's join (the ones after the first) brings its own API endpoint and the uploaded
    certificates' key; a worker's has neither."""
    _, exp, out = rendered
    for host, address in exp['nodes'].items():
        (join,) = _docs(out / host / 'kubeadm-join.yaml')
        if host == exp['control_plane']:
            assert join['controlPlane'] == {'localAPIEndpoint': {'advertiseAddress': address, 'bindPort': 6443},
                                            'certificateKey': 'c0' * 32}
        else:
            assert 'controlPlane' not in join, host


def test_flannel_manifest_is_valid_kubernetes_1_22(rendered):
    _, exp, out = rendered
    docs = _docs(out / exp['control_plane'] / 'kube-flannel.yml')
    for doc in docs:
        kubernetes_validate.validate(doc, '1.22.0', strict=True)
    assert sorted(d['kind'] for d in docs) == sorted(
        ['PodSecurityPolicy', 'ClusterRole', 'ClusterRoleBinding', 'ServiceAccount', 'ConfigMap', 'DaemonSet'])


def test_flannel_network_config(rendered):
    _, exp, out = rendered
    kinds = _by_kind(_docs(out / exp['control_plane'] / 'kube-flannel.yml'))
    net = json.loads(kinds['ConfigMap']['data']['net-conf.json'])
    backend = {'Type': 'vxlan'}
    if exp['vni'] != 1:
        backend['VNI'] = exp['vni']
    if exp['port'] != 8472:
        backend['Port'] = exp['port']
    assert net == {'Network': exp['pod_subnet'], 'Backend': backend}
    cni = json.loads(kinds['ConfigMap']['data']['cni-conf.json'])
    assert cni == {'name': 'cbr0', 'cniVersion': '0.3.1', 'plugins': [
        {'type': 'flannel', 'delegate': {'hairpinMode': True, 'isDefaultGateway': True}},
        {'type': 'portmap', 'capabilities': {'portMappings': True}}]}


def test_flanneld_is_pinned_to_the_cluster_nic(rendered):
    _, exp, out = rendered
    ds = _by_kind(_docs(out / exp['control_plane'] / 'kube-flannel.yml'))['DaemonSet']
    (flanneld,) = ds['spec']['template']['spec']['containers']
    assert flanneld['args'] == ['--ip-masq', '--kube-subnet-mgr', f"--iface={exp['iface']}"]
    assert flanneld['image'] == 'docker.io/rancher/mirrored-flannelcni-flannel:v0.16.1'
    assert ds['spec']['template']['spec']['hostNetwork'] is True
