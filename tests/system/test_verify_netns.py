# -*- coding: utf-8 -*-
"""playbooks/verify.yml end to end against two flannel-shaped nodes made of network namespaces.

Needs root and iproute2/iptables (as every node of this project does); each test builds its own namespaces
with unique names (kfa-t-<random>-a/-b), points Ansible's local connection into them through a per-namespace
python wrapper (`ip netns exec`), and removes everything afterwards. Nothing is sent anywhere.
"""

import html
import json
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from verify_run import run_verify_playbook as verify

pytestmark = pytest.mark.root

NODES = {
    # name: (underlay ip, vtep mac, subnet, gateway/cidr on cni0)
    "a": ("192.168.100.10", "a2:12:b0:b8:25:7c", "172.16.0.0/24", "172.16.0.1/24"),
    "b": ("192.168.100.101", "42:7b:d8:d5:f7:8c", "172.16.1.0/24", "172.16.1.1/24"),
}


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True)


@pytest.fixture
def lab(tmp_path):
    tag = "kfa-t-%s" % uuid.uuid4().hex[:6]
    names = dict((key, "%s-%s" % (tag, key)) for key in NODES)
    for ns in names.values():
        run("ip", "netns", "add", ns)
    try:
        run("ip", "-n", names["a"], "link", "add", "enp0s8", "type", "veth", "peer", "name", "enp0s8",
            "netns", names["b"])
        hosts = {}
        for key, ns in names.items():
            ip, mac, subnet, gw = NODES[key]
            other = [k for k in NODES if k != key][0]
            o_ip, o_mac, o_subnet, _ = NODES[other]
            o_net = o_subnet.split("/")[0]
            for cmd in (
                    ["link", "set", "lo", "up"], ["addr", "add", ip + "/24", "dev", "enp0s8"],
                    ["link", "set", "enp0s8", "up"],
                    ["link", "add", "flannel.1", "address", mac, "type", "vxlan", "id", "1", "local", ip,
                     "dev", "enp0s8", "dstport", "8472", "nolearning"],
                    ["link", "set", "flannel.1", "mtu", "1450"],
                    ["addr", "add", subnet.split("/")[0] + "/32", "dev", "flannel.1"],
                    ["link", "set", "flannel.1", "up"],
                    ["link", "add", "cni0", "type", "bridge"], ["link", "set", "cni0", "mtu", "1450"],
                    ["addr", "add", gw, "dev", "cni0"], ["link", "set", "cni0", "up"],
                    ["route", "add", o_subnet, "via", o_net, "dev", "flannel.1", "onlink"],
                    ["neigh", "replace", o_net, "lladdr", o_mac, "dev", "flannel.1", "nud", "permanent"]):
                run("ip", "-n", ns, *cmd)
            run("bridge", "-n", ns, "fdb", "replace", o_mac, "dev", "flannel.1", "dst", o_ip, "self", "permanent")
            for table, chain, rule in (
                    ("nat", "POSTROUTING", "-s 172.16.0.0/16 -d 172.16.0.0/16 -j RETURN"),
                    ("nat", "POSTROUTING", "-s 172.16.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully"),
                    ("nat", "POSTROUTING", "! -s 172.16.0.0/16 -d %s -j RETURN" % subnet),
                    ("nat", "POSTROUTING", "! -s 172.16.0.0/16 -d 172.16.0.0/16 -j MASQUERADE --random-fully"),
                    ("filter", "FORWARD", "-s 172.16.0.0/16 -j ACCEPT"),
                    ("filter", "FORWARD", "-d 172.16.0.0/16 -j ACCEPT")):
                run("ip", "netns", "exec", ns, "iptables", "-t", table, "-A", chain, *rule.split())
            state = tmp_path / key
            state.mkdir()
            (state / "subnet.env").write_text("FLANNEL_NETWORK=172.16.0.0/16\nFLANNEL_SUBNET=%s\n"
                                              "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n" % gw)
            # flannel's CNI config (the seed's kube-flannel-cfg cni-conf.json) and the plugins it needs;
            # nothing executes them here, cni_facts only lists them
            (state / "net.d").mkdir()
            (state / "net.d" / "10-flannel.conflist").write_text(json.dumps({
                "name": "cbr0", "cniVersion": "0.3.1", "plugins": [
                    {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True}},
                    {"type": "portmap", "capabilities": {"portMappings": True}}]}))
            (state / "bin").mkdir()
            for plugin in ("bridge", "flannel", "host-local", "loopback", "portmap"):
                (state / "bin" / plugin).write_text("#!/bin/sh\nexit 1\n")
                (state / "bin" / plugin).chmod(0o755)
            wrapper = state / "python"
            wrapper.write_text('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (ns, sys.executable))
            wrapper.chmod(0o755)
            hosts[ns] = {
                "ansible_python_interpreter": str(wrapper),
                "verify_flannel_subnet_file": str(state / "subnet.env"),
                "verify_cni_conf_dir": str(state / "net.d"),
                "verify_cni_bin_dir": str(state / "bin"),
                "verify_cni_ipam_dir": str(state / "networks"),
                "verify_netns_dir": str(state / "netns"),
                "verify_crictl": "kfa-no-crictl-here",
                "verify_kubeconfig": str(state / "admin.conf"),
                # namespaces, not kube nodes: no container runtime, no kubelet, no Node objects (said "not run")
                "verify_require_pods": False,
                "verify_require_kubelet": False,
                "verify_require_node_objects": False,
                # no kubeadm control plane (no API server, no etcd of kubeadm's) in these namespaces
                "verify_control_plane": False,
            }
        # each run's network report (JSON and page) in this test's own directory
        inventory = {"all": {"vars": {"ansible_connection": "local", "verify_report_dir": str(tmp_path / "reports")},
                             "children": {"kube_cluster": {"children": {
            "kube_control_plane": {"hosts": {names["a"]: hosts[names["a"]]}},
            "kube_workers": {"hosts": {names["b"]: hosts[names["b"]]}}}}}}}
        path = tmp_path / "hosts.yml"
        path.write_text(yaml.safe_dump(inventory))
        yield {"inventory": str(path), "names": names, "reports": tmp_path / "reports"}
    finally:
        for ns in names.values():
            subprocess.run(["ip", "netns", "delete", ns], check=False, capture_output=True)



def test_verify_passes_on_a_consistent_cluster(lab):
    rc, out = verify(lab["inventory"])
    assert rc == 0, out[-4000:]
    assert " 0 failed" in out


def test_verify_fails_naming_the_missing_route(lab):
    run("ip", "-n", lab["names"]["b"], "route", "del", "172.16.0.0/24")
    rc, out = verify(lab["inventory"])
    assert rc != 0
    message = "FAILED: route_to_peer on %s route to 172.16.0.0/24 (%s)" % (lab["names"]["b"], lab["names"]["a"])
    assert message in out
    # the failing run has its network report too: the pair's edge drawn red, with the message
    data, page = network_report(lab)
    assert [r["message"] for r in data["results"] if not r["ok"]][0].startswith(message)
    edge = re.search(r'<g id="edge&#45;%s&#45;&#45;%s" class="edge failed">(.*?)</g>' % tuple(
        n.replace("-", "&#45;") for n in sorted(lab["names"].values())), page, re.S)
    assert edge and "#c62828" in edge.group(1), page
    assert re.sub(r"\s+", "", message) in html.unescape(re.sub(r"<[^>]+>|\s+", "", edge.group(1)))


def test_verify_fails_when_the_vtep_uses_another_address(lab):
    """flannel bound to the wrong NIC: VTEP local address is not the node's cluster-interface address."""
    ns = lab["names"]["a"]
    run("ip", "-n", ns, "addr", "add", "10.0.2.15/24", "dev", "enp0s8")
    run("ip", "-n", ns, "link", "set", "flannel.1", "type", "vxlan", "id", "1", "local", "10.0.2.15")
    rc, out = verify(lab["inventory"])
    assert rc != 0
    assert "FAILED: vtep_local_ip on %s flannel.1: expected 192.168.100.10, found 10.0.2.15" % ns in out


def test_verify_fails_when_flannels_cni_plugin_is_missing(lab, tmp_path):
    (tmp_path / "b" / "bin" / "flannel").unlink()
    rc, out = verify(lab["inventory"])
    assert rc != 0
    assert "FAILED: cni_plugins_present on %s" % lab["names"]["b"] in out
    assert "missing: flannel" in out


def test_a_node_that_cannot_be_read_does_not_stop_the_verdict(lab, tmp_path):
    """One node's gathering fails (a subnet file flannel_facts cannot parse): the others are still judged,
    the broken one is reported as not gathered, and the run fails."""
    (tmp_path / "b" / "subnet.env").write_text("not a subnet file\n")
    report = tmp_path / "report.json"
    rc, out = verify(lab["inventory"], "-e", "verify_report_file=%s" % report)
    assert rc != 0
    assert "FAILED: facts_gathered on %s facts: expected flannel, cni and pod sandbox facts, found Read flannel " \
        "state (subnet file, VTEP, routes, FDB, iptables): cannot parse %s" % (lab["names"]["b"], tmp_path / "b") in out
    results = json.loads(report.read_text())["results"]
    judged = [r for r in results if r["node"] == lab["names"]["a"]]
    assert judged and all(r["ok"] for r in judged if r["check"] not in ("route_to_peer", "fdb_to_peer",
                                                                         "neighbour_to_peer")), judged


def test_the_report_holds_every_result_and_the_settings(lab, tmp_path):
    report = tmp_path / "report.json"
    rc, out = verify(lab["inventory"], "-e", "verify_report_file=%s" % report)
    assert rc == 0, out[-4000:]
    data = json.loads(report.read_text())
    assert data["settings"]["pod_subnet"] == "172.16.0.0/16"
    assert len(data["results"]) == int(out.split(" checks, 0 failed")[0].rsplit('"', 1)[-1].split()[-1])
    assert all(r["ok"] for r in data["results"])
    # the network report is the same document, with every node's facts, and the page drawn from it
    network, page = network_report(lab)
    assert network == data
    assert [n["name"] for n in network["nodes"]] == [lab["names"]["a"], lab["names"]["b"]]
    assert network["nodes"][0]["vtep"]["mac"] == NODES["a"][1]
    assert network["nodes"][0]["links"][lab["names"]["b"]]["route"]["dst"] == NODES["b"][2]
    for name in lab["names"].values():
        assert 'id="node&#45;%s" class="node ok"' % name.replace("-", "&#45;") in page
    assert 'class="edge ok"' in page and "#c62828" not in page.split("<figure")[1]


def network_report(lab):
    """The one report verify wrote into verify_report_dir: (its JSON, its page)."""
    reports = sorted(lab["reports"].iterdir())
    assert [p.suffix for p in reports] == [".html", ".json"], reports
    assert reports[0].stem == reports[1].stem
    return json.loads(reports[1].read_text()), reports[0].read_text()
