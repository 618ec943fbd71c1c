"""Static checks: lint, playbook syntax and module documentation, each a test with a readable failure."""
from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB = REPO / 'lab'
PLAYBOOKS = sorted(['site.yml'] + [str(p.relative_to(REPO)) for p in (REPO / 'playbooks').glob('*.yml')])
# The lab's playbooks and the molecule scenarios' converge playbooks, checked with the lab's configuration.
LAB_PLAYBOOKS = sorted([str(p.relative_to(REPO)) for p in LAB.glob('*.yml')]
                       + [str(p.relative_to(REPO)) for p in (REPO / 'molecule').glob('*/converge.yml')])
MODULES = sorted(p.stem for p in (REPO / 'library').glob('*.py'))
PRODUCT_ROLES = sorted(p.name for p in (REPO / 'roles').iterdir() if p.is_dir())
# Lab values: the lab's names, its node prefix, its engine (the word "label" does not match).
LAB_VALUE = re.compile(r'\blab(_\w+)?\b|kflab|podman', re.IGNORECASE)


def _tracked() -> list[str]:
    out = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return sorted(f for f in out.split('\0') if f and (REPO / f).is_file())


def _is_shell(path: str) -> bool:
    if path.endswith('.sh'):
        return True
    with open(REPO / path, 'rb') as handle:
        first = handle.readline(200)
    return re.match(rb'#!\S*(/|env )(ba|da)?sh\b', first) is not None


SHELL_SCRIPTS = [f for f in _tracked() if _is_shell(f)]


def _run(*cmd: str, config: Path = REPO / 'ansible.cfg') -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR='1', NO_COLOR='1',
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


@pytest.mark.parametrize('playbook', LAB_PLAYBOOKS)
def test_lab_playbook_syntax(playbook):
    """The lab's playbooks find the lab's roles and inventory through lab/ansible.cfg (as make lab and molecule run
    them)."""
    run = _run(str(BIN / 'ansible-playbook'), '--syntax-check', playbook, config=LAB / 'ansible.cfg')
    assert run.returncode == 0, run.stdout + run.stderr


def test_there_are_lab_playbooks():
    assert {'lab/up.yml', 'lab/down.yml', 'lab/dataplane.yml', 'lab/verification_images.yml'} <= set(LAB_PLAYBOOKS)


def test_product_config_names_no_inventory_and_no_lab():
    """The root ansible.cfg is the product's: no default inventory, no lab connection plugin, no lab path."""
    config = configparser.ConfigParser()
    config.read(REPO / 'ansible.cfg')
    defaults = dict(config['defaults'])
    assert 'inventory' not in defaults, f'ansible.cfg names a default inventory: {defaults["inventory"]}'
    assert 'connection_plugins' not in defaults, \
        'ansible.cfg loads connection plugins (the lab\'s are in lab/ansible.cfg)'
    lab_values = {k: v for section in config.sections() for k, v in config[section].items() if LAB_VALUE.search(v)}
    assert not lab_values, f'ansible.cfg holds lab values: {lab_values}'


def test_bare_site_run_reaches_no_host():
    """ansible-playbook site.yml with the product's configuration and no -i: only the implicit localhost
    exists, and every play matches no host (nothing is changed, nothing fails)."""
    run = _run(str(BIN / 'ansible-playbook'), 'site.yml')
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert 'No inventory was parsed' in output, output
    recap = output.split('PLAY RECAP', 1)[-1]
    hosts = re.findall(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)', recap, re.MULTILINE)
    assert all(name == 'localhost' and ok == '0' and changed == '0' for name, ok, changed in hosts), recap


@pytest.mark.parametrize('role', PRODUCT_ROLES)
def test_product_role_holds_no_lab_value(role):
    """Production roles carry no lab value (the lab's names, prefix or engine); the lab's live under lab/."""
    hits = []
    for path in sorted((REPO / 'roles' / role).rglob('*')):
        if path.is_file():
            for number, line in enumerate(path.read_text(errors='replace').splitlines(), 1):
                if LAB_VALUE.search(line):
                    hits.append(f'{path.relative_to(REPO)}:{number}: {line.strip()}')
    assert not hits, '\n'.join(hits)


def test_there_are_shell_scripts():
    assert {'bundle/build-images.sh', 'bundle/write-manifest.sh', 'lab/roles/lab/files/lab-node-net.sh', '.ci/run'} \
        <= set(SHELL_SCRIPTS)


@pytest.mark.parametrize('script', SHELL_SCRIPTS)
def test_shellcheck(script):
    """ShellCheck (Debian's package: sh scripts/install-host-deps.sh --lint) on every shell script; findings are
    fixed or silenced inline with a reason."""
    shellcheck = shutil.which('shellcheck')
    assert shellcheck, 'shellcheck is not installed: sh scripts/install-host-deps.sh --lint (make lint-deps)'
    run = _run(shellcheck, '--external-sources', '--source-path=SCRIPTDIR', '--format=gcc', script)
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
