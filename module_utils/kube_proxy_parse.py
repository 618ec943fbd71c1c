# -*- coding: utf-8 -*-
# Parsers for what kube-proxy (iptables mode) programs on a node and for the Services and Endpoints the API
# holds. Pure functions: text in, dicts out. Both sides are keyed the way kube-proxy names a Service port in
# its rule comments, "<namespace>/<name>:<port name>", so the oracle compares them key by key.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.flannel_parse import parse_iptables_save
from ansible.module_utils.netfacts_common import ParseError, load_json

SERVICES_CHAIN = "KUBE-SERVICES"
NODEPORTS_CHAIN = "KUBE-NODEPORTS"


def _dport(rule):
    opts = rule.get("match_options") or []
    for i, opt in enumerate(opts):
        if opt == "--dport" and i + 1 < len(opts):
            try:
                return int(opts[i + 1])
            except ValueError:
                return None
    return None


def _port_name(comment):
    """kube-proxy's comments: "ns/name:port cluster IP", "ns/name:port" (the service port's own name)."""
    return (comment or "").split(" ")[0] or None


def _to_destination(rule):
    opts = rule.get("target_options") or []
    for i, opt in enumerate(opts):
        if opt == "--to-destination" and i + 1 < len(opts):
            return opts[i + 1]
    return None


def service_rules(text, source="iptables-save -t nat"):
    """The Service ports kube-proxy's nat rules implement on this node.

    Returns {"present": whether KUBE-SERVICES exists, "services": {port name: {cluster_ip, port, protocol,
    node_port, endpoints}}}; ``endpoints`` are the "ip:port" DNAT targets of the Service chain's endpoint
    chains, sorted. A Service port without endpoints has a REJECT rule in kube-proxy's filter table instead
    and appears here only through its node port, if any.
    """
    if text is not None and not text.strip():
        # a network namespace whose nat table was never loaded prints nothing: no kube-proxy there
        return {"present": False, "services": {}}
    tables = parse_iptables_save(text, source=source)
    nat = tables.get("nat") or tables.get("")
    if nat is None:
        raise ParseError(source, "no nat table in the output")
    by_chain = {}
    for rule in nat["rules"]:
        by_chain.setdefault(rule["chain"], []).append(rule)
    if SERVICES_CHAIN not in nat["chains"]:
        return {"present": False, "services": {}}

    def endpoints_of(svc_chain):
        found = []
        for rule in by_chain.get(svc_chain, []):
            target = rule.get("target") or ""
            if not target.startswith("KUBE-SEP-"):
                continue
            for sep in by_chain.get(target, []):
                if sep.get("target") == "DNAT" and _to_destination(sep):
                    found.append(_to_destination(sep))
        return sorted(set(found))

    services = {}
    for rule in by_chain.get(SERVICES_CHAIN, []):
        target = rule.get("target") or ""
        name = _port_name(rule.get("comment"))
        if not target.startswith("KUBE-SVC-") or not name or rule.get("destination_negated"):
            continue
        dst = rule.get("destination") or ""
        services[name] = {
            "cluster_ip": dst.split("/")[0] or None, "port": _dport(rule), "protocol": rule.get("protocol"),
            "node_port": None, "endpoints": endpoints_of(target),
        }
    for rule in by_chain.get(NODEPORTS_CHAIN, []):
        target = rule.get("target") or ""
        name = _port_name(rule.get("comment"))
        if not target.startswith("KUBE-SVC-") or not name:
            continue
        entry = services.setdefault(name, {"cluster_ip": None, "port": None, "protocol": rule.get("protocol"),
                                           "node_port": None, "endpoints": endpoints_of(target)})
        entry["node_port"] = _dport(rule)
    return {"present": True, "services": services}


def api_services(text, source="kubectl get services,endpoints -o json"):
    """Service ports and their ready endpoints from a List of Services and Endpoints, keyed like kube-proxy."""
    doc = load_json(source, text, dict)
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(source, "no 'items' list")
    endpoints = {}
    for item in items:
        if item.get("kind") != "Endpoints":
            continue
        meta = item.get("metadata") or {}
        key = "%s/%s" % (meta.get("namespace"), meta.get("name"))
        ports = {}
        for subset in item.get("subsets") or []:
            ips = [a.get("ip") for a in subset.get("addresses") or [] if a.get("ip")]
            for port in subset.get("ports") or []:
                ports.setdefault(port.get("name") or "", []).extend("%s:%s" % (ip, port.get("port")) for ip in ips)
        endpoints[key] = ports
    services = {}
    for item in items:
        if item.get("kind") != "Service":
            continue
        meta = item.get("metadata") or {}
        spec = item.get("spec") or {}
        if "name" not in meta:
            raise ParseError(source, "Service without metadata.name")
        key = "%s/%s" % (meta.get("namespace"), meta["name"])
        for port in spec.get("ports") or []:
            pname = port.get("name") or ""
            services["%s:%s" % (key, pname)] = {
                "service": key, "type": spec.get("type"),
                "cluster_ip": spec.get("clusterIP") if spec.get("clusterIP") not in (None, "None") else None,
                "port": port.get("port"), "protocol": (port.get("protocol") or "TCP").lower(),
                "node_port": port.get("nodePort"),
                "endpoints": sorted(set((endpoints.get(key) or {}).get(pname, []))),
            }
    return services
