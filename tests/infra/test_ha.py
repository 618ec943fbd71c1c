"""The HA control plane after site.yml (three or more control planes, kube_apiserver_vip set).

- keepalived and haproxy run on every control plane, haproxy on kube_apiserver_lb_port;
- exactly one node holds the virtual address, and it is a control plane;
- the kubeconfigs of admin, every kubelet and kube-proxy name it; the controller-manager's and the scheduler's name
  their own node's API server, as kubeadm writes them since 1.19.1 (kubernetes/kubernetes#94398: they must never
  talk to an API server of another version during an upgrade; they are leader-elected, so a node whose API server
  is down loses their leadership to another node's);
- verify's oracle says every API server is ready, every etcd member healthy, one started voting member per
  control plane, one leader, and the API answers through the address from every node;
- nothing of the control-plane joins outlives them (the uploaded certificates' Secret).

faults/test_ha_faults.py breaks each of these and measures the recovery. Usable against any inventory with a
virtual address: pytest tests/infra/test_ha.py --kube-inventory=<inventory>
"""
from __future__ import annotations

import pytest

import ha
import tokens
from conftest import _inventory

# Through the virtual address, and to the node's own API server.
VIA_ADDRESS = ('admin.conf', 'kubelet.conf')
LOCAL = ('controller-manager.conf', 'scheduler.conf')
CHECKS = ('api_server_ready', 'etcd_healthy', 'etcd_members', 'api_via_vip')


@pytest.fixture(scope='module')
def cp(request) -> ha.ControlPlane:
    found = ha.control_plane(_inventory(request.config))
    assert found.vip, f'{found.inventory}: kube_apiserver_vip is empty: not an HA inventory'
    return found


def test_an_odd_number_of_control_planes(cp):
    assert len(cp.masters) >= 3 and len(cp.masters) % 2 == 1, [n.name for n in cp.masters]


def test_keepalived_and_haproxy_run_on_every_control_plane(cp):
    for node in cp.masters:
        for unit in ('keepalived', 'haproxy'):
            assert node.host.service(unit).is_running, f'{node.name}: {unit} is not running'
            assert node.host.service(unit).is_enabled, f'{node.name}: {unit} does not start at boot'
        assert node.host.socket(f'tcp://0.0.0.0:{cp.lb_port}').is_listening, \
            f'{node.name}: nothing listens on {cp.lb_port}'


def test_exactly_one_control_plane_holds_the_address(cp):
    holders = cp.holders()
    assert len(holders) == 1, f'{cp.vip} is held by {holders or "no node"}'
    assert holders[0] in [n.name for n in cp.masters], f'{cp.vip} is held by {holders[0]}, not a control plane'


def _server(node, conf: str) -> str:
    return node.host.check_output(f"awk '$1 == \"server:\" {{print $2}}' /etc/kubernetes/{conf}")


@pytest.mark.parametrize('conf', VIA_ADDRESS)
def test_control_plane_kubeconfigs_name_the_address(cp, conf):
    for node in cp.masters:
        server = _server(node, conf)
        assert server == cp.endpoint, f'{node.name}: /etc/kubernetes/{conf} names {server!r}, not {cp.endpoint}'


@pytest.mark.parametrize('conf', LOCAL)
def test_leader_elected_components_use_their_own_api_server(cp, conf):
    for node in cp.masters:
        own = f"https://{node.cluster_ip()}:{node.settings['kube_apiserver_port']}"
        server = _server(node, conf)
        assert server == own, f'{node.name}: /etc/kubernetes/{conf} names {server!r}, not its own API server {own}'


def test_worker_kubeconfigs_name_the_address(cp):
    for node in cp.workers:
        server = _server(node, 'kubelet.conf')
        assert server == cp.endpoint, f'{node.name}: kubelet.conf names {server!r}, not {cp.endpoint}'


def test_kube_proxy_reaches_the_api_through_the_address(cp):
    config = ha.kubectl(cp.masters[0], '--namespace kube-system get configmap kube-proxy '
                                       "-o jsonpath='{.data.kubeconfig\\.conf}'")
    assert config.rc == 0, config.stderr
    assert f'server: {cp.endpoint}' in config.stdout, config.stdout


@pytest.mark.parametrize('check', CHECKS)
def test_verify_judges_the_control_plane_green(cp, verdict, check):
    for node in cp.masters + (cp.workers if check == 'api_via_vip' else []):
        verdict.assert_ok(node.name, (check,))


@pytest.mark.parametrize('check', ('etcd_leader', 'vip_held_once'))
def test_verify_judges_the_cluster_green(verdict, check):
    verdict.assert_ok('cluster', (check,))


def test_no_uploaded_certificates_are_left(cp):
    tokens.check_no_uploaded_certificates(cp.masters[0])
