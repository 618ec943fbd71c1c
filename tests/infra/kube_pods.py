"""Pods made through the Kubernetes API, and the checks test_cluster_pods.py (and its fault test) run on them.

kubectl runs on the first kube_control_plane host with /etc/kubernetes/admin.conf. Pods use the bundle's
verification image (localhost/kubeadm-flannel/nettest, see bundle/README.md), never pulled, and are pinned
to a node by its kubernetes.io/hostname label; inventory hosts are matched to Kubernetes nodes by the
InternalIP the kubelet registered (the cluster interface's address). Each check is a plain function that
raises AssertionError naming what it found, so the fault test can run it against a broken pod or node.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import shlex
import time
from dataclasses import dataclass, field

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from conftest import Node
from cri import container_pid, namespace_mismatches, node_of, ns_of, sandbox_pid

ADMIN_CONF = '/etc/kubernetes/admin.conf'
IMAGE_REPO = 'localhost/kubeadm-flannel/nettest'
LABEL = 'app.kubernetes.io/part-of'
LABEL_VALUE = 'kubeadm-flannel-tests'
READY_TIMEOUT = 180


def groups(inventory: str) -> dict:
    """kube_control_plane / kube_workers -> host names, in inventory order."""
    manager = InventoryManager(loader=DataLoader(), sources=[inventory])
    return {g: [h.name for h in manager.get_hosts(g)] for g in ('kube_control_plane', 'kube_workers')}


def dns_name(text: str) -> str:
    return re.sub(r'[^a-z0-9-]+', '-', text.lower()).strip('-')


class Kubectl:
    """kubectl on a control-plane node."""

    def __init__(self, node: Node):
        self.node = node

    def run(self, args: str, stdin: str | None = None):
        cmd = f'kubectl --kubeconfig {ADMIN_CONF} {args}'
        if stdin is not None:
            cmd = f'printf %s {shlex.quote(stdin)} | {cmd}'
        return self.node.host.run(cmd)

    def out(self, args: str, stdin: str | None = None) -> str:
        result = self.run(args, stdin)
        assert result.rc == 0, f'kubectl {args} on {self.node.name} failed: {result.stderr.strip() or result.stdout}'
        return result.stdout

    def json(self, args: str) -> dict:
        return json.loads(self.out(f'{args} -o json'))


@dataclass
class Pod:
    name: str
    namespace: str
    node: Node          # the inventory host it runs on
    k8s_node: str       # its Kubernetes node name
    ip: str = ''
    uid: str = ''
    containers: dict = field(default_factory=dict)   # container name -> containerd id

    def __str__(self):
        return f'{self.namespace}/{self.name}@{self.node.name}'


@dataclass
class Cluster:
    kubectl: Kubectl
    inventory: str
    workers: list           # inventory Nodes of kube_workers, in inventory order
    k8s_names: dict         # inventory name -> Kubernetes node name
    image: str

    def node(self, name: str) -> Node:
        return node_of(self.inventory, name)


def connect(inventory: str) -> Cluster:
    """The cluster behind an inventory: kubectl on its control plane, its workers, the nettest image."""
    names = groups(inventory)
    assert names['kube_control_plane'], f'{inventory}: no host in kube_control_plane'
    assert len(names['kube_workers']) >= 2, \
        f'{inventory}: two hosts in kube_workers needed, found {names["kube_workers"]}'
    kubectl = Kubectl(node_of(inventory, names['kube_control_plane'][0]))
    by_ip = {}
    for item in kubectl.json('get nodes')['items']:
        for address in item['status'].get('addresses', []):
            if address['type'] == 'InternalIP':
                by_ip[address['address']] = item['metadata']['labels']['kubernetes.io/hostname']
    workers = [node_of(inventory, n) for n in names['kube_workers'][:2]]
    k8s_names = {}
    for worker in workers:
        ip = worker.cluster_ip()
        assert ip in by_ip, f'{worker.name}: no Kubernetes node with InternalIP {ip} (nodes: {by_ip})'
        k8s_names[worker.name] = by_ip[ip]
    images = set()
    for worker in workers:
        tags = [t for i in json.loads(worker.host.check_output('crictl images -o json'))['images']
                for t in i.get('repoTags') or [] if t.startswith(IMAGE_REPO + ':')]
        assert tags, (f'{worker.name}: containerd has no {IMAGE_REPO} image (bundle/build-images.sh nettest '
                      'writes it to the verification manifest; lab/verification_images.yml imports it)')
        images.add(sorted(tags)[-1])
    assert len(images) == 1, f'the workers hold different {IMAGE_REPO} tags: {sorted(images)}'
    return Cluster(kubectl, inventory, workers, k8s_names, images.pop())


# ------------------------------------------------------------------------------------------- pod specs
def nginx(image: str) -> dict:
    return {'name': 'nginx', 'image': image, 'imagePullPolicy': 'Never'}


def client(image: str, prefix: tuple = ()) -> dict:
    """Curls the pod's own nginx on localhost every 2 s (IPv4: nginx listens on 0.0.0.0:80 only)."""
    loop = 'while :; do curl -4 -s -o /dev/null --max-time 2 http://localhost/; sleep 2; done'
    return {'name': 'client', 'image': image, 'imagePullPolicy': 'Never', 'command': [*prefix, 'sh', '-c', loop]}


