"""Static checks: lint, playbook syntax and module documentation, each a test with a readable failure."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(['site.yml'] + [str(p.relative_to(REPO)) for p in (REPO / 'playbooks').glob('*.yml')])
MODULES = sorted(p.stem for p in (REPO / 'library').glob('*.py'))


def _run(*cmd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1', NO_COLOR='1',
               PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_yamllint():
    run = _run(str(BIN / 'yamllint'), '--strict', '.')
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff():
    """Python lint of the whole tree (ruff.toml: pycodestyle, pyflakes, bugbear)."""
    run = _run(str(BIN / 'ruff'), 'check', '--no-cache', '--output-format', 'concise', '.')
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]


def test_ansible_lint_production_profile():
    run = _run(str(BIN / 'ansible-lint'), '--nocolor', '--profile', 'production')
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-6000:]


@pytest.mark.parametrize('playbook', PLAYBOOKS)
def test_playbook_syntax(playbook):
    run = _run(str(BIN / 'ansible-playbook'), '--syntax-check', '-i', 'inventories/sample/hosts.yml', playbook)
    assert run.returncode == 0, run.stdout + run.stderr


def test_there_are_modules():
    assert {'flannel_facts', 'cni_facts', 'pod_sandbox_facts'} <= set(MODULES)


@pytest.mark.parametrize('module', MODULES)
def test_module_documentation_renders(module):
    run = _run(str(BIN / 'ansible-doc'), '-M', 'library', module)
    assert run.returncode == 0, run.stdout + run.stderr
    assert '[WARNING]' not in run.stderr, run.stderr
    for section in ('OPTIONS', 'EXAMPLES', 'RETURN VALUES'):
        assert section in run.stdout, f'{module}: ansible-doc shows no {section}'
