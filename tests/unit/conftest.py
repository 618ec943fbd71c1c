# -*- coding: utf-8 -*-
# Make the project's module_utils importable as ansible.module_utils.<name> before any test module
# imports it (ansible.cfg does the same for real runs). Helpers live in netfacts_helpers.py.

import netfacts_helpers  # noqa: F401  (import side effect: extends ansible.module_utils.__path__)
