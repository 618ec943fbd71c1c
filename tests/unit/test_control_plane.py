# -*- coding: utf-8 -*-
"""The control plane's facts and checks on output captured from the HA lab (tests/unit/capture/control_plane_lab.sh):
three control planes with stacked etcd and the API on a virtual address, then each check with the facts broken in
exactly its way (cases/control_plane.yaml), and control_plane_facts end to end with run_command mocked."""

import calendar
import copy
import json

import pytest

from netfacts_helpers import ROOT, dig, fixture_text, library, load_cases, load_source

from ansible.module_utils import basic, control_plane_parse
from ansible.module_utils.netfacts_common import ParseError
from ansible.module_utils.testing import patch_module_args

netcheck = load_source("kfa_filter_netcheck_cp", ROOT + "/filter_plugins/netcheck.py")

CAPTURED = "captured/control_plane/"
MASTERS = {"k8s-m1": "192.168.100.11", "k8s-m2": "192.168.100.12", "k8s-m3": "192.168.100.13"}
WORKERS = {"k8s-w1": "192.168.100.101", "k8s-w2": "192.168.100.102"}
VIP = "192.168.100.100"
NIC = "enp0s8"
SETTINGS = {"enabled": True, "hosts": sorted(MASTERS), "vip": VIP, "cert_min_days": 30}
# When the certificates were read (the capture's day): days_left is counted from here, so that the cases do not
# age with the calendar.
CAPTURED_AT = calendar.timegm((2026, 12, 2, 19, 30, 0))


def _http(rel):
    return control_plane_parse.parse_http(rel, 0, fixture_text(CAPTURED + rel), "")


def _holder():
    """The control plane whose captured NIC holds the virtual address."""
    for name in MASTERS:
        text = fixture_text(CAPTURED + "%s_ip_j_addr_%s.json" % (name, NIC))
        if control_plane_parse.vip_on_interface(name, text, NIC, VIP)["held"]:
            return name
    raise AssertionError("no captured control plane holds %s" % VIP)


def _master_view(name):
    def cap(kind):
        return fixture_text(CAPTURED + "%s_%s" % (name, kind))
    api = _http("%s_readyz.txt" % name)
    api["url"] = "https://%s:6443/readyz" % MASTERS[name]
    via = _http("vip_readyz.txt")
    via["url"] = "https://%s:8443/readyz" % VIP
    return {"api": api, "api_via_vip": via,
            "vip": control_plane_parse.vip_on_interface(name, cap("ip_j_addr_%s.json" % NIC), NIC, VIP),
            "etcd": {"url": "https://127.0.0.1:2379", "error": "",
                     "health": control_plane_parse.parse_health(name, cap("etcd_health.json")),
                     "members": control_plane_parse.parse_member_list(name, cap("etcd_member_list.json")),
                     "status": control_plane_parse.parse_status(name, cap("etcd_status.json"))},
            "certificates": {"error": "", "rows": control_plane_parse.parse_cert_expiration(
                name, cap("kubeadm_certs_check_expiration.txt"), CAPTURED_AT)}}


def _worker_view():
    via = _http("vip_readyz.txt")
    via["url"] = "https://%s:8443/readyz" % VIP
    return {"api": None, "api_via_vip": via, "etcd": None, "certificates": None,
            "vip": {"address": VIP, "interface": NIC, "held": False, "addresses": []}}


def healthy():
    views = dict((name, _master_view(name)) for name in MASTERS)
    views.update((name, _worker_view()) for name in WORKERS)
    return [{"name": name, "control_plane": view} for name, view in views.items()]


def _apply(nodes, case):
    by_name = dict((n["name"], n) for n in nodes)
    for name, changes in (case.get("set") or {}).items():
        for path, value in changes.items():
            parts = path.split(".")
            parent = dig(by_name[name], ".".join(parts[:-1])) if len(parts) > 1 else by_name[name]
            parent[int(parts[-1]) if isinstance(parent, list) else parts[-1]] = value
    for name, paths in (case.get("delete") or {}).items():
        for path in paths:
            parts = path.split(".")
            parent = dig(by_name[name], ".".join(parts[:-1]))
            del parent[int(parts[-1]) if isinstance(parent, list) else parts[-1]]
    gathered = [n for n in nodes if n["name"] not in (case.get("unreachable") or [])]
    missing = [{"name": n, "gathered": False} for n in case.get("unreachable") or []]
    return gathered, missing


def test_the_captured_cluster_is_healthy():
    results = netcheck.check_control_plane(healthy(), [], SETTINGS)
    assert [r["message"] for r in results if not r["ok"]] == []
    checks = set(r["check"] for r in results)
    assert checks == {"api_server_ready", "certificates_valid", "api_via_vip", "vip_held_once", "etcd_healthy",
                      "etcd_members", "etcd_leader"}
    # one result per control plane (API, certificates, etcd), per node (the API through the address), per cluster
    assert len(results) == 3 * 4 + 5 + 2


def test_exactly_one_captured_control_plane_holds_the_address():
    assert _holder() in MASTERS