def pod_spec(name: str, k8s_node: str, containers: list, **spec) -> dict:
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': {'name': name, 'labels': {LABEL: LABEL_VALUE}},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': k8s_node}, 'terminationGracePeriodSeconds': 1,
                     'containers': containers, **spec}}


def web_name(host: str) -> str:
    return f'web-{dns_name(host)}'


def standard_specs(cluster: Cluster) -> dict:
    """{inventory host: [pod spec]}: web-<host> (nginx) on each of two workers, duo (nginx + client) on the first."""
    image, first = cluster.image, cluster.workers[0].name
    specs = {w.name: [pod_spec(web_name(w.name), cluster.k8s_names[w.name], [nginx(image)])] for w in cluster.workers}
    specs[first].append(pod_spec('duo', cluster.k8s_names[first], [nginx(image), client(image)]))
    return specs


def delete_namespace(cluster: Cluster, namespace: str):
    cluster.kubectl.out(f'delete namespace {namespace} --ignore-not-found --wait=true --timeout=120s')


@contextlib.contextmanager
def standard_pods(cluster: Cluster, namespace: str):
    """The standard pods (standard_specs) in their own namespace, deleted afterwards even when a test failed."""
    try:
        yield create_pods(cluster, namespace, standard_specs(cluster))
    finally:
        delete_namespace(cluster, namespace)


