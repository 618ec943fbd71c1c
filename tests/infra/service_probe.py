"""Probe HTTP URLs from where it runs (the lab's outside namespace: `ip netns exec <ns> python3 service_probe.py`),
one request a period, the URLs in turn, until SIGTERM. Standard library only. Each probe is one JSON line in --out:
{"t": start (epoch s), "url", "ok", "ms", "error"}. A probe fails on any error, a status other than 200 or no answer
within --timeout."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', required=True)
    parser.add_argument('--period', type=float, default=1.0)
    parser.add_argument('--timeout', type=float, default=0.9)
    parser.add_argument('urls', nargs='+')
    args = parser.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    tick = 0
    start = time.monotonic()
    with open(args.out, 'a', buffering=1) as out:
        while not stop:
            url = args.urls[tick % len(args.urls)]
            began, error = time.time(), ''
            try:
                with urllib.request.urlopen(url, timeout=args.timeout) as answer:
                    answer.read()
                    ok = answer.status == 200
                    error = '' if ok else f'status {answer.status}'
            except Exception as exc:  # noqa: BLE001 - every failure is a failed probe, recorded with its cause
                ok, error = False, f'{type(exc).__name__}: {exc}'
            out.write(json.dumps({'t': round(began, 3), 'url': url, 'ok': ok,
                                  'ms': round((time.time() - began) * 1000, 1), 'error': error}) + '\n')
            tick += 1
            time.sleep(max(0.0, start + tick * args.period - time.monotonic()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
