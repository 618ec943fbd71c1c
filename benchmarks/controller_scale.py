#!/usr/bin/env python3
"""What the controller spends per host as the inventory grows, measured with synthetic hosts on this machine.

    .venv/bin/python benchmarks/controller_scale.py [--sizes 10,100,500] [--validate-sizes 10,50]
        [--forks 5,10,25,50] [--forks-at 100] [--facts-hosts 20] [--runs 1] [--only validate,noop,forks,facts]
        [--keep DIR]

At the defaults it takes about 10 minutes on this 2-core machine (validate at 100 hosts: --validate-sizes 100,
about 7 minutes; at 500 hosts, extrapolated, about 35).

Three measurements, each an ansible-playbook run with the product's ansible.cfg and callback_plugins/
stage_timings.py writing its JSON (wall seconds per play and per task, read back from the JSON):

validate   playbooks/validate.yml, the real stage 1, against an inventory of N hosts (one control plane, N-1
           workers) made from the sample inventory: every host gets the recorded facts of tests/fixtures/facts/
           sample (k8s-m's for the control plane, k8s-w1's for workers) renumbered onto 192.168.0.0/16, loaded
           by the tests' fixture_facts action (tests/load_fixture_facts.yml) instead of gathered. Validate is
           controller logic over facts: no host is contacted. Timed: the validate play alone, at the
           configuration's forks (10), for each of --validate-sizes.
noop       N hosts, all `ansible_connection: local`, three tasks: a module (command with changed_when false)
           that runs as a Python process on this machine per host, and two controller-only actions (set_fact,
           assert). For each of --sizes at forks 10, then at --forks-at hosts for each of --forks. The module
           task's time is the controller's per-task work (templating, AnsiballZ, a worker process per host)
           plus the module's own run, which on a real site happens on the node; the actions' time is the
           controller's alone.
facts      fact gathering (`setup`, default subset) in two plays on the --facts-hosts local hosts: `gathering =
           implicit` (every play gathers again) against `gathering = smart` with the jsonfile fact cache already
           filled by an earlier run (no play gathers).

--keep DIR keeps every run's stage_timings JSON there (<measurement>-n<N>-f<forks>-<run>.json), for
scripts/timings_report.py (e.g. --slowest 10 on the validate runs).

Every host is this machine, so modules compete with the controller for its cores: per-host figures are an upper
bound for the controller's share. Prints Markdown tables; each figure is min / median / max over --runs runs
(one figure when --runs 1). The growth column is ms per host at N divided by ms per host at the smallest N:
1.0 is linear.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / 'tests')]

from sites import ansible_playbook  # noqa: E402  (the validate tests' runner: recorded facts, local connection)

BIN = Path(sys.executable).parent
SAMPLE_FACTS = REPO / 'tests' / 'fixtures' / 'facts' / 'sample'

NOOP = """
- name: No-op stage
  hosts: all
  gather_facts: false
  tasks:
    - name: Run true (module)
      ansible.builtin.command: "true"
      changed_when: false
      register: __bench_true
    - name: Set a fact (controller only)
      ansible.builtin.set_fact:
        __bench_seen: "{{ __bench_true.rc == 0 }}"
    - name: Assert it (controller only)
      ansible.builtin.assert:
        that: __bench_seen | bool
        quiet: true
"""

# Two plays that read a fact: each gathers first, unless gathering is smart and the host's facts are known.
FACT_PLAY = """
- name: {name}
  hosts: all
  tasks:
    - name: Use a fact
      ansible.builtin.assert:
        that: ansible_facts.distribution is defined
        quiet: true
