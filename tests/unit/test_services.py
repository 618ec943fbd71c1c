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
