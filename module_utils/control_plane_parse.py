# -*- coding: utf-8 -*-
# Parsers for control_plane_facts: an HTTP answer as curl prints it, etcd's JSON gateway (member list, status,
# health) and `ip -j addr` for the API's virtual address. Pure functions: tests feed them captured output.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
