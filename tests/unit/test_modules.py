# -*- coding: utf-8 -*-
"""The three fact modules end to end with run_command mocked by captured output (cases/modules.yaml)."""

import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from netfacts_helpers import FIXTURES, dig, fixture_json, fixture_text, library, load_cases


def _resolve(value, tmp):
    if isinstance(value, str) and value.startswith("FIXTURE:"):
        return os.path.join(FIXTURES, value[len("FIXTURE:"):])
    if isinstance(value, str) and value.startswith("TMP:"):
        return str(tmp / value[len("TMP:"):])
    if isinstance(value, list):
        return [_resolve(v, tmp) for v in value]
    return value


def _build_trees(case, tmp):
    for name, rel in (case.get("trees") or {}).items():
        root = tmp / name
        root.mkdir()
        data = fixture_json(rel)
        if isinstance(data, list):  # a listing of executables
            for entry in data:
                (root / entry).write_text("")
                os.chmod(str(root / entry), 0o755)
            continue
        for entry, content in data.items():
            if isinstance(content, dict):
                (root / entry).mkdir()
                for sub, text in content.items():
                    (root / entry / sub).write_text(text)
            else:
                (root / entry).write_text(content if isinstance(content, str) else "")
    for name, files in (case.get("extra_bytes") or {}).items():
        for entry, text in files.items():
            (tmp / name / entry).write_bytes(text.encode("latin-1"))


class Runner(object):
    """Stands in for AnsibleModule.run_command: answers listed commands once each, refuses others."""

    def __init__(self, case, tmp):
        self.expected = []
        for cmd in case.get("commands") or []:
            out = cmd["text"] if "text" in cmd else fixture_text(cmd["fixture"])
            if "truncate" in cmd:
                out = out[:cmd["truncate"]]
            ids = None
            if "ids_from" in cmd:
                doc = fixture_json(cmd["ids_from"])
                ids = [item["id"] for item in doc.get("items", doc.get("containers", []))]
            self.expected.append((_resolve(cmd["argv"], tmp), ids, cmd.get("rc", 0), out, cmd.get("stderr", "")))
        self.calls = []

    def __call__(self, module, args, environ_update=None, **kwargs):
        assert (environ_update or {}).get("LC_ALL") == "C", "commands must run with LC_ALL=C"
        argv = [os.path.basename(args[0])] + list(args[1:])
        self.calls.append(argv)
        for argv_want, ids, rc, out, err in self.expected:
            head = argv[:len(argv_want)]
            if head == argv_want and (ids is None and len(argv) == len(argv_want)
                                      or ids is not None and argv[len(argv_want):] == ids):
                return rc, out, err
        raise AssertionError("unexpected command %r" % argv)


