"""Failures as the host sees them: a kernel errno from the /dev/nvme-fabrics write, and the
string libnvme 1.3 turns it into (NVME_HOST.md §2.4)."""

from __future__ import annotations

import errno
import os
from typing import ClassVar


class FabricError(Exception):
    """A fabric operation failed in a way real nvme-cli reports; `lines` is its stderr."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class ConnectRefused(FabricError):
    """The kernel refused the connect; nvme-cli 2.3 prints two lines and exits 1."""

    _LIBNVME_MESSAGES: ClassVar[dict[int, str]] = {
        errno.ECONNREFUSED: "connection refused",
        errno.EINVAL: "invalid arguments/configuration",
        errno.EALREADY: "already connected",
        errno.EADDRINUSE: "hostnqn already in use",
        errno.ENODEV: "invalid interface",
    }

    def __init__(self, error_number: int, reason: str) -> None:
        message = self._LIBNVME_MESSAGES.get(error_number, "failed to write to nvme-fabrics device")
        super().__init__(
            [
                f"Failed to write to /dev/nvme-fabrics: {os.strerror(error_number)}",
                f"could not add new controller: {message}",
            ]
        )
        self.error_number = error_number
        self.reason = reason
        """What the kernel would have logged (dmesg); for test diagnostics."""


class AlreadyConnected(FabricError):
    """nvme-cli's own sysfs pre-check found a matching controller (any state, any host NQN)."""

    def __init__(self) -> None:
        super().__init__(["already connected"])


class UnknownDevice(FabricError):
    def __init__(self, name: str) -> None:
        super().__init__([f"Did not find device {name}"])
        self.name = name
