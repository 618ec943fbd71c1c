#!/usr/bin/env python3
"""Stand-in for crictl in benchmarks/facts_bench.py only (never in tests or playbooks).

Synthetic pods are real processes in real namespaces but no CRI runtime knows them, so this script renders
the four crictl answers pod_sandbox_facts asks for from the benchmark's state file, shaped exactly like the
real crictl v1.34 output captured in tests/unit/fixtures/captured (those documents are the templates).
`--write DIR` renders them once into DIR and writes DIR/crictl, a /bin/sh replay script, so the benchmark
does not time a Python interpreter starting where the real crictl is a Go binary.
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURED = os.path.join(HERE, "..", "tests", "unit", "fixtures", "captured")


def template(name, pick):
    with open(os.path.join(CAPTURED, name)) as handle:
        return pick(json.load(handle))


REPLAY = """#!/bin/sh
# replays crictl output rendered by benchmarks/fake_crictl.py --write (benchmark only)
for arg in "$@"; do
  case "$arg" in pods|ps|inspectp|inspect) exec cat "%s/$arg.json" ;; esac
done
echo "fake crictl: unsupported: $*" >&2
exit 2
"""


def write(directory, state):
    os.makedirs(directory, exist_ok=True)
    pod_ids = [p["id"] for p in state["pods"]]
    ctr_ids = [c["id"] for p in state["pods"] for c in p["containers"]]
    for verb, ids in (("pods", []), ("ps", []), ("inspectp", pod_ids), ("inspect", ctr_ids)):
        with open(os.path.join(directory, verb + ".json"), "w") as handle:
            json.dump(render(state, verb, ids), handle, indent=2)
    script = os.path.join(directory, "crictl")
    with open(script, "w") as handle:
        handle.write(REPLAY % directory)
    os.chmod(script, 0o755)
    return script


def main(argv):
    if argv[:1] == ["--write"]:
        print(write(argv[1], json.load(open(os.environ["KFA_BENCH_STATE"]))))
        return 0
    state = json.load(open(os.environ["KFA_BENCH_STATE"]))
    # drop the connection options (and their values) pod_sandbox_facts passes
    cleaned = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--runtime-endpoint", "--timeout", "-r", "-t"):
            skip = True
            continue
        cleaned.append(arg)
    args = cleaned
    verb, ids = args[0], [a for a in args[1:] if a not in ("-o", "json")]
    try:
        out = render(state, verb, ids)
    except KeyError:
        sys.stderr.write("fake_crictl: unsupported %r\n" % args)
        return 2
    json.dump(out, sys.stdout, indent=2)
    return 0


def render(state, verb, ids):
    pods = state["pods"]
    if verb == "pods":
        item = template("crictl_pods.json", lambda d: d["items"][2])
        out = {"items": []}
        for pod in pods:
            doc = copy.deepcopy(item)
            doc["id"] = pod["id"]
            doc["metadata"].update(name=pod["name"], uid=pod["id"][:36], namespace="bench")
            out["items"].append(doc)
    elif verb == "ps":
        item = template("crictl_ps.json", lambda d: d["containers"][3])
        out = {"containers": []}
        for pod in pods:
            for ctr in pod["containers"]:
                doc = copy.deepcopy(item)
                doc["id"] = ctr["id"]
                doc["podSandboxId"] = pod["id"]
                doc["metadata"]["name"] = ctr["name"]
                out["containers"].append(doc)
    elif verb == "inspectp":
        item = template("crictl_inspectp_multi.json", lambda d: d[2])
        by_id = dict((p["id"], p) for p in pods)
        out = []
        for pid in ids:
            pod = by_id[pid]
            doc = copy.deepcopy(item)
            doc["status"]["id"] = pod["id"]
            doc["status"]["metadata"]["name"] = pod["name"]
            doc["status"]["network"]["ip"] = pod["ip"]
            doc["info"]["pid"] = pod["pid"]
            out.append(doc)
    elif verb == "inspect":
        item = template("crictl_inspect_multi.json", lambda d: d[0])
        by_id = dict((c["id"], (p, c)) for p in pods for c in p["containers"])
        out = []
        for cid in ids:
            pod, ctr = by_id[cid]
            doc = copy.deepcopy(item)
            doc["status"]["id"] = ctr["id"]
            doc["info"]["pid"] = ctr["pid"]
            doc["info"]["sandboxID"] = pod["id"]
            out.append(doc)
    else:
        raise KeyError(verb)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