def test_the_members_agree_on_one_leader_that_is_a_member():
    views = [_master_view(name)["etcd"] for name in MASTERS]
    leaders = set(v["status"]["leader"] for v in views)
    assert len(leaders) == 1
    assert leaders.pop() in set(m["id"] for m in views[0]["members"])
    assert sorted(m["name"] for m in views[0]["members"]) == sorted(MASTERS)


@pytest.mark.parametrize("case", load_cases("control_plane"))
def test_check(case):
    nodes = healthy()
    if case.get("break_holder"):
        # the captured holder's facts broken as the case says (which node holds it depends on the capture)
        case = copy.deepcopy(case)
        holder = _holder()
        case.setdefault("set", {})[holder] = case.pop("break_holder")
        case["fails"] = [[check, holder if node == "HOLDER" else node] for check, node in case["fails"]]
    gathered, missing = _apply(nodes, case)
    settings = dict(SETTINGS, **(case.get("settings") or {}))
    results = netcheck.check_control_plane(gathered, missing, settings)
    failed = sorted([r["check"], r["node"]] for r in results if not r["ok"])
    assert failed == sorted(case["fails"]), [r["message"] for r in results if not r["ok"]]
    for part in case.get("message") or []:
        assert any(part in r["message"] for r in results if not r["ok"]), [r["message"] for r in results]


def test_every_check_has_a_failing_case():
    covered = set(f[0] for c in load_cases("control_plane") for f in c.values[0]["fails"])
    assert covered == {"api_server_ready", "certificates_valid", "api_via_vip", "vip_held_once", "etcd_healthy",
                       "etcd_members", "etcd_leader"}


def test_checks_are_off_unless_enabled():
    assert netcheck.check_control_plane(healthy(), [], dict(SETTINGS, enabled=False)) == []
    assert netcheck.check_control_plane(healthy(), [], None) == []


def test_a_single_control_plane_has_no_address_checks():
    nodes = [{"name": "k8s-m1", "control_plane": dict(_master_view("k8s-m1"), vip=None, api_via_vip=None)}]
    one = [dict(m) for m in nodes[0]["control_plane"]["etcd"]["members"] if m["name"] == "k8s-m1"]
    nodes[0]["control_plane"]["etcd"]["members"] = one
    nodes[0]["control_plane"]["etcd"]["status"]["leader"] = one[0]["id"]
    results = netcheck.check_control_plane(nodes, [], {"enabled": True, "hosts": ["k8s-m1"], "vip": ""})
    assert sorted(r["check"] for r in results) == ["api_server_ready", "certificates_valid", "etcd_healthy",
                                                   "etcd_leader", "etcd_members"]
    assert all(r["ok"] for r in results), [r["message"] for r in results]


# ------------------------------------------------------------------------------------------ parsers
def test_http_without_an_answer_is_a_fact_not_an_error():
    got = control_plane_parse.parse_http("curl", 7, "", "curl: (7) Failed to connect to 192.168.100.11 port 6443")
    assert got == {"status": -1, "body": "", "error": "curl: (7) Failed to connect to 192.168.100.11 port 6443"}


def test_http_without_a_status_line_is_refused():
    with pytest.raises(ParseError, match="no HTTP status"):
        control_plane_parse.parse_http("curl", 0, "ok", "")


def test_a_member_that_has_not_started_has_no_name():
    text = json.dumps({"header": {"member_id": "1"}, "members": [{"ID": "42", "peerURLs": ["https://10.0.0.9:2380"]}]})
    (member,) = control_plane_parse.parse_member_list("list", text)
    assert member == {"id": "42", "name": "", "peer_urls": ["https://10.0.0.9:2380"], "client_urls": [],
                      "learner": False, "started": False}


def test_the_captured_certificates_are_read_with_their_days_left():
    rows = control_plane_parse.parse_cert_expiration(
        "k8s-m1", fixture_text(CAPTURED + "k8s-m1_kubeadm_certs_check_expiration.txt"), CAPTURED_AT)
    names = [r["name"] for r in rows]
    # kubeadm v1.22's table: the leaf certificates (stacked etcd's among them), then the three authorities
    assert {"admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf",
            "etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client",
            "scheduler.conf"} <= set(names)
    authorities = [r for r in rows if r["authority"]]
    assert [r["name"] for r in authorities] == ["ca", "etcd-ca", "front-proxy-ca"]
    assert all(360 <= r["days_left"] <= 366 for r in rows if not r["authority"]), rows
    assert all(r["days_left"] > 3000 for r in authorities), authorities
    assert next(r for r in rows if r["name"] == "apiserver")["ca"] == "ca"
    assert not any(r["externally_managed"] for r in rows)


