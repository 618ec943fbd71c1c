# -*- coding: utf-8 -*-
"""Shared helpers of the unit tests: make the project's module_utils importable as ansible.module_utils.<name>
(as ansible.cfg does for real runs) and load modules/filters from library/ and filter_plugins/."""

import importlib.util
import json
import os

import ansible.module_utils
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
CASES = os.path.join(HERE, "cases")

if os.path.join(ROOT, "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(os.path.join(ROOT, "module_utils"))


def load_source(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def library(name):
    return load_source("kfa_library_" + name, os.path.join(ROOT, "library", name + ".py"))


def fixture_text(rel):
    with open(os.path.join(FIXTURES, rel)) as handle:
        return handle.read()


def fixture_json(rel):
    return json.loads(fixture_text(rel))


def load_cases(name):
    """Cases as data: tests/unit/cases/<name>.yaml holds a list of {id: ..., ...}."""
    with open(os.path.join(CASES, name + ".yaml")) as handle:
        cases = yaml.safe_load(handle)
    return [pytest.param(case, id=case["id"]) for case in cases]


def dig(data, path):
    """Follow a dotted path ('vtep.mtu', 'routes.0.dst') through dicts and lists."""
    for part in str(path).split(".") if path not in ("", None) else []:
        if isinstance(data, list):
            data = data[int(part)]
        else:
            data = data[part]
    return data
