# -*- coding: utf-8 -*-
"""kube-proxy's Service rules and the API's Services (module_utils/kube_proxy_parse.py), and the oracle's
Service checks (filter_plugins/netcheck.py check_service_rules), on output captured from the lab cluster
(capture/kube_proxy_lab.sh)."""

import copy
import os

import pytest

from netfacts_helpers import ROOT, fixture_text, load_source

from ansible.module_utils import kube_proxy_parse
from ansible.module_utils.netfacts_common import ParseError

netcheck = load_source("kfa_filter_netcheck", os.path.join(ROOT, "filter_plugins", "netcheck.py"))

NAT = "captured/kube_proxy/k8s-w1_iptables_save_nat.txt"
API = "captured/kube_proxy/services_endpoints.json"
SERVICES = ["default/kubernetes", "kube-system/kube-dns"]


def test_rules_follow_each_service_port_to_its_endpoints():
    rules = kube_proxy_parse.service_rules(fixture_text(NAT))
    assert rules["present"] is True
    assert rules["services"]["default/kubernetes:https"] == {
        "cluster_ip": "10.96.0.1", "port": 443, "protocol": "tcp", "node_port": None,
        "endpoints": ["192.168.100.10:6443"]}
    dns = rules["services"]["kube-system/kube-dns:dns"]
    assert (dns["cluster_ip"], dns["port"], dns["protocol"]) == ("10.96.0.10", 53, "udp")
    assert dns["endpoints"] == ["172.16.1.2:53", "172.16.1.3:53"]
    assert sorted(rules["services"]) == ["default/kubernetes:https", "kube-system/kube-dns:dns",
                                         "kube-system/kube-dns:dns-tcp", "kube-system/kube-dns:metrics"]


@pytest.mark.parametrize("text", ["*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n",
                                  fixture_text("captured/empty_ns_iptables_save_all.txt")])
def test_a_node_without_kube_proxy_rules(text):
    assert kube_proxy_parse.service_rules(text) == {"present": False, "services": {}}


def test_broken_iptables_save_output_is_named():
    with pytest.raises(ParseError, match="no COMMIT"):
        kube_proxy_parse.service_rules(fixture_text(NAT).replace("COMMIT", ""))


# ------------------------------------------------------------------------------------------- Service rules
def _cluster_with_api():
    """test_netcheck's two captured nodes, each with kube-proxy's rules as captured on k8s-w1, and the API's
    Services as the captured List holds them (read on the first node, as on a control plane)."""
    from test_netcheck import healthy_cluster
    nodes = healthy_cluster()
    rules = kube_proxy_parse.service_rules(fixture_text(NAT))
    api = kube_proxy_parse.api_services(fixture_text(API))
    for node in nodes:
        node["kube_proxy"] = copy.deepcopy(dict(rules, backend="iptables-save", api=None))
    nodes[0]["kube_proxy"]["api"] = api
    return nodes


def _settings():
    from test_netcheck import SETTINGS
    return dict(SETTINGS)


def _failed(results):
    return sorted((r["check"], r["node"], r["object"]) for r in results if not r["ok"])


def test_api_services_keyed_like_kube_proxy():
    api = kube_proxy_parse.api_services(fixture_text(API))
    assert api["default/kubernetes:https"]["endpoints"] == ["192.168.100.10:6443"]
    assert api["kube-system/kube-dns:dns"]["protocol"] == "udp"
    assert api["kube-system/kube-dns:dns"]["endpoints"] == ["172.16.1.2:53", "172.16.1.3:53"]


def test_service_rules_pass_when_they_match_the_api():
    results = netcheck.verify_cluster(_cluster_with_api(), _settings())
    rules = [r for r in results if r["check"] == "service_rules"]
    assert len(rules) == 2 * 4 and all(r["ok"] for r in rules), [r["message"] for r in rules if not r["ok"]]


