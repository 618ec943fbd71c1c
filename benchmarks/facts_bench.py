#!/usr/bin/env python3
"""Benchmark (not a test): flannel_facts + cni_facts + pod_sandbox_facts on one node with N pod sandboxes.

Builds a synthetic node out of real kernel objects, as root, touching nothing outside what it creates:
  * netns kfa-bench-node: enp0s8 (veth to kfa-bench-peer), flannel.1 (vxlan id 1, dstport 8472, nolearning),
    cni0 bridge, onlink routes + permanent FDB/neighbour entries for two peers, flannel v0.16.1 iptables rules;
  * per pod: a real "pause" process (catatonit -P, via a symlink named pause) in fresh net/ipc/uts/pid/mnt
    namespaces, pinned as netns kfa-bench-pod-<i>, a veth from it to cni0 (hairpin on), a host-local lease
    file, and two container processes (sleep) joined to its net/ipc/uts with their own mnt/pid.
crictl is replaced by a replay of output rendered by benchmarks/fake_crictl.py from real crictl documents (no CRI
runtime knows synthetic pods); the /proc scan, ip/bridge/iptables calls and all parsing are real.

Usage (root): facts_bench.py [--sizes 10,100,500] [--repeat 3] [--keep]
Prints, per size, each module's run time inside the module (main()) and the wall time of running it in a
fresh interpreter the way Ansible does (python startup + imports included).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCH = "/var/cache/kubeadm-flannel/bench"
NODE = "kfa-bench-node"
PEER = "kfa-bench-peer"
POD_PREFIX = "kfa-bench-pod-"


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def ip_batch(lines, netns=None):
    if not lines:
        return
    with tempfile.NamedTemporaryFile("w", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    try:
        sh(*(["ip"] + (["-n", netns] if netns else []) + ["-batch", handle.name]))
    finally:
        os.unlink(handle.name)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as handle:
            return [int(x) for x in handle.read().split()]
    except OSError:
        return []


def wait_child(pid, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        kids = children(pid)
        if kids:
            return kids[0]
        time.sleep(0.002)
    raise RuntimeError("no child under %d" % pid)


class Node(object):
    def __init__(self):
        self.procs = []   # Popen objects we started (unshare parents); killing them kills their child
        self.pods = []
        self.state_file = os.path.join(BENCH, "state.json")

    # -------------------------------------------------------------- node
    def setup(self):
        for sub in ("bin", "net.d", "networks/cbr0", "cnibin"):
            os.makedirs(os.path.join(BENCH, sub), exist_ok=True)
        pause = os.path.join(BENCH, "bin", "pause")
        if not os.path.exists(pause):
            os.symlink("/usr/bin/catatonit", pause)
        for name in ("bridge", "flannel", "host-local", "loopback", "portmap"):
            path = os.path.join(BENCH, "cnibin", name)
            with open(path, "w") as handle:
                handle.write("#!/bin/sh\nexit 1\n")
            os.chmod(path, 0o755)
        with open(os.path.join(BENCH, "net.d", "10-flannel.conflist"), "w") as handle:
            json.dump({"name": "cbr0", "cniVersion": "0.3.1", "plugins": [
                {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True}},
                {"type": "portmap", "capabilities": {"portMappings": True}}]}, handle)
        with open(os.path.join(BENCH, "subnet.env"), "w") as handle:
            handle.write("FLANNEL_NETWORK=10.200.0.0/16\nFLANNEL_SUBNET=10.200.0.1/22\n"
                         "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
        sh("ip", "netns", "add", NODE)
        sh("ip", "netns", "add", PEER)
        ip_batch([
            "link add enp0s8 type veth peer name enp0s8 netns %s" % PEER,
            "addr add 192.0.2.10/24 dev enp0s8", "link set enp0s8 up", "link set lo up",
            "link add flannel.1 type vxlan id 1 local 192.0.2.10 dev enp0s8 dstport 8472 nolearning",
            "link set flannel.1 mtu 1450", "addr add 10.200.0.0/32 dev flannel.1", "link set flannel.1 up",
            "link add cni0 type bridge", "link set cni0 mtu 1450", "addr add 10.200.0.1/22 dev cni0",
            "link set cni0 up",
            "route add 10.200.4.0/22 via 10.200.4.0 dev flannel.1 onlink",
            "route add 10.200.8.0/22 via 10.200.8.0 dev flannel.1 onlink",
            "neigh replace 10.200.4.0 lladdr 02:00:00:00:00:04 dev flannel.1 nud permanent",
            "neigh replace 10.200.8.0 lladdr 02:00:00:00:00:08 dev flannel.1 nud permanent",
        ], NODE)
        sh("bridge", "-n", NODE, "fdb", "replace", "02:00:00:00:00:04", "dev", "flannel.1", "dst", "192.0.2.11",
           "self", "permanent")
        sh("bridge", "-n", NODE, "fdb", "replace", "02:00:00:00:00:08", "dev", "flannel.1", "dst", "192.0.2.12",
           "self", "permanent")
        rules = [("nat", "-s 10.200.0.0/16 -d 10.200.0.0/16 -j RETURN"),
                 ("nat", "-s 10.200.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully"),
                 ("nat", "! -s 10.200.0.0/16 -d 10.200.0.0/22 -j RETURN"),
                 ("nat", "! -s 10.200.0.0/16 -d 10.200.0.0/16 -j MASQUERADE --random-fully"),
                 ("filter", "-s 10.200.0.0/16 -j ACCEPT"), ("filter", "-d 10.200.0.0/16 -j ACCEPT")]
        for table, rule in rules:
            chain = "POSTROUTING" if table == "nat" else "FORWARD"
            sh(*(["ip", "netns", "exec", NODE, "iptables", "-t", table, "-A", chain] + rule.split()))

    # -------------------------------------------------------------- pods
    def add_pods(self, target):
        start = len(self.pods)
        pause = os.path.join(BENCH, "bin", "pause")
        new = []
        for i in range(start, target):
            proc = subprocess.Popen(["unshare", "--net", "--ipc", "--uts", "--pid", "--mount", "--fork",
                                     "--kill-child", "--", pause, "-P"], start_new_session=True,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(proc)
            new.append((i, proc))
        for i, proc in new:
            pid = wait_child(proc.pid)
            self.pods.append({"index": i, "id": "%064x" % (0xbe7c0000 + i), "name": "bench-%04d" % i,
                              "pid": pid, "ip": "10.200.%d.%d" % (i // 250, 2 + i % 250), "containers": []})
        ip_batch(["netns attach %s%04d %d" % (POD_PREFIX, p["index"], p["pid"]) for p in self.pods[start:]])
        lines = []
        for pod in self.pods[start:]:
            veth = "vb%04d" % pod["index"]
            lines += ["link add %s type veth peer name eth0 netns %s%04d" % (veth, POD_PREFIX, pod["index"]),
                      "link set %s mtu 1450 master cni0" % veth,
                      "link set %s type bridge_slave hairpin on" % veth,
                      "link set %s up" % veth]
        ip_batch(lines, NODE)
        for pod in self.pods[start:]:
            for name in ("app", "sidecar"):
                proc = subprocess.Popen(["nsenter", "-t", str(pod["pid"]), "--net", "--ipc", "--uts", "--",
                                         "unshare", "--mount", "--pid", "--fork", "--kill-child", "--",
                                         "sleep", "infinity"], start_new_session=True,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                self.procs.append(proc)
                pod["containers"].append({"name": name, "proc": proc})
        for pod in self.pods[start:]:
            for j, ctr in enumerate(pod["containers"]):
                ctr["pid"] = wait_child(ctr.pop("proc").pid)
                ctr["id"] = "%064x" % (0xc0de0000 + pod["index"] * 2 + j)
            with open(os.path.join(BENCH, "networks", "cbr0", pod["ip"]), "w") as handle:
                handle.write("%s\neth0" % pod["id"])
        with open(self.state_file, "w") as handle:
            json.dump({"pods": self.pods}, handle)
        sys.path.insert(0, HERE)
        import fake_crictl
        fake_crictl.write(os.path.join(BENCH, "crictl"), {"pods": self.pods})

    # -------------------------------------------------------------- teardown
    def teardown(self):
        for proc in self.procs:
            try:
                proc.kill()
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except Exception:  # pylint: disable=broad-except
                pass
        lines = ["netns delete %s%04d" % (POD_PREFIX, p["index"]) for p in self.pods]
        try:
            ip_batch(lines)
        except subprocess.CalledProcessError:
            pass
        for ns in (NODE, PEER):
            subprocess.run(["ip", "netns", "delete", ns], check=False, capture_output=True)
        shutil.rmtree(BENCH, ignore_errors=True)


MODULE_ARGS = {
    "flannel_facts": {"subnet_file": os.path.join(BENCH, "subnet.env")},
    "cni_facts": {"conf_dir": os.path.join(BENCH, "net.d"), "bin_dir": os.path.join(BENCH, "cnibin"),
                  "ipam_dir": os.path.join(BENCH, "networks")},
    "pod_sandbox_facts": {"crictl": os.path.join(BENCH, "crictl", "crictl"),
                          "runtime_endpoint": "unix:///run/kfa-bench/none.sock"},
}


CAPTURE = "/var/cache/kubeadm-flannel/capture"
REAL_ARGS = {
    "flannel_facts": {"subnet_file": os.path.join(CAPTURE, "kfa-cap-node", "subnet.env")},
    "cni_facts": {"conf_dir": os.path.join(CAPTURE, "net.d"), "bin_dir": "/usr/lib/cni",
                  "ipam_dir": os.path.join(CAPTURE, "cni-networks")},
    "pod_sandbox_facts": {"crictl": "/var/cache/kubeadm-flannel/bundle/bin/crictl",
                          "runtime_endpoint": "unix:///run/kfa-capture/containerd/containerd.sock"},
}


def run_module_here(name):
    """Child mode: run one module with MODULE_ARGS, print its time inside main() and a result digest."""
    import contextlib
    import io
    import importlib.util
    import ansible.module_utils
    ansible.module_utils.__path__.append(os.path.join(ROOT, "module_utils"))
    from ansible.module_utils.testing import patch_module_args
    spec = importlib.util.spec_from_file_location("bench_" + name, os.path.join(ROOT, "library", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    args = REAL_ARGS if os.environ.get("KFA_BENCH_REAL") else MODULE_ARGS
    with patch_module_args(args[name]):
        began = time.perf_counter()
        with contextlib.redirect_stdout(out):
            try:
                module.main()
            except SystemExit:
                pass
        spent = time.perf_counter() - began
    result = json.loads(out.getvalue())
    facts = result.get("ansible_facts", {})
    digest = {
        "flannel_facts": lambda f: len(f["flannel"]["routes"]),
        "cni_facts": lambda f: len(f["cni"]["bridge"]["ports"]),
        "pod_sandbox_facts": lambda f: sum(1 for p in f["pod_sandboxes"]["sandboxes"]
                                           if p["pause_processes"] == [p["pid"]]),
    }[name]
    print(json.dumps({"seconds": spent, "failed": result.get("failed", False), "msg": result.get("msg"),
                      "digest": digest(facts) if not result.get("failed") else None}))


def measure(name, repeat, real=False):
    inner, wall = [], []
    env = dict(os.environ, KFA_BENCH_STATE=os.path.join(BENCH, "state.json"), LC_ALL="C")
    if real:
        env["KFA_BENCH_REAL"] = "1"
    for _ in range(repeat):
        began = time.perf_counter()
        out = subprocess.run(["ip", "netns", "exec", "kfa-cap-node" if real else NODE, sys.executable,
                              os.path.abspath(__file__),
                              "--run-module", name], check=True, capture_output=True, text=True, env=env).stdout
        wall.append(time.perf_counter() - began)
        result = json.loads(out.strip().splitlines()[-1])
        if result["failed"]:
            raise RuntimeError("%s failed: %s" % (name, result["msg"]))
        inner.append(result["seconds"])
    return statistics.median(inner), statistics.median(wall), result["digest"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the synthetic node up (debugging)")
    parser.add_argument("--real", action="store_true",
                        help="real crictl + containerd: pods made by containerd_pods.sh in the capture runtime")
    parser.add_argument("--run-module", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_module:
        run_module_here(args.run_module)
        return 0
    if os.geteuid() != 0:
        sys.exit("facts_bench.py needs root (network namespaces, veths, iptables in its own netns)")
    if args.real:
        return real_runtime(args)
    node = Node()
    rows = []
    try:
        node.setup()
        for size in [int(s) for s in args.sizes.split(",")]:
            began = time.perf_counter()
            node.add_pods(size)
            built = time.perf_counter() - began
            row = {"pods": size, "build_s": round(built, 1)}
            total_inner = total_wall = 0.0
            for name in ("flannel_facts", "cni_facts", "pod_sandbox_facts"):
                inner, wall, digest = measure(name, args.repeat)
                row[name] = {"main_s": round(inner, 3), "process_s": round(wall, 3), "digest": digest}
                total_inner += inner
                total_wall += wall
            row["total_main_s"] = round(total_inner, 3)
            row["total_process_s"] = round(total_wall, 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            node.teardown()
    print("\n%6s %10s %10s %10s %12s %14s" % ("pods", "flannel", "cni", "sandbox", "sum main()", "sum process"))
    for row in rows:
        print("%6d %9.3fs %9.3fs %9.3fs %11.3fs %13.3fs" % (
            row["pods"], row["flannel_facts"]["main_s"], row["cni_facts"]["main_s"],
            row["pod_sandbox_facts"]["main_s"], row["total_main_s"], row["total_process_s"]))
    return 0


def real_runtime(args):
    """Same three modules against the private containerd of tests/unit/capture, real crictl, real pods."""
    pods_sh = os.path.join(HERE, "containerd_pods.sh")
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            began = time.perf_counter()
            sh(pods_sh, "add", str(size))
            row = {"bench_pods": size, "build_s": round(time.perf_counter() - began, 1)}
            for name in ("flannel_facts", "cni_facts", "pod_sandbox_facts"):
                inner, wall, digest = measure(name, args.repeat, real=True)
                row[name] = {"main_s": round(inner, 3), "process_s": round(wall, 3), "digest": digest}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            sh(pods_sh, "delete")
    print("\n%6s %10s %10s %10s  (real crictl, +3 capture pods)" % ("pods", "flannel", "cni", "sandbox"))
    for row in rows:
        print("%6d %9.3fs %9.3fs %9.3fs" % (row["bench_pods"], row["flannel_facts"]["main_s"],
                                            row["cni_facts"]["main_s"], row["pod_sandbox_facts"]["main_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
