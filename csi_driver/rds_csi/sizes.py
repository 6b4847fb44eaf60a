"""Capacity ranges to exact disk sizes (P-5.2, P-4.6): never rounded down, bounded above."""

from __future__ import annotations

from typing import Any

import grpc

from rds_csi.errors import CsiError, invalid

GIB = 1024**3
DEFAULT_SIZE = GIB  # a request without a size, and anything smaller, gets 1 GiB
MAX_SIZE = 16 * 1024**4


def size_for(capacity_range: Any, minimum: int = DEFAULT_SIZE) -> int:
    """The exact size to create for a CSI CapacityRange (required rounded up to ``minimum``)."""
    required = int(capacity_range.required_bytes)
    limit = int(capacity_range.limit_bytes)
    if required < 0 or limit < 0:
        raise invalid("Capacity range must not be negative (required_bytes=%d, limit_bytes=%d)." % (required, limit))
    if limit and required > limit:
        raise invalid("Capacity range required_bytes=%d is above limit_bytes=%d." % (required, limit))
    size = max(required, minimum)
    if limit and size > limit:
        raise CsiError(
            grpc.StatusCode.OUT_OF_RANGE,
            "Capacity limit_bytes=%d is below the smallest size this driver creates (%d bytes)." % (limit, size),
        )
    if size > MAX_SIZE:
        raise CsiError(
            grpc.StatusCode.OUT_OF_RANGE,
            "Requested %d bytes is above the largest volume the RDS driver creates (%d bytes, 16 TiB)."
            % (size, MAX_SIZE),
        )
    return size


def fits(size: int, capacity_range: Any) -> bool:
    """Whether an existing volume of ``size`` bytes satisfies the range (idempotent CreateVolume)."""
    required = capacity_range.required_bytes
    limit = capacity_range.limit_bytes
    return size >= required and (not limit or size <= limit)
