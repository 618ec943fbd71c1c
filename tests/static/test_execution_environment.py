"""execution-environment.yml (ansible-builder) installs what the venv pins: the same ansible-core, ansible-runner
and controller-side Python packages as requirements.txt, the collections of requirements.yml. The image itself is
not built here (its base image is on a registry this machine cannot reach)."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / 'requirements.txt').read_text().splitlines():
        line = line.split('#')[0].strip()
        if '==' in line:
            name, version = line.split('==')
            found[name.split('[')[0].lower()] = version
    return found


def test_execution_environment_pins_what_the_venv_pins():
    ee = yaml.safe_load((REPO / 'execution-environment.yml').read_text())
    assert ee['version'] == 3
    deps = ee['dependencies']
    pinned = pins()
    for key in ('ansible_core', 'ansible_runner'):
        name, version = deps[key]['package_pip'].split('==')
        assert pinned[name.lower()] == version, f'{key}: {deps[key]} but requirements.txt pins {pinned[name]}'
    for requirement in deps['python']:
        name, version = requirement.split('==')
        assert pinned[name.lower()] == version, f'{requirement} but requirements.txt pins {pinned[name.lower()]}'
    assert (REPO / deps['galaxy']).is_file() and deps['galaxy'] == 'requirements.yml'
