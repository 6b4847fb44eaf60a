"""Per-volume in-flight protection: a second operation on a busy volume gets ``Aborted`` (A-4).

The sidecars retry ``Aborted`` with backoff, so refusing is safer than queueing operations that
the CO may already have given up on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from rds_csi.errors import CsiError


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[str] = set()

    @contextmanager
    def hold(self, *keys: str) -> Iterator[None]:
        """Hold every key (volume or snapshot ID) for the duration, or raise Aborted at once."""
        wanted = {key for key in keys if key}
        with self._lock:
            taken = sorted(wanted & self._busy)
            if taken:
                raise CsiError(
                    grpc.StatusCode.ABORTED,
                    "An operation on %s is already in progress; retry when it has finished." % ", ".join(taken),
                )
            self._busy |= wanted
        try:
            yield
        finally:
            with self._lock:
                self._busy -= wanted

    def busy(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._busy)
