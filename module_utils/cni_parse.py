# -*- coding: utf-8 -*-
# Parsers for CNI state on a node: config files, the bridge and its veths, host-local leases.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible.module_utils.netfacts_common import (
    ParseError,
    ipv4_addresses,
    load_json,
)

# libcni.ConfFiles looks at these extensions; containerd (go-cni) and the kubelet both use it
CONF_EXTENSIONS = (".conf", ".conflist", ".json")


def parse_conf_file(filename, text):
    """One CNI config file -> summary dict; a broken file yields ``valid: False`` and ``error``."""
    entry = {"file": filename, "valid": False, "error": None, "kind": None, "name": None,
             "cni_version": None, "plugins": [], "config": None}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        entry["error"] = "not valid JSON (%s)" % exc
        return entry
    if not isinstance(doc, dict):
        entry["error"] = "top level is not a JSON object"
        return entry
    if filename.endswith(".conflist"):
        entry["kind"] = "conflist"
        plugins = doc.get("plugins")
        if not isinstance(plugins, list) or not plugins:
            entry["error"] = "conflist without a non-empty 'plugins' list"
            return entry
    else:
        # a .conf/.json file is a single plugin config; libcni wraps it into a one-entry list
        entry["kind"] = "conf"
        plugins = [doc]
    if not doc.get("name"):
        entry["error"] = "no network 'name'"
        return entry
    for plugin in plugins:
        if not isinstance(plugin, dict) or not plugin.get("type"):
            entry["error"] = "plugin without 'type'"
            return entry
    entry.update(valid=True, name=doc["name"], cni_version=doc.get("cniVersion"),
                 plugins=[p["type"] for p in plugins], config=doc)
    return entry


def parse_conf_dir(files):
    """``files``: iterable of (filename, text). Returns (entries sorted by name, winner or None).

    The winner is the first valid file by file name: containerd's CRI (max_conf_num = 1) and the
    kubelet both load the lexically first config libcni finds.
    """
    entries = [parse_conf_file(name, text) for name, text in sorted(files)
               if name.endswith(CONF_EXTENSIONS)]
    winner = next((e for e in entries if e["valid"]), None)
    return entries, winner


def parse_netns_ids(text, source="ip -j netns list-id"):
    """nsid -> netns name (names only for namespaces pinned under /var/run/netns)."""
    if text is None or not text.strip():
        # no peer namespace has an id yet: iproute2 prints nothing, not '[]'
        return {}
    entries = load_json(source, text, list)
    out = {}
    for entry in entries:
        if not isinstance(entry, dict) or "nsid" not in entry:
            raise ParseError(source, "entry without nsid: %r" % (entry,))
        out[int(entry["nsid"])] = entry.get("name")
    return out


def parse_bridge(text, bridge, netns_names=None, netns_inodes=None, source="ip -d -j addr show"):
    """The CNI bridge and its ports from ``ip -d -j addr show``.

    ``netns_names``: nsid -> name (parse_netns_ids); ``netns_inodes``: name -> inode of the
    pinned namespace file, so a port can be tied to a pod's network namespace.
    """
    links = load_json(source, text, list)
    netns_names = netns_names or {}
    netns_inodes = netns_inodes or {}
    bridge_link = None
    for link in links:
        if not isinstance(link, dict) or "ifname" not in link:
            raise ParseError(source, "entry without ifname: %r" % (link,))
        if link["ifname"] == bridge:
            bridge_link = link
    if bridge_link is None:
        return {"present": False, "name": bridge, "ports": []}
    kind = (bridge_link.get("linkinfo") or {}).get("info_kind")
    ports = []
    for link in links:
        if link.get("master") != bridge:
            continue
        info = link.get("linkinfo") or {}
        slave = info.get("info_slave_data") or {}
        nsid = link.get("link_netnsid")
        name = netns_names.get(nsid) if nsid is not None else None
        ports.append({
            "name": link["ifname"],
            "ifindex": link.get("ifindex"),
            "kind": info.get("info_kind"),
            "mtu": link.get("mtu"),
            "mac": link.get("address"),
            "state": slave.get("state"),
            "hairpin": slave.get("hairpin"),
            "peer_ifindex": link.get("link_index"),
            "link_netnsid": nsid,
            "netns_name": name,
            "netns_inode": netns_inodes.get(name) if name else None,
        })
    return {
        "present": True,
        "name": bridge,
        "kind": kind,
        "is_bridge": kind == "bridge",
        "mtu": bridge_link.get("mtu"),
        "mac": bridge_link.get("address"),
        "up": "UP" in (bridge_link.get("flags") or []),
        "addresses": ipv4_addresses(bridge_link),
        "ports": sorted(ports, key=lambda p: p["name"]),
    }


def parse_host_local(networks):
    """host-local lease files. ``networks``: {network name: {file name: file text}} -> list by network name.

    Each lease file is named after the IP and holds the container id, then (CNI >= 0.7 plugins)
    a line break and the interface name. ``last_reserved_ip.<range>`` and ``lock`` are bookkeeping.
    """
    out = []
    for net, files in sorted(networks.items()):
        allocations = []
        last_reserved = {}
        for fname, text in sorted(files.items()):
            if fname == "lock":
                continue
            if fname.startswith("last_reserved_ip."):
                last_reserved[fname.split(".", 1)[1]] = text.strip()
                continue
            try:
                ip = ipaddress.ip_address(u"%s" % fname)
            except ValueError:
                raise ParseError("host-local dir %s" % net, "unexpected file %r" % fname) from None
            lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
            if not lines:
                raise ParseError("host-local lease %s/%s" % (net, fname), "empty lease file")
            allocations.append({"ip": str(ip), "container_id": lines[0],
                                "ifname": lines[1] if len(lines) > 1 else None})
        out.append({"network": net,
                    "allocations": sorted(allocations, key=lambda a: ipaddress.ip_address(u"%s" % a["ip"])),
                    "last_reserved_ip": last_reserved})
    return out
