"""Every molecule scenario's verifier finds its tests: molecule's testinfra verifier reports "Skipping, no tests
found" and succeeds when its tests/ directory is missing or an additional path does not resolve, which would
turn a scenario's checks off without a failure."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (REPO / 'molecule').glob('*/molecule.yml'))


def test_there_are_scenarios():
    assert {'default', 'cluster', 'ha'} <= set(SCENARIOS)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_verifier_finds_its_tests(scenario):
    directory = REPO / 'molecule' / scenario
    config = yaml.safe_load((directory / 'molecule.yml').read_text()) or {}
    verifier = config.get('verifier') or {}
    tests = directory / 'tests'
    assert tests.is_dir(), f'molecule/{scenario}/tests is missing: molecule would skip its verifier'
    # molecule joins each path to the tests directory and globs it (a missing directory on the way finds nothing)
    extra = [tests / p for p in verifier.get('additional_files_or_dirs') or []]
    missing = [str(p) for p in extra if not p.exists()]
    assert not missing, f'molecule/{scenario}: verifier paths that do not exist: {missing}'
    found = sorted(tests.rglob('test_*.py')) + [p for p in extra if p.exists()]
    assert found, f'molecule/{scenario}: the verifier would find no test file'