def create_pods(cluster: Cluster, namespace: str, specs: dict) -> dict:
    """Make namespace (afresh) with the pods {inventory host: [pod spec]}; wait for Ready; name -> Pod."""
    delete_namespace(cluster, namespace)
    items = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': namespace, 'labels': {LABEL: LABEL_VALUE}}}]
    for spec_list in specs.values():
        for spec in spec_list:
            items.append({**spec, 'metadata': {**spec['metadata'], 'namespace': namespace}})
    cluster.kubectl.out('apply -f -', json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': items}))
    ready = cluster.kubectl.run(f'wait -n {namespace} --for=condition=Ready pod --all --timeout={READY_TIMEOUT}s')
    if ready.rc != 0:
        state = cluster.kubectl.run(f'get pods -n {namespace} -o wide').stdout
        events = cluster.kubectl.run(f'get events -n {namespace} --sort-by=.lastTimestamp').stdout
        raise AssertionError(f'pods in {namespace} not Ready in {READY_TIMEOUT} s: {ready.stderr.strip()}\n'
                             f'{state}\n{events[-3000:]}')
    host_of = {spec['metadata']['name']: host for host, spec_list in specs.items() for spec in spec_list}
    pods = {}
    for item in cluster.kubectl.json(f'get pods -n {namespace}')['items']:
        name = item['metadata']['name']
        pods[name] = Pod(name, namespace, cluster.node(host_of[name]), item['spec']['nodeName'],
                         item['status'].get('podIP', ''), item['metadata']['uid'],
                         {c['name']: c['containerID'].split('://', 1)[1] for c in item['status']['containerStatuses']})
        assert pods[name].k8s_node == cluster.k8s_names.get(host_of[name], pods[name].k8s_node), \
            f'{pods[name]} scheduled to {pods[name].k8s_node}'
    return pods


# ------------------------------------------------------------------------------------------------ checks
def in_pod(cluster: Cluster, pod: Pod, command: str, container: str = 'nginx'):
    return cluster.kubectl.run(f'exec -n {pod.namespace} {pod.name} -c {container} -- sh -c {shlex.quote(command)}')


def check_ping(cluster: Cluster, src: Pod, dst: Pod):
    """src pings dst by pod IP, and the node sends that traffic into the VXLAN device."""
    ping = in_pod(cluster, src, f'ping -c 3 -W 2 {dst.ip}')
    assert ping.rc == 0, f'{src} ({src.ip}) cannot ping {dst} ({dst.ip}): {(ping.stdout + ping.stderr).strip()[-400:]}'
    vtep = f"flannel.{int(src.node.settings.get('flannel_vxlan_vni', 1))}"
    route = json.loads(src.node.host.check_output(f'ip -j route get {dst.ip}'))[0]
    assert route.get('dev') == vtep, f'{src.node.name} sends to {dst} ({dst.ip}) through {route}, not {vtep}'


def nginx_peers(cluster: Cluster, pod: Pod, path: str) -> list:
    """Client addresses of pod's nginx access log lines for GET path (the log goes to stdout)."""
    logs = cluster.kubectl.out(f'logs -n {pod.namespace} {pod.name} -c nginx --tail=500')
    return [line.split()[0] for line in logs.splitlines() if f'"GET {path} ' in line]


def check_no_nat(cluster: Cluster, src: Pod, dst: Pod):
    """dst's nginx logs src's pod IP as the client: nothing rewrote the source on the way."""
    path = f'/kf-{src.name}-{time.time_ns()}'
    fetch = in_pod(cluster, src, f"curl -4 -s -o /dev/null -w '%{{http_code}}' --max-time 10 http://{dst.ip}{path}")
    # 404 is the answer for a path that does not exist: the request reached nginx, whose log is what counts
    assert fetch.rc == 0 and fetch.stdout.strip() == '404', \
        f'{src} -> http://{dst.ip}{path} ({dst}): rc {fetch.rc}, HTTP {fetch.stdout.strip()!r} {fetch.stderr.strip()}'
    peers = nginx_peers(cluster, dst, path)
    assert peers == [src.ip], f'{dst} saw {src} ({src.ip}) as {peers}: NATed or lost between the pods'


def check_localhost_client(cluster: Cluster, pod: Pod, seconds: int = 20):
    """The pod's nginx sees its client container on 127.0.0.1: they share the pause's network namespace."""
    deadline = time.monotonic() + seconds
    while True:
        peers = set(nginx_peers(cluster, pod, '/'))
        if peers or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert peers == {'127.0.0.1'}, \
        f'{pod}: nginx saw its client (curl http://localhost every 2 s) as {sorted(peers)} in {seconds} s, ' \
        'expected 127.0.0.1'


def check_namespaces(pod: Pod, container: str):
    """container shares with the pod's pause process the namespaces verify expects shared (the verify role's
    verify_pod_shared_namespaces: net, ipc, uts under containerd) and keeps the others (mnt, pid) its own."""
    host = pod.node.host
    sandboxes = host.check_output(f'crictl pods --label io.kubernetes.pod.uid={pod.uid} --state ready -q').split()
    assert len(sandboxes) == 1, f'{pod}: ready sandboxes {sandboxes} for pod uid {pod.uid}, expected one'
    pause = ns_of(host, sandbox_pid(host, sandboxes[0]))
    ctr = ns_of(host, container_pid(host, pod.containers[container]))
    wrong = namespace_mismatches(pause, ctr, tuple(pod.node.settings['verify_pod_shared_namespaces']))
    assert not wrong, f'{pod}/{container} vs its pause: {", ".join(wrong)} (pause {pause}, container {ctr})'


def check_pod_cidr(cluster: Cluster, pod: Pod):
    """The pod's IP lies in its node's podCIDR, which lies in the cluster CIDR."""
    cidr = cluster.kubectl.out(f"get node {pod.k8s_node} -o jsonpath='{{.spec.podCIDR}}'").strip()
    assert cidr, f'{pod.k8s_node} has no podCIDR'
    cluster_cidr = ipaddress.ip_network(pod.node.settings['kube_pod_subnet'])
    assert ipaddress.ip_network(cidr).subnet_of(cluster_cidr), f'{pod.k8s_node}: podCIDR {cidr} outside {cluster_cidr}'
    assert pod.ip and ipaddress.ip_address(pod.ip) in ipaddress.ip_network(cidr), \
        f'{pod}: pod IP {pod.ip!r} outside its node {pod.k8s_node} podCIDR {cidr}'


def check_masquerade(cluster: Cluster, src: Pod, target: Node):
    """src reaches target's cluster address (outside the cluster CIDR) as its node's address: masqueraded."""
    address = target.cluster_ip()
    cluster_cidr = ipaddress.ip_network(src.node.settings['kube_pod_subnet'])
    assert ipaddress.ip_address(address) not in cluster_cidr, f'{target.name}: {address} inside {cluster_cidr}'
    work = f'/tmp/kf-masq-{src.name}'
    # a listener on a port the kernel picks (free by construction), stopped by its pid; `timeout` bounds it
    # should this test die before the finally below
    target.host.run_expect([0], f'rm -rf {work} && mkdir -p {work}/empty && cd {work} && '
                                f'(setsid timeout 120 python3 -u -m http.server 0 --bind {address} '
                                f'--directory {work}/empty >{work}/log 2>&1 & echo $! >{work}/pid)')
    try:
        port = ''
        for _ in range(30):
            served = r"sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p'"
            port = target.host.run(f"{served} {work}/log").stdout.strip()
            if port:
                break
            time.sleep(0.5)
        assert port, f'{target.name}: listener did not start: {target.host.run(f"cat {work}/log").stdout}'
        path = f'/kf-masq-{time.time_ns()}'
        fetch = in_pod(cluster, src, f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 http://{address}:{port}{path}")
        assert fetch.rc == 0, f'{src} cannot reach {target.name} {address}:{port}: rc {fetch.rc} {fetch.stderr.strip()}'
        log = target.host.check_output(f'cat {work}/log')
    finally:
        target.host.run(f'kill $(cat {work}/pid); rm -rf {work}')
    peers = [line.split()[0] for line in log.splitlines() if f'"GET {path} ' in line]
    expected = src.node.cluster_ip()
    assert peers == [expected], \
        f'{target.name} ({address}) saw {src} ({src.ip}) as {peers}, expected the masqueraded {expected}'
