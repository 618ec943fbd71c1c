# -*- coding: utf-8 -*-
# Parsers for control_plane_facts: an HTTP answer as curl prints it, etcd's JSON gateway (member list, status,
# health) and `ip -j addr` for the API's virtual address. Pure functions: tests feed them captured output.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import re
import time

from ansible.module_utils.netfacts_common import ParseError, ipv4_addresses, load_json

# What curl is told to print after the body (-w): the HTTP status alone on the last line.
CURL_STATUS_FORMAT = "\n%{http_code}"


def parse_http(source, rc, out, err):
    """curl's answer -> {status, body, error}: status -1 and curl's message when nothing answered."""
    if rc != 0:
        return {"status": -1, "body": "", "error": (err or out or "curl exit %s" % rc).strip()}
    body, _, code = (out or "").rpartition("\n")
    try:
        status = int(code.strip())
    except ValueError as exc:
        raise ParseError(source, "no HTTP status on the last line: %r" % code[-40:]) from exc
    return {"status": status, "body": body.strip(), "error": "" if status == 200 else "HTTP %s" % status}


def _uint(value):
    # etcd's JSON gateway prints uint64 as strings, and omits fields that are zero
    return str(int(value)) if value not in (None, "") else "0"


def parse_member_list(source, text):
    """etcd /v3/cluster/member/list -> [{id, name, peer_urls, client_urls, learner, started}], by name."""
    data = load_json(source, text, expect=dict)
    if "members" not in data:
        raise ParseError(source, "no 'members' in the answer (%s)" % ", ".join(sorted(data)) or "empty")
    members = []
    for member in data["members"]:
        members.append({
            "id": _uint(member.get("ID")),
            # a member added but not yet started has no name
            "name": member.get("name") or "",
            "peer_urls": list(member.get("peerURLs") or []),
            "client_urls": list(member.get("clientURLs") or []),
            "learner": bool(member.get("isLearner", False)),
            "started": bool(member.get("name")),
        })
    return sorted(members, key=lambda m: (m["name"], m["id"]))


def parse_status(source, text):
    """etcd /v3/maintenance/status -> {member_id, leader, raft_term, version}: the member's own view."""
    data = load_json(source, text, expect=dict)
    header = data.get("header") or {}
    if "member_id" not in header:
        raise ParseError(source, "no header.member_id in the answer")
    return {"member_id": _uint(header.get("member_id")), "leader": _uint(data.get("leader")),
            "raft_term": int(_uint(data.get("raftTerm"))), "version": data.get("version") or ""}


def parse_health(source, text):
    """etcd /health -> {healthy, reason}."""
    data = load_json(source, text, expect=dict)
    healthy = str(data.get("health")).lower() == "true"
    return {"healthy": healthy, "reason": data.get("reason") or ("" if healthy else "health %r" % data.get("health"))}


def vip_on_interface(source, text, interface, vip):
    """`ip -j addr show dev <interface>` -> whether ``vip`` is one of its IPv4 addresses, and all of them."""
    links = load_json(source, text)
    addresses = []
    for link in links:
        if link.get("ifname") == interface:
            addresses = [a.split("/")[0] for a in ipv4_addresses(link)]
    return {"address": vip, "interface": interface, "held": vip in addresses, "addresses": addresses}


# kubeadm prints expiry dates in Go's layout "Jan 02, 2006 15:04 MST", always in UTC.
_CERT_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<expires>[A-Z][a-z]{2} \d{2}, \d{4} \d{2}:\d{2}) UTC\s+(?P<residual>\S+)"
                       r"(?P<rest>.*)$")


def parse_cert_expiration(source, text, now):
    """`kubeadm certs check-expiration` (v1.22: a table, no JSON) -> [{name, authority, expires, days_left,
    ca, externally_managed}], certificates then authorities, in kubeadm's order. ``now``: seconds since the
    epoch; days_left is whole days from then (negative once expired). A `!MISSING!` row has days_left None."""
    rows, authority, header_seen = [], False, False
    for line in (text or "").splitlines():
        if line.startswith("CERTIFICATE AUTHORITY"):
            authority, header_seen = True, True
            continue
        if line.startswith("CERTIFICATE"):
            header_seen = True
            continue
        if not header_seen or not line.strip():
            continue
        if line.startswith("!MISSING!"):
            name = line.split()[1] if len(line.split()) > 1 else "?"
            rows.append({"name": name, "authority": authority, "expires": None, "days_left": None, "ca": "",
                         "externally_managed": False})
            continue
        match = _CERT_ROW.match(line)
        if not match:
            raise ParseError(source, "unreadable row: %r" % line)
        expires = calendar.timegm(time.strptime(match.group("expires"), "%b %d, %Y %H:%M"))
        rest = match.group("rest").split()
        managed = rest[-1] if rest else "no"
        ca = rest[0] if len(rest) > 1 else ""
        rows.append({"name": match.group("name"), "authority": authority,
                     "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
                     "days_left": int((expires - now) // 86400), "ca": ca, "externally_managed": managed == "yes"})
    if not header_seen:
        raise ParseError(source, "no CERTIFICATE table in the output")
    return rows
