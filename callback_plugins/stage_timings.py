# -*- coding: utf-8 -*-
# Where a run's time goes, as JSON: every play (a stage of site.yml), every task in it, and each host's time and
# outcome per task. Off unless a file is named (KF_TIMINGS_FILE, or [callback_stage_timings] file in ansible.cfg);
# the README's per-stage figures are read from such files, never typed in by hand.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: stage_timings
type: aggregate
short_description: Write each play's and task's wall time, per host, to a JSON file
description:
  - Records, for every play of the run, its wall time and, for every task, its wall time and each host's time
    from the task's start to its result, with the host's status (ok, changed, failed, skipped, unreachable).
  - Writes the whole record once, when the run ends, to O(file). Does nothing when O(file) is empty.
requirements:
  - enabled in callbacks_enabled (ansible.cfg), or with ANSIBLE_CALLBACKS_ENABLED=stage_timings
options:
  file:
    description: Path of the JSON file to write; empty, nothing is written.
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
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._run = {"playbook": None, "started": time.time(), "seconds": None, "plays": []}
        self._play = None
        self._task = None
        self._clock = time.monotonic()

    # ------------------------------------------------------------------ structure
    def _close_task(self, now):
        if self._task is not None:
            self._task["seconds"] = round(now - self._task.pop("_start"), 3)
            self._task = None

    def _close_play(self, now):
        self._close_task(now)
        if self._play is not None:
            self._play["seconds"] = round(now - self._play.pop("_start"), 3)
            self._play = None

    def v2_playbook_on_start(self, playbook):
        self._run["playbook"] = os.path.basename(playbook._file_name)

    def v2_playbook_on_play_start(self, play):
        now = time.monotonic()
        self._close_play(now)
        self._play = {"name": play.get_name(), "tags": list(play.tags or []), "_start": now, "tasks": []}
        self._run["plays"].append(self._play)

    def _task_start(self, task, handler=False):
        now = time.monotonic()
        self._close_task(now)
        role = task._role.get_name() if task._role else None
        self._task = {"name": task.get_name(), "role": role, "action": task.action, "handler": handler,
                      "_start": now, "hosts": {}}
        if self._play is not None:
            self._play["tasks"].append(self._task)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task, handler=True)

    # ------------------------------------------------------------------ results
    def _record(self, result, status):
        if self._task is None:
            return
        host = result._host.get_name()
        if status == "ok" and result._result.get("changed"):
            status = "changed"
        entry = self._task["hosts"].setdefault(host, {"seconds": 0.0, "status": status, "items": 0})
        entry["seconds"] = round(time.monotonic() - self._task["_start"], 3)
        # a looped task reports once per host at the end; a failure anywhere in it wins
        if entry["status"] != "failed":
            entry["status"] = status

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ok" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        if self._task is not None:
            entry = self._task["hosts"].setdefault(result._host.get_name(),
                                                   {"seconds": 0.0, "status": "ok", "items": 0})
            entry["items"] += 1

    # ------------------------------------------------------------------ end
    def v2_playbook_on_stats(self, stats):
        now = time.monotonic()
        self._close_play(now)
        self._run["seconds"] = round(now - self._clock, 3)
        self._run["hosts"] = dict((h, stats.summarize(h)) for h in sorted(stats.processed))
        path = self.get_option("file")
        if not path:
            return
        with open(path, "w") as handle:
            json.dump(self._run, handle, indent=1, sort_keys=True)
            handle.write("\n")
