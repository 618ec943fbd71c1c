# -*- coding: utf-8 -*-
# Where a running cluster stands against the release playbooks/upgrade.yml takes it to, from what its first control
# plane answered (kubectl get nodes, the kubeadm-config ClusterConfiguration, the control planes' static pods) and
# the inventory: which hosts are behind, and everything that must stop the run before any host is changed.
# Pure functions on the controller (roles/upgrade/tasks/main.yml calls the filter); unit-tested in
# tests/filters/test_upgrade_plan.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The control-plane static pods whose image tags are the node's control-plane version (etcd has its own).
CONTROL_PLANE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def _version(text):
    """'v1.22.5' -> (1, 22, 5); None when it is no release version."""
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)$", str(text or ""))
    return tuple(int(x) for x in m.groups()) if m else None


def _names(hosts):
    return ", ".join(hosts)


def upgrade_plan(nodes, cluster_config, static_pods, target, cluster_hosts, control_planes, play_hosts):
    """nodes: `kubectl get nodes -o json` (parsed); cluster_config: the ClusterConfiguration (parsed); static_pods:
    `kubectl get pods -o json` of the control-plane components (parsed); target: 'v1.23.17'; cluster_hosts: the
    inventory's kube_cluster hosts; control_planes: kube_control_plane, the first one first; play_hosts: the hosts of
    this run (--limit). Node names are inventory names (the rollout names each Node after its host).

    Returns {'cluster_version', 'kubelets': {node: version}, 'behind': [hosts, inventory order], 'errors': [...]}:
    a host is behind when its kubelet, (a control plane) one of its control-plane pods, or (the first control plane)
    the version kubeadm last applied to the cluster is not the target."""
    errors = []
    kubelets = dict((n["metadata"]["name"], n["status"]["nodeInfo"]["kubeletVersion"])
                    for n in (nodes or {}).get("items", []))
    cluster_version = (cluster_config or {}).get("kubernetesVersion", "")
    pods = {}
    for pod in (static_pods or {}).get("items", []):
        node = pod.get("spec", {}).get("nodeName", "")
        for container in pod.get("spec", {}).get("containers", []):
            if container.get("name") in CONTROL_PLANE_COMPONENTS:
                pods.setdefault(node, set()).add(container.get("image", "").rsplit(":", 1)[-1])

    missing = [h for h in play_hosts if h not in kubelets]
    extra = sorted(n for n in kubelets if n not in cluster_hosts)
    if missing:
        errors.append("%s %s in the inventory but no Node of the cluster (add %s with playbooks/scale.yml first)"
                      % (_names(missing), "is" if len(missing) == 1 else "are", "it" if len(missing) == 1 else "them"))
    if extra:
        errors.append("the Nodes %s are in no group of kube_cluster: the upgrade would leave them behind"
                      % _names(extra))

    want, have = _version(target), _version(cluster_version)
    if want is None:
        errors.append("kube_version %s is no release version (x.y.z)" % target)
    elif have is None:
        errors.append("the cluster's version %r (kubeadm-config) is no release version" % cluster_version)
    else:
        if want < have:
            errors.append("kube_version %s is older than the cluster's %s: upgrade.yml never goes down"
                          % (target.lstrip("v"), cluster_version))
        elif want[0] != have[0] or want[1] - have[1] > 1:
            errors.append("kube_version %s is more than one minor release ahead of the cluster's %s: kubeadm upgrades "
                          "one minor release at a time (go to v%d.%d first)"
                          % (target.lstrip("v"), cluster_version, have[0], have[1] + 1))
        else:
            newer = sorted(n for n, v in kubelets.items() if _version(v) and _version(v) > want)
            if newer:
                errors.append("the kubelets of %s are newer than %s" % (_names(newer), target))

    first = control_planes[0] if control_planes else None
    behind = []
    for host in cluster_hosts:
        late = kubelets.get(host) != target
        if host in control_planes:
            late = late or pods.get(host, {"missing"}) != {target}
        if host == first:
            late = late or cluster_version != target
        if late:
            behind.append(host)

    left_out = [h for h in control_planes if h in behind and h not in play_hosts]
    if left_out:
        errors.append("the control planes %s are behind %s and not in this run (--limit): control planes go first; "
                      "run without --limit, or with --limit kube_control_plane first" % (_names(left_out), target))
    return {"cluster_version": cluster_version, "kubelets": kubelets, "behind": behind, "errors": errors}


class FilterModule(object):
    def filters(self):
        return {"upgrade_plan": upgrade_plan}
