"""scripts/timed.sh: each scenario's time and result at the end of `make test`, the failed one and those after it
named too."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

TIMED = str(Path(__file__).resolve().parents[2] / 'scripts' / 'timed.sh')


def test_times_results_and_scenarios_not_run(tmp_path):
    times = str(tmp_path / 'times')
    assert subprocess.run([TIMED, times, 'first', 'sleep', '1'], check=False).returncode == 0
    assert subprocess.run([TIMED, times, 'second', 'sh', '-c', 'exit 3'], check=False).returncode == 3
    started = int(time.time()) - 125   # make test began 2 min 5 s ago: the scenarios may overlap, the wall counts
    out = subprocess.run([TIMED, '--summary', times, 'first', 'second', 'third'], capture_output=True, text=True,
                         check=True, env=dict(os.environ, KF_TEST_STARTED=str(started))).stdout.splitlines()
    rows = {line[:26].strip(): line[26:].strip() for line in out[1:-1]}
    assert out[0] == '== time per scenario =='
    assert rows['first'].split()[:2] in (['0m', '01s'], ['0m', '02s']) and rows['first'].endswith('ok')
    assert rows['second'].endswith('FAILED (exit 3)')
    assert rows['third'].split() == ['-', 'not', 'run']
    assert rows['sum of the above'].split()[0] == '0m'
    assert rows['wall time of make test'].split() in (['2m', '05s'], ['2m', '06s'], ['2m', '07s'])
    assert out[-1].startswith('load average at the end: ')


def test_summary_without_names_lists_the_file_in_order(tmp_path):
    """scripts/ci-labs.sh decides which scenarios run and times each one; the summary then lists what the file holds,
    in the order they ran, and a scenario recorded as "NAME - -" (after a failure) as not run."""
    times = tmp_path / 'times'
    assert subprocess.run([TIMED, str(times), 'unit', 'true'], check=False).returncode == 0
    assert subprocess.run([TIMED, str(times), 'cluster', 'false'], check=False).returncode == 1
    with times.open('a') as f:
        f.write('ha - -\n')
    # make test exports when it started: without it, the summary has no wall-time row
    env = {k: v for k, v in os.environ.items() if k != 'KF_TEST_STARTED'}
    out = subprocess.run([TIMED, '--summary', str(times)], capture_output=True, text=True, check=True,
                         env=env).stdout.splitlines()
    rows = [(line[:26].strip(), line[26:].strip()) for line in out[1:-1]]
    assert [name for name, _ in rows] == ['unit', 'cluster', 'ha', 'sum of the above']
    assert rows[0][1].endswith('ok') and rows[1][1].endswith('FAILED (exit 1)')
    assert rows[2][1].split() == ['-', 'not', 'run']
