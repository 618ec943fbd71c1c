# -*- coding: utf-8 -*-
"""kube-proxy's Service rules and the API's Services (module_utils/kube_proxy_parse.py), and the oracle's
Service checks (filter_plugins/netcheck.py check_service_rules), on output captured from the lab cluster
(capture/kube_proxy_lab.sh)."""

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
    assert dns["endpoints"] == ["172.16.0.2:53", "172.16.0.3:53"]
    assert sorted(rules["services"]) == ["default/kubernetes:https", "kube-system/kube-dns:dns",
                                         "kube-system/kube-dns:dns-tcp", "kube-system/kube-dns:metrics"]


@pytest.mark.parametrize("text", ["*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n",
                                  fixture_text("captured/empty_ns_iptables_save_all.txt")])
def test_a_node_without_kube_proxy_rules(text):
    assert kube_proxy_parse.service_rules(text) == {"present": False, "services": {}}


def test_broken_iptables_save_output_is_named():
    with pytest.raises(ParseError, match="no COMMIT"):
        kube_proxy_parse.service_rules(fixture_text(NAT).replace("COMMIT", ""))
