"""scripts/runner.sh: the project under ansible-runner (the engine of AWX / Automation Platform), from a private
data dir, on validate with recorded facts (tests/validate_recorded.yml: no node is contacted). What is judged is
what ansible-runner itself reports: its artifacts (status, rc, job events, stdout)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CASES = {c['name']: c for c in yaml.safe_load((REPO / 'tests' / 'validate' / 'cases.yml').read_text())}

pytestmark = pytest.mark.skipif(not (BIN / 'ansible-runner').exists(),
                                reason='ansible-runner not in the venv (make venv installs requirements.txt)')


def runner(site, data: Path, timings: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith('ANSIBLE_')}
    env.update(VENV=str(BIN.parent), KF_TIMINGS_FILE=str(timings), PATH=f"{BIN}:{env.get('PATH', '')}",
               ANSIBLE_ACTION_PLUGINS=str(REPO / 'tests' / 'plugins' / 'action'), ANSIBLE_NOCOLOR='1')
    return subprocess.run([str(REPO / 'scripts' / 'runner.sh'), '-i', str(site.inventory), '-d', str(data),
                           'tests/validate_recorded.yml', '-e', 'ansible_connection=local',
                           '-e', f'ansible_python_interpreter={sys.executable}',
                           '-e', json.dumps({'fixture_facts_dir': str(site.facts)})],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


def events(data: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (data / 'artifacts' / 'run' / 'job_events').glob('*.json')]
    return sorted(found, key=lambda e: e['counter'])


def test_validate_succeeds_under_ansible_runner(sample_site, tmp_path):
    data, timings = tmp_path / 'runner', tmp_path / 'timings.json'
    proc = runner(sample_site, data, timings)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    artifacts = data / 'artifacts' / 'run'
    assert (artifacts / 'status').read_text() == 'successful'
    assert (artifacts / 'rc').read_text() == '0'
    stats = [e for e in events(data) if e['event'] == 'playbook_on_stats']
    assert len(stats) == 1
    assert set(stats[0]['event_data']['ok']) == {'k8s-m', 'k8s-w1', 'k8s-w2'}
    assert not stats[0]['event_data']['failures'] and not stats[0]['event_data']['changed']
    plays = [e['event_data']['play'] for e in events(data) if e['event'] == 'playbook_on_play_start']
    assert plays[-1] == 'Validate the inventory'
    # the project's own callback rides along (runner.sh puts it before ansible-runner's)
    assert [p['name'] for p in json.loads(timings.read_text())['plays']][-1] == 'Validate the inventory'


def test_bad_inventory_fails_under_ansible_runner_with_validates_message(sample_site, tmp_path):
    case = CASES['pod_subnet_overlaps_service_subnet']
    sample_site.set_vars(case['vars'])
    data = tmp_path / 'runner'
    proc = runner(sample_site, data, tmp_path / 'timings.json')
    assert proc.returncode != 0
    artifacts = data / 'artifacts' / 'run'
    assert (artifacts / 'status').read_text() == 'failed'
    failed = [e for e in events(data) if e['event'] == 'runner_on_failed']
    assert failed and all(e['event_data']['task_action'] == 'ansible.builtin.assert' for e in failed)
    assert case['expect'] in (artifacts / 'stdout').read_text()
