# -*- coding: utf-8 -*-
# Parsers for the state flannel's vxlan backend leaves on a node. Pure functions: text in, dicts out.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re
import shlex

from ansible.module_utils.netfacts_common import (
    ParseError,
    ipv4_addresses,
    links_by_name,
    load_json,
    normalise_cidr,
)

VTEP_NAME = re.compile(r"^flannel\.(\d+)$")
SUBNET_ENV_KEYS = ("FLANNEL_NETWORK", "FLANNEL_SUBNET", "FLANNEL_MTU", "FLANNEL_IPMASQ")
ANNOTATION_PREFIX = "flannel.alpha.coreos.com/"


def parse_subnet_env(text, source="subnet.env"):
    """Parse flanneld's subnet file (KEY=VALUE lines) into network/subnet/mtu/ipmasq."""
    if text is None or not text.strip():
        raise ParseError(source, "file is empty")
    raw = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ParseError(source, "line %d is not KEY=VALUE: %r" % (lineno, line))
        key, value = line.split("=", 1)
        raw[key.strip()] = value.strip().strip('"')
    missing = [key for key in SUBNET_ENV_KEYS if key not in raw]
    if missing:
        raise ParseError(source, "missing %s" % ", ".join(missing))
    try:
        network = ipaddress.ip_network(u"%s" % raw["FLANNEL_NETWORK"], strict=True)
        lease = ipaddress.ip_interface(u"%s" % raw["FLANNEL_SUBNET"])
    except ValueError as exc:
        raise ParseError(source, "bad address: %s" % exc) from exc
    try:
        mtu = int(raw["FLANNEL_MTU"])
    except ValueError:
        raise ParseError(source, "FLANNEL_MTU is not a number: %r" % raw["FLANNEL_MTU"]) from None
    ipmasq = raw["FLANNEL_IPMASQ"].lower()
    if ipmasq not in ("true", "false"):
        raise ParseError(source, "FLANNEL_IPMASQ is not true/false: %r" % raw["FLANNEL_IPMASQ"])
    return {
        "network": network.with_prefixlen,
        "subnet": lease.network.with_prefixlen,
        "subnet_address": lease.with_prefixlen,
        "mtu": mtu,
        "ipmasq": ipmasq == "true",
        "raw": raw,
    }


def _check_links(source, links):
    for link in links:
        if not isinstance(link, dict) or "ifname" not in link:
            raise ParseError(source, "entry without ifname: %r" % (link,))


def find_vteps(links):
    """Names of flannel vxlan devices (flannel.<VNI>) in ``ip -d -j addr/link`` output, sorted."""
    names = []
    for link in links:
        name = link.get("ifname", "")
        if VTEP_NAME.match(name) and (link.get("linkinfo") or {}).get("info_kind") == "vxlan":
            names.append(name)
    return sorted(names, key=lambda n: int(VTEP_NAME.match(n).group(1)))


def parse_vtep(text, vni=None, source="ip -d -j addr show"):
    """Describe flannel's VTEP from ``ip -d -j addr show`` output.

    Returns ``{'present': False, ...}`` when no flannel.<VNI> vxlan device exists.
    """
    links = load_json(source, text, list)
    _check_links(source, links)
    by_name = links_by_name(links)
    if vni is not None:
        wanted = "flannel.%d" % int(vni)
        candidates = [wanted] if wanted in find_vteps(links) else []
    else:
        candidates = find_vteps(links)
    if not candidates:
        return {"present": False, "name": None, "others": []}
    name = candidates[0]
    link = by_name[name]
    data = (link.get("linkinfo") or {}).get("info_data") or {}
    if "id" not in data:
        raise ParseError(source, "%s has no vxlan info_data (was -d given?)" % name)
    underlay_name = data.get("link")
    underlay = by_name.get(underlay_name) if underlay_name else None
    return {
        "present": True,
        "name": name,
        "vni": int(data["id"]),
        "local": data.get("local"),
        "dev": underlay_name,
        # the kernel reports the port in use: flannel's Port 0 leaves the Linux default, 8472
        "dstport": int(data.get("port", 0)),
        "learning": bool(data.get("learning", True)),
        "mtu": link.get("mtu"),
        "mac": link.get("address"),
        "operstate": link.get("operstate"),
        "up": "UP" in (link.get("flags") or []),
        "addresses": ipv4_addresses(link),
        "underlay_mtu": underlay.get("mtu") if underlay else None,
        "underlay_addresses": ipv4_addresses(underlay) if underlay else [],
        "others": candidates[1:],
    }


def parse_routes(text, dev, source="ip -j route show"):
    """Routes whose output device is ``dev``: dst, gateway, onlink."""
    routes = load_json(source, text, list)
    out = []
    for route in routes:
        if not isinstance(route, dict) or "dst" not in route:
            raise ParseError(source, "route without dst: %r" % (route,))
        if route.get("dev") != dev:
            continue
        dst = route["dst"]
        if dst != "default" and "/" not in dst:
            dst = dst + ("/128" if ":" in dst else "/32")
        out.append({
            "dst": dst,
            "gateway": route.get("gateway"),
            "dev": dev,
            "onlink": "onlink" in (route.get("flags") or []),
        })
    return out


