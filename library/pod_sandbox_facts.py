#!/usr/bin/python
# -*- coding: utf-8 -*-
# Gathers every pod sandbox of a node with its pause process and the namespaces its containers share.
# Parsing lives in module_utils/sandbox_parse.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pod_sandbox_facts
short_description: Gather pod sandboxes, their pause processes and containers' namespaces as facts
description:
  - Lists pod sandboxes and containers through crictl with one command per data source, whatever the number of pods
    (C(crictl pods -o json), C(crictl ps -o json), C(crictl inspectp -o json ID...), C(crictl inspect -o json ID...)).
  - Takes the namespace truth from C(/proc/<pid>/ns/*) of the pause (infra) process and of every container, read in
    one pass over C(/proc), as C(lsns) does.
  - For each sandbox, counts the pause processes in the pod's network and IPC namespaces (exactly one is healthy)
    and tells for every container which namespaces it shares with the pause process.
  - Reads the interfaces of every ready sandbox on the pod network inside its network namespace, one
    C(nsenter --net=/proc/<pause pid>/ns/net ip -d -j addr show) per pod (the pod's eth0 and its MTU); with
    O(interfaces=false) or without nsenter, RV(ansible_facts.pod_sandboxes.sandboxes[].interfaces) is null.
  - A host without crictl gets RV(ansible_facts.pod_sandboxes.present=false), not an error.
  - Malformed or empty command output fails the module, naming the command and what was wrong.
version_added: "1.0.0"
author:
  - kubeadm-flannel project
options:
  crictl:
    description: crictl binary (name looked up in PATH and /usr/local/bin, or a path).
    type: str
    default: crictl
  runtime_endpoint:
    description: CRI endpoint passed as C(--runtime-endpoint); crictl's own configuration applies when omitted.
    type: str
  timeout:
    description: crictl connection timeout in seconds.
    type: int
    default: 10
  pause_commands:
    description: Process names (C(/proc/<pid>/comm)) that count as an infra container process.
    type: list
    elements: str
    default: [pause]
  interfaces:
    description: Whether to read the interfaces inside each pod's network namespace (one command per pod).
    type: bool
    default: true
requirements:
  - nsenter (util-linux) and iproute2 with JSON output, for the pods' interfaces
  - crictl with C(-o json) and several ids per C(inspect)/C(inspectp) call (v1.22 prints one document per id,
    newer releases one array; both are read)
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
notes:
  - Only running containers are listed (C(crictl ps) without C(-a)), because exited ones have no process to compare.
  - A sandbox or container removed between the listing and the inspect (crictl answers NotFound) makes the module read
    the runtime again, up to three times, before it fails naming the command.
"""

EXAMPLES = r"""
- name: Gather pod sandbox facts
  pod_sandbox_facts:
    runtime_endpoint: unix:///run/containerd/containerd.sock

- name: Pods whose pause process is missing or duplicated
  ansible.builtin.debug:
    msg: "{{ ansible_facts.pod_sandboxes.sandboxes | rejectattr('pause_processes', 'length') | map(attribute='name') }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to ansible_facts.
  returned: always
  type: complex
  contains:
    pod_sandboxes:
      description: Pod sandboxes of this node.
      returned: always
      type: complex
      contains:
        present:
          description: Whether crictl was found and answered.
          returned: always
          type: bool
          sample: true
        crictl:
          description: Path of the crictl used, null when absent.
          returned: always
          type: str
          sample: /usr/local/bin/crictl
        sandboxes:
          description: One entry per sandbox reported by C(crictl pods).
          returned: always
          type: list
          elements: dict
          contains:
            id:
              description: Sandbox id.
              type: str
            name:
              description: Pod name.
              type: str
              sample: myweb2
            namespace:
              description: Pod namespace.
              type: str
              sample: default
            uid:
              description: Pod UID.
              type: str
            attempt:
              description: Sandbox attempt number.
              type: int
            state:
              description: C(SANDBOX_READY) or C(SANDBOX_NOTREADY).
              type: str
              sample: SANDBOX_READY
            runtime_handler:
              description: Runtime handler, empty for the default.
              type: str
            ip:
              description: Pod IP, null for host-network pods and stopped sandboxes.
              type: str
              sample: 172.16.0.15
            additional_ips:
              description: Further pod IPs (dual stack).
              type: list
              elements: str
            pid:
              description: PID of the infra (pause) process, null when there is none.
              type: int
            pid_alive:
              description: Whether that process exists in /proc.
              type: bool
            command:
              description: Its /proc comm.
              type: str
              sample: pause
            namespaces:
              description: Namespace inodes of the pause process (net, ipc, uts, pid, mnt).
              type: dict
              sample: {"net": 4026532522, "ipc": 4026532603, "uts": 4026532602, "pid": 4026532604, "mnt": 4026532601}
            namespace_options:
              description: CRI namespace modes of the sandbox (POD, CONTAINER, NODE or TARGET).
              type: complex
              contains:
                network:
                  description: NODE for host-network pods.
                  type: str
                  sample: POD
                pid:
                  description: POD when the pod shares its process namespace, NODE for hostPID.
                  type: str
                  sample: CONTAINER
                ipc:
                  description: NODE for hostIPC pods.
                  type: str
                  sample: POD
            pause_processes:
              description: PIDs of processes named in O(pause_commands) in the pod's net and IPC namespaces.
              type: list
              elements: int
            interfaces:
              description: Interfaces inside the pod's network namespace, read for ready sandboxes on the pod
                network (null for the others, with O(interfaces=false), or when they could not be read).
              type: list
              elements: dict
              contains:
                name:
                  description: Interface name.
                  type: str
                  sample: eth0
                mtu:
                  description: Its MTU.
                  type: int
                  sample: 1450
                up:
                  description: Whether the UP flag is set.
                  type: bool
                kind:
                  description: Link kind (veth for the pod's end of its veth pair), null for lo.
                  type: str
                  sample: veth
                addresses:
                  description: IPv4 addresses in CIDR form.
                  type: list
                  elements: str
                  sample: ["172.16.0.15/24"]
            interfaces_error:
              description: Why the interfaces of a ready pod-network sandbox could not be read, else null.
              type: str
              sample: nsenter not found
            containers:
              description: Running containers of the sandbox.
              type: list
              elements: dict
              contains:
                id:
                  description: Container id.
                  type: str
                pod_id:
                  description: Sandbox id.
                  type: str
                name:
                  description: Container name.
                  type: str
                  sample: nginx
                attempt:
                  description: Restart attempt.
                  type: int
                state:
                  description: CRI container state.
                  type: str
                  sample: CONTAINER_RUNNING
                image:
                  description: Image reference.
                  type: str
                pid:
                  description: PID of the container's first process.
                  type: int
                pid_alive:
                  description: Whether that process exists.
                  type: bool
                command:
                  description: Its /proc comm.
                  type: str
                namespaces:
                  description: Namespace inodes of the container process.
                  type: dict
                shares:
                  description: For each of net, ipc, uts, pid, mnt, whether the container's namespace is the pause
                    process's (null when either process is gone).
                  type: dict
                  sample: {"net": true, "ipc": true, "uts": true, "pid": false, "mnt": false}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.netfacts_module import exit_with_facts, run_checked
from ansible.module_utils.sandbox_parse import (
    build_sandboxes,
    parse_containers,
    parse_inspect,
    parse_inspectp,
    parse_pod_interfaces,
    parse_pods,
    parse_processes,
    read_proc_raw,
)




READ_ATTEMPTS = 3


class VanishedWhileRead(Exception):
    """An inspect named an id that the runtime no longer has."""


def _inspect(module, cmd, last):
    rc, out, err = module.run_command(cmd, environ_update={"LC_ALL": "C", "LANG": "C"})
    if rc != 0 and not last and "NotFound" in (err or out):
        raise VanishedWhileRead()
    if rc != 0:
        module.fail_json(msg="%s failed (rc=%s): %s" % (" ".join(cmd), rc, (err or out).strip()),
                         cmd=cmd, rc=rc, stdout=out, stderr=err)
    return out


def read_runtime(module, base, last):
    """Pods and containers listed, then inspected: (pods, containers, pod details, container details)."""
    cmd = base + ["pods", "-o", "json"]
    pods = parse_pods(run_checked(module, cmd), source="crictl pods -o json")
    cmd = base + ["ps", "-o", "json"]
    containers = parse_containers(run_checked(module, cmd), source="crictl ps -o json")
    pod_details = {}
    if pods:
        cmd = base + ["inspectp", "-o", "json"] + [pod["id"] for pod in pods]
        pod_details = parse_inspectp(_inspect(module, cmd, last), source="crictl inspectp -o json (%d ids)" % len(pods))
    ctr_details = {}
    if containers:
        cmd = base + ["inspect", "-o", "json"] + [c["id"] for c in containers]
        ctr_details = parse_inspect(_inspect(module, cmd, last),
                                    source="crictl inspect -o json (%d ids)" % len(containers))
    return pods, containers, pod_details, ctr_details


def gather(module):
    p = module.params
    crictl = module.get_bin_path(p["crictl"], opt_dirs=["/usr/local/bin"])
    if not crictl:
        return {"present": False, "crictl": None, "sandboxes": []}
    base = [crictl]
    if p["runtime_endpoint"]:
        base += ["--runtime-endpoint", p["runtime_endpoint"]]
    base += ["--timeout", "%ds" % p["timeout"]]

    # A sandbox or container can go between listing it and inspecting it (the kubelet replaces sandboxes, e.g.
    # after containerd restarts): crictl then fails the whole inspect with NotFound. Such a read is taken again
    # from the listing, a few times, before it counts as a failure.
    for attempt in range(READ_ATTEMPTS):
        try:
            pods, containers, pod_details, ctr_details = read_runtime(module, base, last=attempt == READ_ATTEMPTS - 1)
            break
        except VanishedWhileRead:
            time.sleep(1)

    processes = parse_processes(read_proc_raw("/proc"))
    sandboxes = build_sandboxes(pods, containers, pod_details, ctr_details, processes,
                                set(p["pause_commands"]))
    for pod in sandboxes:
        pod["interfaces"], pod["interfaces_error"] = None, None
    if p["interfaces"]:
        gather_interfaces(module, sandboxes)
    return {"present": True, "crictl": crictl, "sandboxes": sandboxes}


def gather_interfaces(module, sandboxes):
    """One command per ready pod on the pod network: its interfaces, seen from inside its network namespace.

    A pod that went away between crictl and here (its pause pid gone) is noted on that pod, not a failure.
    """
    wanted = [pod for pod in sandboxes if pod.get("state") == "SANDBOX_READY" and pod.get("pid_alive")
              and (pod.get("namespace_options") or {}).get("network") == "POD"]
    if not wanted:
        return
    nsenter = module.get_bin_path("nsenter")
    ip = module.get_bin_path("ip")
    for pod in wanted:
        if not nsenter or not ip:
            pod["interfaces_error"] = "%s not found" % ("nsenter" if not nsenter else "ip")
            continue
        cmd = [nsenter, "--net=/proc/%d/ns/net" % pod["pid"], ip, "-d", "-j", "addr", "show"]
        rc, out, err = module.run_command(cmd, environ_update={"LC_ALL": "C", "LANG": "C"})
        if rc != 0:
            pod["interfaces_error"] = "%s failed (rc=%s): %s" % (" ".join(cmd), rc, (err or out).strip())
            continue
        pod["interfaces"] = parse_pod_interfaces(out, source=" ".join(cmd))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            crictl=dict(type="str", default="crictl"),
            runtime_endpoint=dict(type="str"),
            timeout=dict(type="int", default=10),
            pause_commands=dict(type="list", elements="str", default=["pause"]),
            interfaces=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    exit_with_facts(module, "pod_sandboxes", gather)


if __name__ == "__main__":
    main()
