#!/usr/bin/env python3
"""Summarise an e2e.test (ginkgo v1) junit report: a short table and a JSON (scripts/conformance.sh).

    conformance_report.py JUNIT [--log E2E_LOG] [--seconds WALL] [--json OUT]   table on stdout, JSON to OUT
    conformance_report.py --names JUNIT                                         the selected tests, one a line

Ginkgo v1's junit lists every spec of the suite. A spec the focus did not select is <skipped/> with no message
and never ran; a selected spec that skipped itself at run time (e2eskipper) is <skipped> with its reason. So
"selected" = every testcase but the first kind, and the counts are over those. The ginkgo summary line of the
log ("Ran 20 of 5771 Specs ...", "SUCCESS! -- 20 Passed | 0 Failed ...") is kept beside them as a cross-check.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET

GO_LOCATION = re.compile(r'^\S+\.go:\d+$')


def cases(junit_path: str) -> tuple[list[dict], int]:
    """(selected testcases as {name, status, seconds, message}, number of specs not selected)."""
    root = ET.parse(junit_path).getroot()
    selected, not_selected = [], 0
    for case in root.iter('testcase'):
        failure = case.find('failure')
        skipped = case.find('skipped')
        if skipped is not None and not (skipped.text or '').strip() and not (skipped.get('message') or ''):
            not_selected += 1
            continue
        if failure is not None:
            status, message = 'failed', (failure.text or failure.get('message') or '').strip()
        elif skipped is not None:
            status, message = 'skipped', (skipped.text or skipped.get('message') or '').strip()
        else:
            status, message = 'passed', ''
        # Ginkgo's failure text is "<code location>\n<message>\n<location>": keep the message's first line.
        lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not GO_LOCATION.match(ln.strip())]
        selected.append({'name': ' '.join(case.get('name', '').split()), 'status': status,
                         'seconds': round(float(case.get('time') or 0), 1),
                         'message': lines[0][:300] if lines else ''})
    return selected, not_selected


def ginkgo_summary(log_path: str | None) -> dict:
    """The counts ginkgo printed at the end of the run, if the log has them."""
    if not log_path:
        return {}
    try:
        text = open(log_path, encoding='utf-8', errors='replace').read()
    except OSError:
        return {}
    out = {}
    ran = re.findall(r'Ran (\d+) of (\d+) Specs in ([\d.]+) seconds', text)
    if ran:
        out.update(ran=int(ran[-1][0]), total=int(ran[-1][1]), seconds=float(ran[-1][2]))
    counts = re.findall(r'(SUCCESS!|FAIL!) -- (\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped', text)
    if counts:
        verdict, passed, failed, pending, skipped = counts[-1]
        out.update(verdict=verdict.rstrip('!'), passed=int(passed), failed=int(failed), pending=int(pending),
                   skipped=int(skipped))
    return out


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 60}m {seconds % 60:02d}s' if seconds >= 60 else f'{seconds}s'


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('junit')
    parser.add_argument('--names', action='store_true', help='print the selected tests only')
    parser.add_argument('--log', help="e2e.test's output (for ginkgo's own summary line)")
    parser.add_argument('--seconds', type=float, help='wall-clock time of the run')
    parser.add_argument('--json', help='write the summary here')
    args = parser.parse_args(argv)

    selected, not_selected = cases(args.junit)
    if args.names:
        for case in selected:
            print(case['name'])
        return 0
    counts = {s: sum(1 for c in selected if c['status'] == s) for s in ('passed', 'failed', 'skipped')}
    seconds = args.seconds if args.seconds is not None else sum(c['seconds'] for c in selected)
    summary = {**counts, 'selected': len(selected), 'not_selected': not_selected, 'seconds': seconds,
               'junit': args.junit, 'ginkgo': ginkgo_summary(args.log), 'tests': selected}
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(summary, f, indent=2)
            f.write('\n')

    print(f'{"result":<8} {"time":>8}  test')
    for case in selected:
        print(f'{case["status"].upper():<8} {duration(case["seconds"]):>8}  {case["name"]}')
        if case['message'] and case['status'] != 'passed':
            print(f'{"":<8} {"":>8}    {case["message"]}')
    print(f'passed {counts["passed"]}, failed {counts["failed"]}, skipped {counts["skipped"]} '
          f'(of {len(selected)} selected; {not_selected} specs not selected) in {duration(seconds)}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
