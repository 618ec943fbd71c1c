# -*- coding: utf-8 -*-
# Controller CPU: Ansible forks one worker per task and host, and each worker imports, from scratch, every
# filter and test plugin its templates name (ansible-core keeps loaded plugin modules in a per-process cache).
# Importing them once in the controller, before the first task, fills that cache, and every forked worker
# inherits it. Nothing else changes: the same plugins, from the same paths, resolved the same way.
# Measured on playbooks/validate.yml over the sample inventory (README, "Controller CPU").

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: preload_plugins
type: aggregate
short_description: Import filter and test plugins once in the controller, so forked workers inherit them
description:
  - When the playbook starts, imports every filter and test plugin Ansible finds outside collections
    (ansible.builtin's and the configured filter_plugins/test_plugins folders), and every filter and test
    plugin of the collections named in O(collections).
  - Workers are forked from the controller, so each one starts with these modules already imported instead
    of importing them again for each task and host.
  - A collection that is not installed, or a plugin that fails to import, is left alone here; the task that
    uses it reports the error as it would without this plugin.
  - Needs no enabling (it is not shipped with Ansible, so Ansible loads it from callback_plugins by itself).
options:
  collections:
    description:
      - Collections whose filter and test plugins are imported at the start. Empty, only the ones outside
        collections are.
    default: [ansible.utils]
    type: list
    elements: str
    env:
      - name: KF_PRELOAD_COLLECTIONS
    ini:
      - section: callback_preload_plugins
        key: collections
"""

import importlib
import pkgutil

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader


def _collection_plugin_names(collection, kind):
    """'ansible.utils', 'filter' -> ['ansible.utils.ipaddr', ...]: the collection's plugin files of that kind."""
    try:
        package = importlib.import_module('ansible_collections.%s.plugins.%s' % (collection, kind))
    except ImportError:
        return []
    return ['%s.%s' % (collection, info.name) for info in pkgutil.iter_modules(package.__path__)
            if not info.ispkg and not info.name.startswith('_')]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'preload_plugins'
    CALLBACK_NEEDS_ENABLED = False

    def v2_playbook_on_start(self, playbook):
        for loader, kind in ((filter_loader, 'filter'), (test_loader, 'test')):
            try:
                list(loader.all())
            except Exception:  # a broken plugin is for the task that uses it to report
                pass
            for collection in self.get_option('collections') or []:
                for name in _collection_plugin_names(collection, kind):
                    try:
                        loader.get(name)
                    except Exception:
                        pass
