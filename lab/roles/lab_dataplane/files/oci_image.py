#!/usr/bin/env python3
"""Write a one-layer OCI image archive (for `ctr images import`) from files already on this node.

    oci_image.py SPEC.json OUT.tar

SPEC: {"name": ref, "files": {"/in/image": "/on/node"}, "links": {"/in/image": "target"},
       "dirs": ["/tmp"], "entrypoint": [...], "cmd": [...]}
Everything that goes into the archive is fixed (times, owners, order), so the same spec and the same
files give the same bytes: OUT is only rewritten, and "changed" only printed, when the image differs.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def _digest(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def _info(name, kind, mode):
    info = tarfile.TarInfo(name.lstrip('/'))
    info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
    return info


def _layer(spec):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(spec.get('dirs', [])):
            tar.addfile(_info(path, tarfile.DIRTYPE, 0o1777 if path == '/tmp' else 0o755))
        for path, src in sorted(spec.get('files', {}).items()):
            with open(src, 'rb') as handle:
                data = handle.read()
            info = _info(path, tarfile.REGTYPE, 0o755)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for path, target in sorted(spec.get('links', {}).items()):
            info = _info(path, tarfile.SYMTYPE, 0o777)
            info.linkname = target
            tar.addfile(info)
    return raw.getvalue()


def build(spec):
    layer = _layer(spec)
    gz = gzip.compress(layer, mtime=0)
    config = json.dumps({
        'architecture': {'x86_64': 'amd64', 'aarch64': 'arm64'}.get(os.uname().machine, os.uname().machine),
        'os': 'linux', 'created': '1970-01-01T00:00:00Z',
        'config': {'Entrypoint': spec.get('entrypoint'), 'Cmd': spec.get('cmd'), 'WorkingDir': '/',
                   'Env': ['PATH=/bin:/usr/bin:/sbin:/usr/sbin']},
        'rootfs': {'type': 'layers', 'diff_ids': [_digest(layer)]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
        'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': _digest(config),
                   'size': len(config)},
        'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': _digest(gz),
                    'size': len(gz)}],
    }, sort_keys=True).encode()
    index = json.dumps({'schemaVersion': 2, 'manifests': [{
        'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': _digest(manifest),
        'size': len(manifest),
        'annotations': {'io.containerd.image.name': spec['name'],
                        'org.opencontainers.image.ref.name': spec['name']}}]}, sort_keys=True).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=tarfile.PAX_FORMAT) as tar:
        members = [('oci-layout', b'{"imageLayoutVersion":"1.0.0"}'), ('index.json', index)]
        members += [('blobs/sha256/' + _digest(d)[7:], d) for d in (gz, config, manifest)]
        for name, data in members:
            info = _info(name, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def main():
    with open(sys.argv[1], encoding='utf-8') as handle:
        data = build(json.load(handle))
    out = sys.argv[2]
    if os.path.exists(out):
        with open(out, 'rb') as handle:
            if handle.read() == data:
                print('unchanged')
                return
    with open(out + '.new', 'wb') as handle:
        handle.write(data)
    os.replace(out + '.new', out)
    print('changed')


if __name__ == '__main__':
    main()
