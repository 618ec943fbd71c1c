"""playbooks/upgrade.yml on the HA lab, one minor release up (make test-ha: KF_UPGRADE_VERSION, the bundle of that
release in KF_UPGRADE_BUNDLE), while a Deployment of two replicas behind a NodePort Service is probed from the lab's
outside namespace every second, each probe through the next node in turn.

First a drain that cannot finish (a pod on the last worker behind a PodDisruptionBudget that allows no eviction)
stops the run there: the node stays cordoned, the API answers, the nodes before it are upgraded. Without that pod,
a second run finishes; verify is green; every node's kubelet and kubectl are the new release; a third run changes
nothing. The release is passed the way an operator sets it: kube_version and kubernetes_bundle_dir (-e here), with
kubernetes_bundle_url empty (the lab's mirror serves the 1.22.5 bundle only), so each node gets the new release's
files from the controller, checked against its manifest as always.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import ha
from conftest import REPO, _inventory, play_recap, run_playbook, run_verify

NAMESPACE = 'kf-upgrade'
HELD = 'kf-upgrade-held'
PROBE = Path(__file__).resolve().parents[1] / 'service_probe.py'


@dataclass
class Upgrade:
    inventory: str
    cp: ha.ControlPlane
    version: str                # without the v
    extra: list                 # ansible-playbook arguments naming the release
    backups: Path
    probe: subprocess.Popen | None = None
    probe_log: Path | None = None
    runs: list = field(default_factory=list)    # (what, seconds, {play: seconds})


def _outside_netns(inventory: str) -> str:
    """The lab's outside namespace (lab/roles/lab/vars/main.yml: <lab_name>-outside)."""
    first = ha.control_plane(inventory).masters[0].name
    return ha.lab_container(inventory, first)[:-len(first)] + 'outside'    # <lab_name>-<node> -> <lab_name>-outside


def _kubectl(up: Upgrade, args: str, timeout: int = 30):
    return ha.kubectl(up.cp.masters[0], args, timeout=timeout)


def _apply(up: Upgrade, manifest: dict) -> None:
    up.cp.masters[0].host.run_expect(
        [0], f"echo '{json.dumps(manifest)}' | kubectl --kubeconfig {ha.ADMIN_CONF} apply -f -")


@pytest.fixture(scope='module')
def up(request, tmp_path_factory):
    version, bundle = os.environ.get('KF_UPGRADE_VERSION', ''), os.environ.get('KF_UPGRADE_BUNDLE', '')
    if not version or not bundle:
        pytest.skip('UPGRADE NOT TESTED: KF_UPGRADE_VERSION and KF_UPGRADE_BUNDLE are not set (make test-ha sets them)')
    complete = subprocess.run([str(REPO / 'bundle/is-complete.sh'), bundle], capture_output=True, text=True,
                              check=False)
    if complete.returncode != 0:
        pytest.skip(f'UPGRADE NOT TESTED: the {version} bundle is not built here ({bundle}; make bundle-upgrade): '
                    + complete.stderr.strip().replace('\n', ' '))
    inventory = _inventory(request.config)
    # the workload's image (nettest: nginx), never pulled: imported as the lab imports it for its other tests
    run = run_playbook(inventory, 'lab/verification_images.yml')
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    backups = tmp_path_factory.mktemp('upgrade-backups')
    extra = ['-e', f'kube_version={version}', '-e', f'kubernetes_bundle_dir={bundle}', '-e', 'kubernetes_bundle_url=',
             '-e', f'upgrade_backup_dir={backups}']
    state = Upgrade(inventory, ha.control_plane(inventory), version, extra, backups)
    yield state
    if state.probe and state.probe.poll() is None:
        state.probe.terminate()
    _kubectl(state, f'delete namespace {NAMESPACE} {HELD} --ignore-not-found --wait=false')


def _image(up: Upgrade) -> str:
    out = up.cp.workers[0].host.check_output('crictl images -o json')
    tags = sorted(t for i in json.loads(out)['images'] for t in i.get('repoTags') or []
                  if t.startswith('localhost/kubeadm-flannel/nettest:'))
    assert tags, 'no nettest image on the workers'
    return tags[-1]


def _pause(up: Upgrade) -> str:
    out = up.cp.workers[-1].host.check_output('crictl images -o json')
    tags = sorted(t for i in json.loads(out)['images'] for t in i.get('repoTags') or [] if '/pause:' in t)
    assert tags, 'no pause image on the last worker'
    return tags[0]


