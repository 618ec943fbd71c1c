#!/usr/bin/env python3
"""Failover of the HA control plane, several tries per fault: medians for the README.

The faults of tests/infra/faults/test_ha_faults.py (tests/infra/ha.py makes, measures and undoes each): the node
holding the API's virtual address powered off, then only its API server stopped, then one etcd member stopped.
For each try: seconds from the fault to the API answering /readyz through the address, and to a write (a
ConfigMap) succeeding, seen from a control plane that was not broken. Prints every try, then min / median / max.

    .venv/bin/python benchmarks/ha_failover.py [--tries 3] [--faults power-off,api-stop,etcd-stop]

Needs the HA lab rolled out (make lab-ha). Its ConfigMaps live in a namespace of its own, deleted at the end.
"""
import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests' / 'infra'))

import ha  # noqa: E402 - tests/infra on the path first

NAMESPACE = 'kf-ha-bench'
FAULTS = {
    'power-off': (ha.power_off_holder, ('api', 'write')),
    'api-stop': (ha.stop_api_server_of_holder, ('api', 'write', 'moved')),
    'etcd-stop': (ha.stop_etcd_member, ('written',)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--inventory', default=str(REPO / 'lab' / 'ha' / 'hosts.yml'))
    parser.add_argument('--tries', type=int, default=3)
    parser.add_argument('--faults', default=','.join(FAULTS))
    args = parser.parse_args()
    cp = ha.control_plane(str(Path(args.inventory).resolve()))
    ha.kubectl(cp.masters[0], f'create namespace {NAMESPACE}')
    figures = {}
    try:
        for fault in args.faults.split(','):
            make, keys = FAULTS[fault]
            for attempt in range(args.tries):
                got = make(cp, NAMESPACE, f'{fault}-{attempt}')
                print(f'{fault} #{attempt + 1}: ' + ', '.join(f'{k} {got[k]:.1f} s' for k in keys)
                      + f" (node {got['node']}, seen from {got['witness']})", flush=True)
                for key in keys:
                    figures.setdefault((fault, key), []).append(got[key])
    finally:
        ha.kubectl(cp.masters[0], f'delete namespace {NAMESPACE} --wait=false')
    print('\nfault       measure  tries   min  median   max  (seconds)')
    for (fault, key), values in figures.items():
        print(f'{fault:<11} {key:<8} {len(values):>5} {min(values):5.1f} {statistics.median(values):7.1f} '
              f'{max(values):5.1f}')


if __name__ == '__main__':
    main()
