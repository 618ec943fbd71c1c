"""Day 2 on a running cluster: add a worker with playbooks/scale.yml while another worker is down, then take it out
with playbooks/remove_node.yml, first against a drain that cannot finish, then for good.

Needs a machine that the inventory's lab made but the cluster does not use (lab/ha/hosts.yml: lab_spare_nodes,
k8s-w3). The tests put it into kube_workers in a copy of the inventory (beside the same group_vars); the others
use the inventory as it is. In order: each test starts from where the one before left the cluster.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

import ha
from conftest import _inventory, node_of, play_recap, run_playbook, run_verify

NAMESPACE = 'kf-day2'
SPARE_GROUP = 'lab_spare_nodes'


def _spare(inventory: str) -> tuple[str, dict]:
    data = yaml.safe_load(Path(inventory).read_text())
    hosts = (data.get(SPARE_GROUP) or {}).get('hosts') or {}
    if not hosts:
        pytest.fail(f'{inventory}: no host in {SPARE_GROUP} to add with scale.yml')
    name = sorted(hosts)[0]
    return name, hosts[name]


@pytest.fixture(scope='module')
def day2(request, tmp_path_factory):
    """(inventory as it is, inventory with the spare machine in kube_workers, its name, the control plane)."""
    inventory = _inventory(request.config)
    name, hostvars = _spare(inventory)
    data = yaml.safe_load(Path(inventory).read_text())
    data[SPARE_GROUP]['hosts'].pop(name)
    data['kube_cluster']['children']['kube_workers']['hosts'][name] = hostvars
    # beside the same group_vars, so that every variable is the inventory's
    grown_dir = tmp_path_factory.mktemp('grown')
    (grown_dir / 'group_vars').symlink_to(Path(inventory).parent / 'group_vars')
    grown = grown_dir / 'hosts.yml'
    grown.write_text(yaml.safe_dump(data, sort_keys=False))
    return inventory, str(grown), name, ha.control_plane(inventory)


def _config(inventory: str) -> dict:
    """The ansible.cfg of the inventory the copy was made from: run_playbook finds one by an inventory's path only
    inside the repository."""
    configs = [d / 'ansible.cfg' for d in Path(inventory).resolve().parents if (d / 'ansible.cfg').exists()]
    return {'ANSIBLE_CONFIG': str(configs[0])}


def _play(day2, playbook: str, *extra: str, timings: Path | None = None):
    inventory, grown = day2[0], day2[1]
    env = _config(inventory)
    if timings:
        env['KF_TIMINGS_FILE'] = str(timings)
    return run_playbook(grown, playbook, *extra, env=env)


def _verify_until_green(inventory: str, report: Path, env: dict | None = None, limit: float = 120):
    """verify.yml until it passes or `limit` seconds are over; the last run. For what settles by itself after a
    change: flanneld removing a deleted Node's entries, the kubelet making a restarted node's pods again."""
    deadline = time.monotonic() + limit
    while True:
        run = run_verify(inventory, report, env=env)
        if run.returncode == 0 or time.monotonic() > deadline:
            return run
        time.sleep(5)


def _join_seconds(timings: Path, host: str) -> float:
    record = json.loads(timings.read_text())
    for play in record['plays']:
        for task in play['tasks']:
            # 'workers : Run kubeadm join' (role-prefixed), not its control-plane twin (skipped on a worker)
            if task['name'].endswith(': Run kubeadm join') and host in task['hosts']:
                return task['hosts'][host]['seconds']
    raise AssertionError(f'{timings}: no kubeadm join task ran on {host}')


def _stage_seconds(timings: Path) -> dict:
    record = json.loads(timings.read_text())
    return dict((play['name'], play['seconds']) for play in record['plays'])


def test_scale_adds_the_spare_worker_while_another_worker_is_down(day2, tmp_path, measured):
    inventory, grown, name, cp = day2
    down = cp.workers[-1]
    ha.stop_node(cp, down)
    try:
        timings = tmp_path / 'scale.json'
        started = time.monotonic()
        run = _play(day2, 'playbooks/scale.yml', timings=timings)
        seconds = time.monotonic() - started
    finally:
        ha.start_node(cp, down)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f'scale.yml failed with {down.name} down:\n{output[-6000:]}'
    recap = play_recap(output)
    assert recap[name]['changed'] > 0, recap
    # the new worker and the first control plane (its node list, facts and a token) are the only hosts contacted:
    # every other host of the cluster ran no task that changed anything and was never unreachable
    for host, counts in recap.items():
        assert counts.get('unreachable', 0) == 0, f'{host} was contacted by scale.yml: {counts}'
        if host not in (name, cp.masters[0].name, 'localhost'):
            assert counts.get('changed', 0) == 0, f'scale.yml changed {host}: {counts}'
    join = _join_seconds(timings, name)
    stages = _stage_seconds(timings)
    own = sum(s for play, s in stages.items() if play.startswith(('Stage 2', 'Stage 3', 'Stage 4')))
    measured(f'scale.yml added {name} in {seconds:.0f} s with {down.name} down: its kubeadm join {join:.0f} s, '
             f'its prepare/containerd/binaries stages {own:.0f} s; target <= 1.3 x join + those = '
             f'{1.3 * join + own:.0f} s; per play: ' + ', '.join(f'{p} {s:.0f} s' for p, s in stages.items()))

    # the down worker is back (its Node Ready, its pods made again after the power-off); then the whole cluster,
    # the new worker in it, is green
    ha.wait_on(cp.masters[0], [f'kubectl --kubeconfig {ha.ADMIN_CONF} wait --for=condition=Ready --timeout=5s '
                               f'node/{down.name}',
                               f'kubectl --kubeconfig {ha.ADMIN_CONF} wait --for=condition=Ready --timeout=5s '
                               f'--all-namespaces --field-selector spec.nodeName={down.name} pods --all'],
               ha.RECOVERY_LIMIT)
    report = tmp_path / 'after-scale.json'
    run = _verify_until_green(grown, report, _config(inventory))
    assert run.returncode == 0, f'verify.yml after scale.yml:\n{(run.stdout + run.stderr)[-6000:]}'
    results = json.loads(report.read_text())['results']
    towards = [r for r in results if r['check'] in ('route_to_peer', 'fdb_to_peer') and f'({name})' in r['object']]
    assert len(towards) == 2 * (len(cp.masters) + len(cp.workers)), [r['message'] for r in towards]
    assert all(r['ok'] for r in towards), [r['message'] for r in towards if not r['ok']]


def test_a_second_scale_run_touches_nothing(day2):
    """Again, the way an operator aims it at the new host (--limit): that host is a node now, nothing joins."""
    _, grown, name, cp = day2
    run = _play(day2, 'playbooks/scale.yml', '--limit', name)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert f'none of {name} will join' in ' '.join(output.split()), output[-4000:]
    assert all(counts.get('changed', 0) == 0 for counts in play_recap(output).values()), play_recap(output)


def _kubectl(cp, args: str, timeout: int = 30):
    return ha.kubectl(cp.masters[0], args, timeout=timeout)


def test_a_drain_that_cannot_finish_stops_remove_node_and_leaves_the_node_cordoned(day2):
    _, grown, name, cp = day2
    first = cp.masters[0]
    manifest = {
        'apiVersion': 'v1', 'kind': 'List', 'items': [
            {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': NAMESPACE}},
            # one replica, placed on the node (nodeName: no scheduler, so the cordon does not matter), and a budget
            # that allows no eviction of it: kubectl drain can only wait
            {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'held', 'namespace': NAMESPACE},
             'spec': {'replicas': 1, 'selector': {'matchLabels': {'app': 'held'}},
                      'template': {'metadata': {'labels': {'app': 'held'}},
                                   'spec': {'nodeName': name,
                                            'containers': [{'name': 'pause', 'image': _pause_image(first),
                                                            'imagePullPolicy': 'Never'}]}}}},
            {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget',
             'metadata': {'name': 'none', 'namespace': NAMESPACE},
             'spec': {'maxUnavailable': 0, 'selector': {'matchLabels': {'app': 'held'}}}}]}
    first.host.run_expect([0], f"echo '{json.dumps(manifest)}' | kubectl --kubeconfig {ha.ADMIN_CONF} apply -f -")
    try:
        ha.wait_on(first, [f'kubectl --kubeconfig {ha.ADMIN_CONF} --namespace {NAMESPACE} wait '
                           f'--for=condition=Available --timeout=5s deployment/held'], 120)
        run = _play(day2, 'playbooks/remove_node.yml', '-e', f'node={name}', '-e', 'remove_node_drain_timeout=15')
        output = run.stdout + run.stderr
        assert run.returncode != 0, f'remove_node.yml went on past a drain that could not finish:\n{output[-4000:]}'
        assert f'{name}: kubectl drain did not finish within 15 s; the node stays cordoned' in output, output[-4000:]
        assert 'disruption budget' in output.lower() or 'evict' in output.lower(), output[-4000:]
        node = json.loads(_kubectl(cp, f'get node {name} --output json').stdout)
        assert node['spec'].get('unschedulable') is True, f'{name} is not cordoned after the failed drain'
        assert _kubectl(cp, 'get --raw=/readyz').stdout.strip() == 'ok'
    finally:
        _kubectl(cp, f'delete namespace {NAMESPACE} --wait=true', timeout=120)


def _pause_image(node) -> str:
    out = node.host.run("crictl images -o json")
    tags = [t for i in json.loads(out.stdout)['images'] for t in i.get('repoTags') or [] if '/pause:' in t]
    assert tags, f'{node.name}: no pause image in containerd'
    return tags[0]


def test_remove_node_takes_the_worker_out_and_leaves_no_entry_towards_it(day2, tmp_path, measured):
    inventory, grown, name, cp = day2
    started = time.monotonic()
    run = _play(day2, 'playbooks/remove_node.yml', '-e', f'node={name}')
    seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, f'remove_node.yml -e node={name}:\n{output[-6000:]}'
    assert _kubectl(cp, f'get node {name} --ignore-not-found --output name').stdout.strip() == ''
    spare = node_of(grown, name)
    assert not spare.host.file('/etc/kubernetes/kubelet.conf').exists, f'{name} was not reset'
    # the inventory without it: every remaining node judged, no route/ARP/FDB entry left towards it
    report = tmp_path / 'after-remove.json'
    run = _verify_until_green(inventory, report)
    assert run.returncode == 0, f'verify.yml after remove_node.yml:\n{(run.stdout + run.stderr)[-6000:]}'
    results = json.loads(report.read_text())['results']
    strays = [r for r in results if r['check'] == 'no_stray_entries']
    assert len(strays) == len(cp.masters) + len(cp.workers) and all(r['status'] == 'ok' for r in strays), \
        [r['message'] for r in strays]
    measured(f'remove_node.yml -e node={name}: {seconds:.0f} s (cordon, drain, delete the Node, reset the host)')


def test_verify_catches_an_entry_left_towards_a_removed_node(day2, tmp_path):
    """The check the removal relies on, shown to catch what it is for: a route, an ARP and an FDB entry on one
    node towards a node the cluster does not have (a pod subnet no node leases, an address of the lab's own
    network that no node has: entries only, nothing is sent)."""
    inventory, _, _, cp = day2
    victim = cp.workers[0]
    vtep = f"flannel.{victim.settings.get('flannel_vxlan_vni', 1)}"
    make = (f'ip route add 172.16.250.0/24 via 172.16.250.0 dev {vtep} onlink && '
            f'ip neigh add 172.16.250.0 lladdr 02:00:00:00:fa:01 dev {vtep} nud permanent && '
            f'bridge fdb add 02:00:00:00:fa:01 dev {vtep} dst 192.168.100.250 self permanent')
    undo = (f'ip route del 172.16.250.0/24 dev {vtep}; ip neigh del 172.16.250.0 dev {vtep}; '
            f'bridge fdb del 02:00:00:00:fa:01 dev {vtep} self; true')
    victim.host.run_expect([0], make)
    try:
        report = tmp_path / 'stray.json'
        run = run_verify(inventory, report)
        assert run.returncode != 0, 'verify.yml passed with entries towards a node the cluster does not have'
        failed = [r for r in json.loads(report.read_text())['results'] if not r['ok']]
        assert [(r['check'], r['node']) for r in failed] == [('no_stray_entries', victim.name)], \
            [r['message'] for r in failed]
        for part in ('route 172.16.250.0/24', 'neigh 172.16.250.0', 'fdb 02:00:00:00:fa:01 dst 192.168.100.250'):
            assert part in failed[0]['message'], failed[0]['message']
    finally:
        victim.host.run(undo)
