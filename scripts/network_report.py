#!/usr/bin/env python3
"""Draw the network report page again from a report verify wrote (verify_report_dir, or verify_report_file).

    network_report.py REPORT.json -o PAGE.html

The page is made exactly as verify makes it (filter_plugins/network_report.py), from the JSON alone: a report
recorded on a lab or a site can be drawn on any machine with Graphviz (Debian's graphviz, and the Python package
graphviz pinned in requirements.txt). A report from before verify kept the nodes' facts is drawn with the nodes
its results name, without their facts.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1] / 'filter_plugins' / 'network_report.py'


def load_renderer():
    # a filter plugin, loaded from its file as Ansible does (filter_plugins/ is no package)
    spec = importlib.util.spec_from_file_location('kfa_filter_network_report', PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('report', help='a report JSON written by verify')
    parser.add_argument('-o', '--output', required=True, help='the HTML page to write')
    args = parser.parse_args(argv)
    with open(args.report, encoding='utf-8') as handle:
        report = json.load(handle)
    if not isinstance(report, dict) or not isinstance(report.get('results'), list):
        print(f'{args.report}: not a verify report (no results list)', file=sys.stderr)
        return 2
    page = load_renderer().render_html(report)
    Path(args.output).write_text(page, encoding='utf-8')
    print(args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