def test_a_missing_certificate_and_an_unreadable_table():
    text = ("CERTIFICATE   EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED\n"
            "admin.conf    Dec 02, 2027 19:20 UTC   364d                                    no\n"
            "!MISSING! apiserver\n")
    rows = control_plane_parse.parse_cert_expiration("t", text, CAPTURED_AT)
    assert rows[1] == {"name": "apiserver", "authority": False, "expires": None, "days_left": None, "ca": "",
                       "externally_managed": False}
    assert rows[0]["expires"] == "2027-12-02T19:20:00Z" and rows[0]["days_left"] == 364
    with pytest.raises(ParseError, match="no CERTIFICATE table"):
        control_plane_parse.parse_cert_expiration("t", "error: couldn't load the admin.conf", CAPTURED_AT)
    with pytest.raises(ParseError, match="unreadable row"):
        control_plane_parse.parse_cert_expiration("t", text + "apiserver  sometime soon\n", CAPTURED_AT)


def test_an_etcd_answer_that_is_not_a_member_list_is_refused():
    with pytest.raises(ParseError, match="no 'members'"):
        control_plane_parse.parse_member_list("list", '{"error": "etcdserver: request timed out", "code": 14}')


# ------------------------------------------------------------------------------------------ the module
def _run(monkeypatch, capsys, params, answers):
    mod = library("control_plane_facts")
    calls = []

    def run_command(self, argv, environ_update=None, **kwargs):
        assert (environ_update or {}).get("LC_ALL") == "C"
        calls.append(argv)
        # a request by its URL (the last word: the options name certificate files such as .../healthcheck-client.crt)
        target = argv[-1] if "://" in argv[-1] else " ".join(argv)
        for match, answer in answers:
            if match in target:
                return answer
        raise AssertionError("unexpected command %r" % argv)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None:
                        "/usr/bin/" + name)
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            mod.main()
    return json.loads(capsys.readouterr().out), calls


def test_module_on_a_control_plane(monkeypatch, capsys):
    name = _holder()
    answers = [
        ("/health", (0, fixture_text(CAPTURED + "%s_etcd_health.json" % name) + "\n200", "")),
        ("member/list", (0, fixture_text(CAPTURED + "%s_etcd_member_list.json" % name) + "\n200", "")),
        ("maintenance/status", (0, fixture_text(CAPTURED + "%s_etcd_status.json" % name) + "\n200", "")),
        (":8443/readyz", (0, fixture_text(CAPTURED + "vip_readyz.txt"), "")),
        (":6443/readyz", (0, fixture_text(CAPTURED + "%s_readyz.txt" % name), "")),
        ("ip -j addr", (0, fixture_text(CAPTURED + "%s_ip_j_addr_%s.json" % (name, NIC)), "")),
    ]
    result, calls = _run(monkeypatch, capsys, {
        "api_url": "https://%s:6443/readyz" % MASTERS[name], "vip": VIP, "interface": NIC,
        "vip_url": "https://%s:8443/readyz" % VIP, "etcd_url": "https://127.0.0.1:2379"}, answers)
    assert not result.get("failed"), result
    facts = result["ansible_facts"]["control_plane"]
    assert facts["api"]["status"] == 200 and facts["api"]["body"] == "ok"
    assert facts["api_via_vip"]["status"] == 200
    assert facts["vip"]["held"] is True
    assert facts["etcd"]["health"]["healthy"] is True
    assert sorted(m["name"] for m in facts["etcd"]["members"]) == sorted(MASTERS)
    assert len(calls) == 6
    # every TLS request checks the server's certificate: never curl --insecure
    assert not any("--insecure" in argv or "-k" in argv for argv in calls)


def test_module_when_etcd_does_not_answer(monkeypatch, capsys):
    answers = [("/health", (7, "", "curl: (7) Failed to connect to 127.0.0.1 port 2379: Connection refused"))]
    result, calls = _run(monkeypatch, capsys, {"etcd_url": "https://127.0.0.1:2379"}, answers)
    etcd = result["ansible_facts"]["control_plane"]["etcd"]
    assert etcd["error"].endswith("Connection refused") and etcd["members"] == [] and etcd["status"] is None
    assert len(calls) == 1


def test_module_refuses_a_vip_without_its_nic(monkeypatch, capsys):
    result, _ = _run(monkeypatch, capsys, {"vip": VIP}, [])
    assert result["failed"] and "without interface" in result["msg"]


def test_module_reads_the_certificates_with_kubeadm(monkeypatch, capsys):
    text = fixture_text(CAPTURED + "k8s-m2_kubeadm_certs_check_expiration.txt")
    result, calls = _run(monkeypatch, capsys, {"certificates": True},
                         [("certs check-expiration", (0, text, ""))])
    certs = result["ansible_facts"]["control_plane"]["certificates"]
    assert certs["error"] == "" and len(certs["rows"]) == 13
    assert calls == [["/usr/bin/kubeadm", "certs", "check-expiration"]]
    failed, _ = _run(monkeypatch, capsys, {"certificates": True},
                     [("certs check-expiration", (1, "", "error: open /etc/kubernetes/admin.conf: no such file"))])
    got = failed["ansible_facts"]["control_plane"]["certificates"]
    assert got["rows"] == [] and "exit 1" in got["error"] and "admin.conf" in got["error"]
