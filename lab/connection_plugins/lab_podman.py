# -*- coding: utf-8 -*-
# Connection to the lab's nodes: podman containers on the controller itself (lab/roles/lab).
from __future__ import annotations

DOCUMENTATION = r"""
name: lab_podman
short_description: Run tasks in the lab's podman node containers, with pipelining
description:
  - The lab's nodes are podman containers on the controller (lab/roles/lab makes them). Every command runs through
    one C(podman exec --interactive), so Ansible can pipeline (send a module on that exec's stdin; it runs
    in one call) where the containers.podman.podman connection (no pipelining) needs three execs per task
    (make the temporary directory, copy the module, run it). On this 2-core machine that is most of a no-op
    run's time.
  - Files are copied with C(podman cp) and fetched with C(podman exec cat). No privilege escalation (the lab
    runs as root in its nodes).
  - Real sites use SSH, which pipelines already (ansible.cfg), and so does the lab inventory. Only
    benchmarks/transport_cost.py uses this plugin (-e ansible_connection=lab_podman), to set a task's cost over
    podman exec beside its cost over SSH; only lab/ansible.cfg loads it.
author: kubeadm-flannel project
options:
  remote_addr:
    description: Name or ID of the node's container.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  podman_executable:
    description: The podman binary.
    default: podman
    vars:
      - name: ansible_podman_executable
"""

import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.process import get_bin_path
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()


class Connection(ConnectionBase):
    """podman exec -i into a running container; no state kept between commands."""

    transport = "lab_podman"
    has_pipelining = True

    def _run(self, args, stdin=None):
        try:
            podman = get_bin_path(self.get_option("podman_executable"))
        except ValueError as exc:
            raise AnsibleError("lab_podman: %s" % exc) from exc
        argv = [podman] + [to_bytes(a, errors="surrogate_or_strict") for a in args]
        display.vvv("LAB_PODMAN %s" % " ".join(to_text(a) for a in argv), host=self._container)
        proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    @property
    def _container(self):
        return self.get_option("remote_addr")

    def _connect(self):
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        # --interactive keeps stdin open: that is what carries a pipelined module (in_data).
        rc, out, err = self._run(["exec", "--interactive", self._container] + shlex.split(to_text(cmd)),
                                 stdin=in_data or b"")
        if rc == 125:  # podman's own failure (no such container, not running), not the command's
            raise AnsibleConnectionFailure("lab node %s: %s" % (self._container, to_text(err).strip()))
        return rc, out, err

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        rc, _out, err = self._run(["cp", in_path, "%s:%s" % (self._container, out_path)])
        if rc != 0:
            raise AnsibleError("lab_podman: copying %s to %s:%s failed: %s"
                               % (in_path, self._container, out_path, to_text(err).strip()))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        rc, out, err = self._run(["exec", self._container, "cat", in_path])
        if rc != 0:
            raise AnsibleError("lab_podman: reading %s:%s failed: %s"
                               % (self._container, in_path, to_text(err).strip()))
        with open(out_path, "wb") as handle:
            handle.write(out)

    def close(self):
        self._connected = False
