#!/usr/bin/env python3
"""What one task costs on a lab node, by transport: SSH as the lab inventory logs in (login user, sudo,
pipelining, ControlPersist) against `podman exec` (lab/connection_plugins/lab_podman.py, as root, no sudo).

A task's cost is the difference between a playbook of 1 + TASKS trivial tasks and one of 1 task, divided by
TASKS, so Ansible's start-up and the first connection drop out. Runs alternate (ssh, podman, ssh, ...) so a
change in the machine's load hits both alike. Prints min / median / max per transport and the ratio of medians.

    .venv/bin/python benchmarks/transport_cost.py [--node k8s-w1] [--tasks 10] [--runs 5]

Needs the lab up (make lab-up); it runs `true` on one node, nothing else.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB_INVENTORY = REPO / 'lab' / 'inventory' / 'hosts.yml'
PLAYBOOK = """- hosts: {node}
  gather_facts: false
  tasks:
{tasks}
"""
TASK = """    - ansible.builtin.command: 'true'
      changed_when: false
"""


def run(inventory, playbook, extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'lab' / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    env.pop('KF_TIMINGS_FILE', None)
    start = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(inventory), *extra,
                           str(playbook)], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f'ansible-playbook failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}')
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--node', default='k8s-w1')
    parser.add_argument('--tasks', type=int, default=10)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument("--lab-name", default="kflab")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        short, long = tmp / 'one.yml', tmp / 'many.yml'
        short.write_text(PLAYBOOK.format(node=args.node, tasks=TASK))
        long.write_text(PLAYBOOK.format(node=args.node, tasks=TASK * (1 + args.tasks)))
        # The same host through podman exec: the lab's container of that node, as root.
        transports = {
            'ssh': (LAB_INVENTORY, []),
            'podman exec': (LAB_INVENTORY, ['-e', 'ansible_connection=lab_podman', '-e', 'ansible_become=false',
                                            '-e', f'ansible_host={args.lab_name}-{args.node}']),
        }
        per_task = {name: [] for name in transports}
        for inventory, extra in transports.values():   # warm-up: connections, caches
            run(inventory, short, extra)
        for _ in range(args.runs):
            for name, (inventory, extra) in transports.items():
                one = run(inventory, short, extra)
                many = run(inventory, long, extra)
                per_task[name].append((many - one) / args.tasks)

    print(f'| transport (node {args.node}, {args.runs} pairs of runs) | per task, s: min | median | max |')
    print('|---|---|---|---|')
    for name, values in per_task.items():
        print(f'| {name} | {min(values):.3f} | {statistics.median(values):.3f} | {max(values):.3f} |')
    ratio = statistics.median(per_task['ssh']) / statistics.median(per_task['podman exec'])
    print(f'\nssh / podman exec (medians): {ratio:.2f}; load: {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
