"""The generated CSI and health stubs, imported in one place with a clear error when missing."""

from __future__ import annotations

try:
    from rds_csi.generated import csi_pb2, csi_pb2_grpc, health_pb2, health_pb2_grpc
except ImportError as error:  # pragma: no cover - only without a build step
    raise ImportError(
        "The gRPC stubs of rds_csi are missing; run `python csi_driver/build_proto.py` "
        "(the wheel build and the tests do this) or install the built wheel."
    ) from error

__all__ = ["csi_pb2", "csi_pb2_grpc", "health_pb2", "health_pb2_grpc"]
