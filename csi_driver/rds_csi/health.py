"""The standard gRPC health service (grpc.health.v1), answering for the whole server ("")
and for each CSI service by its full name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc

from rds_csi.proto import health_pb2, health_pb2_grpc

_Status = health_pb2.HealthCheckResponse


class Health(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    def __init__(self, services: list[str]) -> None:
        self.services = {"", *services}
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _status(self, service: str) -> Any:
        if service not in self.services:
            return _Status.SERVICE_UNKNOWN
        return _Status.NOT_SERVING if self._stopping.is_set() else _Status.SERVING

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.service not in self.services:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
        return _Status(status=self._status(request.service))

    def Watch(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        yield _Status(status=self._status(request.service))
        while context.is_active() and not self._stopping.wait(1.0):
            pass
        if context.is_active():
            yield _Status(status=self._status(request.service))