def test_flushed_kube_services_chain_is_named_per_port():
    nodes = _cluster_with_api()
    nodes[1]["kube_proxy"]["services"] = {}
    failed = _failed(netcheck.verify_cluster(nodes, _settings()))
    assert failed == [("service_rules", "kfa-cap-peer", "Service port %s" % p) for p in (
        "default/kubernetes:https", "kube-system/kube-dns:dns", "kube-system/kube-dns:dns-tcp",
        "kube-system/kube-dns:metrics")]


def test_an_endpoint_kube_proxy_still_leads_to_is_named():
    nodes = _cluster_with_api()
    nodes[1]["kube_proxy"]["services"]["kube-system/kube-dns:dns"]["endpoints"] = ["172.16.1.2:53"]
    results = netcheck.verify_cluster(nodes, _settings())
    bad = [r["message"] for r in results if not r["ok"]]
    assert len(bad) == 1 and "kfa-cap-peer Service port kube-system/kube-dns:dns" in bad[0]
    assert "172.16.1.3:53" in bad[0]


def test_a_service_without_endpoints_fails_on_every_node():
    """CoreDNS scaled to 0: the API lists no endpoint, and nothing could answer."""
    nodes = _cluster_with_api()
    for port in nodes[0]["kube_proxy"]["api"].values():
        if port["service"] == "kube-system/kube-dns":
            port["endpoints"] = []
    failed = _failed(netcheck.verify_cluster(nodes, _settings()))
    assert len(failed) == 2 * 3 and all(f[2].startswith("Service port kube-system/kube-dns") for f in failed)


def test_a_listed_service_missing_from_the_api():
    failed = _failed(netcheck.verify_cluster(_cluster_with_api(),
                                             dict(_settings(), services=["kube-system/metrics-server"])))
    assert failed == [("service_rules", n, "Service kube-system/metrics-server") for n in ("kfa-cap-node",
                                                                                           "kfa-cap-peer")]


def test_service_rules_not_run_without_the_api():
    nodes = _cluster_with_api()
    nodes[0]["kube_proxy"]["api"] = None
    results = [r for r in netcheck.verify_cluster(nodes, _settings()) if r["check"] == "service_rules"]
    assert [(r["node"], r["status"]) for r in results] == [("cluster", "not run")]


# ------------------------------------------------------------------------------------------- live probes
# What roles/verify/tasks/probe.yml hands the oracle for the two captured nodes on a healthy cluster, written
# out by hand in the shape of its inputs (kubectl get pods,services -o json; probe.sh's lines; uri results).
# The lab runs the real thing: tests/infra/test_network_model.py and faults/test_network_model_faults.py.
POD = {"kfa-cap-node": "172.16.0.10", "kfa-cap-peer": "172.16.1.10"}
SVC = {"kfa-cap-node": "10.96.5.5", "kfa-cap-peer": "10.96.6.6"}


def _objects():
    items = [{"kind": "Pod", "metadata": {"name": "probe-%s" % n}, "status": {"podIP": ip}} for n, ip in POD.items()]
    items += [{"kind": "Service", "metadata": {"name": "probe-%s" % n},
               "spec": {"clusterIP": ip, "ports": [{"port": 80}]}} for n, ip in SVC.items()]
    items.append({"kind": "Service", "metadata": {"name": "probe-nodeport"},
                  "spec": {"clusterIP": "10.96.7.7", "ports": [{"port": 80, "nodePort": 31234}]}})
    return {"items": items}


def _pod_lines(node, peer):
    dns = "kubeadm-flannel-verify.svc.cluster.local"
    return "\n".join([
        "dns=kubernetes.default.svc.cluster.local rc=0 10.96.0.1",
        "dns=probe-%s.%s rc=0 %s" % (peer, dns, SVC[peer]),
        "http=%s:80 rc=0 %s" % (SVC[peer], POD[node]),
        "df=%s:1450 rc=0 1 packets transmitted, 1 received, 0%% packet loss, time 0ms" % POD[peer],
        "df=%s:1451 rc=1 ping: local error: message too long, mtu=1450 1 packets transmitted, 0 received, "
        "+1 errors, 100%% packet loss, time 0ms" % POD[peer],
    ])


