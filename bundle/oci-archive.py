#!/usr/bin/env python3
"""Write deterministic image layers and single-image OCI archives, with no container engine.

    oci-archive.py layer SRC_DIR OUT_TAR [--keep-owner] [--exclude GLOB]...
        A tar of SRC_DIR's contents (paths relative to it, sorted, mtime = SOURCE_DATE_EPOCH,
        owner root unless --keep-owner, hard links kept). Same input tree -> same bytes.

    oci-archive.py image --ref REF --out ARCHIVE --layer TAR [--layer TAR]...
                         [--entrypoint JSON] [--cmd JSON] [--env K=V]... [--label K=V]...
                         [--workdir DIR] [--arch amd64]
        An OCI image layout (oci-layout, index.json, blobs/sha256/...) in one tar, layers stored
        uncompressed (application/vnd.oci.image.layer.v1.tar, so digest = diff_id). index.json names
        the image with io.containerd.image.name (the full reference, what `ctr images import` uses)
        and org.opencontainers.image.ref.name (the tag). Prints the archive's sha256.

Only the standard library: this runs on the machine that builds the bundle, before any engine exists.
"""
import argparse
import datetime
import fnmatch
import hashlib
import io
import json
import os
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "1640995200"))  # 2022-01-01T00:00:00Z
CREATED = datetime.datetime.fromtimestamp(EPOCH, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
CHUNK = 1 << 20


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(CHUNK), b""):
            h.update(b)
    return h.hexdigest()


def cmd_layer(a):
    src = os.path.abspath(a.src)
    tmp = a.out + ".tmp"

    def excluded(rel):
        return any(fnmatch.fnmatchcase(rel, g) for g in a.exclude)

    def fix(ti):
        ti.mtime = EPOCH
        if not a.keep_owner:
            ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        ti.pax_headers = {}
        return ti

    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, src)
            entries = sorted(dirnames + filenames)
            for name in entries:
                full = os.path.join(dirpath, name)
                rel = name if rel_dir == "." else rel_dir + "/" + name
                if excluded(rel):
                    if name in dirnames:
                        dirnames.remove(name)
                    continue
                ti = fix(tar.gettarinfo(full, arcname=rel))
                if ti.isreg():
                    with open(full, "rb") as f:
                        tar.addfile(ti, f)
                else:
                    tar.addfile(ti)
            # os.walk must not descend into excluded dirs (removed above) or symlinked dirs (never followed).
    os.replace(tmp, a.out)


def add_bytes(tar, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = EPOCH
    ti.mode = mode
    tar.addfile(ti, io.BytesIO(data))


def add_dir(tar, name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mtime = EPOCH
    ti.mode = 0o755
    tar.addfile(ti)


def cmd_image(a):
    layers = []
    for path in a.layer:
        d = sha256_file(path)
        layers.append({"path": path, "digest": "sha256:" + d, "size": os.path.getsize(path)})
    env = a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    cfg = {"Env": env, "WorkingDir": a.workdir,
           "Labels": dict(kv.split("=", 1) for kv in a.label)}
    if a.entrypoint:
        cfg["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        cfg["Cmd"] = json.loads(a.cmd)
    config = {
        "created": CREATED,
        "architecture": a.arch,
        "os": "linux",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        "history": [{"created": CREATED, "created_by": "bundle/oci-archive.py layer " + os.path.basename(layer["path"])}
                    for layer in layers],
    }
    config_b = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config_b).hexdigest(), "size": len(config_b)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer["digest"], "size": layer["size"]} for layer in layers],
        "annotations": {"org.opencontainers.image.ref.name": a.ref.rsplit(":", 1)[1]},
    }
    manifest_b = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + hashlib.sha256(manifest_b).hexdigest(), "size": len(manifest_b),
            "platform": {"architecture": a.arch, "os": "linux"},
            "annotations": {"io.containerd.image.name": a.ref,
                            "org.opencontainers.image.ref.name": a.ref.rsplit(":", 1)[1]},
        }],
    }
    index_b = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(tar, "index.json", index_b)
        add_dir(tar, "blobs")
        add_dir(tar, "blobs/sha256")
        seen = set()
        for layer in layers:
            if layer["digest"] in seen:
                continue
            seen.add(layer["digest"])
            ti = tarfile.TarInfo("blobs/sha256/" + layer["digest"].split(":")[1])
            ti.size = layer["size"]
            ti.mtime = EPOCH
            ti.mode = 0o644
            with open(layer["path"], "rb") as f:
                tar.addfile(ti, f)
        add_bytes(tar, "blobs/sha256/" + manifest["config"]["digest"].split(":")[1], config_b)
        add_bytes(tar, "blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1], manifest_b)
    os.replace(tmp, a.out)
    print(json.dumps({"archive_sha256": sha256_file(a.out), "manifest_digest": index["manifests"][0]["digest"],
                      "config_digest": manifest["config"]["digest"],
                      "layers": [layer["digest"] for layer in layers]}))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pl = sub.add_parser("layer")
    pl.add_argument("src")
    pl.add_argument("out")
    pl.add_argument("--keep-owner", action="store_true")
    pl.add_argument("--exclude", action="append", default=[])
    pi = sub.add_parser("image")
    pi.add_argument("--ref", required=True)
    pi.add_argument("--out", required=True)
    pi.add_argument("--layer", action="append", required=True)
    pi.add_argument("--entrypoint")
    pi.add_argument("--cmd")
    pi.add_argument("--env", action="append", default=[])
    pi.add_argument("--label", action="append", default=[])
    pi.add_argument("--workdir", default="/")
    pi.add_argument("--arch", default="amd64")
    a = p.parse_args(argv)
    if a.cmd == "layer":
        cmd_layer(a)
    else:
        if ":" not in a.ref.rsplit("/", 1)[-1]:
            p.error("--ref must carry a tag: " + a.ref)
        cmd_image(a)


if __name__ == "__main__":
    main(sys.argv[1:])