def _run_module(case, tmp, monkeypatch, capsys):
    mod = library(case["module"])
    runner = Runner(case, tmp)
    missing = set(case.get("missing_bins") or [])
    # the per-backend iptables tools exist only where a case says so (`bins`)
    missing |= {"iptables-nft-save", "iptables-legacy-save"} - set(case.get("bins") or [])

    def get_bin_path(self, name, required=False, opt_dirs=None):
        base = os.path.basename(name)
        if base in missing:
            if required:
                self.fail_json(msg="Failed to find required executable %s" % name)
            return None
        return "/usr/bin/" + base

    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, *a, **kw: runner(self, *a, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    # which legacy iptables tables exist in the (simulated) namespace
    monkeypatch.setattr(mod, "legacy_tables_loaded", lambda path=None: set(case.get("legacy_tables", [])),
                        raising=False)
    if case.get("proc"):
        raw = fixture_json(case["proc"])
        monkeypatch.setattr(mod, "read_proc_raw", lambda proc_root="/proc", pids=None: raw)
    else:
        monkeypatch.setattr(mod, "read_proc_raw", lambda proc_root="/proc", pids=None: {}, raising=False)
    params = dict((k, _resolve(v, tmp)) for k, v in (case.get("params") or {}).items())
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            mod.main()
    result = json.loads(capsys.readouterr().out)
    return result, runner


@pytest.mark.parametrize("case", load_cases("modules"))
def test_module(case, tmp_path, monkeypatch, capsys):
    _build_trees(case, tmp_path)
    result, runner = _run_module(case, tmp_path, monkeypatch, capsys)
    if "failed" in case:
        assert result.get("failed") is True, result
        assert case["failed"] in result["msg"]
        return
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    facts = result["ansible_facts"]
    for path, want in (case.get("expect") or {}).items():
        assert dig(facts, path) == want, path
    for path, want in (case.get("length") or {}).items():
        assert len(dig(facts, path)) == want, path
    for path, part in (case.get("contains") or {}).items():
        assert part in dig(facts, path), path
    # one command per data source: every listed command ran exactly once, nothing else ran
    assert len(runner.calls) == len(runner.expected), runner.calls


def test_check_mode_is_supported(tmp_path, monkeypatch, capsys):
    """Fact modules must answer in check mode too (supports_check_mode=True) and change nothing."""
    case = dict(load_cases("modules")[0].values[0])
    case["params"] = dict(case["params"], _ansible_check_mode=True)
    result, _ = _run_module(case, tmp_path, monkeypatch, capsys)
    assert result["changed"] is False and "skipped" not in result
    assert result["ansible_facts"]["flannel"]["present"] is True


def test_cni_port_inode_is_the_pinned_netns(tmp_path, monkeypatch, capsys):
    """netns_inode is the inode of the file under netns_dir (what a pod's /proc/<pid>/ns/net points to)."""
    case = [c.values[0] for c in load_cases("modules") if c.values[0]["id"] == "cni-node"][0]
    _build_trees(case, tmp_path)
    result, _ = _run_module(case, tmp_path, monkeypatch, capsys)
    port = result["ansible_facts"]["cni"]["bridge"]["ports"][3]
    assert port["netns_inode"] == os.stat(str(tmp_path / "netns" / port["netns_name"])).st_ino


def test_legacy_tables_loaded_reads_the_proc_list(tmp_path):
    mod = library("flannel_facts")
    names = tmp_path / "ip_tables_names"
    names.write_text("filter\nnat\n")
    assert mod.legacy_tables_loaded(str(names)) == {"filter", "nat"}
    assert mod.legacy_tables_loaded(str(tmp_path / "absent")) == set()


def _vanishing_runtime(monkeypatch, capsys, vanish_times):
    """pod_sandbox_facts against the captured runtime, whose `crictl inspectp` answers NotFound `vanish_times` times
    first: a sandbox the kubelet removed between the listing and the inspect (seen after containerd restarts)."""
    mod = library("pod_sandbox_facts")
    calls, left = [], [vanish_times]
    answers = {"pods": fixture_text("captured/crictl_pods.json"), "ps": fixture_text("captured/crictl_ps.json"),
               "inspectp": fixture_text("captured/crictl_inspectp_multi.json"),
               "inspect": fixture_text("captured/crictl_inspect_multi.json")}

    def run_command(self, args, environ_update=None, **kwargs):
        verb = args[5]
        calls.append(verb)
        if verb == "inspectp" and left[0] > 0:
            left[0] -= 1
            return 1, "", ('level=fatal msg="get the status of pod sandboxes: get pod sandbox status: rpc error: '
                           'code = NotFound desc = an error occurred when try to find sandbox: not found"')
        return 0, answers[verb], ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None:
                        "/usr/bin/" + os.path.basename(name))
    monkeypatch.setattr(mod, "read_proc_raw", lambda proc_root="/proc", pids=None:
                        fixture_json("captured/proc_ns_raw.json"))
    monkeypatch.setattr(mod.time, "sleep", lambda seconds: None)
    with patch_module_args({"runtime_endpoint": "unix:///run/x.sock", "interfaces": False}):
        with pytest.raises(SystemExit):
            mod.main()
    return json.loads(capsys.readouterr().out), calls


def test_a_sandbox_that_vanishes_while_read_is_read_again(monkeypatch, capsys):
    result, calls = _vanishing_runtime(monkeypatch, capsys, 1)
    assert not result.get("failed"), result
    assert calls == ["pods", "ps", "inspectp", "pods", "ps", "inspectp", "inspect"]
    assert result["ansible_facts"]["pod_sandboxes"]["sandboxes"]


def test_a_runtime_that_keeps_losing_sandboxes_fails_naming_the_command(monkeypatch, capsys):
    result, calls = _vanishing_runtime(monkeypatch, capsys, 99)
    assert result["failed"] and "inspectp" in result["msg"] and "NotFound" in result["msg"]
    assert calls.count("pods") == 3
