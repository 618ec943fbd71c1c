"""callback_plugins/stage_timings.py in a real ansible-playbook run (localhost, connection local), found through
the product's ansible.cfg with nothing enabled by hand, and scripts/timings_report.py on what it wrote."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / 'scripts'))

import timings_report  # noqa: E402  (scripts/ is no package)

# Two plays (stages); a task that sleeps a known time, a looped one that changes, a handler, a skipped task and
# an ignored failure, so every status the callback names appears once.
PLAYBOOK = """
- name: First stage
  hosts: all
  gather_facts: false
  tasks:
    - name: Sleep 0.4 s
      ansible.builtin.command: sleep 0.4
      changed_when: false
    - name: Change twice
      ansible.builtin.command: "echo {{ item }}"
      loop: [a, b]
      notify: Handle it
  handlers:
    - name: Handle it
      ansible.builtin.debug:
        msg: handled
- name: Second stage
  hosts: all
  gather_facts: false
  tasks:
    - name: Skipped
      ansible.builtin.debug:
        msg: never
      when: false
    - name: Fail, ignored
      ansible.builtin.command: "false"
      changed_when: false
      ignore_errors: true
"""


def run_playbook(tmp_path: Path, timings: str | None) -> subprocess.CompletedProcess:
    playbook = tmp_path / 'stages.yml'
    playbook.write_text(PLAYBOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith('ANSIBLE_') and k != 'KF_TIMINGS_FILE'}
    env.update(ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    if timings is not None:
        env['KF_TIMINGS_FILE'] = timings
    return subprocess.run([str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                           '-e', f'ansible_python_interpreter={sys.executable}', str(playbook)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope='module')
def timings(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('timings')
    proc = run_playbook(tmp, str(tmp / 'run.json'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((tmp / 'run.json').read_text())


def test_structure(timings):
    assert timings['playbooks'] == ['stages.yml']
    assert [p['name'] for p in timings['plays']] == ['First stage', 'Second stage']
    first, second = timings['plays']
    assert [(t['name'], t['handler']) for t in first['tasks']] == [
        ('Sleep 0.4 s', False), ('Change twice', False), ('Handle it', True)]
    statuses = {t['name']: t['hosts']['localhost']['status'] for p in timings['plays'] for t in p['tasks']}
    assert statuses == {'Sleep 0.4 s': 'ok', 'Change twice': 'changed', 'Handle it': 'ok',
                        'Skipped': 'skipped', 'Fail, ignored': 'ignored'}
    assert first['tasks'][1]['hosts']['localhost']['items'] == 2
    assert first['tasks'][0]['action'] == 'ansible.builtin.command'
    assert timings['hosts']['localhost']['changed'] == 1
    assert not any('_start' in t for p in timings['plays'] for t in p['tasks'])


def test_times_are_sane(timings):
    """Each host's time lies within its task's, the tasks within their play, the plays within the run; the
    sleeping task took at least its sleep and no task took a minute."""
    plays = timings['plays']
    for play in plays:
        for task in play['tasks']:
            assert 0 < task['seconds'] < 60
            for host in task['hosts'].values():
                assert 0 < host['seconds'] <= task['seconds']
        assert sum(t['seconds'] for t in play['tasks']) <= play['seconds'] + 0.01
    assert sum(p['seconds'] for p in plays) <= timings['seconds'] + 0.01
    assert plays[0]['tasks'][0]['hosts']['localhost']['seconds'] >= 0.4


def test_idle_without_a_file_and_one_file_per_run_in_a_directory(tmp_path):
    proc = run_playbook(tmp_path, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ['stages.yml']
    runs = tmp_path / 'runs'
    runs.mkdir()
    for _ in range(2):
        assert run_playbook(tmp_path, str(runs)).returncode == 0
    files = sorted(runs.iterdir())
    assert len(files) == 2 and all(f.name.startswith('stages-') for f in files), files


def test_report_of_one_run(timings, tmp_path, capsys):
    path = tmp_path / 'run.json'
    path.write_text(json.dumps(timings))
    assert timings_report.main([str(path)]) == 0
    rows = [line.split('|')[1:-1] for line in capsys.readouterr().out.splitlines()]
    assert [c.strip() for c in rows[0]] == ['stage', 'runs', 'wall s', 'tasks', 'changed', 'failed']
    body = {r[0].strip(): [c.strip() for c in r[1:]] for r in rows[2:]}
    assert body['First stage'] == ['1', f"{timings['plays'][0]['seconds']:.1f}", '3', '1', '0']
    assert body['Second stage'][2:] == ['2', '0', '0']
    assert body['**whole run**'] == ['1', f"{timings['seconds']:.1f}", '5', '1', '0']


def test_report_of_several_runs(capsys, tmp_path):
    """Wall seconds as min / median / max over the runs; a count that differs between runs as min-max."""
    def run(seconds, changed):
        task = {'name': 't', 'seconds': seconds, 'hosts': {'h': {'status': 'changed' if changed else 'ok'}}}
        return {'seconds': seconds + 1, 'plays': [{'name': 'Stage | one', 'seconds': seconds, 'tasks': [task]}]}
    paths = []
    for i, (seconds, changed) in enumerate([(3.0, False), (1.0, True), (2.0, False)]):
        paths.append(tmp_path / f'{i}.json')
        paths[-1].write_text(json.dumps(run(seconds, changed)))
    assert timings_report.main([str(p) for p in paths] + ['--slowest', '1']) == 0
    out = capsys.readouterr().out
    assert '| Stage \\| one | 3 | 1.0 / 2.0 / 3.0 | 1 | 0-1 | 0 |' in out
    assert '| **whole run** | 3 | 2.0 / 3.0 / 4.0 | 1 | 0-1 | 0 |' in out
    assert '| Stage \\| one | t | 2.00 |' in out
