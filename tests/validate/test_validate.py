"""The validate stage refuses every kind of bad inventory, naming host and variable."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

CASES = yaml.safe_load((Path(__file__).parent / 'cases.yml').read_text())


def test_sample_inventory_passes(sample_site):
    run = sample_site.playbook('playbooks/validate.yml')
    assert run.rc == 0, run.output
    assert re.search(r'k8s-w2\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0', run.output), run.output


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_bad_inventory_is_refused(sample_site, case):
    if 'vars' in case:
        sample_site.set_vars(case['vars'])
    for host, changes in case.get('facts', {}).items():
        sample_site.set_facts(host, changes)
    if 'groups' in case:
        sample_site.set_groups(case['groups'])
    run = sample_site.playbook('playbooks/validate.yml')
    assert run.rc != 0, f'validate accepted a bad inventory ({case["name"]}):\n{run.output}'
    assert re.search(case['expect'], run.output), f'expected /{case["expect"]}/ in:\n{run.output}'
