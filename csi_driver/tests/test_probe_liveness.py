"""Probe reports the plugin's own health, so an RDS outage longer than the CO's liveness threshold
does not get the controller restarted: the RPCs that need the RDS answer Unavailable, the outage is
logged once each way, and the same driver serves again when the RDS is back."""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc
import pytest
from csi_helpers import create_request, status_of
from rds_csi.proto import csi_pb2
from rds_emulator.faults import Fault, FaultKind

pytestmark = pytest.mark.timeout(60)

PROBE_INTERVAL = 1.0
OUTAGE = 5 * PROBE_INTERVAL  # longer than a liveness threshold of three failed probes


def probe_ready(csi: Any) -> bool:
    started = time.monotonic()
    ready: bool = csi.identity.Probe(csi_pb2.ProbeRequest(), timeout=PROBE_INTERVAL).ready.value
    assert time.monotonic() - started < PROBE_INTERVAL / 2, "Probe waits for nothing outside the plugin"
    return ready


def create_when_back(csi: Any, name: str, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            return csi.controller.CreateVolume(create_request(name))
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
            time.sleep(0.2)


def transitions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage().split(" host=")[0]
        for record in caplog.records
        if record.name == "srvlab.rds.ssh" and record.getMessage().startswith("rds ")
    ]


def test_probe_stays_ready_through_an_rds_outage(
    start_driver: Any, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RetryPolicy

    caplog.set_level(logging.INFO, logger="srvlab.rds.ssh")
    csi = start_driver(retry=RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1))
    csi.controller.CreateVolume(create_request("pvc-before-outage"))
    emulator.set_faults([Fault(FaultKind.REBOOT, seconds=OUTAGE)])
    outage_ends = time.monotonic() + OUTAGE
    assert status_of(lambda: csi.controller.CreateVolume(create_request("pvc-during-outage"))) == (
        grpc.StatusCode.UNAVAILABLE
    )
    assert status_of(lambda: csi.controller.ListVolumes(csi_pb2.ListVolumesRequest())) == grpc.StatusCode.UNAVAILABLE
    answers = []
    while time.monotonic() < outage_ends - PROBE_INTERVAL:
        answers.append(probe_ready(csi))
        time.sleep(PROBE_INTERVAL)
    assert len(answers) >= 3 and all(answers)
    create_when_back(csi, "pvc-during-outage", within=OUTAGE + 10)
    assert len(csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries) == 2
    assert probe_ready(csi)
    assert transitions(caplog) == ["rds unreachable", "rds reachable again"]
