"""Secrets never reach the log: every task that handles a bootstrap token has `no_log: true`.

A task handles a token when it runs `kubeadm init` (upload-certs too: it prints the certificate key), `kubeadm join`
or `kubeadm token ...` (their arguments or output carry one), touches bootstrap-token Secrets or the uploaded
certificates' Secret (`kubeadm-certs`), renders a template that writes a token, or reads the result
of such a task (directly or through a role variable built from it). The one exception is a task that shows
such a result only through the `kube_redact` filter (the failure reports).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE_DIRS = sorted(p for base in (REPO / 'roles', REPO / 'lab' / 'roles') if base.is_dir()
                   for p in base.iterdir() if (p / 'tasks').is_dir())
# kubeadm followed by its subcommand, whether the command is one string or an argv list.
# The kubeadm-certs Secret holds the control plane's CA keys (encrypted with the certificate key).
COMMAND = re.compile(r"\bkubeadm\b[\s\-'\",\[\]]+(init|join|token)\b|bootstrap\.kubernetes\.io/token|\bkubeadm-certs\b")
KEYWORDS = {'name', 'no_log', 'when', 'loop_control', 'register', 'changed_when', 'failed_when', 'tags',
            'delegate_to', 'run_once', 'notify', 'until', 'retries', 'delay'}


def tasks_of(items):
    """Every task of a task list, blocks opened."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        if any(k in task for k in ('block', 'rescue', 'always')):
            for part in ('block', 'rescue', 'always'):
                yield from tasks_of(task.get(part))
        else:
            yield task


PROSE = {'fail_msg', 'success_msg'}


def action_text(task: dict, prose: bool = True) -> str:
    """What the task does: its module arguments, vars and loop, as text (not its name or conditions);
    without an assert's messages when prose is False."""
    kept = {k: v for k, v in task.items() if k not in KEYWORDS}
    if not prose:
        kept = {k: ({a: b for a, b in v.items() if a not in PROSE} if isinstance(v, dict) else v)
                for k, v in kept.items()}
    return yaml.safe_dump(kept, width=10 ** 6)


def mentions(text: str, names) -> bool:
    return any(re.search(r'(?<![\w.])%s\b' % re.escape(n), text) for n in names)


def token_tasks(role: Path) -> list[tuple[Path, dict]]:
    """The role's tasks that handle a token, in file order."""
    tasks = [(f, t) for f in sorted((role / 'tasks').glob('*.yml')) for t in tasks_of(yaml.safe_load(f.read_text()))]
    templates = {p.name for p in (role / 'templates').glob('*.j2') if re.search(r'\btoken\b', p.read_text())}
    role_vars = {}
    if (role / 'vars' / 'main.yml').is_file():
        role_vars = yaml.safe_load((role / 'vars' / 'main.yml').read_text()) or {}
    # Registered results of token tasks, and role vars built from them, taint whatever reads them; so does a role var
    # that holds such a command (an argv the task only names).
    tainted: set[str] = {name for name, value in role_vars.items()
                         if COMMAND.search(yaml.safe_dump(value, width=10 ** 6))}
    handling: list[int] = []
    changed = True
    while changed:
        changed = False
        for i, (_, task) in enumerate(tasks):
            text = action_text(task)
            # prose (an assert's messages) may name `kubeadm init` without running it; tokens in it still taint
            direct = bool(COMMAND.search(action_text(task, prose=False))) or any(t in text for t in templates)
            # A failure report that shows a result only through kube_redact is the one allowed reader.
            redacted_report = 'ansible.builtin.fail' in task and 'kube_redact' in text
            if (direct or mentions(text, tainted)) and not redacted_report and i not in handling:
                handling.append(i)
                changed = True
            if i in handling and task.get('register') and task['register'] not in tainted:
                tainted.add(task['register'])
                changed = True
        for name, value in role_vars.items():
            if name not in tainted and mentions(yaml.safe_dump(value), tainted):
                tainted.add(name)
                changed = True
    return [tasks[i] for i in sorted(handling)]


def unlogged_token_tasks(role: Path) -> list[str]:
    """Names of the role's token tasks without no_log: true (empty when the role is right)."""
    return [t.get('name') for _, t in token_tasks(role) if t.get('no_log') is not True]


@pytest.mark.parametrize('role', ROLE_DIRS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_task_handling_a_token_has_no_log(role):
    assert unlogged_token_tasks(role) == []


def test_the_check_sees_the_token_tasks():
    """The roles that handle tokens are seen doing so: minting, writing, joining, deleting; init and its token."""
    assert [t['name'] for _, t in token_tasks(REPO / 'roles' / 'workers')] == [
        'Mint a bootstrap token on the control plane',
        'Upload the control-plane certificates for the joining control planes',
        'Write the join configuration (0600, holds the token)',
        'Run kubeadm join', 'Run kubeadm join as a control plane, one node at a time',
        'Delete the bootstrap token on the control plane',
        'Delete the uploaded control-plane certificates and their token']
    assert [t['name'] for _, t in token_tasks(REPO / 'roles' / 'control_plane')] == [
        'Run kubeadm init', 'Delete the bootstrap token kubeadm init created']


def _workers_copy(tmp_path):
    """A copy of roles/workers (tasks, templates, vars) to break; returns it and its tasks/join.yml."""
    role = tmp_path / 'workers'
    for sub in ('tasks', 'templates', 'vars'):
        (role / sub).mkdir(parents=True)
        for f in (REPO / 'roles' / 'workers' / sub).iterdir():
            (role / sub / f.name).write_text(f.read_text())
    return role, role / 'tasks' / 'join.yml'


@pytest.mark.parametrize('drop', ['Mint a bootstrap token on the control plane',
                                  'Upload the control-plane certificates for the joining control planes',
                                  'Write the join configuration (0600, holds the token)',
                                  'Run kubeadm join', 'Run kubeadm join as a control plane, one node at a time',
                                  'Delete the bootstrap token on the control plane',
                                  'Delete the uploaded control-plane certificates and their token'])
def test_the_check_names_a_token_task_without_no_log(tmp_path, drop):
    """A copy of the workers role with no_log removed from one task: the check names exactly that task."""
    role, join = _workers_copy(tmp_path)
    data = yaml.safe_load(join.read_text())
    for task in tasks_of(data):
        if task.get('name') == drop:
            del task['no_log']
    join.write_text(yaml.safe_dump(data))
    found = unlogged_token_tasks(role)
    assert found == [drop]


def test_the_check_names_a_task_that_prints_a_token_result(tmp_path):
    """A debug of the mint's result, or of a role variable made from it, is named; a kube_redact report is not."""
    role, join = _workers_copy(tmp_path)
    data = yaml.safe_load(join.read_text())
    data += [{'name': 'Show the join command', 'ansible.builtin.debug': {'var': '__workers_join_command.stdout'}},
             {'name': 'Show the token id', 'ansible.builtin.debug': {'msg': '{{ _workers_token_id }}'}}]
    join.write_text(yaml.safe_dump(data))
    found = unlogged_token_tasks(role)
    assert found == ['Show the join command', 'Show the token id']
