"""kube_redact: hide kubeadm secrets (bootstrap tokens, CA cert hashes, certificate keys) in text.

kubeadm prints join commands with a bootstrap token, the CA certificate hash and, with --upload-certs,
the key that decrypts the control-plane certificates. Output shown to a user (a failed init or join)
goes through this filter first.
"""
from __future__ import annotations

import re

_PATTERNS = (
    # bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}
    (re.compile(r'\b[a-z0-9]{6}\.[a-z0-9]{16}\b'), '<redacted-token>'),
    # discovery-token-ca-cert-hash sha256:<64 hex>
    (re.compile(r'\bsha256:[0-9a-f]{64}\b'), 'sha256:<redacted-hash>'),
    # certificate key: 64 hex characters (also catches any other 32-byte hex secret)
    (re.compile(r'\b[0-9a-f]{64}\b'), '<redacted-key>'),
)


def kube_redact(text):
    """Return text with every kubeadm secret replaced by a placeholder."""
    if text is None:
        return ''
    result = str(text)
    for pattern, placeholder in _PATTERNS:
        result = pattern.sub(placeholder, result)
    return result


class FilterModule:
    def filters(self):
        return {'kube_redact': kube_redact}
