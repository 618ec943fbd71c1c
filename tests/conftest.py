"""pytest hooks for every test under tests/: what each kind of test did, and the `root` marker's rule."""
from __future__ import annotations

import os

import pytest

from sites import make_site


@pytest.fixture
def sample_site(tmp_path):
    return make_site(tmp_path, 'sample', 'sample')


# --- what each kind of test did -------------------------------------------------------------------------------
# Tests that need something beyond the checkout carry a marker (pytest.ini); this prints, per marker, how many
# ran, passed, failed and were skipped and why, so CI's log says it even when -q hides the rest.
NEEDS = ('root', 'bundle', 'lab')
_OUTCOMES: dict = {}


def pytest_runtest_setup(item):
    if item.get_closest_marker('root') and os.geteuid() != 0:
        pytest.skip('marked root: needs root (run as root, as CI does)')


def pytest_runtest_logreport(report):
    if report.when == 'call' or (report.when == 'setup' and report.outcome != 'passed'):
        marks = [m for m in NEEDS if m in report.keywords] or ['unmarked']
        reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else None
        for mark in marks:
            counts = _OUTCOMES.setdefault(mark, {'passed': 0, 'failed': 0, 'skipped': 0, 'reasons': set()})
            counts[report.outcome] += 1
            if reason:
                counts['reasons'].add(reason)


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    terminalreporter.section('tests by what they need (markers in pytest.ini)')
    for mark in ('unmarked',) + NEEDS:
        if mark in _OUTCOMES:
            c = _OUTCOMES[mark]
            line = f"{mark:9s} {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
            if c['reasons']:
                line += ' (' + '; '.join(sorted(c['reasons'])) + ')'
            terminalreporter.write_line(line)
