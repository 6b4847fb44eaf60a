"""Pure node rules without I/O: the NVMe target from the contexts (P-3 keys and defaults), the
host NQN segment of NodeGetInfo, where stage records live."""

from __future__ import annotations

import os

import grpc
import pytest
from rds_csi.config import ConfigError
from rds_csi.errors import CsiError
from rds_csi.node_context import connect_target
from rds_csi.node_runtime import StageRecords, records_directory
from rds_csi.topology import HOST_UUID_KEY, host_nqn_from_segments, host_segments

VOLUME = "pvc-7d7f8a4e-0c5e-4a53-9d7a-2f0c6a1b9e11"
HOST = "nqn.2014-08.org.nvmexpress:uuid:3f0c2f64-8d0e-4b8f-a5b1-0e3a9b7f6c21"


def test_old_volume_context_gets_the_defaults() -> None:
    """A PV of the old driver has only nvmeAddress, nvmePort and nqn: P-6.2 defaults apply."""
    old = {"nvmeAddress": "10.0.0.5", "nvmePort": "4420", "nqn": "nqn.2000-02.com.mikrotik:" + VOLUME}
    target = connect_target(VOLUME, {}, old, HOST)
    assert (target.traddr, target.trsvcid, target.nqn) == ("10.0.0.5", 4420, old["nqn"])
    assert (target.ctrl_loss_tmo, target.reconnect_delay, target.keep_alive_tmo) == (-1, 5, None)
    assert target.hostnqn == HOST


def test_publish_context_wins_and_tuning_keys_are_read() -> None:
    volume_context = {"nvmeAddress": "10.0.0.5", "ctrlLossTmo": "600", "reconnectDelay": "2", "keepAliveTmo": "7"}
    publish_context = {"nvmeAddress": "10.0.0.6", "nvmePort": "4421"}
    target = connect_target(VOLUME, publish_context, volume_context, "")
    assert (target.traddr, target.trsvcid) == ("10.0.0.6", 4421)
    assert (target.ctrl_loss_tmo, target.reconnect_delay, target.keep_alive_tmo) == (600, 2, 7)
    assert target.nqn == "nqn.2000-02.com.mikrotik:" + VOLUME and target.hostnqn is None


@pytest.mark.parametrize(
    ("context", "named"),
    [({}, "nvmeAddress"), ({"nvmeAddress": "10.0.0.5", "ctrlLossTmo": "forever"}, "ctrlLossTmo")],
)
def test_bad_contexts_are_invalid_argument(context: dict[str, str], named: str) -> None:
    with pytest.raises(CsiError) as raised:
        connect_target(VOLUME, {}, context, HOST)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT and named in str(raised.value)


def test_host_nqn_segment_round_trip() -> None:
    segments = host_segments(HOST)
    assert segments == {HOST_UUID_KEY: HOST.rsplit(":", 1)[1]}
    assert host_nqn_from_segments(segments) == HOST
    assert host_segments("nqn.2024-01.io.example:node-7") == {}, "only the UUID form fits a label value"
    assert host_nqn_from_segments({HOST_UUID_KEY: "not-a-uuid"}) is None


def test_stage_records_live_beside_the_unix_socket() -> None:
    assert records_directory("unix:///csi/csi.sock") == "/csi/staged"
    assert records_directory("unix:/var/lib/kubelet/plugins/rds/csi.sock") == "/var/lib/kubelet/plugins/rds/staged"
    with pytest.raises(ConfigError, match="a TCP endpoint"):
        records_directory("tcp://127.0.0.1:10000")


def test_stage_record_file_names_stay_inside_their_directory() -> None:
    records = StageRecords("/csi/staged")
    assert records.path(VOLUME) == "/csi/staged/%s.json" % VOLUME
    for odd in ("../../etc/passwd", "a/b", ".hidden", "x" * 200):
        path = records.path(odd)
        assert os.path.dirname(path) == "/csi/staged" and os.path.basename(path).startswith("sha256-"), odd
