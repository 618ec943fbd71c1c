"""What the pod tests read from a node through the CRI (crictl) and /proc, shared by test_pods.py (pods made
with crictl) and kube_pods.py (pods made through the Kubernetes API)."""
from __future__ import annotations

import functools
import json

from conftest import Node
from conftest import node_of as conftest_node_of

NAMESPACES = ('net', 'ipc', 'uts', 'mnt', 'pid')


@functools.lru_cache(maxsize=None)
def node_of(inventory: str, name: str) -> Node:
    return conftest_node_of(inventory, name)


def sandbox_pid(host, pod_id: str) -> int:
    return int(json.loads(host.check_output(f'crictl inspectp {pod_id}'))['info']['pid'])


def container_pid(host, ctr_id: str) -> int:
    return int(json.loads(host.check_output(f'crictl inspect {ctr_id}'))['info']['pid'])


def ns_of(host, pid: int) -> dict:
    out = host.check_output(' ; '.join(f'readlink /proc/{pid}/ns/{ns}' for ns in NAMESPACES))
    return dict(zip(NAMESPACES, out.split()))


def namespace_mismatches(pause: dict, ctr: dict, shared: tuple) -> list:
    """['pid shared', 'net not shared', ...]: where a container's namespaces differ from what is expected."""
    return [f'{ns} {"not shared" if ns in shared else "shared"}' for ns in NAMESPACES
            if (pause[ns] == ctr[ns]) != (ns in shared)]
