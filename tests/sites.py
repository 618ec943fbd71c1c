"""Shared helpers: run the project's real playbooks against recorded inventories and facts.

Imported by name (`from sites import make_site`): a module called `conftest` would be whichever conftest.py
pytest imported last.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / 'tests'
BIN = Path(sys.executable).parent


@dataclass
class Run:
    rc: int
    output: str


def ansible_playbook(inventory: Path, facts_dir: Path, *playbooks: str, extra: list[str] | None = None,
                     env: dict | None = None) -> Run:
    """Run playbooks on `inventory` with every host local and facts loaded from `facts_dir`."""
    cmd = [str(BIN / 'ansible-playbook'), '-i', str(inventory),
           '-e', 'ansible_connection=local', '-e', f'ansible_python_interpreter={sys.executable}',
           '-e', json.dumps({'fixture_facts_dir': str(facts_dir)}),
           str(TESTS / 'load_fixture_facts.yml'), *playbooks, *(extra or [])]
    run_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'),
                   ANSIBLE_ACTION_PLUGINS=str(TESTS / 'plugins' / 'action'),
                   ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0',
                   PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    run_env.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=600, check=False)
    return Run(proc.returncode, proc.stdout + proc.stderr)


def _set_path(tree: dict, dotted: str, value) -> None:
    """Set tree[a][b][c] for 'a.b.c'. A segment of digits continues the key before it: interface names hold
    dots (bond0.100, flannel.1) and no fact below an interface is named by digits, so 'bond0.100.mtu' is
    tree['bond0.100']['mtu']."""
    parts: list[str] = []
    for segment in dotted.split('.'):
        if segment.isdigit() and parts:
            parts[-1] += '.' + segment
        else:
            parts.append(segment)
    *parents, leaf = parts
    for key in parents:
        tree = tree[key]
    if value is None:
        tree.pop(leaf, None)
    else:
        tree[leaf] = value


@dataclass
class Site:
    """A temporary copy of an inventory and its recorded facts, to be changed one way per test."""
    root: Path
    inventory: Path
    facts: Path

    def set_vars(self, values: dict) -> None:
        path = self.inventory / 'group_vars' / 'all' / 'zz_test_case.yml'
        path.write_text(yaml.safe_dump(values))

    def set_facts(self, host: str, changes: dict) -> None:
        path = self.facts / f'{host}.json'
        facts = json.loads(path.read_text())
        for dotted, value in changes.items():
            _set_path(facts, dotted, copy.deepcopy(value))
        path.write_text(json.dumps(facts))

    def set_groups(self, groups: dict) -> None:
        path = self.inventory / 'hosts.yml'
        data = yaml.safe_load(path.read_text())
        children = data['kube_cluster']['children']
        hostvars = {h: v for group in children.values() for h, v in (group.get('hosts') or {}).items()}
        for group, members in groups.items():
            children[group] = {'hosts': {h: hostvars[h] for h in members}} if members else {}
        path.write_text(yaml.safe_dump(data))

    def rename_host(self, old: str, new: str) -> None:
        """Give a host another inventory name (its recorded facts follow it)."""
        path = self.inventory / 'hosts.yml'
        data = yaml.safe_load(path.read_text())
        for group in data['kube_cluster']['children'].values():
            hosts = group.get('hosts') or {}
            if old in hosts:
                group['hosts'] = {new if h == old else h: v for h, v in hosts.items()}
        path.write_text(yaml.safe_dump(data))
        (self.facts / f'{old}.json').rename(self.facts / f'{new}.json')

    def playbook(self, *playbooks: str, extra: list[str] | None = None) -> Run:
        return ansible_playbook(self.inventory / 'hosts.yml', self.facts, *playbooks, extra=extra)


INVENTORIES = {'sample': REPO / 'inventories' / 'sample', 'alt': TESTS / 'inventories' / 'alt'}


def make_site(tmp_path: Path, inventory: str, facts_set: str) -> Site:
    inv = tmp_path / 'inventory'
    shutil.copytree(INVENTORIES[inventory], inv, symlinks=False)
    facts = tmp_path / 'facts'
    shutil.copytree(TESTS / 'fixtures' / 'facts' / facts_set, facts)
    return Site(tmp_path, inv, facts)
