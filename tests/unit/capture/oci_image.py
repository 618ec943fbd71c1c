#!/usr/bin/env python3
"""Write a single-layer OCI image archive holding one static binary, for `ctr -n k8s.io images import`.

Used only to capture real crictl/containerd output for the unit-test fixtures (no registry is reachable):
  oci_image.py --binary /usr/bin/catatonit --path /pause --entrypoint /pause,-P \
      --name k8s.gcr.io/pause:3.5 --out pause.tar
"""
import argparse
import gzip
import hashlib
import io
import json
import tarfile
import time


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--path", required=True, help="where the binary sits inside the image")
    ap.add_argument("--entrypoint", required=True, help="comma separated argv")
    ap.add_argument("--links", default="", help="comma separated extra paths hard-linked to the binary")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(args.binary, arcname=args.path.lstrip("/"))
        for link in [x for x in args.links.split(",") if x]:
            info = tarfile.TarInfo(link.lstrip("/"))
            info.type = tarfile.SYMTYPE
            info.linkname = args.path
            tar.addfile(info)
    diff_id, _ = blob(raw.getvalue())
    layer_digest, layer = blob(gzip.compress(raw.getvalue(), mtime=0))
    config = {
        "architecture": "amd64", "os": "linux",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {"Entrypoint": args.entrypoint.split(","), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_digest, config_data = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_data)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(layer)}],
    }
    manifest_digest, manifest_data = blob(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": len(manifest_data),
        "annotations": {"io.containerd.image.name": args.name, "org.opencontainers.image.ref.name": args.name},
    }]}

    with tarfile.open(args.out, mode="w") as out:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add("index.json", json.dumps(index).encode())
        for digest, data in ((layer_digest, layer), (config_digest, config_data),
                             (manifest_digest, manifest_data)):
            add("blobs/sha256/" + digest.split(":", 1)[1], data)


if __name__ == "__main__":
    main()
