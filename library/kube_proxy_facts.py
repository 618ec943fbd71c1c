#!/usr/bin/python
# -*- coding: utf-8 -*-
# Gathers what kube-proxy (iptables mode) programs on a node, and the Services the API holds.
# Parsing lives in module_utils/kube_proxy_parse.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kube_proxy_facts
short_description: Gather kube-proxy's Service rules of a node (and the API's Services) as facts
description:
  - Reads the nat table (C(iptables-save -t nat)) and follows kube-proxy's chains from C(KUBE-SERVICES) and
    C(KUBE-NODEPORTS) through each C(KUBE-SVC-*) chain to the DNAT targets of its C(KUBE-SEP-*) chains,
    one entry per Service port, keyed as kube-proxy's rule comments name it (C(namespace/name:port name)).
  - Reads the backends in order (C(iptables-save), C(iptables-nft-save), C(iptables-legacy-save); legacy only when
    C(/proc/net/ip_tables_names) lists the nat table) and keeps the first that holds C(KUBE-SERVICES).
  - With O(kubeconfig), also reads every Service and Endpoints object with one
    C(kubectl get services,endpoints -A -o json), keyed the same way, so the rules can be compared with what the
    API says each Service port leads to.
  - Malformed command output fails the module naming the command. Nothing on the host is changed.
version_added: "1.0.0"
author:
  - kubeadm-flannel project
options:
  kubeconfig:
    description:
      - Kubeconfig to read Services and Endpoints with. When omitted or absent,
        RV(ansible_facts.kube_proxy.api) is null and no kubectl call is made.
    type: path
  kubectl:
    description: kubectl binary (name looked up in PATH and /usr/local/bin, or a path).
    type: str
    default: kubectl
notes:
  - Supports check mode; it only reads.
  - Only kube-proxy's iptables mode is understood; in ipvs mode RV(ansible_facts.kube_proxy.present) is false.
requirements:
  - iptables-save
  - kubectl (only with O(kubeconfig))
"""

EXAMPLES = r"""
- name: Read kube-proxy's Service rules, and the Services on the control plane
  kube_proxy_facts:
    kubeconfig: /etc/kubernetes/admin.conf
"""

RETURN = r"""
ansible_facts:
  description: Facts added under C(kube_proxy).
  returned: always
  type: dict
  contains:
    kube_proxy:
      description: kube-proxy's rules on this node and, with O(kubeconfig), the API's Services.
      type: dict
      contains:
        present:
          description: Whether the nat table holds kube-proxy's C(KUBE-SERVICES) chain.
          type: bool
        backend:
          description: The iptables-save the rules were read with, null when none held them.
          type: str
        services:
          description:
            - Service port -> C(cluster_ip), C(port), C(protocol), C(node_port), C(endpoints) (C(ip:port), sorted).
          type: dict
          sample: {"default/kubernetes:https": {"cluster_ip": "10.96.0.1", "port": 443, "protocol": "tcp",
                   "node_port": null, "endpoints": ["192.168.10.10:6443"]}}
        api:
          description: The same per Service port from the API (plus C(service) and C(type)); null without O(kubeconfig).
          type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_proxy_parse import api_services, service_rules
from ansible.module_utils.netfacts_module import exit_with_facts, run_checked

BACKENDS = ("iptables-save", "iptables-nft-save", "iptables-legacy-save")


def legacy_tables_loaded(path="/proc/net/ip_tables_names"):
    """The legacy iptables tables the kernel has (reading one with iptables-legacy-save would create it)."""
    try:
        with open(path) as handle:
            return set(handle.read().split())
    except (IOError, OSError):
        return set()


def gather(module):
    facts = {"present": False, "backend": None, "services": {}, "api": None}
    for name in BACKENDS:
        path = module.get_bin_path(name)
        # reading a legacy table creates it: only when the kernel already has one
        if not path or (name == "iptables-legacy-save" and "nat" not in legacy_tables_loaded()):
            continue
        cmd = [path, "-t", "nat"]
        rules = service_rules(run_checked(module, cmd), source=" ".join(cmd))
        if rules["present"]:
            facts.update(rules, backend=name)
            break
    kubeconfig = module.params["kubeconfig"]
    if kubeconfig and os.path.exists(kubeconfig):
        kubectl = module.get_bin_path(module.params["kubectl"], required=True, opt_dirs=["/usr/local/bin"])
        cmd = [kubectl, "--kubeconfig", kubeconfig, "get", "services,endpoints", "--all-namespaces", "-o", "json"]
        facts["api"] = api_services(run_checked(module, cmd), source=" ".join(cmd))
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path"),
            kubectl=dict(type="str", default="kubectl"),
        ),
        supports_check_mode=True,
    )
    exit_with_facts(module, "kube_proxy", gather)


if __name__ == "__main__":
    main()
