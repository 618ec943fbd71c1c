"""The HA control plane as the tests see it: the control planes and workers of an inventory, the API's virtual
address, who holds it, and failover measured from the outside of the node that breaks.

Plain functions and one dataclass, used by test_ha.py (the cluster as built), faults/test_ha_faults.py (a fault at
a time, recovery measured) and benchmarks/ha_failover.py (the same faults, several tries, medians).
"""
from __future__ import annotations

import json
import shlex
import subprocess
import time
from dataclasses import dataclass

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager

import kube_pods
from conftest import Node, node_of, wait_for_login

ADMIN_CONF = '/etc/kubernetes/admin.conf'
MANIFESTS = '/etc/kubernetes/manifests'
# Where a fault parks a static pod's manifest: outside the kubelet's manifest directory, so its pod stops.
PARKED = '/etc/kubernetes/kf-fault-parked'


@dataclass
class ControlPlane:
    inventory: str
    masters: list       # Nodes of kube_control_plane, in inventory order
    workers: list       # Nodes of kube_workers
    vip: str
    lb_port: int
    interface: str

    @property
    def endpoint(self) -> str:
        return f'https://{self.vip}:{self.lb_port}'

    def by_name(self, name: str) -> Node:
        return next(n for n in self.masters + self.workers if n.name == name)

    def holders(self) -> list:
        """Names of the nodes whose cluster NIC has the virtual address now."""
        found = []
        for node in self.masters + self.workers:
            try:
                out = node.host.run(f'ip -4 -o addr show dev {self.interface}')
            except RuntimeError:
                continue        # a node that is down holds nothing (testinfra raises when ssh itself fails)
            if out.rc == 0 and f' {self.vip}/' in out.stdout:
                found.append(node.name)
        return found

    def holder(self) -> Node:
        names = self.holders()
        assert len(names) == 1, f'the virtual address {self.vip} is held by {names or "no node"}'
        return self.by_name(names[0])

    def others(self, *names: str) -> list:
        return [n for n in self.masters if n.name not in names]


def control_plane(inventory: str) -> ControlPlane:
    names = kube_pods.groups(inventory)
    masters = [node_of(inventory, n) for n in names['kube_control_plane']]
    workers = [node_of(inventory, n) for n in names['kube_workers']]
    settings = masters[0].settings
    return ControlPlane(inventory, masters, workers, settings['kube_apiserver_vip'],
                        int(settings['kube_apiserver_lb_port']), settings['kube_cluster_interface'])


def lab_container(inventory: str, name: str) -> str:
    """The podman container of lab node `name` (lab/roles/lab: <lab_name>-<node>)."""
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[inventory])
    hostvars = VariableManager(loader=loader, inventory=manager).get_vars(host=manager.get_host(name))
    return f"{Templar(loader=loader, variables=hostvars).template(hostvars['lab_name'])}-{name}"


def kubectl(node: Node, args: str, timeout: int = 5):
    return node.host.run(f'kubectl --kubeconfig {ADMIN_CONF} --request-timeout={timeout}s {args}')


def wait_on(node: Node, commands: list, limit: float) -> list:
    """Run each shell command of `commands` on `node` until it succeeds, one after the other, in one login; return
    the wall-clock time (time.time(), the host's clock: lab nodes share its kernel) at which each first succeeded.
    One login for the whole wait, so that no SSH round trip is counted in what is measured."""
    script = ['set -u', f'end=$(( $(date +%s) + {int(limit)} ))']
    for command in commands:
        script += [f'until {command} >/dev/null 2>&1; do',
                   '  [ "$(date +%s)" -lt "$end" ] || { echo TIMEOUT; exit 1; }',
                   '  sleep 0.2', 'done', 'date +%s.%N']
    result = node.host.run('bash -c ' + shlex.quote('\n'.join(script)))
    assert result.rc == 0, (f'{node.name}: not every one of {commands} succeeded within {limit:.0f} s '
                            f'(succeeded at: {result.stdout.split()})')
    return [float(t) for t in result.stdout.split()]


def api_and_write(cp: ControlPlane, name: str, namespace: str) -> list:
    """Shell commands: the API answers /readyz through the virtual address; then a write (a ConfigMap) succeeds."""
    base = f'kubectl --kubeconfig {ADMIN_CONF} --request-timeout=2s'
    return [f'{base} get --raw=/readyz',
            f'{base} --namespace {namespace} create configmap {name} --from-literal=at="$(date +%s)"']


def park(node: Node, component: str) -> None:
    """Stop a static pod for good: its manifest out of the kubelet's directory (the kubelet stops the pod)."""
    node.host.run_expect([0], f'mkdir -p {PARKED} && mv {MANIFESTS}/{component}.yaml {PARKED}/')


