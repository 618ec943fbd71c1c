# -*- coding: utf-8 -*-
# What the three fact modules do alike around their parsers: run a command the same way, and turn
# a parse or read error into one clear failure. The parsing itself stays in the pure *_parse files.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.netfacts_common import ParseError


def run_checked(module, argv, environ=None):
    """Run one command with LC_ALL=C (and ``environ``); a non-zero exit fails the module naming the command."""
    env = {"LC_ALL": "C", "LANG": "C"}
    env.update(environ or {})
    rc, out, err = module.run_command(argv, environ_update=env)
    if rc != 0:
        module.fail_json(msg="%s failed (rc=%s): %s" % (" ".join(argv), rc, (err or out).strip()),
                         cmd=argv, rc=rc, stdout=out, stderr=err)
    return out


def exit_with_facts(module, fact_name, gather):
    """Call gather(module) and return its result as ansible_facts[fact_name], never changed.

    Broken command output (ParseError) and unreadable files fail the module with a message naming
    the command or file and what was wrong, instead of a traceback.
    """
    try:
        facts = gather(module)
    except ParseError as exc:
        module.fail_json(msg="cannot parse %s" % exc, command=exc.source, reason=exc.reason)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (exc.filename, exc.strerror))
    module.exit_json(changed=False, ansible_facts={fact_name: facts})
