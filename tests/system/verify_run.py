"""Run the project's real playbooks/verify.yml against an inventory of namespace nodes."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAPTURE = os.path.join(ROOT, "tests", "unit", "capture")


def run_verify_playbook(inventory, *extra):
    """Run playbooks/verify.yml on `inventory` with the project's ansible.cfg; return (rc, output)."""
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
    proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", inventory, "playbooks/verify.yml",
                           *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr
