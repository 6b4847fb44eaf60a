"""The benchmark's wire-level gRPC client (csi_driver/bench/wire_client.py) against the running
driver: its figures are only worth something if it speaks gRPC as the sidecars do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from bench.wire_client import WireCallError, WireClient
from csi_helpers import Csi, create_request
from rds_csi import DRIVER_NAME
from rds_csi.proto import csi_pb2


def test_wire_client_gets_responses_and_statuses_over_the_socket(csi: Csi, socket_dir: Path) -> None:
    client = WireClient(str(socket_dir / "csi.sock"))
    try:
        info, seconds = client.call(
            "/csi.v1.Identity/GetPluginInfo", csi_pb2.GetPluginInfoRequest(), csi_pb2.GetPluginInfoResponse
        )
        assert info.name == DRIVER_NAME
        assert 0 < seconds < 10

        created, _seconds = client.call(
            "/csi.v1.Controller/CreateVolume", create_request("pvc-wire"), csi_pb2.CreateVolumeResponse
        )
        assert csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries[0].volume.volume_id == (
            created.volume.volume_id
        )
        deleted: Any = client.call(
            "/csi.v1.Controller/DeleteVolume",
            csi_pb2.DeleteVolumeRequest(volume_id=created.volume.volume_id),
            csi_pb2.DeleteVolumeResponse,
        )
        assert deleted[0] == csi_pb2.DeleteVolumeResponse()

        with pytest.raises(WireCallError, match="volume_id") as failure:
            client.call("/csi.v1.Controller/DeleteVolume", csi_pb2.DeleteVolumeRequest(), csi_pb2.DeleteVolumeResponse)
        assert failure.value.status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    finally:
        client.close()
