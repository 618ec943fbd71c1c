# -*- coding: utf-8 -*-
"""Every verify assertion breaks when the facts are wrong in exactly its way (cases/netcheck.yaml)."""

import copy
import json
import os

import pytest

from netfacts_helpers import ROOT, dig, fixture_json, fixture_text, load_cases, load_source

from ansible.module_utils import cni_parse, flannel_parse, sandbox_parse

# the oracle is controller code: a filter plugin, loaded from its file as Ansible does
netcheck = load_source("kfa_filter_netcheck", os.path.join(ROOT, "filter_plugins", "netcheck.py"))

# the capture runtime runs Debian's bridge plugin directly (Debian ships no flannel CNI plugin)
SETTINGS = {"pod_subnet": "172.16.0.0/16", "node_prefix": 24, "vni": 1, "vxlan_port": 8472, "cni_plugin": "bridge",
            "bridge": "cni0", "ip_masq": True, "shared_namespaces": ["net", "ipc", "uts"],
            "private_namespaces": ["mnt", "pid"], "dns_domain": "cluster.local",
            "services": ["default/kubernetes", "kube-system/kube-dns"], "probe_namespace": "kubeadm-flannel-verify"}


def _flannel(prefix):
    env = flannel_parse.parse_subnet_env(fixture_text("captured/%s_subnet.env" % prefix))
    env.update(present=True, path="/run/flannel/subnet.env")
    vtep = flannel_parse.parse_vtep(fixture_text("captured/%s_ip_d_j_addr.json" % prefix))
    nat = flannel_parse.parse_iptables_save(fixture_text("captured/%s_iptables_save_nat.txt" % prefix))["nat"]
    filt = flannel_parse.parse_iptables_save(fixture_text("captured/%s_iptables_save_filter.txt" % prefix))["filter"]
    ipt = flannel_parse.flannel_iptables(nat, filt, env["network"], env["subnet"])
    ipt["available"] = True
    return {
        "present": True, "subnet_env": env, "vtep": vtep,
        "routes": flannel_parse.parse_routes(fixture_text("captured/%s_ip_j_route.json" % prefix), vtep["name"]),
        "fdb": flannel_parse.parse_fdb(fixture_text("captured/%s_bridge_j_fdb_flannel1.json" % prefix)),
        "neighbours": flannel_parse.parse_neighbours(fixture_text("captured/%s_ip_j_neigh_flannel1.json" % prefix)),
        "iptables": ipt, "nodes": [],
    }


def _sandboxes():
    pods = sandbox_parse.parse_pods(fixture_text("captured/crictl_pods.json"))
    ctrs = sandbox_parse.parse_containers(fixture_text("captured/crictl_ps.json"))
    details = sandbox_parse.parse_inspectp(fixture_text("captured/crictl_inspectp_multi.json"))
    cdetails = sandbox_parse.parse_inspect(fixture_text("captured/crictl_inspect_multi.json"))
    procs = sandbox_parse.parse_processes(fixture_json("captured/proc_ns_raw.json"))
    sandboxes = sandbox_parse.build_sandboxes(pods, ctrs, details, cdetails, procs, {"pause"})
    for pod in sandboxes:
        pod["interfaces"], pod["interfaces_error"] = None, None
        if pod["namespace_options"]["network"] == "POD":
            # what pod_sandbox_facts reads inside a pod's netns (the captured pod namespace); that pod was made by
            # hand at the veth default 1500, the CNI bridge plugin gives a pod the VTEP's MTU (its cni0 ports show 1450)
            pod["interfaces"] = sandbox_parse.parse_pod_interfaces(fixture_text("captured/plain_ip_d_j_addr.json"))
            pod["interfaces"][1]["mtu"] = 1450
    return {"present": True, "crictl": "/usr/local/bin/crictl", "sandboxes": sandboxes}


# What gather.yml puts in every view besides the facts: the kubelet's answer on loopback, what must run there.
KUBELET_OK = {"url": "http://127.0.0.1:10248/healthz", "status": 200, "body": "ok", "error": ""}


def _require(pods=False, node_objects=False, kubelet=True):
    return {"pods": pods, "node_objects": node_objects, "kubelet": kubelet}


