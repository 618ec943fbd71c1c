#!/usr/bin/python
# -*- coding: utf-8 -*-
# Gathers the state flannel's vxlan backend leaves on a node. Parsing lives in module_utils/flannel_parse.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: flannel_facts
short_description: Gather flannel (vxlan backend) state of a node as facts
description:
  - Reads C(/run/flannel/subnet.env), the VTEP device C(flannel.<VNI>) (C(ip -d -j addr show)), the routes
    through it (C(ip -j route show)), its FDB and neighbour entries (C(bridge -j fdb show dev),
    C(ip -j neigh show dev)),
    and the iptables rules flannel owns (C(iptables-save -t nat) and C(-t filter), one call per table and backend;
    with both C(iptables-nft-save) and C(iptables-legacy-save) present both are read, since a flannel image may
    write through the other backend than the host's C(iptables); legacy tables are read only when
    C(/proc/net/ip_tables_names) lists them, because reading a legacy table creates it).
  - Recognises both iptables layouts, flannel v0.16 (rules directly in nat C(POSTROUTING) and filter C(FORWARD))
    and newer flannel (C(FLANNEL-POSTRTG) and C(FLANNEL-FWD) chains).
  - With O(kubeconfig), also reads every node's podCIDR and flannel annotations with one C(kubectl get nodes -o json).
  - With O(etcd_prefix) and C(etcdctl) on the host, also reads the leases of flannel's etcd (v2 API) subnet manager
    (C(etcdctl ls <prefix>/subnets), then C(etcdctl get) per lease), shaped like the Node entries.
  - A host without a flannel VTEP and without a subnet file is not an error, it gets
    RV(ansible_facts.flannel.present=false).
  - Malformed or empty command output fails the module, naming the command and what was wrong.
  - Every command runs with C(LC_ALL=C); nothing on the host is changed.
version_added: "1.0.0"
author:
  - kubeadm-flannel project
options:
  subnet_file:
    description: Path of the subnet file flanneld writes.
    type: path
    default: /run/flannel/subnet.env
  vni:
    description:
      - VXLAN network identifier; the VTEP is C(flannel.<vni>).
      - When omitted, the lowest-numbered C(flannel.N) vxlan device is used.
    type: int
  kubeconfig:
    description:
      - Kubeconfig to read Node objects with. When omitted, or when the file does not exist,
        RV(ansible_facts.flannel.nodes)
        is empty and no C(kubectl) call is made.
    type: path
  kubectl:
    description: kubectl binary (name looked up in PATH and /usr/local/bin, or a path).
    type: str
    default: kubectl
  etcd_prefix:
    description:
      - Key prefix of flannel's etcd subnet manager (C(/coreos.com/network)). When omitted, or when O(etcdctl)
        is not on the host, no etcd lease is read.
    type: str
  etcdctl:
    description: etcdctl binary (name or path), spoken to with C(ETCDCTL_API=2) at its default endpoint.
    type: str
    default: etcdctl
  iptables:
    description: Whether to read flannel's iptables rules.
    type: bool
    default: true
requirements:
  - iproute2 with JSON output (C(ip -j), C(bridge -j))
  - iptables-save, or iptables-nft-save/iptables-legacy-save (when O(iptables=true))
  - kubectl (only with O(kubeconfig))
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
notes:
  - In the v0.16 layout flannel's rules share C(POSTROUTING)/C(FORWARD) with other software; only rules naming the
    flannel network or this node's subnet (from the subnet file) are reported.
"""

EXAMPLES = r"""
- name: Gather flannel facts
  flannel_facts:

- name: Gather flannel facts including every node's podCIDR and VtepMAC
  flannel_facts:
    kubeconfig: /etc/kubernetes/admin.conf

