"""Structured logs (P-9.2): key=value text or one JSON object per line, secrets never in either, RouterOS
commands at debug level with their secrets masked."""

from __future__ import annotations

import base64
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import RdsError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import SECRET_MASK
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport
from csi_helpers import BASE, GIB, create_request
from rds_csi.logs import LOG_FORMATS, is_secret_name, setup_logging
from rds_csi.proto import csi_pb2, csi_pb2_grpc
from test_process import driver_env

# A DH-CHAP secret in the form nvme-cli and the kernel use (DHHC-1:<hash>:<base64 key and CRC>:).
DHCHAP_SECRET = "DHHC-1:00:" + base64.b64encode(bytes(range(7, 43))).decode() + ":"
NVME_PASSWORD = "hunter2-nvme-in-band"


@pytest.mark.parametrize(
    "name",
    [
        "rds_password",
        "rds_key_passphrase",
        "passphrase",
        "private_key",
        "private-key",
        "ssh_key",
        "sshKey",
        "secret",
        "dhchap_secret",
        "dhchapCtrlSecret",
        "dhchap-ctrl-secret",
        "nvme-tcp-server-password",
        "chap",
        "token",
        "bearer_token",
        "api_key",
        "credentials",
    ],
)
def test_secret_names_are_masked(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["rds_key_passphrase_file", "rds_key_file", "rds_host_key", "rds_known_hosts", "volume_id", "nqn", "host_nqn"],
)
def test_paths_and_public_names_are_shown(name: str) -> None:
    assert not is_secret_name(name)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """setup_logging configures the process's root logger: give it back as it was after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    paramiko = logging.getLogger("paramiko").level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("paramiko").setLevel(paramiko)
        logging.captureWarnings(False)


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_routeros_commands_are_logged_at_debug_without_their_secrets(
    driver_config: Any, root_logging: None, capfd: pytest.CaptureFixture[str], log_format: str
) -> None:
    setup_logging("debug", log_format)
    transport = SshTransport(driver_config.ssh_settings())
    rds = RdsClient(transport)
    slot = "pvc-secret-export"
    try:
        rds.ensure_directory(BASE)
        rds.add_disk(
            DiskSpec(slot, BASE + "/" + slot + ".img", GIB, ExportSpec(nqn=nqn_for(slot), password=DHCHAP_SECRET))
        )
        rds.set_export(slot, ExportSpec(nqn=nqn_for(slot), password=NVME_PASSWORD))
        # A command the RDS refuses (no such directory): its error names the command too.
        with pytest.raises(RdsError) as refused:
            rds.add_disk(
                DiskSpec(
                    "pvc-nowhere",
                    "/storage-pool/absent/pvc-nowhere.img",
                    GIB,
                    ExportSpec(nqn=nqn_for("pvc-nowhere"), password=NVME_PASSWORD),
                )
            )
    finally:
        transport.close()
    logged = capfd.readouterr().err
    assert DHCHAP_SECRET not in logged and NVME_PASSWORD not in logged
    assert "directory does not exist" in str(refused.value) and NVME_PASSWORD not in str(refused.value)
    commands = [line for line in logged.splitlines() if "rds command" in line]
    masked = "nvme-tcp-server-password=" + SECRET_MASK
    assert sum(masked in line and "/disk add" in line for line in commands) == 2
    assert sum(masked in line and "/disk set" in line for line in commands) == 1
    if log_format == "json":
        entries = [json.loads(line) for line in commands]
        assert {(entry["level"], entry["logger"]) for entry in entries} == {("debug", "srvlab.rds.ssh")}
    else:
        assert all(line.startswith("ts=") and " level=debug logger=srvlab.rds.ssh " in line for line in commands)


def test_json_logs_from_the_process(driver_config: Any, socket_dir: Path, tmp_path: Path) -> None:
    """Every line the driver writes to stderr is one JSON object, from start to stop, debug lines included."""
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("unused-passphrase\n")
    env = driver_env()
    env.update(
        {
            "RDS_CSI_MODE": "controller",
            "RDS_CSI_RDS_ADDRESS": driver_config.rds_address,
            "RDS_CSI_RDS_PORT": str(driver_config.rds_port),
            "RDS_CSI_RDS_KEY_FILE": driver_config.rds_key_file,
            "RDS_CSI_RDS_HOST_KEY": driver_config.rds_host_key,
            "RDS_CSI_RDS_PASSWORD": "hunter2-secret",
            "RDS_CSI_RDS_KEY_PASSPHRASE_FILE": str(passphrase_file),
            "RDS_CSI_METRICS": "false",
            "CSI_ENDPOINT": "unix://%s/json.sock" % socket_dir,
        }
    )
    log = tmp_path / "driver.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "rds_csi", "--log-format", "json", "--log-level", "debug"], env=env, stderr=sink
        )
    try:
        channel = grpc.insecure_channel("unix:%s/json.sock" % socket_dir)
        grpc.channel_ready_future(channel).result(timeout=30)
        controller = csi_pb2_grpc.ControllerStub(channel)
        volume_id = controller.CreateVolume(create_request("pvc-json-logs")).volume.volume_id
        controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
        channel.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    assert entries and all({"ts", "level", "logger", "msg"} <= set(entry) for entry in entries)
    assert "hunter2" not in text and "unused-passphrase" not in text
    starting = next(entry for entry in entries if entry["msg"] == "starting")
    assert starting["rds_password"] == "*****" and starting["log_format"] == "json"
    assert starting["rds_key_passphrase"] == "", "an unset secret shows as unset"
    assert starting["rds_key_passphrase_file"] == str(passphrase_file), "the path of a secret file is shown"
    done = [entry for entry in entries if entry["msg"] == "rpc done"]
    assert [entry["rpc"] for entry in done] == ["CreateVolume", "DeleteVolume"]
    assert done[0]["code"] == "OK" and done[0]["name"] == "pvc-json-logs" and isinstance(done[0]["ms"], float)
    commands = [entry["msg"] for entry in entries if entry["logger"] == "srvlab.rds.ssh" and entry["level"] == "debug"]
    assert any("/disk add" in command and volume_id in command for command in commands)
    assert entries[-1]["msg"] == "stopped"
