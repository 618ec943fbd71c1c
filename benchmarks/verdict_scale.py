#!/usr/bin/env python3
"""How the verify verdict (filter_plugins/netcheck.py) grows with the cluster: N synthetic nodes, each a copy of
the captured node view of tests/unit (real ip/bridge/iptables/crictl output) renumbered to its own lease, address
and VTEP MAC, judged together as verify.yml's verdict task judges them.

    .venv/bin/python benchmarks/verdict_scale.py [N ...] [--runs R]      default: 10 100 500, one run

Prints a Markdown table, per N: nodes, node pairs (N*(N-1): every node checks route, neighbour and FDB entry
towards every other), results, seconds, microseconds per pair, and the failed results (0: the synthetic
cluster is healthy). Timed: netcheck.verify_cluster alone (time.perf_counter around the call; building and
copying the views is not counted). With --runs R, seconds and us/pair are min / median / max of R runs.
The verdict must stay linear in the pairs it checks: us/pair flat as N grows.
"""
import argparse
import copy
import json
import statistics
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests", "unit")]

from test_netcheck import SETTINGS, healthy_cluster, netcheck  # noqa: E402  (the unit tests' captured views)


def synthetic(count):
    """``count`` nodes: the captured node's view, node i on 10.<i/250>.<i%250>.0/24 leases of 10.0.0.0/8."""
    template = healthy_cluster()[0]
    nodes = []
    for i in range(count):
        text = json.dumps(template)
        lease = "10.%d.%d" % (i // 250, i % 250)
        mac = "02:00:00:%02x:%02x:%02x" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        text = text.replace("172.16.0.0/16", "10.0.0.0/8").replace("172.16.0.", lease + ".")
        text = text.replace("192.168.100.10", "192.168.%d.%d" % (i // 250, i % 250 + 1))
        text = text.replace(template["flannel"]["vtep"]["mac"], mac)
        node = json.loads(text)
        node["name"] = "node-%04d" % i
        nodes.append(node)
    # every node's FDB, neighbours and routes towards every other, as flanneld would have written them
    for node in nodes:
        flannel = node["flannel"]
        routes, fdb, neigh = [], [], []
        for peer in nodes:
            if peer is node:
                continue
            sub = peer["flannel"]["subnet_env"]["subnet"]
            gw = sub.split("/")[0]
            routes.append({"dst": sub, "gateway": gw, "dev": flannel["vtep"]["name"], "onlink": True})
            mac = peer["flannel"]["vtep"]["mac"]
            fdb.append({"mac": mac, "dst": peer["node_ip"]})
            neigh.append({"dst": gw, "lladdr": mac})
        flannel.update(routes=routes, fdb=fdb, neighbours=neigh)
    return nodes


def spread(values, scale=1.0, digits=2):
    values = [v * scale for v in values]
    if len(values) == 1:
        return "%.*f" % (digits, values[0])
    return " / ".join("%.*f" % (digits, v) for v in (min(values), statistics.median(values), max(values)))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 500], help="numbers of nodes")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (default 1)")
    args = parser.parse_args(argv)
    settings = dict(SETTINGS, pod_subnet="10.0.0.0/8")
    print("| nodes | pairs | results | seconds | us/pair | failed |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count in args.sizes:
        nodes = netcheck.collect_nodes(["node-%04d" % i for i in range(count)], synthetic(count))
        pairs = count * (count - 1)
        seconds = []
        for _ in range(args.runs):
            views = copy.deepcopy(nodes)
            start = time.perf_counter()
            results = netcheck.verify_cluster(views, settings)
            seconds.append(time.perf_counter() - start)
        failed = sum(1 for r in results if not r["ok"])
        print("| %d | %d | %d | %s | %s | %d |" % (count, pairs, len(results), spread(seconds),
                                                   spread(seconds, 1e6 / max(pairs, 1), 1), failed), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
