#!/usr/bin/python
# -*- coding: utf-8 -*-
# Gathers what a node can tell about the control plane: its own API server's readiness, the API through the
# virtual address, whether it holds that address, and (on a control plane) what its etcd member says.
# Parsing lives in module_utils/control_plane_parse.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: control_plane_facts
short_description: Gather the control plane's health as one node sees it (API servers, virtual address, etcd)
description:
  - With O(api_url), asks that API server's C(/readyz) (the node's own, on a control plane) with C(curl),
    verifying its certificate against O(ca_file).
  - With O(vip), reads C(ip -j addr show dev) O(interface) to tell whether this node holds the virtual address,
    and with O(vip_url) asks the API through it, the same way.
  - With O(etcd_url), asks the local etcd member through its JSON gateway, as a client with O(etcd_cert_file),
    for C(/health), C(/v3/cluster/member/list) and C(/v3/maintenance/status) (its own id and the leader it follows).
  - An endpoint that does not answer is a fact (status -1 and curl's message), not a failure; malformed answers
    fail the module naming the request. Nothing on the host is changed.
version_added: "1.0.0"
author:
  - kubeadm-flannel project
options:
  api_url:
    description: An API server's readiness URL (C(https://<node ip>:6443/readyz)); omitted, not asked.
    type: str
  vip:
    description: The API's virtual address; omitted or empty, nothing about it is read.
    type: str
    default: ""
  vip_url:
    description: The API's readiness URL through the virtual address; omitted, not asked.
    type: str
  interface:
    description: The NIC keepalived puts the virtual address on (the cluster NIC).
    type: str
  ca_file:
    description: The cluster CA that API servers' certificates are checked against.
    type: path
    default: /etc/kubernetes/pki/ca.crt
  etcd_url:
    description: The local etcd member's client URL (C(https://127.0.0.1:2379)); omitted, etcd is not asked.
    type: str
  etcd_ca_file:
    description: etcd's CA.
    type: path
    default: /etc/kubernetes/pki/etcd/ca.crt
  etcd_cert_file:
    description: A client certificate etcd accepts (kubeadm's healthcheck client).
    type: path
    default: /etc/kubernetes/pki/etcd/healthcheck-client.crt
  etcd_key_file:
    description: Its key.
    type: path
    default: /etc/kubernetes/pki/etcd/healthcheck-client.key
  certificates:
    description:
      - Whether to run C(kubeadm certs check-expiration) (on a control plane, where it reads C(/etc/kubernetes/pki)
        and the kubeconfigs kubeadm wrote) and report each certificate's expiry.
    type: bool
    default: false
  kubeadm:
    description: The kubeadm binary (a name on the PATH, C(/usr/local/bin) searched too, or a path).
    type: str
    default: kubeadm
  timeout:
    description: Seconds each request may take.
    type: int
    default: 5
notes:
  - Supports check mode; it only reads.
requirements:
  - curl
  - ip (iproute2), with O(vip)
"""

EXAMPLES = r"""
- name: Read the control plane's health on a control plane
  control_plane_facts:
    api_url: https://192.168.100.11:6443/readyz
    vip: 192.168.100.100
    vip_url: https://192.168.100.100:8443/readyz
    interface: enp0s8
    etcd_url: https://127.0.0.1:2379
"""

RETURN = r"""
ansible_facts:
  description: Facts added under C(control_plane).
  returned: always
  type: dict
  contains:
    control_plane:
      description: The control plane as this node sees it; each part null when not asked.
      type: dict
      contains:
        api:
          description: This node's API server's answer to O(api_url).
          type: dict
          contains:
            url: {description: The URL asked., type: str}
            status: {description: HTTP status, -1 when nothing answered., type: int}
            body: {description: The answer's body (C(ok) when ready)., type: str}
            error: {description: Why it is not 200 (curl's message or the status); empty when 200., type: str}
        api_via_vip:
          description: The answer to O(vip_url), with the same keys as RV(ansible_facts.control_plane.api).
          type: dict
        vip:
          description: The virtual address on this node.
          type: dict
          contains:
            address: {description: O(vip)., type: str}
            interface: {description: O(interface)., type: str}
            held: {description: Whether O(interface) has the address., type: bool}
            addresses: {description: Every IPv4 address of O(interface)., type: list, elements: str}
        etcd:
          description: The local etcd member's answers.
          type: dict
          contains:
            url: {description: O(etcd_url)., type: str}
            error: {description: Why etcd could not be read; empty when it was., type: str}
            health: {description: "C(/health): C(healthy) (bool) and C(reason).", type: dict}
            members:
              description: The member list as this member knows it, by name.
              type: list
              elements: dict
              contains:
                id: {description: Member id (decimal string)., type: str}
                name: {description: Member name (the node name); empty until it has started., type: str}
                peer_urls: {description: Peer URLs., type: list, elements: str}
                client_urls: {description: Client URLs., type: list, elements: str}
                learner: {description: Whether it is a learner (no vote yet)., type: bool}
                started: {description: Whether it has started (has a name)., type: bool}
            status:
              description: This member's status.
              type: dict
              contains:
                member_id: {description: Its own id., type: str}
                leader: {description: The id of the leader it follows (C(0) when none)., type: str}
                raft_term: {description: Raft term., type: int}
                version: {description: etcd's version., type: str}
        certificates:
          description: With O(certificates), what C(kubeadm certs check-expiration) reported.
          type: dict
          contains:
            error: {description: Why it could not run; empty when it did., type: str}
            rows:
              description: Every certificate, then every certificate authority, in kubeadm's order.
              type: list
              elements: dict
              contains:
                name: {description: "kubeadm's name (C(apiserver), C(admin.conf), C(ca), ...).", type: str}
                authority: {description: Whether it is a certificate authority., type: bool}
                expires: {description: "When it expires (UTC, C(YYYY-MM-DDTHH:MM:SSZ)); null when missing.", type: str}
                days_left:
                  description: Whole days from now until then (negative once expired); null when missing.
                  type: int
                ca: {description: The authority that signed it (empty for an authority)., type: str}
                externally_managed: {description: Whether kubeadm does not manage it., type: bool}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.control_plane_parse import (CURL_STATUS_FORMAT, parse_cert_expiration, parse_health,
                                                      parse_http, parse_member_list, parse_status,
                                                      vip_on_interface)
from ansible.module_utils.netfacts_module import exit_with_facts, run_checked


def _curl(module, url, extra):
    curl = module.get_bin_path("curl", required=True)
    argv = [curl, "--silent", "--show-error", "--max-time", str(module.params["timeout"]),
            "--write-out", CURL_STATUS_FORMAT] + extra + [url]
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})
    return parse_http(" ".join(argv[:1] + [url]), rc, out, err)


def _readyz(module, url):
    answer = _curl(module, url, ["--cacert", module.params["ca_file"]])
    answer["url"] = url
    return answer


def _etcd(module):
    p = module.params
    base = p["etcd_url"].rstrip("/")
    tls = ["--cacert", p["etcd_ca_file"], "--cert", p["etcd_cert_file"], "--key", p["etcd_key_file"]]
    facts = {"url": base, "error": "", "health": None, "members": [], "status": None}
    health = _curl(module, base + "/health", tls)
    if health["status"] != 200 and not health["body"]:
        facts["error"] = health["error"]
        return facts
    facts["health"] = parse_health(base + "/health", health["body"])
    post = tls + ["--request", "POST", "--data", "{}"]
    for path, key, parse in (("/v3/cluster/member/list", "members", parse_member_list),
                             ("/v3/maintenance/status", "status", parse_status)):
        answer = _curl(module, base + path, post)
        if answer["status"] != 200:
            facts["error"] = "%s: %s" % (path, answer["error"])
            return facts
        facts[key] = parse(base + path, answer["body"])
    return facts


def _certificates(module):
    kubeadm = module.get_bin_path(module.params["kubeadm"], opt_dirs=["/usr/local/bin"])
    if not kubeadm:
        return {"error": "%s not found" % module.params["kubeadm"], "rows": []}
    argv = [kubeadm, "certs", "check-expiration"]
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})
    if rc != 0:
        return {"error": "%s: exit %s: %s" % (" ".join(argv), rc, (err or out).strip()[-400:]), "rows": []}
    return {"error": "", "rows": parse_cert_expiration(" ".join(argv), out, time.time())}


def gather(module):
    p = module.params
    facts = {"api": None, "api_via_vip": None, "vip": None, "etcd": None, "certificates": None}
    if p["api_url"]:
        facts["api"] = _readyz(module, p["api_url"])
    if p["vip"]:
        ip = module.get_bin_path("ip", required=True)
        cmd = [ip, "-j", "addr", "show", "dev", p["interface"]]
        facts["vip"] = vip_on_interface(" ".join(cmd), run_checked(module, cmd), p["interface"], p["vip"])
        if p["vip_url"]:
            facts["api_via_vip"] = _readyz(module, p["vip_url"])
    if p["etcd_url"]:
        facts["etcd"] = _etcd(module)
    if p["certificates"]:
        facts["certificates"] = _certificates(module)
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_url=dict(type="str"),
            vip=dict(type="str", default=""),
            vip_url=dict(type="str"),
            interface=dict(type="str"),
            ca_file=dict(type="path", default="/etc/kubernetes/pki/ca.crt"),
            etcd_url=dict(type="str"),
            etcd_ca_file=dict(type="path", default="/etc/kubernetes/pki/etcd/ca.crt"),
            etcd_cert_file=dict(type="path", default="/etc/kubernetes/pki/etcd/healthcheck-client.crt"),
            etcd_key_file=dict(type="path", default="/etc/kubernetes/pki/etcd/healthcheck-client.key"),
            certificates=dict(type="bool", default=False),
            kubeadm=dict(type="str", default="kubeadm"),
            timeout=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    if module.params["vip"] and not module.params["interface"]:
        module.fail_json(msg="vip given without interface: name the NIC the virtual address is put on")
    exit_with_facts(module, "control_plane", gather)


if __name__ == "__main__":
    main()