def parse_fdb(text, source="bridge -j fdb show"):
    """FDB entries of the VTEP: remote VTEP MAC -> remote underlay IP."""
    entries = load_json(source, text, list)
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or "mac" not in entry:
            raise ParseError(source, "entry without mac: %r" % (entry,))
        state = entry.get("state", "")
        out.append({
            "mac": entry["mac"].lower(),
            "dst": entry.get("dst"),
            "state": state if isinstance(state, str) else ",".join(state),
            "flags": list(entry.get("flags") or []),
        })
    return out


def parse_neighbours(text, source="ip -j neigh show"):
    entries = load_json(source, text, list)
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or "dst" not in entry:
            raise ParseError(source, "entry without dst: %r" % (entry,))
        out.append({
            "dst": entry["dst"],
            "lladdr": (entry.get("lladdr") or "").lower() or None,
            "state": [s.upper() for s in (entry.get("state") or [])],
        })
    return out


# ----------------------------------------------------------------------------------- iptables

def _parse_rule(tokens, source, line):
    rule = {
        "chain": None, "source": None, "source_negated": False, "destination": None,
        "destination_negated": False, "in_interface": None, "out_interface": None, "protocol": None,
        "target": None, "target_options": [], "comment": None, "matches": [], "match_options": [],
        "rule": line,
    }
    negate = False
    i = 0
    n = len(tokens)

    def value():
        if i + 1 >= n:
            raise ParseError(source, "option %s without value in %r" % (tokens[i], line))
        return tokens[i + 1]

    while i < n:
        tok = tokens[i]
        if tok == "!":
            negate = True
            i += 1
            continue
        if tok in ("-A", "--append"):
            rule["chain"] = value()
            i += 2
        elif tok in ("-s", "--source"):
            rule["source"], rule["source_negated"] = normalise_cidr(value()), negate
            i += 2
        elif tok in ("-d", "--destination"):
            rule["destination"], rule["destination_negated"] = normalise_cidr(value()), negate
            i += 2
        elif tok in ("-i", "--in-interface"):
            rule["in_interface"] = ("!" if negate else "") + value()
            i += 2
        elif tok in ("-o", "--out-interface"):
            rule["out_interface"] = ("!" if negate else "") + value()
            i += 2
        elif tok in ("-p", "--protocol"):
            rule["protocol"] = ("!" if negate else "") + value()
            i += 2
        elif tok in ("-m", "--match"):
            rule["matches"].append(value())
            i += 2
        elif tok == "--comment":
            rule["comment"] = value()
            i += 2
        elif tok in ("-j", "--jump", "-g", "--goto"):
            rule["target"] = value()
            rule["target_options"] = tokens[i + 2:]
            break
        else:
            # match-module options (--mark 0x4000/0x4000, --dport 53 ...): keep them verbatim
            rule["match_options"].append(("! " if negate else "") + tok)
            i += 1
            continue
        negate = False
    if rule["chain"] is None:
        raise ParseError(source, "rule without chain: %r" % line)
    return rule


def parse_iptables_save(text, source="iptables-save"):
    """Parse iptables-save (or ``iptables -S``) text into {table: {'chains': {...}, 'rules': [...]}}.

    ``iptables -S`` output has no ``*table`` header; its rules land under the table name ``''``.
    """
    if text is None or not text.strip():
        raise ParseError(source, "empty output")
    tables = {}
    table = None
    committed = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:]
            tables[table] = {"chains": {}, "rules": []}
            continue
        if line == "COMMIT":
            if table is None:
                raise ParseError(source, "COMMIT outside a table at line %d" % lineno)
            committed.add(table)
            table = None
            continue
        current = table
        if current is None:
            if tables and "" not in tables:
                raise ParseError(source, "line %d outside a table: %r" % (lineno, line))
            current = ""
            tables.setdefault("", {"chains": {}, "rules": []})
        if line.startswith(":"):
            parts = line[1:].split()
            if len(parts) < 2:
                raise ParseError(source, "bad chain line %d: %r" % (lineno, line))
            tables[current]["chains"][parts[0]] = parts[1]
        elif line.startswith("-P ") or line.startswith("-N "):
            parts = line.split()
            tables[current]["chains"][parts[1]] = parts[2] if len(parts) > 2 else "-"
        elif line.startswith("-A "):
            try:
                tokens = shlex.split(line)
            except ValueError as exc:
                raise ParseError(source, "cannot split line %d (%s): %r" % (lineno, exc, line)) from exc
            try:
                tables[current]["rules"].append(_parse_rule(tokens, source, line))
            except ValueError as exc:
                raise ParseError(source, "bad address on line %d (%s): %r" % (lineno, exc, line)) from exc
        else:
            raise ParseError(source, "unrecognised line %d: %r" % (lineno, line))
    if table is not None:
        raise ParseError(source, "table %s has no COMMIT (truncated output?)" % table)
    return tables


