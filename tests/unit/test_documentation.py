# -*- coding: utf-8 -*-
"""DOCUMENTATION matches the argument spec, and RETURN documents every key the modules really return."""

import ast
import os

import pytest
import yaml

from netfacts_helpers import ROOT, library, load_cases

import test_modules

MODULES = ("flannel_facts", "cni_facts", "pod_sandbox_facts", "kube_proxy_facts")


def _docs(name):
    tree = ast.parse(open(os.path.join(ROOT, "library", name + ".py")).read())
    out = {}
    for node in tree.body:
        names = ("DOCUMENTATION", "RETURN", "EXAMPLES")
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in names:
            out[node.targets[0].id] = yaml.safe_load(node.value.value)
    return out


class _Spec(Exception):
    pass


def _argument_spec(name, monkeypatch):
    from ansible.module_utils import basic
    captured = {}

    def fake_init(self, argument_spec, **kwargs):
        captured.update(argument_spec=argument_spec, kwargs=kwargs)
        raise _Spec()

    monkeypatch.setattr(basic.AnsibleModule, "__init__", fake_init)
    with pytest.raises(_Spec):
        library(name).main()
    return captured


@pytest.mark.parametrize("name", MODULES)
def test_options_match_argument_spec(name, monkeypatch):
    spec = _argument_spec(name, monkeypatch)
    assert spec["kwargs"].get("supports_check_mode") is True
    options = _docs(name)["DOCUMENTATION"].get("options") or {}
    assert set(options) == set(spec["argument_spec"])
    for opt, arg in spec["argument_spec"].items():
        doc = options[opt]
        assert doc["description"], opt
        assert doc.get("type", "str") == arg.get("type", "str"), opt
        assert doc.get("default") == arg.get("default"), opt
        assert doc.get("elements") == arg.get("elements"), opt


@pytest.mark.parametrize("name", MODULES)
def test_return_nodes_have_description_and_type(name):
    def walk(node, path):
        for key, doc in node.items():
            assert doc.get("description"), path + [key]
            assert doc.get("type"), path + [key]
            if "contains" in doc:
                walk(doc["contains"], path + [key])
    walk(_docs(name)["RETURN"], [])


def _undocumented(value, doc, path):
    """Paths in ``value`` not covered by the RETURN node ``doc``."""
    missing = []
    contains = doc.get("contains")
    if isinstance(value, dict) and contains is not None:
        for key, sub in value.items():
            if key not in contains:
                missing.append(".".join(path + [key]))
            else:
                missing += _undocumented(sub, contains[key], path + [key])
    elif isinstance(value, list) and contains is not None:
        for item in value:
            missing += _undocumented(item, {"contains": contains}, path + ["[]"])
    return missing


SUCCESS_CASES = [c for c in load_cases("modules") if "failed" not in c.values[0]]


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_every_returned_key_is_documented(case, tmp_path, monkeypatch, capsys):
    test_modules._build_trees(case, tmp_path)
    result, _ = test_modules._run_module(case, tmp_path, monkeypatch, capsys)
    ret = _docs(case["module"])["RETURN"]
    assert _undocumented({"ansible_facts": result["ansible_facts"]}, {"contains": ret}, []) == []
