# -*- coding: utf-8 -*-
# Parsers for crictl's JSON output and /proc namespace links, joined into one view per pod sandbox.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.netfacts_common import (
    ParseError,
    ipv4_addresses,
    load_json,
    load_json_stream,
    require,
)

NAMESPACES = ("net", "ipc", "uts", "pid", "mnt")
NS_LINK = re.compile(r"^([a-z_]+):\[(\d+)\]$")


def parse_ns_link(text):
    """'net:[4026532216]' -> ('net', 4026532216)."""
    match = NS_LINK.match(text or "")
    if not match:
        raise ValueError("not a namespace link: %r" % (text,))
    return match.group(1), int(match.group(2))


def read_proc_raw(proc_root="/proc", pids=None):
    """Raw /proc view: pid -> {'comm': text, 'ns': {name: readlink text}}; vanished pids are skipped.

    One pass over /proc, readlink only: cheap enough for thousands of processes.
    """
    import os
    raw = {}
    names = pids if pids is not None else [d for d in os.listdir(proc_root) if d.isdigit()]
    for name in names:
        base = os.path.join(proc_root, str(name))
        try:
            with open(os.path.join(base, "comm")) as handle:
                comm = handle.read()
            links = dict((ns, os.readlink(os.path.join(base, "ns", ns))) for ns in NAMESPACES)
        except (IOError, OSError):
            continue
        raw[str(name)] = {"comm": comm, "ns": links}
    return raw


def parse_processes(raw, source="/proc"):
    """Turn read_proc_raw() output into pid -> {'comm': str, 'ns': {name: inode}}."""
    out = {}
    for pid, entry in raw.items():
        try:
            ns = {}
            for name, link in (entry.get("ns") or {}).items():
                kind, inode = parse_ns_link(link)
                ns[name] = inode
            out[int(pid)] = {"comm": (entry.get("comm") or "").strip(), "ns": ns}
        except (ValueError, AttributeError) as exc:
            raise ParseError(source, "pid %s: %s" % (pid, exc)) from exc
    return out


def parse_pods(text, source="crictl pods -o json"):
    doc = load_json(source, text, dict)
    items = doc.get("items")
    if items is None:
        # crictl prints {"items": null} on some versions when there are no pods
        items = [] if "items" in doc else None
    if not isinstance(items, list):
        raise ParseError(source, "no 'items' list")
    pods = []
    for item in items:
        meta = require(source, item, "metadata", dict)
        pods.append({
            "id": require(source, item, "id"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "attempt": int(meta.get("attempt") or 0),
            "state": item.get("state"),
            "runtime_handler": item.get("runtimeHandler") or "",
        })
    return pods


def parse_containers(text, source="crictl ps -o json"):
    doc = load_json(source, text, dict)
    items = doc.get("containers")
    if items is None and "containers" in doc:
        items = []
    if not isinstance(items, list):
        raise ParseError(source, "no 'containers' list")
    out = []
    for item in items:
        meta = require(source, item, "metadata", dict)
        out.append({
            "id": require(source, item, "id"),
            "pod_id": require(source, item, "podSandboxId"),
            "name": meta.get("name"),
            "attempt": int(meta.get("attempt") or 0),
            "state": item.get("state"),
            "image": (item.get("image") or {}).get("image"),
        })
    return out


def parse_inspectp(text, source="crictl inspectp -o json"):
    """id -> {ip, additional_ips, pid, namespace_options} for a stream of inspectp documents."""
    out = {}
    for doc in load_json_stream(source, text):
        status = require(source, doc, "status", dict)
        info = doc.get("info") or {}
        sid = require(source, status, "id")
        network = status.get("network") or {}
        options = ((status.get("linux") or {}).get("namespaces") or {}).get("options") or {}
        out[sid] = {
            "ip": network.get("ip") or None,
            "additional_ips": [a.get("ip") for a in network.get("additionalIps") or [] if a.get("ip")],
            "pid": info.get("pid") or None,
            "namespace_options": {
                # CRI NamespaceMode names; an absent field is the zero value POD
                "network": options.get("network", "POD"),
                "pid": options.get("pid", "POD"),
                "ipc": options.get("ipc", "POD"),
            },
        }
    return out


def parse_inspect(text, source="crictl inspect -o json"):
    """container id -> {pid, pod_id} for a stream of inspect documents."""
    out = {}
    for doc in load_json_stream(source, text):
        status = require(source, doc, "status", dict)
        info = doc.get("info") or {}
        cid = require(source, status, "id")
        out[cid] = {"pid": info.get("pid") or None, "pod_id": info.get("sandboxID")}
    return out


def parse_pod_interfaces(text, source="ip -d -j addr show (pod netns)"):
    """The interfaces of a pod's network namespace (lo, eth0) from ``ip -d -j addr show`` run inside it."""
    out = []
    for link in load_json(source, text, list):
        if not isinstance(link, dict) or "ifname" not in link:
            raise ParseError(source, "entry without ifname: %r" % (link,))
        out.append({
            "name": link["ifname"],
            "mtu": link.get("mtu"),
            "up": "UP" in (link.get("flags") or []),
            "kind": (link.get("linkinfo") or {}).get("info_kind"),
            "addresses": ipv4_addresses(link),
        })
    return out


def _shares(a, b):
    return dict((ns, (a.get(ns) is not None and a.get(ns) == b.get(ns))) for ns in NAMESPACES)


def build_sandboxes(pods, containers, pod_details, container_details, processes, pause_commands):
    """Join crictl's view with the process table.

    ``processes``: pid -> {'comm': str, 'ns': {net: inode, ...}} as read from /proc.
    A pod's pause processes are the processes running one of ``pause_commands`` whose net and
    ipc namespaces are the pod's: more than one means a leaked or duplicated infra container.
    """
    by_pair = {}
    for pid, proc in processes.items():
        if proc.get("comm") in pause_commands:
            key = (proc["ns"].get("net"), proc["ns"].get("ipc"))
            by_pair.setdefault(key, []).append(pid)
    by_pod = {}
    for ctr in containers:
        by_pod.setdefault(ctr["pod_id"], []).append(ctr)
    result = []
    for pod in pods:
        detail = pod_details.get(pod["id"], {})
        pid = detail.get("pid")
        proc = processes.get(pid) if pid else None
        ns = dict(proc["ns"]) if proc else {}
        options = detail.get("namespace_options") or {"network": "POD", "pid": "POD", "ipc": "POD"}
        pauses = sorted(by_pair.get((ns.get("net"), ns.get("ipc")), [])) if proc else []
        entry = dict(pod)
        entry.update({
            "ip": detail.get("ip"),
            "additional_ips": detail.get("additional_ips", []),
            "pid": pid,
            "pid_alive": proc is not None,
            "command": proc.get("comm") if proc else None,
            "namespaces": ns,
            "namespace_options": options,
            "pause_processes": pauses,
            "containers": [],
        })
        for ctr in by_pod.get(pod["id"], []):
            cpid = (container_details.get(ctr["id"]) or {}).get("pid")
            cproc = processes.get(cpid) if cpid else None
            cns = dict(cproc["ns"]) if cproc else {}
            centry = dict(ctr)
            centry.update({
                "pid": cpid,
                "pid_alive": cproc is not None,
                "command": cproc.get("comm") if cproc else None,
                "namespaces": cns,
                "shares": _shares(cns, ns) if cproc and proc else dict((n, None) for n in NAMESPACES),
            })
            entry["containers"].append(centry)
        result.append(entry)
    return result
