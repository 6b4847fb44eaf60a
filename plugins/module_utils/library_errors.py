# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of every error the shared library raises, and the families errors fall into.

Consumers decide by family, never by listing classes: the CSI driver maps a family to a gRPC
status code and the modules turn any ``LibraryError`` into ``fail_json``, each in one place.
``transient`` says whether the same call can succeed later without an operator changing anything.
"""

from __future__ import annotations

from enum import Enum


class ErrorFamily(Enum):
    NOT_FOUND = "not found"
    ALREADY_EXISTS = "already exists"
    NO_SPACE = "out of space"
    INVALID = "invalid value"
    PRECONDITION = "needs an operator"
    """The object is in a state the call cannot change: in use, not managed, unsupported, a tool missing."""
    UNAVAILABLE = "unavailable"
    """Something the call needs cannot be reached now: a retry may succeed."""
    TIMEOUT = "timed out"
    LIMIT = "over a safety limit"
    INTERNAL = "internal"


class LibraryError(Exception):
    """Base of every error raised by the shared library (RDS client, NVMe host, node helpers)."""

    family = ErrorFamily.INTERNAL
    transient = False
