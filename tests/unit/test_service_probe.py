"""tests/infra/service_probe.py, the upgrade test's probe from outside the nodes, shown to tell an answering URL from
one that does not answer (loopback only: a local http.server, and a port nothing listens on)."""
from __future__ import annotations

import http.server
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

PROBE = Path(__file__).resolve().parents[1] / 'infra' / 'service_probe.py'


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_the_probe_records_answers_and_failures_in_turn(tmp_path):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    good = f'http://127.0.0.1:{server.server_address[1]}/'
    bad = f'http://127.0.0.1:{_free_port()}/'
    out = tmp_path / 'probes.jsonl'
    probe = subprocess.Popen([sys.executable, str(PROBE), '--out', str(out), '--period', '0.1', good, bad])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 6):
            time.sleep(0.1)
    finally:
        probe.send_signal(signal.SIGTERM)
        assert probe.wait(10) == 0
        server.shutdown()
    probes = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(probes) >= 6
    # the URLs in turn, the answering one ok, the other failed with its cause
    assert [p['url'] for p in probes[:4]] == [good, bad, good, bad]
    assert all(p['ok'] and p['error'] == '' for p in probes if p['url'] == good)
    assert all(not p['ok'] and 'Connection refused' in p['error'] for p in probes if p['url'] == bad)
