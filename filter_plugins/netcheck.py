# -*- coding: utf-8 -*-
# Exposes module_utils/netcheck.py to playbooks, so the verify stage and the unit tests run the same code.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    from ansible.module_utils.netcheck import collect_nodes, summary_table, verify_cluster
except ImportError:
    # Controller-side plugins do not always see the project's module_utils; add it explicitly.
    import ansible.module_utils
    ansible.module_utils.__path__.append(
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))
    from ansible.module_utils.netcheck import collect_nodes, summary_table, verify_cluster


def network_verify(nodes, settings=None):
    """[{'name', 'node_ip', 'flannel', 'cni', 'pod_sandboxes'}] -> list of check results."""
    return verify_cluster(list(nodes), dict(settings or {}))


def network_verify_nodes(names, views):
    """Inventory names + their gathered views (None when a host gathered nothing) -> node list."""
    return collect_nodes(list(names), list(views))


def network_verify_table(results):
    """Check results -> summary table lines."""
    return summary_table(list(results))


class FilterModule(object):
    def filters(self):
        return {
            "network_verify": network_verify,
            "network_verify_nodes": network_verify_nodes,
            "network_verify_table": network_verify_table,
        }
