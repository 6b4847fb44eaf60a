"""The driver as an operator runs it: a process configured by file, environment and flags,
validated at start, logging key=value lines without secrets, stopping on SIGTERM in time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from rds_csi.config import ConfigError, load
from rds_csi.proto import csi_pb2, csi_pb2_grpc

DRIVER_DIR = Path(__file__).resolve().parents[1]
REPO = DRIVER_DIR.parent


def driver_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RDS_CSI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(DRIVER_DIR), str(REPO / "build" / "collections")])
    return env


def test_configuration_sources_and_precedence(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("not used here")
    config_file = tmp_path / "driver.yaml"
    config_file.write_text(
        "mode: controller\nrds_address: 10.0.0.1\nrds-key-file: %s\nrds_host_key: ssh-ed25519 AAAA\nnode_ids: [a, b]\n"
        "rds_max_sessions: 8\n" % key
    )
    config = load(
        ["--config", str(config_file), "--rds-max-sessions", "16"],
        {
            "RDS_CSI_BASE_PATH": "/storage-pool/x",
            "CSI_MANAGED_NQN_PREFIX": "nqn.2000-02.com.mikrotik:pvc-",
            "RDS_CSI_RDS_MAX_SESSIONS": "12",
        },
    )
    assert config.rds_max_sessions == 16, "flags win over the environment and the file"
    assert config.base_path == "/storage-pool/x" and config.node_ids == ("a", "b")
    assert config.nvme_address == "10.0.0.1", "the NVMe address defaults to the RDS address"


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["--mode", "controller"], {}, ["rds_address is required", "rds_key_file", "host key verification is on"]),
        (["--mode", "sideways", "--endpoint", "ftp://x"], {}, ["mode='sideways'", "endpoint="]),
        (["--mode", "node"], {"CSI_MANAGED_NQN_PREFIX": "iqn.bad"}, ["managed_nqn_prefix", "node_id is required"]),
        (["--mode", "node", "--node-id", "n", "--rds-port", "many"], {}, ["rds_port='many' is not a valid int"]),
    ],
)
def test_invalid_configuration_lists_every_problem(
    argv: list[str], environ: dict[str, str], expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(argv, environ)
    for text in expected:
        assert text in str(raised.value)


def test_bad_configuration_exits_2_with_the_problems() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rds_csi", "--mode", "controller"],
        check=False,
        env=driver_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "rds_address is required" in result.stderr


def test_process_serves_logs_and_stops_on_sigterm(driver_config: Any, socket_dir: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "driver.yaml"
    config_file.write_text(
        "\n".join(
            [
                "mode: all",
                "node_id: node-a",
                "rds_address: %s" % driver_config.rds_address,
                "rds_port: %d" % driver_config.rds_port,
                "rds_key_file: %s" % driver_config.rds_key_file,
                "rds_host_key: %s" % driver_config.rds_host_key,
                "rds_key_passphrase: ''",
            ]
        )
        + "\n"
    )
    env = driver_env()
    env["CSI_MANAGED_NQN_PREFIX"] = "nqn.2000-02.com.mikrotik:pvc-"  # mode all runs the node service
    env["RDS_CSI_RDS_PASSWORD"] = "hunter2-secret"
    env["CSI_ENDPOINT"] = "unix://%s/p.sock" % socket_dir
    log = tmp_path / "driver.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "rds_csi", "--config", str(config_file)], env=env, stderr=sink
        )
    try:
        channel = grpc.insecure_channel("unix:%s/p.sock" % socket_dir)
        grpc.channel_ready_future(channel).result(timeout=30)
        controller = csi_pb2_grpc.ControllerStub(channel)
        request = csi_pb2.CreateVolumeRequest(
            name="pvc-from-process",
            volume_capabilities=[
                csi_pb2.VolumeCapability(
                    block=csi_pb2.VolumeCapability.BlockVolume(),
                    access_mode=csi_pb2.VolumeCapability.AccessMode(
                        mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
                    ),
                )
            ],
        )
        assert controller.CreateVolume(request).volume.capacity_bytes == 1024**3
        channel.close()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - started < 30
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "hunter2" not in text
    assert 'rds_password="*****"' in text
    assert 'msg="rpc done"' in text and "rpc=CreateVolume" in text and "code=OK" in text
    assert "msg=stopped" in text
    assert not (socket_dir / "p.sock").exists()