def _cni(prefix, leases):
    """cni_facts as the module builds them, from captured files (the peer shares the node's image)."""
    configs, active = cni_parse.parse_conf_dir(fixture_json("captured/cni_conf_dir.json").items())
    ids = cni_parse.parse_netns_ids(fixture_text("captured/node_ip_j_netns_list_id.json")) if prefix == "node" else {}
    return {"conf_dir": "/etc/cni/net.d", "configs": configs, "active": active, "bin_dir": "/opt/cni/bin",
            "binaries": fixture_json("captured/cni_bin_dir.json"),
            "bridge": cni_parse.parse_bridge(fixture_text("captured/%s_ip_d_j_addr.json" % prefix), "cni0", ids,
                                             fixture_json("captured/netns_inodes.json")),
            "ipam": cni_parse.parse_host_local(leases)}


def healthy_cluster():
    """Two nodes as the verify role collects them, every value parsed from captured output."""
    node = {"name": "kfa-cap-node", "node_ip": "192.168.100.10", "flannel": _flannel("node"),
            "cni": _cni("node", fixture_json("captured/host_local_tree.json")),
            "pod_sandboxes": _sandboxes(), "kubelet": dict(KUBELET_OK), "require": _require(pods=True)}
    # the peer has no container runtime (no crictl): its pod checks do not run, and need not
    peer = {"name": "kfa-cap-peer", "node_ip": "192.168.100.101", "flannel": _flannel("peer"),
            "cni": _cni("peer", {}),
            "pod_sandboxes": {"present": False, "crictl": None, "sandboxes": []},
            "kubelet": dict(KUBELET_OK), "require": _require(pods=False)}
    return [node, peer]


def _parent(data, path):
    parts = path.split(".")
    return dig(data, ".".join(parts[:-1])), parts[-1]


def _key(container, last):
    return int(last) if isinstance(container, list) else last


# The captured cluster's third node: kfa-cap-node holds flannel's route, ARP and FDB entries towards it (the
# captures were taken on a three-node cluster), and the Node list names it, though no case gathers its facts.
THIRD_NODE = {"name": "kfa-cap-third", "pod_cidr": "172.16.2.0/24", "public_ip": "192.168.100.102",
              "backend_type": "vxlan", "vtep_mac": "62:a9:f6:cb:35:22", "vni": 1, "pod_cidrs": ["172.16.2.0/24"],
              "internal_ip": "192.168.100.102", "kube_subnet_manager": True}


def published(nodes):
    """What flannel (kube subnet manager) would publish on each Node object for these nodes, and the third."""
    return [{"name": n["name"], "pod_cidr": n["flannel"]["subnet_env"]["subnet"], "public_ip": n["node_ip"],
             "backend_type": "vxlan", "vtep_mac": n["flannel"]["vtep"]["mac"], "vni": 1,
             "pod_cidrs": [n["flannel"]["subnet_env"]["subnet"]], "internal_ip": n["node_ip"],
             "kube_subnet_manager": True} for n in nodes] + [dict(THIRD_NODE)]


def _v0161_iptables():
    """flannel v0.16.1's own rules for kfa-cap-node's lease (fixtures/captured/v0161_*: no comments, no
    --random-fully), as flannel_facts reports them."""
    nat = flannel_parse.parse_iptables_save(fixture_text("captured/v0161_iptables_save_nat.txt"))["nat"]
    filt = flannel_parse.parse_iptables_save(fixture_text("captured/v0161_iptables_save_filter.txt"))["filter"]
    ipt = flannel_parse.flannel_iptables(nat, filt, "172.16.0.0/16", "172.16.0.0/24")
    ipt["available"] = True
    return ipt