def unpark(node: Node, component: str) -> None:
    node.host.run_expect([0], f'test ! -e {PARKED}/{component}.yaml || mv {PARKED}/{component}.yaml {MANIFESTS}/')


def etcd_members(node: Node) -> list:
    """Names of the etcd members as `node`'s own member lists them (its JSON gateway, verify's client
    certificate), sorted."""
    s = node.settings
    out = node.host.run(f"curl --silent --fail --max-time 5 --cacert {s['verify_etcd_ca_file']} "
                        f"--cert {s['verify_etcd_cert_file']} --key {s['verify_etcd_key_file']} "
                        f"-X POST -d '{{}}' {s['verify_etcd_url']}/v3/cluster/member/list")
    assert out.rc == 0, f'{node.name}: its etcd member did not list the members: {out.stderr.strip()}'
    return sorted(m.get('name', '') for m in json.loads(out.stdout)['members'])


def readyz_local(node: Node) -> str:
    port = node.settings['kube_apiserver_port']
    return (f'curl --silent --fail --max-time 2 --cacert {node.settings["verify_ca_file"]} '
            f'https://{node.cluster_ip()}:{port}/readyz')


def stop_node(cp: ControlPlane, node: Node) -> float:
    """Power a lab node off at once (podman stop, no grace period); the time it went."""
    started = time.time()
    subprocess.run(['podman', 'stop', '--time', '0', lab_container(cp.inventory, node.name)], check=True,
                   capture_output=True, timeout=120)
    return started


def start_node(cp: ControlPlane, node: Node) -> None:
    subprocess.run(['podman', 'start', lab_container(cp.inventory, node.name)], check=True, capture_output=True,
                   timeout=120)
    wait_for_login(node.host)


# --------------------------------------------------------------------------------------- faults, measured
# Each fault is made, measured from the moment it was made, and undone (in a finally), then waited out: the node
# that was broken answers again and one node holds the address. Times are seconds on the host's clock.
FAILOVER_LIMIT = 120
RECOVERY_LIMIT = 300


def wait_until_whole(cp: ControlPlane, node: Node) -> None:
    """`node`'s API server answers again, and exactly one node holds the address."""
    wait_on(node, [readyz_local(node)], RECOVERY_LIMIT)
    deadline = time.monotonic() + 60
    while len(cp.holders()) != 1 and time.monotonic() < deadline:
        time.sleep(1)


def power_off_holder(cp: ControlPlane, namespace: str, tag: str) -> dict:
    """The node holding the address powered off: the API through the address and a write, from another
    control plane; then the node is started again."""
    holder = cp.holder()
    witness = cp.others(holder.name)[0]
    try:
        went = stop_node(cp, holder)
        answered, wrote = wait_on(witness, api_and_write(cp, f'power-off-{tag}', namespace), FAILOVER_LIMIT)
        new = cp.holders()
    finally:
        start_node(cp, holder)
    wait_until_whole(cp, holder)
    return {'node': holder.name, 'witness': witness.name, 'holders_after': new,
            'api': answered - went, 'write': wrote - went}


def stop_api_server_of_holder(cp: ControlPlane, namespace: str, tag: str) -> dict:
    """Only the holder's API server stopped: the API through the address, a write, and the address moving."""
    holder = cp.holder()
    witness = cp.others(holder.name)[0]
    try:
        went = time.time()
        park(holder, 'kube-apiserver')
        answered, wrote = wait_on(witness, api_and_write(cp, f'api-stop-{tag}', namespace), FAILOVER_LIMIT)
        deadline = time.monotonic() + FAILOVER_LIMIT
        while cp.holders() == [holder.name] and time.monotonic() < deadline:
            time.sleep(0.5)
        moved = time.time()
        new = cp.holders()
    finally:
        unpark(holder, 'kube-apiserver')
    wait_until_whole(cp, holder)
    return {'node': holder.name, 'witness': witness.name, 'holders_after': new,
            'api': answered - went, 'write': wrote - went, 'moved': moved - went}


def stop_etcd_member(cp: ControlPlane, namespace: str, tag: str, writes: int = 3) -> dict:
    """One etcd member (of a node not holding the address) stopped: writes through the address go on."""
    witness = cp.holder()
    member = cp.others(witness.name)[-1]
    try:
        went = time.time()
        park(member, 'etcd')
        # the member is really gone: nothing listens on its client port any more
        wait_on(member, ['! ss -Hltn "sport = :2379" | grep -q .'], FAILOVER_LIMIT)
        stopped = time.time()
        done = [wait_on(witness, api_and_write(cp, f'etcd-stop-{tag}-{i}', namespace), FAILOVER_LIMIT)[1]
                for i in range(writes)]
    finally:
        unpark(member, 'etcd')
    wait_until_whole(cp, member)
    return {'node': member.name, 'witness': witness.name, 'stopped': stopped - went, 'writes': writes,
            'written': done[-1] - stopped}
