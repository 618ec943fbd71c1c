# -*- coding: utf-8 -*-
"""Every parser against real captured output (and deliberately broken output), cases in cases/parsers.yaml."""

import json

import pytest

from netfacts_helpers import dig, fixture_json, fixture_text, load_cases

from ansible.module_utils import cni_parse, flannel_parse, sandbox_parse
from ansible.module_utils.netfacts_common import ParseError


def test_etcd_leases_as_flanneld_wrote_them():
    """capture/flannel_etcd_leases.sh: two leases flanneld v0.16.3 took from etcd's v2 subnet manager."""
    listing = fixture_text("captured/etcd/etcdctl_ls_subnets.txt")
    values = dict((key, fixture_text("captured/etcd/etcdctl_get_%s.txt" % key.rsplit("/", 1)[1]))
                  for key in listing.split())
    leases = flannel_parse.parse_etcd_leases(listing, values)
    assert sorted((n["public_ip"], n["pod_cidr"], n["vtep_mac"], n["name"]) for n in leases) == [
        ("192.168.100.10", "172.16.83.0/24", "c2:44:f7:4d:e2:a1", None),
        ("192.168.100.101", "172.16.74.0/24", "66:a1:c5:4c:0d:88", None)]


@pytest.mark.parametrize("listing,values,reason", [
    ("/coreos.com/network/subnets/172.16.1.0", {}, "is not <network>-<prefix>"),
    ("/coreos.com/network/subnets/172.16.1.1-24", {}, "host bits set"),
    ("/coreos.com/network/subnets/172.16.1.0-24", {"/coreos.com/network/subnets/172.16.1.0-24": "Error: 100"},
     "not valid JSON"),
])
def test_etcd_leases_broken(listing, values, reason):
    with pytest.raises(ParseError, match=reason):
        flannel_parse.parse_etcd_leases(listing, values)


def _text(case):
    if "text" in case:
        return case["text"]
    text = fixture_text(case["fixture"])
    if "truncate" in case:
        text = text[:case["truncate"]]
    if case.get("as_stream"):
        text = "\n".join(json.dumps(doc, indent=2) for doc in json.loads(text))
    return text


def _run(case):
    args = case.get("args", {})
    kind = case["parser"]
    text = _text(case)
    if kind == "subnet_env":
        return flannel_parse.parse_subnet_env(text)
    if kind == "vtep":
        return flannel_parse.parse_vtep(text, **args)
    if kind == "routes":
        return flannel_parse.parse_routes(text, **args)
    if kind == "fdb":
        return flannel_parse.parse_fdb(text)
    if kind == "neighbours":
        return flannel_parse.parse_neighbours(text)
    if kind == "iptables_save":
        return flannel_parse.parse_iptables_save(text)
    if kind == "flannel_iptables":
        nat = flannel_parse.parse_iptables_save(text)["nat"]
        filt = flannel_parse.parse_iptables_save(fixture_text(case["filter_fixture"]))["filter"]
        return flannel_parse.flannel_iptables(nat, filt, **args)
    if kind == "nodes":
        return flannel_parse.parse_nodes(text)
    if kind == "netns_ids":
        return dict((str(k), v) for k, v in cni_parse.parse_netns_ids(text).items())
    if kind == "bridge":
        ids = cni_parse.parse_netns_ids(fixture_text("captured/node_ip_j_netns_list_id.json"))
        return cni_parse.parse_bridge(text, "cni0", ids, fixture_json("captured/netns_inodes.json"))
    if kind == "conf_dir":
        files = json.loads(text)
        files.update(case.get("extra_files", {}))
        entries, winner = cni_parse.parse_conf_dir(files.items())
        return {"entries": entries, "winner": winner}
    if kind == "host_local":
        return cni_parse.parse_host_local(json.loads(text))
    if kind == "pods":
        return sandbox_parse.parse_pods(text)
    if kind == "containers":
        return sandbox_parse.parse_containers(text)
    if kind == "inspectp":
        return sandbox_parse.parse_inspectp(text)
    if kind == "inspect":
        return sandbox_parse.parse_inspect(text)
    if kind == "processes":
        return sandbox_parse.parse_processes(json.loads(text))
    if kind == "pod_interfaces":
        return sandbox_parse.parse_pod_interfaces(text)
    raise AssertionError("unknown parser %s" % kind)


