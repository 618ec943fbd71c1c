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


@pytest.mark.parametrize('case', [c for c in CASES if c['name'] in
                                  ('cluster_interface_without_ipv4', 'duplicate_cluster_address', 'unsupported_os')],
                         ids=lambda c: c['name'])
def test_site_stops_before_any_host_is_changed(sample_site, case):
    """A bad inventory ends the whole rollout in stage 1: no task of a later stage starts, on any host.

    Run in check mode, so that even a regression here could not change this machine."""
    if 'vars' in case:
        sample_site.set_vars(case['vars'])
    for host, changes in case.get('facts', {}).items():
        sample_site.set_facts(host, changes)
    run = sample_site.playbook('site.yml', extra=['--check'])
    assert run.rc != 0, run.output
    assert re.search(case['expect'], run.output), run.output
    # 'kube' only checks its arguments (it has no tasks); anything else would be a later stage.
    started = set(re.findall(r'^TASK \[(\w+) : ', run.output, re.M))
    assert started <= {'kube', 'validate'}, f'tasks of {started - {"kube", "validate"}} ran after a failed validation'
    assert not re.search(r'changed=[1-9]', run.output), run.output