def healthy_probes():
    peers = {"kfa-cap-node": "kfa-cap-peer", "kfa-cap-peer": "kfa-cap-node"}
    flannel = {"kfa-cap-node": "172.16.0.0", "kfa-cap-peer": "172.16.1.0"}
    bridge = {"kfa-cap-node": "172.16.0.1", "kfa-cap-peer": "172.16.1.1"}
    return {
        "ran": True, "objects": _objects(),
        "ready": [{"name": n, "rc": 0, "out": "pod/probe-%s condition met" % n, "error": ""} for n in POD],
        "pod": [{"name": n, "rc": 0, "out": _pod_lines(n, peers[n]), "error": ""} for n in POD],
        "host": [{"name": n, "rc": 0, "out": "http=%s rc=0 %s" % (POD[peers[n]], flannel[n]), "error": ""}
                 for n in POD],
        "node": [{"name": n, "rc": 0, "out": bridge[n], "error": ""} for n in POD],
        "outside": [{"name": n, "rc": 0, "out": "172.16.0.0", "error": ""} for n in POD],
    }


def _probe_results(probes, nodes=None):
    results = netcheck.verify_cluster(nodes or _cluster_with_api(), _settings(), probes)
    return [r for r in results if r["check"] in PROBE_CHECKS]


PROBE_CHECKS = ("probe_pods_ready", "service_dns", "service_clusterip", "node_to_pod", "hostnet_to_pod", "nodeport",
                "pod_mtu_path")


def test_probe_plan_is_a_ring_over_the_nodes_that_gathered():
    pnodes = netcheck.probe_nodes(["kfa-cap-node", "kfa-cap-peer"], _cluster_with_api())
    plan = netcheck.probe_plan(pnodes, _objects(), _settings())
    assert plan["pod"][0]["probes"] == [
        "dns=kubernetes.default.svc.cluster.local", "dns=probe-kfa-cap-peer.kubeadm-flannel-verify.svc.cluster.local",
        "http=10.96.6.6:80", "df=172.16.1.10:1450", "df=172.16.1.10:1451"]
    assert [e["peer"] for e in plan["pod"]] == ["kfa-cap-peer", "kfa-cap-node"]
    assert plan["host"][1]["probes"] == ["http=172.16.0.10"]
    assert [e["target"] for e in plan["outside"]] == ["192.168.100.10:31234", "192.168.100.101:31234"]
    assert [e["target"] for e in plan["node"]] == ["172.16.0.10", "172.16.1.10"]


def test_healthy_probes_pass_every_check():
    results = _probe_results(healthy_probes())
    assert sorted(set(r["check"] for r in results)) == sorted(PROBE_CHECKS)
    assert [r["message"] for r in results if not r["ok"]] == []


def _with(path_value_pairs):
    probes = healthy_probes()
    for kind, node, old, new in path_value_pairs:
        entry = [e for e in probes[kind] if e["name"] == node][0]
        if old is None:
            entry.update(new)
        else:
            assert old in entry["out"], (old, entry["out"])
            entry["out"] = entry["out"].replace(old, new)
    return probes