def break_cluster(case):
    nodes = copy.deepcopy(healthy_cluster())
    by_name = dict((n["name"], n) for n in nodes)
    if case.get("iptables") == "v0.16.1":
        # kfa-cap-node's rules as flannel v0.16.1 writes them
        by_name["kfa-cap-node"]["flannel"]["iptables"] = _v0161_iptables()
    if case.get("api_nodes"):
        # the control-plane node read the Node objects (flannel_facts with a kubeconfig), or with
        # api_nodes: etcd, flannel's etcd leases (no node name: found by public IP)
        nodes[0]["flannel"]["nodes"] = published(nodes)
        if case["api_nodes"] == "etcd":
            for lease in nodes[0]["flannel"]["nodes"]:
                lease.update(name=None, internal_ip=None, kube_subnet_manager=False)
    for name, changes in (case.get("set") or {}).items():
        for path, value in changes.items():
            parent, last = _parent(by_name[name], path)
            parent[_key(parent, last)] = value
    for name, paths in (case.get("delete") or {}).items():
        for path in paths:
            parent, last = _parent(by_name[name], path)
            del parent[_key(parent, last)]
    for name, changes in (case.get("append") or {}).items():
        for path, value in changes.items():
            dig(by_name[name], path).append(value)
    names = [n["name"] for n in nodes]
    views = [None if n["name"] in (case.get("unreachable") or []) else n for n in nodes]
    failed = case.get("gather_failed") or {}
    # gather.yml's rescue: the failed task and its message, the kubelet probe made before, what the node requires
    views = [dict(gathered=False, error=failed[v["name"]], kubelet=v["kubelet"], require=v["require"])
             if v is not None and v["name"] in failed else v for v in views]
    return netcheck.collect_nodes(names, views)


@pytest.mark.parametrize("case", load_cases("netcheck"))
def test_assertion(case):
    settings = dict(SETTINGS, **(case.get("settings") or {}))
    results = netcheck.verify_cluster(break_cluster(case), settings)
    failed = sorted([r["check"], r["node"]] for r in results if not r["ok"])
    assert failed == sorted(case["fails"]), [r["message"] for r in results if not r["ok"]]
    if case.get("message"):
        check, node = case["fails"][0]
        first = [r for r in results if not r["ok"] and r["check"] == check and r["node"] == node][0]["message"]
        for part in case["message"]:
            assert part in first, first


def test_every_check_has_a_failing_case():
    """No assertion without a case that makes it fail."""
    results = netcheck.verify_cluster(healthy_cluster(), SETTINGS)
    # the cluster-wide Service and probe checks (not run here: no API read, no probe) are test_services.py's
    checks = set(r["check"] for r in results if r["node"] != "cluster") | {"vtep_present", "facts_gathered"}
    covered = set(f[0] for c in load_cases("netcheck") for f in c.values[0]["fails"])
    assert checks <= covered, checks - covered


def test_expectations_come_from_the_facts_not_from_the_seed():
    """Renumber the whole cluster (other CIDR, other node IPs, other MACs): it still passes when consistent."""
    nodes = healthy_cluster()
    text = repr(nodes)
    for old, new in (("172.16.", "10.44."), ("192.168.100.", "10.9.8."), ("42:7b:d8:d5:f7:8c", "02:00:00:00:00:02"),
                     ("a2:12:b0:b8:25:7c", "02:00:00:00:00:01")):
        text = text.replace(old, new)
    moved = eval(text)  # noqa: S307 - repr() of plain dicts/lists/str/int/bool/None written above
    results = netcheck.verify_cluster(moved, dict(SETTINGS, pod_subnet="10.44.0.0/16"))
    assert [r["message"] for r in results if not r["ok"]] == []


def test_summary_table_marks_failures():
    case = [c.values[0] for c in load_cases("netcheck") if c.values[0]["id"] == "route-to-peer-missing"][0]
    lines = netcheck.summary_table(netcheck.verify_cluster(break_cluster(case), SETTINGS))
    row = [line for line in lines if "route_to_peer" in line and "kfa-cap-node" in line][0]
    assert row.split()[-4:] == ["0", "1", "0", "FAIL"]
    assert ", 1 failed, " in lines[-1]