@pytest.mark.parametrize("case", load_cases("parsers"))
def test_parser(case):
    if "error" in case:
        with pytest.raises(ParseError) as info:
            _run(case)
        assert case["error"] in str(info.value)
        return
    result = _run(case)
    for path, want in (case.get("expect") or {}).items():
        assert dig(result, path) == want, path
    for path, want in (case.get("length") or {}).items():
        assert len(dig(result, path)) == want, path


def test_iptables_rules_split_by_table_header():
    """iptables -S output (no *table header) lands under '' and keeps chain order."""
    parsed = flannel_parse.parse_iptables_save(fixture_text("seed/iptables_S_nat_postrouting.txt"))
    assert list(parsed) == [""]
    assert [r["target"] for r in parsed[""]["rules"]][-4:] == ["RETURN", "MASQUERADE", "RETURN", "MASQUERADE"]


def test_sandboxes_joined_with_proc():
    """crictl's view joined with /proc: namespaces shared with pause, per pod, from the captured runtime."""
    pods = sandbox_parse.parse_pods(fixture_text("captured/crictl_pods.json"))
    ctrs = sandbox_parse.parse_containers(fixture_text("captured/crictl_ps.json"))
    details = sandbox_parse.parse_inspectp(fixture_text("captured/crictl_inspectp_multi.json"))
    cdetails = sandbox_parse.parse_inspect(fixture_text("captured/crictl_inspect_multi.json"))
    procs = sandbox_parse.parse_processes(fixture_json("captured/proc_ns_raw.json"))
    result = dict((p["name"], p) for p in sandbox_parse.build_sandboxes(pods, ctrs, details, cdetails, procs,
                                                                       {"pause"}))
    web = result["myweb2"]
    assert web["command"] == "pause" and web["pause_processes"] == [web["pid"]]
    assert sorted(c["name"] for c in web["containers"]) == ["netshoot", "nginx"]
    for ctr in web["containers"]:
        # containerd's CRI: net, ipc and uts come from the sandbox; mnt and (pid mode CONTAINER) pid are own
        assert ctr["shares"] == {"net": True, "ipc": True, "uts": True, "pid": False, "mnt": False}
    assert result["shared-pid"]["containers"][0]["shares"]["pid"] is True
    assert result["hostnet"]["ip"] is None
    assert result["hostnet"]["namespace_options"]["network"] == "NODE"


def test_sandbox_with_vanished_pause_process():
    """A sandbox whose infra pid is gone is reported as such, not as a traceback."""
    pods = sandbox_parse.parse_pods(fixture_text("captured/crictl_pods.json"))
    details = sandbox_parse.parse_inspectp(fixture_text("captured/crictl_inspectp_multi.json"))
    result = sandbox_parse.build_sandboxes(pods, [], details, {}, {}, {"pause"})
    assert all(p["pid_alive"] is False and p["pause_processes"] == [] for p in result)


def test_read_proc_raw_reads_the_real_proc():
    """The one I/O helper of the parsers: namespace links of this very process, a vanished pid skipped."""
    import os
    raw = sandbox_parse.read_proc_raw(pids=[os.getpid(), 2 ** 22 + 1])
    assert list(raw) == [str(os.getpid())]
    mine = sandbox_parse.parse_processes(raw)[os.getpid()]
    assert mine["ns"]["net"] == os.stat("/proc/self/ns/net").st_ino
    assert set(mine["ns"]) == set(sandbox_parse.NAMESPACES)
