"""Kubernetes' own network conformance subset (e2e.test v1.22.5, scripts/conformance.sh) against the cluster.

Runs whenever the conformance artifacts are built (`make conformance-build`; `bundle/is-complete.sh
--conformance`), against the inventory under test (`--kube-inventory`, the lab by default; a lab control
plane is reached in its node's network namespace). When they are not built the test is skipped with a reason
that says so and how to build them, and scripts/ci-labs.sh prints a banner before the scenario starts:
it is never skipped silently, and nothing stands in for it.

Molecule sorts the files it hands to pytest, so this directory runs first in the cluster scenario's verify
step, on the freshly converged cluster; the fault tests' reset.yml + site.yml afterwards remove whatever
e2e.test might leave behind.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
KF_CACHE = Path(os.environ.get('KF_CACHE', '/var/cache/kubeadm-flannel'))
TIMEOUT = 100 * 60      # the runner's own --timeout is 90m


def test_network_conformance(request, measured):
    complete = subprocess.run([str(REPO / 'bundle' / 'is-complete.sh'), '--conformance'],
                              capture_output=True, text=True, check=False)
    if complete.returncode != 0:
        pytest.skip('NETWORK CONFORMANCE NOT RUN: the conformance artifacts are not built '
                    f'(make conformance-build, then they run here every time): {complete.stderr.strip()}')
    inventory = str(Path(request.config.getoption('--kube-inventory')).resolve())
    report = KF_CACHE / 'conformance-reports' / f'molecule-{os.getpid()}'
    env = dict(os.environ)
    # ansible and ansible-inventory of this interpreter's venv; the config that goes with a lab inventory.
    env['PATH'] = f'{Path(sys.executable).parent}:{env.get("PATH", "")}'
    configs = [d / 'ansible.cfg' for d in Path(inventory).parents if REPO in (d, *d.parents)]
    env.setdefault('ANSIBLE_CONFIG', str(next((c for c in configs if c.exists()), REPO / 'ansible.cfg')))
    run = subprocess.run([str(REPO / 'scripts' / 'conformance.sh'), '--kube-inventory', inventory,
                          '--report-dir', str(report)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    summary_file = report / 'summary.json'
    assert summary_file.exists(), (f'scripts/conformance.sh wrote no summary (rc {run.returncode}):\n'
                                   f'{(run.stdout + run.stderr)[-5000:]}')
    summary = json.loads(summary_file.read_text())
    measured(f"e2e.test network conformance: passed {summary['passed']}, failed {summary['failed']}, "
             f"skipped {summary['skipped']} of {summary['selected']} selected in {summary['seconds']:.0f}s "
             f'(report {report})')
    assert summary['selected'] > 0, f'the focus selected no test:\n{run.stdout}'
    failed = [t for t in summary['tests'] if t['status'] == 'failed']
    assert not failed and run.returncode == 0, (
        f'{len(failed)} conformance test(s) failed (rc {run.returncode}; log {report}/e2e.log):\n'
        + run.stdout[-6000:] + run.stderr[-2000:])
