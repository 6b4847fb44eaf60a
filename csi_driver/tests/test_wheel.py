"""A-2: the built wheel carries the generated stubs and exactly the library files the driver imports,
installs into a fresh virtual environment (dependencies from the package index) and runs there: no
repository on sys.path, no ansible-core."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Any

import grpc
import pytest
from library_files import LIBRARY, REPOSITORY, library_modules
from rds_csi.proto import csi_pb2, csi_pb2_grpc

DRIVER_DIR = Path(__file__).resolve().parents[1]


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


def assert_library_files(wheel: Path) -> None:
    prefix = LIBRARY.replace(".", "/") + "/"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith(prefix)}
    assert shipped == {name.replace(".", "/") + ".py" for name in library_modules(REPOSITORY)}
    assert not shipped & {prefix + "rds_module.py", prefix + "nvme_module.py"}, "they import ansible"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path: Path, driver_config: Any, socket_dir: Path) -> None:
    dist = tmp_path / "dist"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(DRIVER_DIR),
            "-w",
            str(dist),
        ]
    )
    (wheel,) = dist.glob("rds_csi_driver-*.whl")
    assert_library_files(wheel)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    clean_env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], env=clean_env, cwd=tmp_path)
    probe = run(
        [
            python,
            "-c",
            "import importlib.util, sys; import rds_csi.controller, "
            "ansible_collections.srvlab.rds.plugins.module_utils.rds_client as c; "
            "print(importlib.util.find_spec('ansible') is None, c.__file__, [p for p in sys.path if 'work' in p])",
        ],
        env=clean_env,
        cwd=tmp_path,
    )
    no_ansible, library_file, repo_paths = probe.stdout.strip().split(" ", 2)
    assert no_ansible == "True", "ansible-core is not installed in the fresh venv"
    assert library_file.startswith(str(env_dir)), "the shared library comes from the wheel"
    assert repo_paths == "[]"

    endpoint = "unix://%s/wheel.sock" % socket_dir
    process = subprocess.Popen(
        [
            str(env_dir / "bin" / "rds-csi-driver"),
            "--mode=controller",
            "--endpoint=" + endpoint,
            "--rds-address=%s" % driver_config.rds_address,
            "--rds-port=%d" % driver_config.rds_port,
            "--rds-key-file=%s" % driver_config.rds_key_file,
            "--rds-host-key=%s" % driver_config.rds_host_key,
        ],
        env=clean_env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        channel = grpc.insecure_channel("unix:%s/wheel.sock" % socket_dir)
        grpc.channel_ready_future(channel).result(timeout=60)
        info = csi_pb2_grpc.IdentityStub(channel).GetPluginInfo(csi_pb2.GetPluginInfoRequest())
        assert info.name == "rds.csi.srvlab.io"
        capability = csi_pb2.VolumeCapability(
            mount=csi_pb2.VolumeCapability.MountVolume(fs_type="xfs"),
            access_mode=csi_pb2.VolumeCapability.AccessMode(
                mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
            ),
        )
        created = csi_pb2_grpc.ControllerStub(channel).CreateVolume(
            csi_pb2.CreateVolumeRequest(name="pvc-from-wheel", volume_capabilities=[capability])
        )
        assert created.volume.capacity_bytes == 1024**3
        channel.close()
        process.send_signal(signal.SIGTERM)
        stderr = process.communicate(timeout=30)[1]
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
