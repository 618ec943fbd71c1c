"""scripts/conformance_report.py on e2e.test's real junit output (tests/unit/fixtures/captured/conformance/)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CAPTURED = REPO / 'tests' / 'unit' / 'fixtures' / 'captured' / 'conformance'


@pytest.fixture(scope='module')
def report():
    spec = importlib.util.spec_from_file_location('conformance_report', REPO / 'scripts' / 'conformance_report.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_selects_only_the_focused_spec(report):
    """A spec the focus did not select is <skipped/> without a reason: not counted as a skipped test."""
    selected, not_selected = report.cases(str(CAPTURED / 'dryrun_junit_01.xml'))
    assert not_selected == 2
    assert selected == [{'name': '[sig-network] DNS should provide DNS for the cluster [Conformance]',
                         'status': 'passed', 'seconds': 0.0, 'message': ''}]


def test_ginkgo_summary_line(report):
    assert report.ginkgo_summary(str(CAPTURED / 'dryrun_e2e_log_tail.txt')) == {
        'ran': 1, 'total': 6433, 'seconds': 0.031, 'verdict': 'SUCCESS',
        'passed': 0, 'failed': 0, 'pending': 0, 'skipped': 6432}


def test_names_and_json(report, tmp_path, capsys):
    junit = str(CAPTURED / 'dryrun_junit_01.xml')
    assert report.main(['--names', junit]) == 0
    assert capsys.readouterr().out == '[sig-network] DNS should provide DNS for the cluster [Conformance]\n'
    out = tmp_path / 'summary.json'
    assert report.main([junit, '--seconds', '75', '--json', str(out)]) == 0
    table = capsys.readouterr().out
    assert 'passed 1, failed 0, skipped 0 (of 1 selected; 2 specs not selected) in 1m 15s' in table
    summary = json.loads(out.read_text())
    assert (summary['passed'], summary['failed'], summary['selected'], summary['seconds']) == (1, 0, 1, 75)