@pytest.mark.parametrize("change,fails,says", [
    # CoreDNS gone: names no longer resolve from the pod on the peer
    ([("pod", "kfa-cap-peer", "rc=0 10.96.0.1", "rc=2 -")], [("service_dns", "kfa-cap-peer")], "no answer"),
    # the name resolves, but to something else than the Service's ClusterIP
    ([("pod", "kfa-cap-node", "svc.cluster.local rc=0 10.96.6.6", "svc.cluster.local rc=0 10.96.9.9")],
     [("service_dns", "kfa-cap-node")], "10.96.9.9"),
    # the ClusterIP does not answer (kube-proxy's rules gone on the sender's node)
    ([("pod", "kfa-cap-node", "http=10.96.6.6:80 rc=0 172.16.0.10", "http=10.96.6.6:80 rc=28 curl: (28) timed out")],
     [("service_clusterip", "kfa-cap-node")], "no answer: curl: (28)"),
    # the ClusterIP answers, but the endpoint saw a masqueraded source
    ([("pod", "kfa-cap-node", "http=10.96.6.6:80 rc=0 172.16.0.10", "http=10.96.6.6:80 rc=0 172.16.1.0")],
     [("service_clusterip", "kfa-cap-node")], "saw 172.16.1.0"),
    # a black hole between the two nodes: a full-size packet is lost
    ([("pod", "kfa-cap-peer", "df=172.16.0.10:1450 rc=0 1 packets transmitted, 1 received",
       "df=172.16.0.10:1450 rc=1 1 packets transmitted, 0 received")], [("pod_mtu_path", "kfa-cap-peer")],
     "172.16.0.10 on kfa-cap-node, 1450 bytes"),
    # the pod's MTU is larger than flannel's: one byte over goes out
    ([("pod", "kfa-cap-node", "df=172.16.1.10:1451 rc=1 ping: local error: message too long, mtu=1450",
       "df=172.16.1.10:1451 rc=0")], [("pod_mtu_path", "kfa-cap-node")], "larger than expected"),
    # the host-network pod's traffic is masqueraded to the node's address
    ([("host", "kfa-cap-node", "rc=0 172.16.0.0", "rc=0 192.168.100.10")], [("hostnet_to_pod", "kfa-cap-node")],
     "saw 192.168.100.10"),
    ([("node", "kfa-cap-peer", None, {"rc": 1, "out": "", "error": "Status code was -1: timed out"})],
     [("node_to_pod", "kfa-cap-peer")], "timed out"),
    ([("outside", "kfa-cap-peer", None, {"rc": 1, "out": "", "error": "Connection refused"})],
     [("nodeport", "kfa-cap-peer")], "192.168.100.101:31234"),
    ([("ready", "kfa-cap-node", None, {"rc": 1, "error": "timed out waiting for the condition on pods/probe"})],
     [("probe_pods_ready", "kfa-cap-node")], "timed out"),
    # kubectl exec failed: every probe of that pod is named, with the cause
    ([("pod", "kfa-cap-node", None, {"rc": 1, "out": "", "error": "error: unable to upgrade connection"})],
     [("service_dns", "kfa-cap-node")] * 2 + [("service_clusterip", "kfa-cap-node")]
     + [("pod_mtu_path", "kfa-cap-node")] * 2, "unable to upgrade connection"),
], ids=["dns-no-answer", "dns-wrong-address", "clusterip-no-answer", "clusterip-masqueraded", "mtu-black-hole",
        "mtu-too-large", "hostnet-masqueraded", "node-to-pod", "nodeport", "probe-pod-not-ready", "exec-failed"])
def test_each_probe_failure_is_named(change, fails, says):
    results = _probe_results(_with(change))
    failed = sorted((r["check"], r["node"]) for r in results if not r["ok"])
    assert failed == sorted(fails), [r["message"] for r in results if not r["ok"]]
    assert says in [r for r in results if not r["ok"]][0]["message"]


def test_probes_that_could_not_run_are_named():
    results = _probe_results({"ran": False, "error": "Create the probe pods and Services: forbidden"})
    assert [(r["check"], r["node"], r["ok"]) for r in results] == [("probe_pods_ready", "cluster", False)]
    assert "forbidden" in results[0]["message"]


def test_no_probe_image_is_not_run_not_silent():
    results = _probe_results(None)
    assert [(r["check"], r["status"]) for r in results] == [("probe_pods_ready", "not run")]
    assert "no verify_probe_image" in results[0]["message"]


def test_probe_outputs_from_command_and_uri_results():
    out = netcheck.probe_outputs([
        {"item": {"name": "a"}, "rc": 0, "stdout": "x\n", "stderr": ""},
        {"item": {"name": "b"}, "status": 200, "content": "172.16.0.1\n", "msg": "OK (12 bytes)"},
        {"item": {"name": "c"}, "status": -1, "msg": "Status code was -1: Connection refused"}])
    assert [(o["name"], o["rc"], o["out"]) for o in out] == [("a", 0, "x"), ("b", 0, "172.16.0.1"), ("c", 1, "")]
    assert out[2]["error"].endswith("Connection refused")
