"""The validate stage refuses every kind of bad inventory, naming host and variable."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sites import make_site

ALL_CASES = yaml.safe_load((Path(__file__).parent / 'cases.yml').read_text())
# A case with `accept: true` is a control: an unusual but sound inventory validate must let through.
CASES = [c for c in ALL_CASES if not c.get('accept')]
CONTROLS = [c for c in ALL_CASES if c.get('accept')]


def _apply(site, case):
    for old, new in case.get('rename', {}).items():
        site.rename_host(old, new)
    if 'vars' in case:
        site.set_vars(case['vars'])
    for host, changes in case.get('facts', {}).items():
        site.set_facts(host, changes)
    if 'groups' in case:
        site.set_groups(case['groups'])

INTERNAL_ERROR = re.compile(r'Traceback|unexpected exception|Task failed: Finalization|'
                            r'Error while resolving value|Syntax error in template|has no attribute|'
                            r'is undefined|object has no element|The `loop` value must')



def test_sample_inventory_passes(sample_site):
    run = sample_site.playbook('playbooks/validate.yml')
    assert run.rc == 0, run.output
    assert re.search(r'k8s-w2\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0', run.output), run.output


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_bad_inventory_is_refused(sample_site, case):
    _apply(sample_site, case)
    run = sample_site.playbook('playbooks/validate.yml')
    assert run.rc != 0, f'validate accepted a bad inventory ({case["name"]}):\n{run.output}'
    # A refusal is an assertion with a message, never validate itself failing on odd input.
    assert not INTERNAL_ERROR.search(run.output), f'validate crashed instead of refusing:\n{run.output}'
    assert re.search(case['expect'], run.output), f'expected /{case["expect"]}/ in:\n{run.output}'


@pytest.mark.parametrize('case', CONTROLS, ids=[c['name'] for c in CONTROLS])
def test_sound_inventory_is_accepted(sample_site, case):
    _apply(sample_site, case)
    run = sample_site.playbook('playbooks/validate.yml')
    assert run.rc == 0, f'validate refused a sound inventory ({case["name"]}):\n{run.output}'
    assert not re.search(r'changed=[1-9]', run.output), run.output


@pytest.mark.parametrize('case', [c for c in CASES if c['name'] in
                                  ('cluster_interface_without_ipv4', 'duplicate_cluster_address', 'unsupported_os',
                                   'flannel_on_nat_nic', 'control_plane_one_cpu', 'stale_cni0_from_other_pod_subnet')],
                         ids=lambda c: c['name'])
def test_site_stops_before_any_host_is_changed(sample_site, case):
    """A bad inventory ends the whole rollout in stage 1: no task of a later stage starts, on any host.

    Run in check mode, so that even a regression here could not change this machine."""
    _apply(sample_site, case)
    run = sample_site.playbook('site.yml', extra=['--check'])
    assert run.rc != 0, run.output
    assert re.search(case['expect'], run.output), run.output
    # 'kube' only checks its arguments (it has no tasks); anything else would be a later stage.
    started = set(re.findall(r'^TASK \[(\w+) : ', run.output, re.M))
    assert started <= {'kube', 'validate'}, f'tasks of {started - {"kube", "validate"}} ran after a failed validation'
    assert not re.search(r'changed=[1-9]', run.output), run.output


def test_alt_inventory_passes(tmp_path):
    """The second site (other NIC, CIDRs, VNI, port, maxPods, repository) passes too: no rule is tuned to the seed."""
    run = make_site(tmp_path, 'alt', 'alt').playbook('playbooks/validate.yml')
    assert run.rc == 0, run.output
    assert not re.search(r'changed=[1-9]', run.output), run.output
