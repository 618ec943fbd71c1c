#!/usr/bin/env bash
# Run one of the project's playbooks through ansible-runner, the engine AWX and Automation Platform run jobs
# with, from a private data dir laid out as they lay one out:
#
#   scripts/runner.sh -i INVENTORY [-d DATA_DIR] PLAYBOOK [ANSIBLE-PLAYBOOK ARGS...]
#   scripts/runner.sh -i inventories/sample playbooks/validate.yml
#   ANSIBLE_CONFIG=lab/ansible.cfg scripts/runner.sh -i lab/inventory/hosts.yml playbooks/verify.yml
#
# DATA_DIR (default: a new directory under $TMPDIR, kept) gets
#   project/        -> this repository (ansible-runner runs ansible-playbook in it)
#   inventory/      -> INVENTORY, a directory (hosts file + group_vars/) or one file (its group_vars/ and
#                      host_vars/ beside it come along)
#   env/envvars     ANSIBLE_CONFIG (the caller's, else the product's ansible.cfg), ANSIBLE_CALLBACK_PLUGINS
#                   (this project's stage_timings; ansible-runner adds its own event callback after it) and
#                   ANSIBLE_HOST_KEY_CHECKING=True (ansible-runner's default is False)
#   env/cmdline     the ANSIBLE-PLAYBOOK ARGS, if any
#   artifacts/run/  what ansible-runner writes: rc, status, stdout, command, job_events/ (one JSON per event)
# PLAYBOOK is a path in this repository (site.yml, playbooks/<stage>.yml). The caller's environment reaches
# ansible-playbook (KF_TIMINGS_FILE, ANSIBLE_* settings), with env/envvars on top of it.
# The exit status is ansible-runner's (the playbook's). ansible-runner comes from the venv (requirements.txt).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '5,7p' "$0" | sed 's/^# *//' >&2; exit 2; }

inventory='' data=''
while getopts 'i:d:h' opt; do
    case $opt in
        i) inventory=$OPTARG ;;
        d) data=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
if [ -z "$inventory" ] || [ $# -lt 1 ]; then usage; fi
playbook=$1
shift
[ -f "$repo/$playbook" ] || { echo "runner.sh: no playbook $playbook in $repo" >&2; exit 2; }
inventory=$(realpath "$inventory")
config=$(realpath "${ANSIBLE_CONFIG:-$repo/ansible.cfg}")

bin=${VENV:-$repo/.venv}/bin
runner=$bin/ansible-runner
[ -x "$runner" ] || runner=$(command -v ansible-runner) || {
    echo "runner.sh: ansible-runner is not installed (make venv installs it from requirements.txt)" >&2; exit 2; }
# ansible-runner starts ansible-playbook from PATH: the one beside it
PATH=$(dirname "$(realpath "$runner")"):$PATH
export PATH

if [ -z "$data" ]; then
    data=$(mktemp -d "${TMPDIR:-/tmp}/kf-runner.XXXXXX")
elif [ -e "$data" ] && [ -n "$(ls -A "$data")" ]; then
    echo "runner.sh: $data is not empty" >&2; exit 2
fi
mkdir -p "$data/env"
ln -sfn "$repo" "$data/project"
if [ -d "$inventory" ]; then
    ln -sfn "$inventory" "$data/inventory"
else
    mkdir -p "$data/inventory"
    ln -sfn "$inventory" "$data/inventory/$(basename "$inventory")"
    for vars in group_vars host_vars; do
        [ -d "$(dirname "$inventory")/$vars" ] && ln -sfn "$(dirname "$inventory")/$vars" "$data/inventory/$vars"
    done
fi
# ansible-runner turns host key checking off unless envvars say otherwise: keep it on, as the product's config does.
jq -n --arg config "$config" --arg callbacks "$repo/callback_plugins" \
    '{ANSIBLE_CONFIG: $config, ANSIBLE_CALLBACK_PLUGINS: $callbacks, ANSIBLE_HOST_KEY_CHECKING: "True"}' \
    > "$data/env/envvars"
if [ $# -gt 0 ]; then
    printf '%q ' "$@" > "$data/env/cmdline"
fi

rc=0
"$runner" run "$data" --ident run -p "$playbook" || rc=$?
echo "runner.sh: ansible-runner exited $rc; private data dir and artifacts: $data" >&2
exit "$rc"
