# -*- coding: utf-8 -*-
# Where a run's time goes, as JSON: every play (a stage of site.yml), every task in it, and each host's time and
# outcome per task. Loaded wherever ansible.cfg's callback_plugins names this folder (both ansible.cfg files do),
# and idle unless a file is named (KF_TIMINGS_FILE): then nothing is recorded and nothing is written.
# scripts/timings_report.py turns such files into the README's per-stage tables.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: stage_timings
type: aggregate
short_description: Write each play's and task's wall time, per host, to a JSON file
description:
  - Records, for every play of the run, its wall time and, for every task, its wall time and each host's time
    from the task's start to the host's result, with the host's status (ok, changed, failed, ignored, skipped,
    unreachable).
  - A task's wall time runs from its start to the start of the next task (or the play's end), so it includes
    the strategy's wait for the slowest host; a play's wall time runs from its start to the next play's.
  - Writes the whole record once, when the run ends, to O(file). Records nothing when O(file) is empty.
  - Needs no enabling (it is not shipped with Ansible, so Ansible loads it from callback_plugins by itself).
options:
  file:
    description:
      - Path of the JSON file to write; empty, nothing is recorded or written.
      - An existing directory gets one new file per run, C(<first playbook>-<UTC start>-<pid>.json).
    default: ""
    env:
      - name: KF_TIMINGS_FILE
    ini:
      - section: callback_stage_timings
        key: file
    type: str
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "stage_timings"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = ""
        self._run = {"playbooks": [], "started": time.time(), "seconds": None, "plays": []}
        self._clock = time.monotonic()
        self._play = None
        self._task = None
        self._tasks = {}  # task uuid -> its record: a result is filed under its own task, whatever ran since

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._path = self.get_option("file") or ""

    # ------------------------------------------------------------------ structure
    def _close_task(self, now):
        if self._task is not None:
            self._task["seconds"] = round(now - self._task["_start"], 3)
            self._task = None

    def _close_play(self, now):
        self._close_task(now)
        if self._play is not None:
            self._play["seconds"] = round(now - self._play.pop("_start"), 3)
            self._play = None

    def v2_playbook_on_start(self, playbook):
        if self._path:
            self._run["playbooks"].append(os.path.basename(playbook._file_name))

    def v2_playbook_on_play_start(self, play):
        if not self._path:
            return
        now = time.monotonic()
        self._close_play(now)
        playbooks = self._run["playbooks"]
        self._play = {"name": play.get_name(), "playbook": playbooks[-1] if playbooks else None,
                      "tags": list(play.tags or []), "_start": now, "tasks": []}
        self._run["plays"].append(self._play)

    def _task_start(self, task, handler):
        if not self._path:
            return
        now = time.monotonic()
        self._close_task(now)
        role = task._role.get_name() if task._role else None
        self._task = {"name": task.get_name(), "role": role, "action": task.action, "handler": handler,
                      "_start": now, "seconds": None, "hosts": {}}
        self._tasks[task._uuid] = self._task
        if self._play is not None:
            self._play["tasks"].append(self._task)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task, False)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task, True)

    # ------------------------------------------------------------------ results
    def _entry(self, result):
        record = self._tasks.get(result._task._uuid) if self._path else None
        if record is None:
            return None
        return record["hosts"].setdefault(result._host.get_name(), {"seconds": None, "status": None, "items": 0}), \
            record["_start"]

    def _record(self, result, status):
        found = self._entry(result)
        if found is None:
            return
        entry, start = found
        if status == "ok" and result._result.get("changed"):
            status = "changed"
        entry["seconds"] = round(time.monotonic() - start, 3)
        # a looped task's own result comes after its items'; a failed item is not forgotten by it
        if entry["status"] != "failed":
            entry["status"] = status

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def _item(self, result):
        found = self._entry(result)
        if found is not None:
            found[0]["items"] += 1

    v2_runner_item_on_ok = _item
    v2_runner_item_on_failed = _item
    v2_runner_item_on_skipped = _item

    # ------------------------------------------------------------------ end
    def v2_playbook_on_stats(self, stats):
        if not self._path:
            return
        now = time.monotonic()
        self._close_play(now)
        for record in self._tasks.values():
            record.pop("_start", None)
        self._run["seconds"] = round(now - self._clock, 3)
        self._run["hosts"] = dict((h, stats.summarize(h)) for h in sorted(stats.processed))
        path = self._path
        if os.path.isdir(path):
            first = os.path.splitext(self._run["playbooks"][0])[0] if self._run["playbooks"] else "run"
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._run["started"]))
            path = os.path.join(path, "%s-%s-%d.json" % (first, stamp, os.getpid()))
        with open(path, "w") as handle:
            json.dump(self._run, handle, indent=1, sort_keys=True)
            handle.write("\n")