def _workload(image: str) -> dict:
    labels = {'app': 'web'}
    return {'apiVersion': 'v1', 'kind': 'List', 'items': [
        {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': NAMESPACE}},
        {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'web', 'namespace': NAMESPACE},
         'spec': {'replicas': 2, 'selector': {'matchLabels': labels},
                  'template': {'metadata': {'labels': labels}, 'spec': {
                      # the two replicas apart when the nodes allow it
                      'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname',
                                                     'whenUnsatisfiable': 'ScheduleAnyway',
                                                     'labelSelector': {'matchLabels': labels}}],
                      'containers': [{
                          'name': 'nginx', 'image': image, 'imagePullPolicy': 'Never',
                          'readinessProbe': {'httpGet': {'path': '/', 'port': 80}, 'periodSeconds': 1},
                          # what a workload does to be replaced without dropped requests: keep serving until
                          # every kube-proxy has taken it out of the Service
                          'lifecycle': {'preStop': {'exec': {'command': ['sleep', '5']}}}}]}}}},
        {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': 'web', 'namespace': NAMESPACE},
         'spec': {'minAvailable': 1, 'selector': {'matchLabels': labels}}},
        {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web', 'namespace': NAMESPACE},
         'spec': {'type': 'NodePort', 'selector': labels, 'ports': [{'port': 80, 'targetPort': 80}]}}]}


def _held(pause: str, node: str) -> dict:
    labels = {'app': 'held'}
    return {'apiVersion': 'v1', 'kind': 'List', 'items': [
        {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': HELD}},
        {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'held', 'namespace': HELD},
         'spec': {'replicas': 1, 'selector': {'matchLabels': labels},
                  'template': {'metadata': {'labels': labels},
                               'spec': {'nodeName': node, 'containers': [
                                   {'name': 'pause', 'image': pause, 'imagePullPolicy': 'Never'}]}}}},
        {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': 'none', 'namespace': HELD},
         'spec': {'maxUnavailable': 0, 'selector': {'matchLabels': labels}}}]}


def _upgrade(up: Upgrade, what: str, *extra: str) -> subprocess.CompletedProcess:
    """upgrade.yml; its wall time and its plays' (callback_plugins/stage_timings.py) kept for the measured line."""
    timings = up.backups.parent / f'timings-{len(up.runs)}.json'
    started = time.monotonic()
    run = run_playbook(up.inventory, 'playbooks/upgrade.yml', *up.extra, *extra, timeout=2400,
                       env={'KF_TIMINGS_FILE': str(timings)})
    plays = {}
    if timings.exists():
        for play in json.loads(timings.read_text())['plays']:
            plays[play['name']] = plays.get(play['name'], 0) + play['seconds']
    up.runs.append((what, time.monotonic() - started, plays))
    return run


def _versions(up: Upgrade) -> dict:
    nodes = json.loads(_kubectl(up, 'get nodes --output json').stdout)['items']
    return {n['metadata']['name']: n['status']['nodeInfo']['kubeletVersion'] for n in nodes}


def _probes(up: Upgrade) -> list:
    return [json.loads(line) for line in up.probe_log.read_text().splitlines() if line.strip()]


def test_a_drain_that_cannot_finish_stops_the_upgrade_and_leaves_the_node_cordoned(up):
    cp = up.cp
    last = cp.workers[-1].name
    _apply(up, _workload(_image(up)))
    _apply(up, _held(_pause(up), last))
    ha.wait_on(cp.masters[0], [f'kubectl --kubeconfig {ha.ADMIN_CONF} --namespace {ns} wait --for=condition=Available '
                               f'--timeout=5s deployment/{name}' for ns, name in ((NAMESPACE, 'web'), (HELD, 'held'))],
               180)
    service = json.loads(_kubectl(up, f'--namespace {NAMESPACE} get service web --output json').stdout)
    port = service['spec']['ports'][0]['nodePort']
    urls = [f'http://{n.cluster_ip()}:{port}/' for n in cp.masters + cp.workers]
    up.probe_log = up.backups.parent / 'probes.jsonl'
    up.probe = subprocess.Popen(['ip', 'netns', 'exec', _outside_netns(up.inventory), sys.executable, str(PROBE),
                                 '--out', str(up.probe_log), *urls])
    time.sleep(5)
    before = _probes(up)
    assert before and all(p['ok'] for p in before), f'the Service does not answer before the upgrade: {before}'

    run = _upgrade(up, 'stopped at the held drain', '-e', 'upgrade_drain_timeout=20')
    output = run.stdout + run.stderr
    assert run.returncode != 0, f'upgrade.yml went on past a drain that could not finish:\n{output[-5000:]}'
    assert f'{last}: kubectl drain did not finish within 20 s; the node stays cordoned' in ' '.join(output.split()), \
        output[-5000:]
    node = json.loads(_kubectl(up, f'get node {last} --output json').stdout)
    assert node['spec'].get('unschedulable') is True, f'{last} is not cordoned after the failed drain'
    assert _kubectl(up, 'get --raw=/readyz').stdout.strip() == 'ok'
    versions = _versions(up)
    assert versions[last] != f'v{up.version}', versions
    assert all(v == f'v{up.version}' for n, v in versions.items() if n != last), versions

    # the snapshot taken before anything changed: kept on the controller, owner-only, its restore check recorded
    snapshots = sorted(up.backups.glob('etcd-*.db'))
    assert snapshots, f'no etcd snapshot in {up.backups}'
    assert stat.S_IMODE(snapshots[0].stat().st_mode) == 0o600, oct(snapshots[0].stat().st_mode)
    record = json.loads(snapshots[0].with_suffix('.json').read_text())
    for name in versions:
        assert name in record['restore_check'], record


