"""Test-only action: load a host's facts from a JSON file instead of gathering them.

Render and validate tests run the real playbooks against inventories whose hosts do not exist here.
This action returns the recorded facts as ``ansible_facts`` (exactly as ``setup`` would), and marks
them gathered so that ``gathering = smart`` does not gather again in the playbooks that follow.
"""
from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        directory = self._task.args.get('dir')
        if not directory:
            raise AnsibleActionFail("fixture_facts: 'dir' is required")
        host = task_vars['inventory_hostname']
        path = os.path.join(directory, host + '.json')
        try:
            with open(path, encoding='utf-8') as handle:
                facts = json.load(handle)
        except (OSError, ValueError) as exc:
            raise AnsibleActionFail(f"fixture_facts: cannot load {path}: {exc}") from exc
        facts['_ansible_facts_gathered'] = True
        result.update(changed=False, ansible_facts=facts)
        return result