- name: Show this node's lease
  ansible.builtin.debug:
    msg: "{{ ansible_facts.flannel.subnet_env.subnet }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to ansible_facts.
  returned: always
  type: complex
  contains:
    flannel:
      description: Flannel state of this node.
      returned: always
      type: complex
      contains:
        present:
          description: True when a flannel VTEP or the subnet file exists on this node.
          returned: always
          type: bool
          sample: true
        subnet_env:
          description: Contents of the subnet file.
          returned: always
          type: complex
          contains:
            present:
              description: Whether the subnet file exists.
              returned: always
              type: bool
              sample: true
            path:
              description: Path that was read.
              returned: always
              type: str
              sample: /run/flannel/subnet.env
            network:
              description: FLANNEL_NETWORK, the cluster CIDR.
              returned: when present
              type: str
              sample: 172.16.0.0/16
            subnet:
              description: This node's lease as a network (FLANNEL_SUBNET without host bits).
              returned: when present
              type: str
              sample: 172.16.0.0/24
            subnet_address:
              description: FLANNEL_SUBNET as written (first address of the lease, with prefix).
              returned: when present
              type: str
              sample: 172.16.0.1/24
            mtu:
              description: FLANNEL_MTU.
              returned: when present
              type: int
              sample: 1450
            ipmasq:
              description: FLANNEL_IPMASQ.
              returned: when present
              type: bool
              sample: true
            raw:
              description: Every KEY=VALUE pair of the file.
              returned: when present
              type: dict
              sample: {"FLANNEL_MTU": "1450"}
        vtep:
          description: The VXLAN tunnel endpoint device.
          returned: always
          type: complex
          contains:
            present:
              description: Whether a flannel.N vxlan device exists.
              returned: always
              type: bool
              sample: true
            name:
              description: Device name, null when absent.
              returned: always
              type: str
              sample: flannel.1
            others:
              description: Further flannel.N vxlan devices (normally none).
              returned: always
              type: list
              elements: str
              sample: []
            vni:
              description: VXLAN id.
              returned: when present
              type: int
              sample: 1
            local:
              description: Local (source) IP of the tunnel; must be the cluster interface's address.
              returned: when present
              type: str
              sample: 192.168.100.10
            dev:
              description: Underlay device the tunnel is bound to.
              returned: when present
              type: str
              sample: enp0s8
            dstport:
              description: UDP destination port.
              returned: when present
              type: int
              sample: 8472
            learning:
              description: Whether MAC learning is on (flannel turns it off).
              returned: when present
              type: bool
              sample: false
            mtu:
              description: MTU of the VTEP.
              returned: when present
              type: int
              sample: 1450
            mac:
              description: MAC address of the VTEP (the node's VtepMAC).
              returned: when present
              type: str
              sample: a2:12:b0:b8:25:7c
            operstate:
              description: Kernel operstate (UNKNOWN is normal for vxlan).
              returned: when present
              type: str
              sample: UNKNOWN
            up:
              description: Whether the UP flag is set.
              returned: when present
              type: bool
              sample: true
            addresses:
              description: IPv4 addresses of the VTEP in CIDR form.
              returned: when present
              type: list
              elements: str
              sample: ["172.16.0.0/32"]
            underlay_mtu:
              description: MTU of the underlay device.
              returned: when present
              type: int
              sample: 1500
            underlay_addresses:
              description: IPv4 addresses of the underlay device.
              returned: when present
              type: list
              elements: str
              sample: ["192.168.100.10/24"]
        routes:
          description: Routes in the main table whose device is the VTEP.
          returned: always
          type: list
          elements: dict
          contains:
            dst:
              description: Destination network.
              type: str
              sample: 172.16.1.0/24
            gateway:
              description: Next hop (flannel uses the remote subnet's network address).
              type: str
              sample: 172.16.1.0
            dev:
              description: Output device.
              type: str
              sample: flannel.1
            onlink:
              description: Whether the route carries the onlink flag.
              type: bool
              sample: true
        fdb:
          description: Forwarding database entries of the VTEP.
          returned: always
          type: list
          elements: dict
          contains:
            mac:
              description: Remote VTEP MAC (lower case).
              type: str
              sample: 42:7b:d8:d5:f7:8c
            dst:
              description: Remote underlay IP the MAC is reached at.
              type: str
              sample: 192.168.100.101
            state:
              description: Entry state (permanent for flannel's entries).
              type: str
              sample: permanent
            flags:
              description: Entry flags as printed by bridge.
              type: list
              elements: str
              sample: ["self"]
        neighbours:
          description: Neighbour (ARP) entries on the VTEP.
          returned: always
          type: list
          elements: dict
          contains:
            dst:
              description: Remote VTEP address (the remote subnet's network address).
              type: str
              sample: 172.16.1.0
            lladdr:
              description: Remote VTEP MAC, null for incomplete entries.
              type: str
              sample: 42:7b:d8:d5:f7:8c
            state:
              description: NUD states, upper case.
              type: list
              elements: str
              sample: ["PERMANENT"]
        iptables:
          description: Flannel's iptables rules.
          returned: always
          type: complex
          contains:
            available:
              description: False when iptables-save is missing or O(iptables=false); the other keys are then absent.
              returned: always
              type: bool
              sample: true
            layout:
              description: C(v0.16) (rules in POSTROUTING/FORWARD), C(chains) (FLANNEL-POSTRTG/FLANNEL-FWD), C(none),
                or C(unknown) (rules found but no network known to tell flannel's apart).
              returned: when available
              type: str
              sample: v0.16
            backend:
              description: Backend the reported rules come from; C(nft) and C(legacy) when both C(iptables-nft-save) and
                C(iptables-legacy-save) exist (the one holding flannel's rules wins), else C(default)
                (C(iptables-save)).
              returned: when available
              type: str
              sample: legacy
            backends:
              description: Every backend read.
              returned: when available
              type: list
              elements: dict
              contains:
                name:
                  description: C(nft), C(legacy) or C(default).
                  type: str
                layout:
                  description: Layout found in that backend, null when it could not be read.
                  type: str
                rules:
                  description: Number of flannel rules found in that backend.
                  type: int
                error:
                  description: Why the backend could not be read, else null.
                  type: str
            masquerade:
              description: nat rules flannel owns.
              returned: when available
              type: complex
              contains:
                chain:
                  description: Chain the rules were read from.
                  type: str
                  sample: POSTROUTING
                jump_from_base:
                  description: For the chains layout, whether POSTROUTING jumps to FLANNEL-POSTRTG; null otherwise.
                  type: bool
                  sample: null
                rules:
                  description: Parsed rules, in chain order.
                  type: list
                  elements: dict
                  contains:
                    chain:
                      description: Chain of the rule.
                      type: str
                    source:
                      description: C(-s) network (CIDR), null when absent.
                      type: str
                    source_negated:
                      description: Whether C(-s) is negated.
                      type: bool
                    destination:
                      description: C(-d) network (CIDR), null when absent.
                      type: str
                    destination_negated:
                      description: Whether C(-d) is negated.
                      type: bool
                    in_interface:
                      description: C(-i) value, prefixed with ! when negated.
                      type: str
                    out_interface:
                      description: C(-o) value, prefixed with ! when negated.
                      type: str
                    protocol:
                      description: C(-p) value.
                      type: str
                    target:
                      description: Jump target.
                      type: str
                    target_options:
                      description: Words after the target (for example --random-fully).
                      type: list
                      elements: str
                    comment:
                      description: Comment match text.
                      type: str
                    matches:
                      description: Match modules (-m).
                      type: list
                      elements: str
                    match_options:
                      description: Other match options, word by word.
                      type: list
                      elements: str
                    rule:
                      description: The rule as printed by iptables-save.
                      type: str
            forward:
              description: filter rules flannel owns; same keys as RV(ansible_facts.flannel.iptables.masquerade).
              returned: when available
              type: dict
        nodes_read:
          description: Where RV(ansible_facts.flannel.nodes) came from on this host, C(kubernetes) (Node objects
            through O(kubeconfig)) and/or C(etcd) (leases under O(etcd_prefix)); empty when it read neither.
          returned: always
          type: list
          elements: str
          sample: ["kubernetes"]
        nodes_unread:
          description: Why each source of RV(ansible_facts.flannel.nodes) that was not read was not.
          returned: always
          type: list
          elements: str
          sample: ["etcd: no etcd_prefix given"]
        nodes:
          description:
            - Node objects as flannel sees them (with O(kubeconfig)), then the leases of its etcd subnet manager
              (with O(etcd_prefix)); empty without either.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Node name; null for an etcd lease.
              type: str
              sample: k8s-w1
            pod_cidr:
              description: spec.podCIDR.
              type: str
              sample: 172.16.1.0/24
            pod_cidrs:
              description: spec.podCIDRs.
              type: list
              elements: str
            internal_ip:
              description: First InternalIP address of the node.
              type: str
              sample: 192.168.100.101
            backend_type:
              description: Annotation flannel.alpha.coreos.com/backend-type.
              type: str
              sample: vxlan
            public_ip:
              description: Annotation flannel.alpha.coreos.com/public-ip.
              type: str
              sample: 192.168.100.101
            vtep_mac:
              description: VtepMAC from the backend-data annotation (lower case).
              type: str
              sample: 42:7b:d8:d5:f7:8c
            vni:
              description: VNI from the backend-data annotation.
              type: int
              sample: 1
            kube_subnet_manager:
              description: Whether annotation kube-subnet-manager is "true".
              type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.netfacts_module import exit_with_facts, run_checked
from ansible.module_utils.netfacts_common import ParseError
from ansible.module_utils.flannel_parse import (
    flannel_iptables,
    parse_fdb,
    parse_iptables_save,
    parse_neighbours,
    parse_nodes,
    parse_routes,
    parse_etcd_leases,
    parse_subnet_env,
    parse_vtep,
)




def legacy_tables_loaded(path="/proc/net/ip_tables_names"):
    """Legacy (x_tables) tables that exist in this network namespace.

    iptables-legacy-save -t <table> creates the table it reads, so a table that is not loaded is
    taken as empty instead of being read: gathering facts must not change the host.
    """
    try:
        with open(path) as handle:
            return set(handle.read().split())
    except (IOError, OSError):
        return set()


def read_backend(module, save, only=None):
    """nat and filter of one iptables backend, parsed; (tables, None) or (None, error text).

    ``only``: the tables that may be read; the others are reported empty without running anything.
    """
    tables = {}
    for table in ("nat", "filter"):
        if only is not None and table not in only:
            tables[table] = {"chains": {}, "rules": []}
            continue
        cmd = [save, "-t", table]
        rc, out, err = module.run_command(cmd, environ_update={"LC_ALL": "C", "LANG": "C"})
        if rc != 0:
            return None, "%s failed (rc=%s): %s" % (" ".join(cmd), rc, (err or out).strip())
        parsed = parse_iptables_save(out, source=" ".join(cmd))
        if table not in parsed:
            raise ParseError(" ".join(cmd), "no *%s table in the output" % table)
        tables[table] = parsed[table]
    return tables, None


def gather_iptables(module, subnet_env):
    """flannel's rules from whichever iptables backend holds them.

    iptables-save shows one backend only; a flannel image writing through iptables-legacy on an nft
    host (or the reverse) would look rule-less. So both backends are read when both tools exist
    (legacy tables only if they are loaded, see legacy_tables_loaded).
    """
    backends = [(name, module.get_bin_path("iptables-%s-save" % name)) for name in ("nft", "legacy")]
    backends = [(name, path) for name, path in backends if path]
    if not backends:
        path = module.get_bin_path("iptables-save")
        backends = [("default", path)] if path else []
    if not backends:
        return {"available": False}
    seen = []
    best = None
    for name, path in backends:
        tables, error = read_backend(module, path, legacy_tables_loaded() if name == "legacy" else None)
        if error is not None:
            if len(backends) == 1:
                module.fail_json(msg=error)
            seen.append({"name": name, "error": error, "layout": None, "rules": 0})
            continue
        result = flannel_iptables(tables["nat"], tables["filter"],
                                  network=subnet_env.get("network"), subnet=subnet_env.get("subnet"))
        count = len(result["masquerade"]["rules"]) + len(result["forward"]["rules"])
        seen.append({"name": name, "error": None, "layout": result["layout"], "rules": count})
        if best is None or (result["layout"] != "none" and count > best[2]):
            best = (name, result, count if result["layout"] != "none" else -1)
    if best is None:
        module.fail_json(msg="no iptables backend could be read: %s" % "; ".join(b["error"] for b in seen))
    iptables = best[1]
    iptables.update(available=True, backend=best[0], backends=seen)
    return iptables


def gather(module):
    params = module.params
    ip = module.get_bin_path("ip", required=True)
    facts = {"present": False, "routes": [], "fdb": [], "neighbours": [], "nodes": []}

    path = params["subnet_file"]
    subnet_env = {"present": False, "path": path}
    if os.path.exists(path):
        with open(path, "rb") as handle:
            subnet_env.update(parse_subnet_env(handle.read().decode("utf-8", "replace"), source=path))
        subnet_env["present"] = True
    facts["subnet_env"] = subnet_env

    cmd = [ip, "-d", "-j", "addr", "show"]
    vtep = parse_vtep(run_checked(module, cmd), vni=params["vni"], source=" ".join(cmd))
    facts["vtep"] = vtep
    facts["present"] = vtep["present"] or subnet_env["present"]

    if vtep["present"]:
        cmd = [ip, "-j", "route", "show"]
        facts["routes"] = parse_routes(run_checked(module, cmd), vtep["name"], source=" ".join(cmd))
        bridge = module.get_bin_path("bridge", required=True)
        cmd = [bridge, "-j", "fdb", "show", "dev", vtep["name"]]
        facts["fdb"] = parse_fdb(run_checked(module, cmd), source=" ".join(cmd))
        cmd = [ip, "-j", "neigh", "show", "dev", vtep["name"]]
        facts["neighbours"] = parse_neighbours(run_checked(module, cmd), source=" ".join(cmd))

    facts["iptables"] = gather_iptables(module, subnet_env) if params["iptables"] else {"available": False}

    # Whether Node objects (or leases) were read here, and why not, is reported: the verdict says which checks
    # could not run for want of them, and fails a host the inventory expects to read them.
    facts["nodes_read"], facts["nodes_unread"] = [], []
    kubeconfig = params["kubeconfig"]
    if kubeconfig and os.path.exists(kubeconfig):
        kubectl = module.get_bin_path(params["kubectl"], required=True, opt_dirs=["/usr/local/bin"])
        cmd = [kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"]
        facts["nodes"] = parse_nodes(run_checked(module, cmd), source=" ".join(cmd))
        facts["nodes_read"].append("kubernetes")
    else:
        facts["nodes_unread"].append("kubernetes: %s" % ("kubeconfig %s does not exist" % kubeconfig if kubeconfig
                                                         else "no kubeconfig given"))
    etcdctl = module.get_bin_path(params["etcdctl"]) if params["etcd_prefix"] else None
    if etcdctl:
        facts["nodes"] += gather_etcd_leases(module, etcdctl, params["etcd_prefix"].rstrip("/"))
        facts["nodes_read"].append("etcd")
    else:
        facts["nodes_unread"].append("etcd: %s" % ("%s not found" % params["etcdctl"] if params["etcd_prefix"]
                                                   else "no etcd_prefix given"))
    return facts


def gather_etcd_leases(module, etcdctl, prefix):
    """flanneld v0.16 keeps its etcd leases in the v2 key space: etcdctl speaks v2 with ETCDCTL_API=2."""
    v2 = {"ETCDCTL_API": "2"}
    listing = run_checked(module, [etcdctl, "ls", prefix + "/subnets"], v2)
    values = dict((key, run_checked(module, [etcdctl, "get", key], v2)) for key in listing.split())
    return parse_etcd_leases(listing, values, source="%s (ETCDCTL_API=2)" % etcdctl)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            subnet_file=dict(type="path", default="/run/flannel/subnet.env"),
            vni=dict(type="int"),
            kubeconfig=dict(type="path"),
            kubectl=dict(type="str", default="kubectl"),
            etcd_prefix=dict(type="str"),
            etcdctl=dict(type="str", default="etcdctl"),
            iptables=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    exit_with_facts(module, "flannel", gather)


if __name__ == "__main__":
    main()