def test_a_second_run_finishes_the_upgrade_and_the_service_kept_answering(up, measured):
    _kubectl(up, f'delete namespace {HELD} --wait=true', timeout=120)
    run = _upgrade(up, 'finished')
    output = run.stdout + run.stderr
    up.probe.terminate()
    up.probe.wait(10)
    assert run.returncode == 0, f'upgrade.yml after the held pod was gone:\n{output[-6000:]}'
    versions = _versions(up)
    assert set(versions.values()) == {f'v{up.version}'}, versions
    assert not any(json.loads(_kubectl(up, 'get nodes --output json').stdout)['items'][i]['spec'].get('unschedulable')
                   for i in range(len(versions))), 'a node is still cordoned after the upgrade'
    for node in up.cp.masters + up.cp.workers:
        client = json.loads(node.host.check_output('kubectl version --client --output json'))['clientVersion']
        assert client['gitVersion'] == f'v{up.version}', f'{node.name}: kubectl {client["gitVersion"]}'
        assert node.host.check_output('kubelet --version').split()[-1] == f'v{up.version}', node.name
    server = json.loads(_kubectl(up, 'version --output json').stdout)['serverVersion']['gitVersion']
    assert server == f'v{up.version}', server

    probes = _probes(up)
    failed = [p for p in probes if not p['ok']]
    streak = longest = 0
    for p in probes:
        streak = streak + 1 if not p['ok'] else 0
        longest = max(longest, streak)
    by_url = {}
    for p in failed:
        by_url[p['url']] = by_url.get(p['url'], 0) + 1
    measured(f'upgrade to v{up.version}: ' + '; '.join(
                 f'{what} {s:.0f} s (' + ', '.join(f'{p} {t:.0f} s' for p, t in plays.items()) + ')'
                 for what, s, plays in up.runs)
             + f'; {len(probes)} probes from outside (one a second, the nodes in turn), {len(failed)} failed, '
             f'longest run of failures {longest}; by node: {by_url or "none"}; first failures: '
             + '; '.join(f"{p['url']} {p['error']}" for p in failed[:5]))
    # The Service answered through the whole upgrade: no more than one probe in a hundred failed, never two
    # in a row (a node's NodePort is probed every fifth second, so two in a row are two nodes failing).
    assert len(failed) <= len(probes) / 100 and longest < 2, \
        f'{len(failed)} of {len(probes)} probes failed: ' + '; '.join(f"{p['url']} {p['error']}" for p in failed[:20])


def test_verify_is_green_after_the_upgrade(up, tmp_path):
    report = tmp_path / 'after-upgrade.json'
    run = run_verify(up.inventory, report, '-e', f'kube_version={up.version}')
    assert run.returncode == 0, f'verify.yml after the upgrade:\n{(run.stdout + run.stderr)[-6000:]}'


def test_a_third_run_changes_nothing(up):
    snapshots = sorted(up.backups.glob('etcd-*'))
    run = _upgrade(up, 'third run')
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert 'every node is there; nothing to do' in ' '.join(output.split()), output[-4000:]
    changed = {h: c['changed'] for h, c in play_recap(output).items() if c.get('changed')}
    assert not changed, f'a third upgrade.yml run changed {changed}'
    assert sorted(up.backups.glob('etcd-*')) == snapshots, 'a run with nothing to upgrade took an etcd snapshot'


def test_going_back_down_is_refused_before_anything_changes(up):
    """The inventory as it is (its own kube_version and bundle) against the upgraded cluster: validate passes (the
    bundle holds that release), the upgrade role refuses a downgrade, and no host is changed."""
    run = run_playbook(up.inventory, 'playbooks/upgrade.yml', '-e', f'upgrade_backup_dir={up.backups}')
    output = run.stdout + run.stderr
    assert run.returncode != 0, f'upgrade.yml took the cluster back down:\n{output[-4000:]}'
    own = up.cp.masters[0].settings['kube_version']
    assert f"kube_version {own} is older than the cluster's v{up.version}: upgrade.yml never goes down" \
        in ' '.join(output.split()), output[-4000:]
    changed = {h: c['changed'] for h, c in play_recap(output).items() if c.get('changed')}
    assert not changed, f'a refused upgrade.yml run changed {changed}'
    assert set(_versions(up).values()) == {f'v{up.version}'}
