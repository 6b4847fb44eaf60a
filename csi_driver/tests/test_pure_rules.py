"""The pure rules behind the RPCs, table-driven and without I/O: names, sizes, tokens, fencing."""

from __future__ import annotations

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from rds_csi import naming, pagination
from rds_csi.attachments import Attachment, Decision, decide
from rds_csi.errors import CsiError
from rds_csi.proto import csi_pb2
from rds_csi.sizes import GIB, MAX_SIZE, size_for

PVC = "pvc-3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.mark.parametrize(
    ("name", "kept"),
    [(PVC, True), (PVC.upper(), False), ("pvc-1", False), ("a" * 128, False), ("x'\"$?;[]", False)],
)
def test_volume_ids(name: str, kept: bool) -> None:
    volume_id = naming.volume_id_for(name)
    assert (volume_id == name) is kept
    assert naming.is_volume_id(volume_id) and volume_id == naming.volume_id_for(name)
    assert len(nqn_for(volume_id).encode()) <= 223
    assert naming.snapshot_id_for(name) != volume_id


def test_comments_round_trip() -> None:
    record = naming.SnapshotRecord(PVC, 1_700_000_000)
    assert naming.snapshot_from_comment(naming.snapshot_comment(record)) == record
    source = naming.Source("volume", PVC)
    assert naming.source_from_comment(naming.source_comment(source)) == source
    assert naming.snapshot_from_comment("hand-made disk") is None and naming.source_from_comment("") is None


@pytest.mark.parametrize(
    ("required", "limit", "expected"),
    [
        (0, 0, GIB),
        (1, 0, GIB),
        (GIB + 1, 0, GIB + 1),
        (0, 2 * GIB, GIB),
        (MAX_SIZE, 0, MAX_SIZE),
        (0, GIB - 1, grpc.StatusCode.OUT_OF_RANGE),
        (MAX_SIZE + 1, 0, grpc.StatusCode.OUT_OF_RANGE),
        (3 * GIB, 2 * GIB, grpc.StatusCode.INVALID_ARGUMENT),
        (-1, 0, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_sizes(required: int, limit: int, expected: object) -> None:
    capacity = csi_pb2.CapacityRange(required_bytes=required, limit_bytes=limit)
    if isinstance(expected, int):
        assert size_for(capacity) == expected
    else:
        with pytest.raises(CsiError) as raised:
            size_for(capacity)
        assert raised.value.code == expected


def test_a_migration_past_its_timeout_refuses_its_target_and_names_both_nodes() -> None:
    source = Attachment("a", readonly=None, multi_writer=True, since=1000.0)
    target = Attachment("b", readonly=None, multi_writer=True, since=2000.0)
    assert decide("pvc-x", (source, target), RWX_B, now=2000.0 + 300, timeout=300) is Decision.ALREADY
    with pytest.raises(CsiError) as raised:
        decide("pvc-x", (source, target), RWX_B, now=2000.0 + 301, timeout=300)
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "from node a to node b" in str(raised.value) and "migrationTimeoutSeconds" in str(raised.value)
    assert decide("pvc-x", (source, target), RWX_A, now=2000.0 + 301, timeout=300) is Decision.ALREADY


def test_tokens() -> None:
    items = ["pvc-c", "pvc-a", "pvc-b"]
    first, token = pagination.page(items, str, 2, "")
    assert first == ["pvc-a", "pvc-b"] and pagination.decode(token) == "pvc-c"
    assert pagination.page(items, str, 0, token) == (["pvc-c"], "")
    for bad in ("x", "", "!!!", "cmRzLWNzaTp2MTo"):
        with pytest.raises(CsiError) as raised:
            pagination.decode(bad)
        assert raised.value.code == grpc.StatusCode.ABORTED


RWO_A = Attachment("a", readonly=False, multi_writer=False)
RWX_A = Attachment("a", readonly=False, multi_writer=True)
RWX_B = Attachment("b", readonly=False, multi_writer=True)


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ((), RWO_A, Decision.ATTACH),
        ((RWO_A,), RWO_A, Decision.ALREADY),
        ((RWO_A,), Attachment("a", readonly=True, multi_writer=False), grpc.StatusCode.ALREADY_EXISTS),
        ((RWO_A,), Attachment("b", readonly=False, multi_writer=False), grpc.StatusCode.FAILED_PRECONDITION),
        ((RWX_A,), RWX_B, Decision.MIGRATE),
        ((RWX_A, RWX_B), RWX_B, Decision.ALREADY),
        ((RWX_A, RWX_B), RWX_A, Decision.ALREADY),
        ((RWX_A, RWX_B), Attachment("c", readonly=False, multi_writer=True), grpc.StatusCode.FAILED_PRECONDITION),
        ((RWO_A,), RWX_B, grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_fencing_decisions(current: tuple[Attachment, ...], wanted: Attachment, expected: object) -> None:
    if isinstance(expected, Decision):
        assert decide("pvc-x", current, wanted) is expected
    else:
        with pytest.raises(CsiError) as raised:
            decide("pvc-x", current, wanted)
        assert raised.value.code == expected
