# -*- coding: utf-8 -*-
"""playbooks/verify.yml against what real flanneld builds: capture/flannel_cluster.sh runs the project bundle's
kube-apiserver + kube-controller-manager and flanneld v0.16 on two nodes made of network namespaces.

Needs root and the bundle (`make bundle`): marked `bundle`, run by `make test-bundle` (CI runs it with the
cluster scenario whenever the bundle is cached). Namespaces get a unique prefix and are removed afterwards;
nothing leaves them.
"""

import os
import subprocess
import sys
import uuid

import pytest
import yaml

from verify_run import CAPTURE, run_verify_playbook as verify

KF = os.environ.get("KF_CACHE", "/var/cache/kubeadm-flannel")
NEEDED = [KF + "/bundle/bin/" + b for b in ("kube-apiserver", "kube-controller-manager", "flanneld", "kubectl",
                                            "flannel", "etcd", "cni/bridge", "cni/host-local")]
pytestmark = [pytest.mark.root, pytest.mark.bundle]
SCRIPT = os.path.join(CAPTURE, "flannel_cluster.sh")


@pytest.fixture(scope="module", autouse=True)
def bundle_built():
    missing = [p for p in NEEDED if not os.path.exists(p)]
    assert not missing, "make test-bundle builds the bundle first; missing: %s" % ", ".join(missing)


@pytest.fixture(scope="module")
def flannel_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flcap")
    prefix = "kfa-t%s" % uuid.uuid4().hex[:4]
    env = dict(os.environ, KFA_FL_PREFIX=prefix, KFA_FL_STATE=str(tmp / "state"), KFA_PYTHON=sys.executable)
    try:
        subprocess.run([SCRIPT, "up"], env=env, check=True, capture_output=True, text=True, timeout=300)
        state = tmp / "state"
        hosts = {}
        for node, name in (("m", "k8s-m"), ("w1", "k8s-w1")):
            ns = "%s-%s" % (prefix, node)
            hosts[ns] = {"verify_node_name": name, "ansible_python_interpreter": str(state / ns / "python"),
                         "verify_flannel_subnet_file": str(state / ns / "subnet.env"),
                         "verify_cni_conf_dir": str(state / ns / "net.d"),
                         "verify_cni_ipam_dir": str(state / ns / "networks")}
        inventory = {"all": {
            "vars": {"ansible_connection": "local", "verify_cni_bin_dir": str(state / "cni-bin"),
                     "verify_crictl": "kfa-no-crictl-here", "verify_kubeconfig": str(state / "kubeconfig"),
                     "verify_kubectl": KF + "/bundle/bin/kubectl",
                     # no container runtime and no kubelet in these namespaces: their checks are "not run";
                     # no kube-proxy and no cluster DNS either: no Service's rules to expect
                     "verify_require_pods": False, "verify_require_kubelet": False, "verify_services": [],
                     "verify_control_plane": False},
            "children": {"kube_cluster": {"children": {
                "kube_control_plane": {"hosts": {"%s-m" % prefix: hosts["%s-m" % prefix]}},
                "kube_workers": {"hosts": {"%s-w1" % prefix: hosts["%s-w1" % prefix]}}}}}}}
        path = tmp / "hosts.yml"
        path.write_text(yaml.safe_dump(inventory))
        yield {"inventory": str(path), "prefix": prefix}
    finally:
        subprocess.run([SCRIPT, "down"], env=env, check=False, capture_output=True, timeout=120)



def test_verify_passes_on_what_flanneld_built(flannel_lab):
    rc, out = verify(flannel_lab["inventory"])
    assert rc == 0, out[-4000:]
    assert " 0 failed" in out
    assert "node_annotations" in out and "fdb_to_peer" in out


def test_verify_names_the_fdb_entry_flanneld_lost(flannel_lab):
    """Delete the worker's FDB entry for the control plane's VTEP, as if flanneld had missed an update."""
    ns = "%s-w1" % flannel_lab["prefix"]
    fdb = subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", "flannel.1"], check=True, capture_output=True,
                         text=True).stdout.split()
    mac = fdb[0]
    subprocess.run(["bridge", "-n", ns, "fdb", "del", mac, "dev", "flannel.1", "dst", "192.168.100.10"], check=True)
    rc, out = verify(flannel_lab["inventory"])
    assert rc != 0
    assert "FAILED: fdb_to_peer on %s fdb %s (%s-m): expected %s -> 192.168.100.10, found no entry" % (
        ns, mac, flannel_lab["prefix"], mac) in out
