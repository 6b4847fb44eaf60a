"""Wheel build: generate the gRPC stubs and bundle the shared RDS library (A-2).

The driver imports the collection's library by its Ansible name,
``ansible_collections.srvlab.rds.plugins.module_utils``. ``package_dir`` maps that package to
``../plugins/module_utils`` and ``py_modules`` lists the library files the driver imports, directly
or through each other, as ``library_files.py`` reads them from the sources' import statements: the
wheel carries those very files (one copy of the logic in the repository) and none that only the
Ansible modules use. The parent packages are PEP 420 namespace packages and need no ansible-core.
Build from this directory in place (``pip wheel --no-deps ./csi_driver``), not from an sdist,
which would not contain ``../plugins``.
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_proto
import library_files


def _runtime_requirements(generated: Path) -> list[str]:
    """The stubs check at import that grpcio and protobuf are at least the versions that generated them."""
    stub = (generated / "csi_pb2.py").read_text()
    found = re.search(r"Protobuf Python Version: (\d+)\.(\d+)\.(\d+)", stub)
    if found is None:
        raise RuntimeError("cannot read the protobuf version from %s" % generated)
    major, minor, patch = found.groups()
    return [
        "grpcio>=%s" % version("grpcio-tools"),
        "protobuf>=%s.%s.%s,<%d" % (major, minor, patch, int(major) + 1),
        "paramiko>=3.4",
        "cryptography>=42",
        "PyYAML>=6",
        "kubernetes>=29",
        "prometheus_client>=0.20",
    ]


# setuptools copies sources into build/lib and never removes what it copied before, so a module
# deleted from the tree would still be packaged; every build starts from an empty build/lib.
shutil.rmtree(Path(__file__).resolve().parent / "build" / "lib", ignore_errors=True)

setup(
    install_requires=_runtime_requirements(build_proto.generate()),
    packages=["rds_csi", "rds_csi.generated"],
    py_modules=library_files.library_modules(library_files.REPOSITORY),
    package_dir={library_files.LIBRARY: "../plugins/module_utils"},
)
