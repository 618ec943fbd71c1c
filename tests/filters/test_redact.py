"""kube_redact removes every kubeadm secret and keeps the rest of the text readable."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    'redact', Path(__file__).resolve().parents[2] / 'filter_plugins' / 'redact.py')
redact = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(redact)

TOKEN = 'abcdef.0123456789abcdef'
HASH = 'sha256:' + 'a1' * 32
KEY = 'f0' * 32

CASES = [
    pytest.param(f'kubeadm join 192.168.100.10:6443 --token {TOKEN} \\\n --discovery-token-ca-cert-hash {HASH}',
                 [TOKEN, HASH], ['kubeadm join 192.168.100.10:6443', '--discovery-token-ca-cert-hash'],
                 id='join-command'),
    pytest.param(f'--control-plane --certificate-key {KEY}', [KEY], ['--certificate-key'], id='certificate-key'),
    pytest.param('[preflight] Some fatal errors occurred: [ERROR Swap]: running with swap on is not supported',
                 [], ['[ERROR Swap]'], id='no-secret-untouched'),
]


@pytest.mark.parametrize('text,secrets,kept', CASES)
def test_secrets_are_removed_and_text_kept(text, secrets, kept):
    out = redact.kube_redact(text)
    for secret in secrets:
        assert secret not in out
        assert secret.split(':')[-1] not in out
    for fragment in kept:
        assert fragment in out


def test_none_gives_empty_text():
    assert redact.kube_redact(None) == ''