def test_checks_that_could_not_run_are_said_so_with_the_reason():
    """kfa-cap-peer has no crictl and nobody read Node objects: those checks are 'not run' (ok: nothing is known
    broken, and neither is required there), listed in the table with why, never silently missing."""
    results = netcheck.verify_cluster(healthy_cluster(), SETTINGS)
    skipped = sorted((r["check"], r["node"]) for r in results if r["status"] == "not run")
    assert skipped == sorted([(c, "kfa-cap-peer") for c in netcheck.REQUIREMENTS["pods"][1]]
                             + [("node_annotations", "kfa-cap-node"), ("node_annotations", "kfa-cap-peer"),
                                ("no_stray_entries", "kfa-cap-node"), ("no_stray_entries", "kfa-cap-peer"),
                                ("probe_pods_ready", "cluster"), ("service_rules", "cluster")])
    assert all(r["ok"] for r in results if r["status"] == "not run")
    assert set(r["status"] for r in results) == {"ok", "not run"}
    lines = netcheck.summary_table(results)
    row = [line for line in lines if "pod_mtu" in line and "kfa-cap-peer" in line][0]
    assert row.split()[-5:] == ["0", "0", "1", "not", "run"]
    assert ("not run on kfa-cap-peer: pod_single_pause, pod_address_in_lease, pod_namespaces, pod_mtu, pod_on_bridge, "
            "ipam_no_leaks (crictl not found on this node)") in lines
    assert lines[-1].endswith(", 0 failed, 12 not run")


def test_every_result_has_a_status():
    results = netcheck.verify_cluster(break_cluster({"unreachable": ["kfa-cap-peer"]}), SETTINGS)
    results += netcheck.verify_cluster(healthy_cluster(), SETTINGS)
    assert set(r["status"] for r in results) <= set(netcheck.STATUSES)
    assert all(r["ok"] == (r["status"] != "FAILED") for r in results)


def test_a_view_without_its_requirements_is_refused():
    """What must run on a node comes from the inventory (verify_require_*); the oracle does not guess it."""
    nodes = healthy_cluster()
    del nodes[1]["require"]["kubelet"]
    with pytest.raises(ValueError, match="kfa-cap-peer: require.kubelet"):
        netcheck.verify_cluster(nodes, SETTINGS)


def test_filter_plugin_runs_the_same_checks():
    filters = netcheck.FilterModule().filters()
    nodes = filters["network_verify_nodes"](["kfa-cap-node", "kfa-cap-peer"], healthy_cluster())
    assert filters["network_verify"](nodes, SETTINGS) == netcheck.verify_cluster(healthy_cluster(), SETTINGS)
    assert " 0 failed, " in filters["network_verify_table"](filters["network_verify"](nodes, SETTINGS))[-1]


def test_nodes_from_hostvars_a_failed_host_is_judged_not_gathered():
    """verdict.yml hands over hostvars: a host whose gathering failed has no view and must not stop the others."""
    healthy = healthy_cluster()
    hostvars = {"kfa-cap-node": {"__verify_node": healthy[0], "other": 1}, "kfa-cap-peer": {"other": 1}}
    nodes = netcheck.collect_nodes(["kfa-cap-node", "kfa-cap-peer"], hostvars)
    results = netcheck.verify_cluster(nodes, SETTINGS)
    failed = sorted((r["check"], r["node"]) for r in results if not r["ok"])
    assert failed == [("facts_gathered", "kfa-cap-peer")]
    assert any(r["node"] == "kfa-cap-node" and r["check"] == "vtep_mtu" and r["ok"] for r in results)


def test_a_node_whose_runtime_is_down_is_named_and_the_others_are_judged():
    """containerd stopped on one of three nodes: facts_gathered FAILED for that node only, with crictl's cause; its
    kubelet (probed before the facts) and both other nodes are still judged, all green."""
    node, peer = healthy_cluster()
    third = copy.deepcopy(peer)
    third.update(name="kfa-cap-third", node_ip="192.168.100.102")
    hostvars = {
        "kfa-cap-node": {"__verify_node": node},
        "kfa-cap-peer": {"__verify_node": {"gathered": False, "kubelet": dict(KUBELET_OK), "require": _require(),
                                           "error": "Read pod sandboxes, their pause processes and namespaces: "
                                                    "crictl pods -o json failed (rc=1): connect: connection refused"}},
        "kfa-cap-third": {"__verify_node": third},
    }
    nodes = netcheck.collect_nodes(["kfa-cap-node", "kfa-cap-peer", "kfa-cap-third"], hostvars)
    results = netcheck.verify_cluster(nodes, SETTINGS)
    failed = [r for r in results if not r["ok"]]
    # the third node is a copy of the peer (same lease, same VTEP): what that makes wrong is left out here
    assert [(r["check"], r["node"]) for r in failed
            if "kfa-cap-third" not in r["node"] and "kfa-cap-third" not in r["object"]] == [
        ("facts_gathered", "kfa-cap-peer")]
    assert "crictl pods -o json failed (rc=1): connect: connection refused" in failed[0]["message"]
    peer_results = [(r["check"], r["status"]) for r in results if r["node"] == "kfa-cap-peer"]
    assert peer_results == [("facts_gathered", "FAILED"), ("kubelet_healthy", "ok")]
    assert any(r["node"] == "kfa-cap-node" and r["check"] == "pod_mtu" and r["ok"] for r in results)
    assert any(r["node"] == "kfa-cap-third" and r["check"] == "kubelet_healthy" and r["ok"] for r in results)