"""
FACTS = FACT_PLAY.format(name='First play') + FACT_PLAY.format(name='Second play')


def address(i: int) -> str:
    return '192.168.%d.%d' % (i // 250, i % 250 + 2)


def synthetic_site(root: Path, count: int) -> tuple[Path, Path]:
    """The sample inventory with `count` hosts and their renumbered recorded facts; returns (hosts.yml, facts)."""
    inventory = root / 'inventory'
    shutil.copytree(REPO / 'inventories' / 'sample', inventory)
    names = ['cp-0000'] + ['node-%04d' % i for i in range(1, count)]
    hosts = {'kube_cluster': {'children': {
        'kube_control_plane': {'hosts': {names[0]: {'ansible_host': address(0)}}},
        'kube_workers': {'hosts': {n: {'ansible_host': address(i + 1)} for i, n in enumerate(names[1:])}}}}}
    (inventory / 'hosts.yml').write_text(yaml.safe_dump(hosts))
    # 500 nodes of /24 need a pod subnet larger than the sample's /16
    (inventory / 'group_vars' / 'all' / 'zz_scale.yml').write_text(
        yaml.safe_dump({'kube_pod_subnet': '172.16.0.0/12'}))
    facts = root / 'facts'
    facts.mkdir()
    templates = {k: (SAMPLE_FACTS / f'{k}.json').read_text() for k in ('k8s-m', 'k8s-w1')}
    sample_ip = {'k8s-m': '192.168.100.10', 'k8s-w1': '192.168.100.101'}
    for i, name in enumerate(names):
        key = 'k8s-m' if i == 0 else 'k8s-w1'
        data = json.loads(templates[key].replace(sample_ip[key], address(i)).replace(key, name))
        data['enp0s8']['ipv4'].update(network='192.168.0.0', netmask='255.255.0.0', prefix='16',
                                      broadcast='192.168.255.255')
        (facts / f'{name}.json').write_text(json.dumps(data))
    return inventory / 'hosts.yml', facts


def local_inventory(root: Path, count: int) -> Path:
    path = root / 'local.yml'
    path.write_text(yaml.safe_dump({'all': {
        'hosts': {'h%04d' % i: None for i in range(count)},
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}))
    return path


KEEP: dict = {'dir': None, 'name': None}


def timings(path: Path) -> dict:
    if KEEP['dir'] and KEEP['name']:
        shutil.copy(path, Path(KEEP['dir']) / KEEP['name'])
    return json.loads(path.read_text())


def play_seconds(run: dict, name: str) -> float:
    return sum(p['seconds'] for p in run['plays'] if p['name'] == name)


def run_validate(root: Path, count: int) -> float:
    hosts, facts = synthetic_site(root, count)
    out = root / 'validate.json'
    result = ansible_playbook(hosts, facts, 'playbooks/validate.yml', env={'KF_TIMINGS_FILE': str(out)})
    if result.rc != 0:
        sys.exit(f'validate refused the synthetic {count}-host inventory:\n{result.output[-3000:]}')
    return play_seconds(timings(out), 'Validate the inventory')


def playbook(root: Path, inventory: Path, text: str, env: dict) -> dict:
    book = root / 'play.yml'
    book.write_text(text)
    out = root / 'run.json'
    run_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   KF_TIMINGS_FILE=str(out), PATH=f"{BIN}:{os.environ.get('PATH', '')}", **env)
    proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inventory), str(book)], cwd=root,
                          env=run_env, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        sys.exit(f'benchmark playbook failed:\n{(proc.stdout + proc.stderr)[-3000:]}')
    return timings(out)


def run_noop(root: Path, count: int, forks: int) -> dict:
    run = playbook(root, local_inventory(root, count), NOOP, {'ANSIBLE_FORKS': str(forks)})
    tasks = run['plays'][0]['tasks']
    return {'play': run['plays'][0]['seconds'],
            'module': sum(t['seconds'] for t in tasks if '(module)' in t['name']),
            'controller': sum(t['seconds'] for t in tasks if 'controller only' in t['name'])}


def run_facts(root: Path, count: int, cached: bool) -> float:
    inventory = local_inventory(root, count)
    env = {'ANSIBLE_FORKS': '10'}
    if cached:
        cache = root / 'facts-cache'
        env.update(ANSIBLE_GATHERING='smart', ANSIBLE_CACHE_PLUGIN='ansible.builtin.jsonfile',
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=str(cache), ANSIBLE_CACHE_PLUGIN_TIMEOUT='86400')
        if not cache.exists():
            playbook(root, inventory, FACTS, env)  # fills the cache; not counted
    else:
        env['ANSIBLE_GATHERING'] = 'implicit'
    return playbook(root, inventory, FACTS, env)['seconds']


def figure(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    values = [v * scale for v in values]
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    return '%.*f / %.*f / %.*f' % (digits, min(values), digits, statistics.median(values), digits, max(values))


def repeat(runs: int, action, name: str) -> list:
    results = []
    for run in range(runs):
        KEEP['name'] = f'{name}-{run + 1}.json'
        with tempfile.TemporaryDirectory(prefix='kf-scale-') as tmp:
            results.append(action(Path(tmp)))
    return results


def noop_row(count: int, fork: int, values: list[dict], base: float) -> str:
    plays = [v['play'] for v in values]
    return (f'| {count} | {fork} | {figure(plays)} | {figure(plays, 1000 / count)} | '
            f'{figure([v["module"] for v in values], 1000 / count)} | '
            f'{figure([v["controller"] for v in values], 1000 / count / 2)} | '
            f'{statistics.median(plays) / count / base:.2f} |')


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default='10,100,500', help='hosts for the no-op (default 10,100,500)')
    parser.add_argument('--validate-sizes', default='10,50', help='hosts for validate (default 10,50)')
    parser.add_argument('--forks', default='5,10,25,50', help='forks for the no-op (default 5,10,25,50)')
    parser.add_argument('--forks-at', type=int, default=100, help='hosts for the forks sweep (default 100)')
    parser.add_argument('--runs', type=int, default=1, help='runs of each measurement (default 1)')
    parser.add_argument('--facts-hosts', type=int, default=20, help='hosts for the fact-caching run (default 20)')
    parser.add_argument('--only', default='validate,noop,forks,facts', help='which measurements (default all)')
    parser.add_argument('--keep', metavar='DIR', help="keep each run's stage_timings JSON in DIR")
    args = parser.parse_args(argv)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        KEEP['dir'] = args.keep
    numbers = {k: [int(v) for v in getattr(args, k).split(',')] for k in ('sizes', 'validate_sizes', 'forks')}
    only = set(args.only.split(','))
    started = time.monotonic()
    load = os.getloadavg()
    print(f'load before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs; '
          f'runs per figure: {args.runs}\n', flush=True)

    if 'validate' in only:
        print('| N | stage | seconds | ms per host | growth |', '|---:|---|---:|---:|---:|', sep='\n')
        base = None
        for count in numbers['validate_sizes']:
            values = repeat(args.runs, lambda root, c=count: run_validate(root, c), f'validate-n{count}-f10')
            per_host = statistics.median(values) / count
            base = base or per_host
            print(f'| {count} | validate (forks 10) | {figure(values)} | {figure(values, 1000 / count)} | '
                  f'{per_host / base:.2f} |', flush=True)
        print()

    header = ('| N | forks | play s | ms per host | module task: ms per host | controller-only tasks: '
              'ms per host-task | growth |\n|---:|---:|---:|---:|---:|---:|---:|')
    done = {}
    if 'noop' in only:
        print(header)
        base = None
        for count in numbers['sizes']:
            done[(count, 10)] = repeat(args.runs, lambda root, c=count: run_noop(root, c, 10), f'noop-n{count}-f10')
            base = base or statistics.median(v['play'] for v in done[(count, 10)]) / count
            print(noop_row(count, 10, done[(count, 10)], base), flush=True)
        print()

    if 'forks' in only:
        count = args.forks_at
        print(header.replace('| growth |', '| vs forks 10 |', 1))
        rows = {}
        for fork in numbers['forks']:
            rows[fork] = done.get((count, fork)) or repeat(args.runs, lambda root, f=fork: run_noop(root, count, f),
                                                        f'noop-n{count}-f{fork}')
        base = statistics.median(v['play'] for v in rows.get(10, rows[numbers['forks'][0]])) / count
        for fork in numbers['forks']:
            print(noop_row(count, fork, rows[fork], base), flush=True)
        print()

    if 'facts' in only:
        count = args.facts_hosts
        print('| N | gathering | two plays, s | ms per host |', '|---:|---|---:|---:|', sep='\n')
        for cached, label in ((False, 'implicit: setup in every play'),
                              (True, 'smart + jsonfile cache (warm): no setup')):
            values = repeat(args.runs, lambda root, c=cached: run_facts(root, count, c),
                            f'facts-n{count}-{"cached" if cached else "implicit"}')
            print(f'| {count} | {label} | {figure(values)} | {figure(values, 1000 / count)} |', flush=True)
        print()

    load = os.getloadavg()
    print(f'load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; benchmark took {time.monotonic() - started:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