def _chain_rules(table, chain):
    return [r for r in table.get("rules", []) if r["chain"] == chain]


def _mentions(rule, networks):
    return any(rule[k] in networks for k in ("source", "destination"))


def flannel_iptables(nat, filt, network=None, subnet=None):
    """Pick flannel's rules out of parsed nat and filter tables.

    Knows both layouts: v0.16 (rules straight in POSTROUTING/FORWARD) and newer flannel
    (FLANNEL-POSTRTG/FLANNEL-FWD chains jumped to from POSTROUTING/FORWARD).
    In the v0.16 layout only rules naming the cluster network (or this node's subnet) are kept
    when ``network`` is known, because POSTROUTING also holds kube-proxy's and others' rules.
    """
    networks = set(n for n in (network, subnet) if n)
    result = {}
    for kind, table, base, own in (("masquerade", nat, "POSTROUTING", "FLANNEL-POSTRTG"),
                                   ("forward", filt, "FORWARD", "FLANNEL-FWD")):
        base_rules = _chain_rules(table, base)
        jumps = any(r["target"] == own for r in base_rules)
        if own in table.get("chains", {}):
            rules = _chain_rules(table, own)
            chain = own
        else:
            rules = [r for r in base_rules if not networks or _mentions(r, networks)]
            chain = base
        result[kind] = {"chain": chain, "jump_from_base": jumps if chain == own else None,
                        "rules": rules}
    own_chains = [result[k]["chain"] for k in ("masquerade", "forward")]
    if "FLANNEL-POSTRTG" in own_chains or "FLANNEL-FWD" in own_chains:
        layout = "chains"
    elif result["masquerade"]["rules"] or result["forward"]["rules"]:
        layout = "v0.16" if networks else "unknown"
    else:
        layout = "none"
    result["layout"] = layout
    return result


# ----------------------------------------------------------------------------------- kubectl

def parse_nodes(text, source="kubectl get nodes -o json"):
    """Each node's podCIDR(s), InternalIP and flannel annotations from a NodeList."""
    doc = load_json(source, text, dict)
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(source, "no 'items' list (is this a NodeList?)")
    nodes = []
    for item in items:
        meta = item.get("metadata") or {}
        if "name" not in meta:
            raise ParseError(source, "node without metadata.name")
        ann = meta.get("annotations") or {}
        spec = item.get("spec") or {}
        backend_raw = ann.get(ANNOTATION_PREFIX + "backend-data")
        backend = {}
        if backend_raw:
            try:
                backend = json.loads(backend_raw)
            except ValueError:
                raise ParseError(source, "node %s: backend-data annotation is not JSON: %r"
                                 % (meta["name"], backend_raw)) from None
        addresses = (item.get("status") or {}).get("addresses") or []
        internal = [a.get("address") for a in addresses if a.get("type") == "InternalIP"]
        nodes.append({
            "name": meta["name"],
            "pod_cidr": spec.get("podCIDR"),
            "pod_cidrs": list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])),
            "internal_ip": internal[0] if internal else None,
            "backend_type": ann.get(ANNOTATION_PREFIX + "backend-type"),
            "public_ip": ann.get(ANNOTATION_PREFIX + "public-ip"),
            "vtep_mac": (backend.get("VtepMAC") or "").lower() or None,
            "vni": backend.get("VNI"),
            "kube_subnet_manager": ann.get(ANNOTATION_PREFIX + "kube-subnet-manager") == "true",
        })
    return nodes


def parse_etcd_leases(listing, values, source="etcdctl"):
    """flannel's leases from its etcd v2 subnet manager, shaped like parse_nodes' entries.

    ``listing``: ``etcdctl ls <prefix>/subnets`` output (one key per line, ``.../subnets/172.16.1.0-24``);
    ``values``: key -> ``etcdctl get <key>`` output (the lease's JSON: PublicIP, BackendType, BackendData).
    A lease has no node name: ``name`` is None and the node is found by ``public_ip``.
    """
    leases = []
    for key in (listing or "").split():
        network = key.rsplit("/", 1)[-1]
        if "-" not in network:
            raise ParseError(source, "lease key %r is not <network>-<prefix>" % key)
        address, prefix = network.rsplit("-", 1)
        try:
            cidr = ipaddress.ip_network(u"%s/%s" % (address, prefix), strict=True).with_prefixlen
        except ValueError as exc:
            raise ParseError(source, "lease key %r: %s" % (key, exc)) from exc
        data = load_json("%s get %s" % (source, key), values.get(key), dict)
        backend = data.get("BackendData") or {}
        leases.append({
            "name": None,
            "pod_cidr": cidr,
            "pod_cidrs": [cidr],
            "internal_ip": None,
            "backend_type": data.get("BackendType"),
            "public_ip": data.get("PublicIP"),
            "vtep_mac": (backend.get("VtepMAC") or "").lower() or None,
            "vni": backend.get("VNI"),
            "kube_subnet_manager": False,
        })
    return leases
