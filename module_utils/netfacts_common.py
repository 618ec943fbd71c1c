# -*- coding: utf-8 -*-
# Shared helpers for the flannel_facts, cni_facts and pod_sandbox_facts parsers.
# Pure functions only: no AnsibleModule, no subprocess, so tests and filters can call them directly.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json


class ParseError(Exception):
    """Output of a command (or a file) could not be understood.

    ``source`` names the command or file, ``reason`` says what was wrong; str() joins both so a
    module can hand it straight to fail_json.
    """

    def __init__(self, source, reason):
        self.source = source
        self.reason = reason
        super(ParseError, self).__init__("%s: %s" % (source, reason))


def load_json(source, text, expect=list):
    """Parse ``text`` as one JSON document of type ``expect``; empty or broken text is a ParseError."""
    if text is None or not text.strip():
        raise ParseError(source, "empty output, expected a JSON %s" % expect.__name__)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError(source, "output is not valid JSON (%s)" % exc) from exc
    if not isinstance(data, expect):
        raise ParseError(source, "expected a JSON %s, got %s" % (expect.__name__, type(data).__name__))
    return data


def load_json_stream(source, text):
    """Parse JSON objects printed one after another, or one array of them.

    crictl v1.22 inspect/inspectp print one document per id; newer crictl prints a single array.
    """
    if text is None or not text.strip():
        raise ParseError(source, "empty output, expected JSON objects")
    decoder = json.JSONDecoder()
    docs = []
    pos = 0
    end = len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise ParseError(source, "output is not a stream of JSON objects (%s)" % exc) from exc
        if isinstance(doc, list):
            docs.extend(doc)
        elif isinstance(doc, dict):
            docs.append(doc)
        else:
            raise ParseError(source, "expected JSON objects, got %s" % type(doc).__name__)
    return docs


def require(source, mapping, key, kind=None):
    """mapping[key], or a ParseError naming the missing/mistyped key."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise ParseError(source, "missing key %r" % key)
    value = mapping[key]
    if kind is not None and not isinstance(value, kind):
        raise ParseError(source, "key %r has type %s" % (key, type(value).__name__))
    return value


def ipv4_addresses(link):
    """CIDR strings of a link's IPv4 addresses in ``ip -j addr`` output."""
    out = []
    for info in link.get("addr_info") or []:
        if info.get("family") == "inet" and "local" in info:
            out.append("%s/%s" % (info["local"], info.get("prefixlen", 32)))
    return out


def links_by_name(links):
    return dict((link.get("ifname"), link) for link in links if isinstance(link, dict))


def normalise_cidr(text):
    """'172.16.0.0/16' stays, '10.0.0.1' becomes '10.0.0.1/32'; host bits are kept."""
    iface = ipaddress.ip_interface(u"%s" % text)
    return iface.with_prefixlen