def test_a_node_that_could_not_be_read_is_reported_with_the_cause():
    """gather.yml's rescue keeps the failed task and its message as the node's view."""
    healthy = healthy_cluster()
    view = {"gathered": False, "error": "Read pod sandboxes: crictl failed (rc=1): connection refused"}
    nodes = netcheck.collect_nodes(["kfa-cap-node", "kfa-cap-peer"], [healthy[0], view])
    failed = [r["message"] for r in netcheck.verify_cluster(nodes, SETTINGS) if not r["ok"]]
    assert failed == ["FAILED: facts_gathered on kfa-cap-peer facts: expected flannel, cni and pod sandbox facts, "
                      "found Read pod sandboxes: crictl failed (rc=1): connection refused"]


def test_every_setting_is_required():
    """No setting has a default inside the oracle: the inventory is the only source."""
    for key in netcheck.SETTINGS:
        with pytest.raises(ValueError, match=key):
            netcheck.verify_cluster(healthy_cluster(), {k: v for k, v in SETTINGS.items() if k != key})


def test_checks_lists_every_check_the_oracle_reports():
    results = netcheck.verify_cluster(break_cluster({"unreachable": ["kfa-cap-peer"]}), SETTINGS)
    results += netcheck.verify_cluster(flanneld_cluster(), dict(SETTINGS, cni_plugin="flannel"))
    assert set(r["check"] for r in results) <= set(netcheck.CHECKS)


def _newer_flannel_node(drop=None):
    """kfa-cap-node's facts with the iptables of the FLANNEL-POSTRTG/FLANNEL-FWD capture (10.244.0.0/16)."""
    node = healthy_cluster()[0]
    nat = flannel_parse.parse_iptables_save(fixture_text("captured/newfl_iptables_save_nat.txt"))["nat"]
    filt = flannel_parse.parse_iptables_save(fixture_text("captured/newfl_iptables_save_filter.txt"))["filter"]
    ipt = flannel_parse.flannel_iptables(nat, filt)
    ipt["available"] = True
    if drop is not None:
        del ipt["masquerade"]["rules"][drop]
    node["flannel"]["iptables"] = ipt
    node["flannel"]["subnet_env"]["subnet"] = "10.244.1.0/24"
    return node


def test_newer_flannel_chain_layout_is_recognised():
    cfg = dict(SETTINGS, pod_subnet="10.244.0.0/16")
    results = netcheck.check_iptables(_newer_flannel_node(), cfg)
    assert [(r["check"], r["ok"]) for r in results] == [("masquerade_rules", True), ("forward_rules", True)]
    assert results[0]["object"] == "nat chain FLANNEL-POSTRTG"


def test_newer_flannel_chain_missing_pod_to_cluster_return():
    cfg = dict(SETTINGS, pod_subnet="10.244.0.0/16")
    results = netcheck.check_iptables(_newer_flannel_node(drop=1), cfg)
    assert not results[0]["ok"]
    assert "missing: -s 10.244.1.0/24 -d 10.244.0.0/16 -j RETURN" in results[0]["message"]


