#!/usr/bin/python
# -*- coding: utf-8 -*-
# Gathers CNI state of a node. Parsing lives in module_utils/cni_parse.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cni_facts
short_description: Gather CNI state of a node (configs, bridge, veths, host-local leases, plugins) as facts
description:
  - Reads every CNI config file in O(conf_dir) and tells which one is in use (the first valid one by file name, as
    containerd's CRI plugin and the kubelet load it through libcni).
  - Describes the bridge O(bridge) (addresses, MTU, MAC) and each port attached to it (hairpin, state, the peer's
    network namespace id, name and inode) from one C(ip -d -j addr show) and one C(ip -j netns list-id).
  - Lists host-local IPAM leases under O(ipam_dir) (IP -> container id and interface) and the plugins in O(bin_dir).
  - A missing bridge or conf dir is reported (RV(ansible_facts.cni.bridge.present=false)), not an error.
  - Malformed or empty command output fails the module, naming the command and what was wrong.
version_added: "1.0.0"
author:
  - kubeadm-flannel project
options:
  conf_dir:
    description: Directory of CNI network configs.
    type: path
    default: /etc/cni/net.d
  bin_dir:
    description: Directory of CNI plugin binaries.
    type: path
    default: /opt/cni/bin
  bridge:
    description: Name of the CNI bridge.
    type: str
    default: cni0
  ipam_dir:
    description: host-local's data directory (one sub-directory per network name).
    type: path
    default: /var/lib/cni/networks
  netns_dir:
    description: Directory where network namespaces are pinned (containerd pins pod namespaces there).
    type: path
    default: /var/run/netns
requirements:
  - iproute2 with JSON output (C(ip -j))
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
"""

EXAMPLES = r"""
- name: Gather CNI facts
  cni_facts:

- name: Gather CNI facts where Debian's containerd looks for plugins
  cni_facts:
    bin_dir: /usr/lib/cni

- name: Which config wins
  ansible.builtin.debug:
    msg: "{{ ansible_facts.cni.active.file | default('none') }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to ansible_facts.
  returned: always
  type: complex
  contains:
    cni:
      description: CNI state of this node.
      returned: always
      type: complex
      contains:
        conf_dir:
          description: Directory that was read.
          returned: always
          type: str
          sample: /etc/cni/net.d
        configs:
          description: Every config file with a CNI extension (.conf, .conflist, .json), sorted by name.
          returned: always
          type: list
          elements: dict
          contains:
            file:
              description: File name.
              type: str
              sample: 10-flannel.conflist
            valid:
              description: Whether the file parses as a CNI config.
              type: bool
              sample: true
            error:
              description: What is wrong with an invalid file, else null.
              type: str
            kind:
              description: C(conflist) or C(conf) (single plugin).
              type: str
              sample: conflist
            name:
              description: Network name.
              type: str
              sample: cbr0
            cni_version:
              description: cniVersion.
              type: str
              sample: 0.3.1
            plugins:
              description: Plugin types in chain order.
              type: list
              elements: str
              sample: ["flannel", "portmap"]
            config:
              description: The parsed file.
              type: dict
        active:
          description: The entry of RV(ansible_facts.cni.configs) that is in use, null when none is valid.
          returned: always
          type: dict
        bridge:
          description: The CNI bridge.
          returned: always
          type: complex
          contains:
            present:
              description: Whether the device exists.
              returned: always
              type: bool
              sample: true
            name:
              description: Device name.
              returned: always
              type: str
              sample: cni0
            kind:
              description: Link kind (bridge expected).
              returned: when present
              type: str
              sample: bridge
            is_bridge:
              description: Whether the device is a Linux bridge.
              returned: when present
              type: bool
            mtu:
              description: MTU.
              returned: when present
              type: int
              sample: 1450
            mac:
              description: MAC address.
              returned: when present
              type: str
            up:
              description: Whether the UP flag is set.
              returned: when present
              type: bool
            addresses:
              description: IPv4 addresses in CIDR form.
              returned: when present
              type: list
              elements: str
              sample: ["172.16.0.1/24"]
            ports:
              description: Interfaces whose master is the bridge.
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description: Port name.
                  type: str
                  sample: vethece9b30d
                ifindex:
                  description: Interface index.
                  type: int
                kind:
                  description: Link kind (veth for pods).
                  type: str
                mtu:
                  description: MTU.
                  type: int
                mac:
                  description: MAC address.
                  type: str
                state:
                  description: Bridge port state.
                  type: str
                  sample: forwarding
                hairpin:
                  description: Whether hairpin mode is on.
                  type: bool
                peer_ifindex:
                  description: Interface index of the veth peer inside its namespace.
                  type: int
                link_netnsid:
                  description: Namespace id (in this namespace's numbering) of the peer's namespace.
                  type: int
                netns_name:
                  description: Name of the peer's namespace under O(netns_dir), null when not pinned there.
                  type: str
                  sample: cni-12adcd08-09e8-5470-610a-d74efe7e272a
                netns_inode:
                  description: Inode of that namespace (compare with a pod's net namespace inode).
                  type: int
                  sample: 4026532522
        ipam:
          description: host-local leases, one entry per network directory under O(ipam_dir), sorted by name.
          returned: always
          type: list
          elements: dict
          contains:
            network:
              description: Network name (the CNI config's name).
              type: str
              sample: cbr0
            allocations:
              description: Leased addresses, sorted by IP.
              type: list
              elements: dict
              contains:
                ip:
                  description: Leased address.
                  type: str
                  sample: 172.16.0.15
                container_id:
                  description: Sandbox id holding the lease.
                  type: str
                ifname:
                  description: Interface name inside the sandbox, null for old-format leases.
                  type: str
                  sample: eth0
            last_reserved_ip:
              description: Last reserved address by range index.
              type: dict
              sample: {"0": "172.16.0.16"}
        bin_dir:
          description: Plugin directory that was read.
          returned: always
          type: str
          sample: /opt/cni/bin
        binaries:
          description: Executable files in O(bin_dir), sorted.
          returned: always
          type: list
          elements: str
          sample: ["bridge", "flannel", "host-local", "loopback", "portmap"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.netfacts_module import exit_with_facts, run_checked
from ansible.module_utils.cni_parse import (
    CONF_EXTENSIONS,
    parse_bridge,
    parse_conf_dir,
    parse_host_local,
    parse_netns_ids,
)




def read_text(path):
    # a config or lease file with bytes that are not UTF-8 is reported as invalid, not a traceback
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def list_dir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def gather(module):
    p = module.params
    ip = module.get_bin_path("ip", required=True)

    files = [(name, read_text(os.path.join(p["conf_dir"], name))) for name in list_dir(p["conf_dir"])
             if name.endswith(CONF_EXTENSIONS) and os.path.isfile(os.path.join(p["conf_dir"], name))]
    configs, active = parse_conf_dir(files)

    cmd = [ip, "-j", "netns", "list-id"]
    nsids = parse_netns_ids(run_checked(module, cmd), source=" ".join(cmd))
    inodes = {}
    for name in list_dir(p["netns_dir"]):
        try:
            inodes[name] = os.stat(os.path.join(p["netns_dir"], name)).st_ino
        except OSError:
            continue
    cmd = [ip, "-d", "-j", "addr", "show"]
    bridge = parse_bridge(run_checked(module, cmd), p["bridge"], nsids, inodes, source=" ".join(cmd))

    leases = {}
    for net in list_dir(p["ipam_dir"]):
        net_dir = os.path.join(p["ipam_dir"], net)
        if os.path.isdir(net_dir):
            leases[net] = dict((f, read_text(os.path.join(net_dir, f))) for f in list_dir(net_dir)
                               if os.path.isfile(os.path.join(net_dir, f)))
    binaries = [name for name in list_dir(p["bin_dir"])
                if os.path.isfile(os.path.join(p["bin_dir"], name))
                and os.access(os.path.join(p["bin_dir"], name), os.X_OK)]
    return {
        "conf_dir": p["conf_dir"],
        "configs": configs,
        "active": active,
        "bridge": bridge,
        "ipam": parse_host_local(leases),
        "bin_dir": p["bin_dir"],
        "binaries": binaries,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            conf_dir=dict(type="path", default="/etc/cni/net.d"),
            bin_dir=dict(type="path", default="/opt/cni/bin"),
            bridge=dict(type="str", default="cni0"),
            ipam_dir=dict(type="path", default="/var/lib/cni/networks"),
            netns_dir=dict(type="path", default="/var/run/netns"),
        ),
        supports_check_mode=True,
    )
    exit_with_facts(module, "cni", gather)


if __name__ == "__main__":
    main()
