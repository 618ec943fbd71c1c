#!/usr/bin/env python3
"""Per-stage tables in Markdown from the JSON files of callback_plugins/stage_timings.py (KF_TIMINGS_FILE).

    timings_report.py RUN.json [RUN.json ...] [--slowest N]

A stage is a play, named as the play is. Each file is one run (one ansible-playbook call). Per stage: in how
many runs it appears, its wall seconds, its tasks (handlers included) and its changed results (host-task
pairs whose status was changed). Given several runs, wall seconds are min / median / max over the runs and a
count that differs between runs is shown as min-max. The last row is the whole run: its wall time (plays and
what lies between them) and the counts of all its plays.
--slowest N adds the N tasks with the largest median wall time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys


def load(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        with open(path, encoding='utf-8') as handle:
            runs.append(json.load(handle))
    return runs


def play_figures(play: dict) -> dict:
    changed = sum(1 for task in play['tasks'] for host in task['hosts'].values() if host['status'] == 'changed')
    failed = sum(1 for task in play['tasks'] for host in task['hosts'].values()
                 if host['status'] in ('failed', 'unreachable'))
    return {'seconds': play['seconds'], 'tasks': len(play['tasks']), 'changed': changed, 'failed': failed}


def stages(runs: list[dict]) -> list[tuple[str, list[dict]]]:
    """[(play name, [figures of each run it appears in])], in order of first appearance. A play name that a
    run repeats (two plays of one name) is summed within that run."""
    order: list[str] = []
    table: dict[str, list[dict]] = {}
    for run in runs:
        seen: dict[str, dict] = {}
        for play in run['plays']:
            figures = play_figures(play)
            if play['name'] in seen:
                for key, value in figures.items():
                    seen[play['name']][key] += value
            else:
                seen[play['name']] = figures
        for name, figures in seen.items():
            if name not in table:
                order.append(name)
                table[name] = []
            table[name].append(figures)
    return [(name, table[name]) for name in order]


def cell(text: str) -> str:
    return text.replace('|', '\\|')


def seconds_cell(values: list[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}'


def count_cell(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f'{low}-{high}'


def table(runs: list[dict]) -> str:
    several = len(runs) > 1
    head = 'wall s (min / median / max)' if several else 'wall s'
    lines = [f'| stage | runs | {head} | tasks | changed | failed |', '|---|---:|---:|---:|---:|---:|']
    for name, figures in stages(runs):
        lines.append('| %s | %d | %s | %s | %s | %s |' % (
            cell(name), len(figures), seconds_cell([f['seconds'] for f in figures]),
            count_cell([f['tasks'] for f in figures]), count_cell([f['changed'] for f in figures]),
            count_cell([f['failed'] for f in figures])))
    whole = [[play_figures(play) for play in run['plays']] for run in runs]
    lines.append('| **whole run** | %d | %s | %s | %s | %s |' % (
        len(runs), seconds_cell([run['seconds'] for run in runs]),
        *(count_cell([sum(f[key] for f in plays) for plays in whole]) for key in ('tasks', 'changed', 'failed'))))
    return '\n'.join(lines)


def slowest(runs: list[dict], count: int) -> str:
    times: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for play in run['plays']:
            for task in play['tasks']:
                times.setdefault((play['name'], task['name']), []).append(task['seconds'] or 0.0)
    ranked = sorted(times.items(), key=lambda kv: statistics.median(kv[1]), reverse=True)[:count]
    lines = ['| stage | task | wall s (median) |', '|---|---|---:|']
    for (play, task), values in ranked:
        lines.append(f'| {cell(play)} | {cell(task)} | {statistics.median(values):.2f} |')
    return '\n'.join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('files', nargs='+', help='stage_timings JSON files, one per run')
    parser.add_argument('--slowest', type=int, default=0, metavar='N', help='also list the N slowest tasks')
    args = parser.parse_args(argv)
    runs = load(args.files)
    print(table(runs))
    if args.slowest:
        print()
        print(slowest(runs, args.slowest))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