def flanneld_cluster():
    """The two nodes real flanneld v0.16.3 set up (capture/flannel_cluster.sh), as the verify role sees them."""
    nodes = []
    api = flannel_parse.parse_nodes(fixture_text("captured/flannel/kubectl_get_nodes.json"))
    for prefix, name, ip in (("m", "k8s-m", "192.168.100.10"), ("w1", "k8s-w1", "192.168.100.101")):
        def text(suffix, prefix=prefix):
            return fixture_text("captured/flannel/%s_%s" % (prefix, suffix))
        env = flannel_parse.parse_subnet_env(text("subnet.env"))
        env.update(present=True)
        vtep = flannel_parse.parse_vtep(text("ip_d_j_addr.json"))
        nat = flannel_parse.parse_iptables_save(text("iptables_save_nat.txt"))["nat"]
        filt = flannel_parse.parse_iptables_save(text("iptables_save_filter.txt"))["filter"]
        ipt = flannel_parse.flannel_iptables(nat, filt, env["network"], env["subnet"])
        ipt["available"] = True
        configs, active = cni_parse.parse_conf_dir([("10-flannel.conflist", text("10-flannel.conflist"))])
        nodes.append({
            "name": name, "node_ip": ip,
            "flannel": {"present": True, "subnet_env": env, "vtep": vtep,
                        "routes": flannel_parse.parse_routes(text("ip_j_route.json"), vtep["name"]),
                        "fdb": flannel_parse.parse_fdb(text("bridge_j_fdb_flannel1.json")),
                        "neighbours": flannel_parse.parse_neighbours(text("ip_j_neigh_flannel1.json")),
                        "iptables": ipt, "nodes": api if prefix == "m" else []},
            "cni": {"conf_dir": "/etc/cni/net.d", "configs": configs, "active": active, "bin_dir": "/opt/cni/bin",
                    "binaries": ["bridge", "flannel", "host-local", "loopback", "portmap"],
                    "bridge": cni_parse.parse_bridge(text("ip_d_j_addr.json"), "cni0"),
                    "ipam": cni_parse.parse_host_local(json.loads(text("host_local_tree.json")))},
            "pod_sandboxes": {"present": False, "crictl": None, "sandboxes": []},
            "kubelet": dict(KUBELET_OK), "require": _require(node_objects=prefix == "m"),
        })
    return nodes


def test_what_real_flanneld_built_passes_every_check():
    """Captured from flanneld v0.16.3 + kube-apiserver + the flannel CNI plugin: nothing may fail."""
    results = netcheck.verify_cluster(flanneld_cluster(), dict(SETTINGS, cni_plugin="flannel"))
    assert [r["message"] for r in results if not r["ok"]] == []
    checks = set(r["check"] for r in results)
    assert {"route_to_peer", "fdb_to_peer", "neighbour_to_peer", "node_annotations", "masquerade_rules",
            "vtep_local_ip", "mtu_consistent", "bridge_gateway_address", "cni_config_active"} <= checks


def test_real_flanneld_cluster_with_the_nat_address_as_node_ip():
    """The seed's classic bug seen from the inventory side: kube_node_ip is the NAT address."""
    nodes = flanneld_cluster()
    nodes[1]["node_ip"] = "10.0.2.15"
    results = netcheck.verify_cluster(nodes, dict(SETTINGS, cni_plugin="flannel"))
    failed = sorted((r["check"], r["node"]) for r in results
                    if not r["ok"])
    assert failed == [("fdb_to_peer", "k8s-m"), ("node_annotations", "k8s-w1"), ("vtep_local_ip", "k8s-w1"),
                      ("vtep_underlay", "k8s-w1")]


def test_no_bridge_before_the_first_pod_on_the_pod_network():
    """A fresh worker (only hostNetwork pods: kube-proxy, flannel) has no cni0 yet, and that is right;
    once a pod on the pod network is READY there, a missing cni0 fails again."""
    def bridge_results(sandboxes):
        nodes = flanneld_cluster()
        nodes[1]["cni"]["bridge"] = {"present": False}
        nodes[1]["pod_sandboxes"] = {"present": True, "crictl": "/usr/local/bin/crictl", "sandboxes": sandboxes}
        results = netcheck.verify_cluster(nodes, dict(SETTINGS, cni_plugin="flannel"))
        return [r for r in results if r["check"] == "bridge_gateway_address" and r["node"] == nodes[1]["name"]]

    host_net = {"state": "SANDBOX_READY", "namespace_options": {"network": "NODE"}}
    assert [r["ok"] for r in bridge_results([host_net])] == [True]
    pod_net = {"state": "SANDBOX_READY", "namespace_options": {"network": "POD"}, "namespaces": {}}
    assert [r["ok"] for r in bridge_results([host_net, pod_net])] == [False]
