"""Stable, opaque pagination tokens for ListVolumes and ListSnapshots (P-5.5).

A token names the first slot of the next page; slots sort stably, so creating or deleting other
volumes between pages neither repeats nor skips an entry that existed throughout. A token this
driver did not issue is ``Aborted``, as the CSI spec requires.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Callable, TypeVar

import grpc

from rds_csi.errors import CsiError, invalid

T = TypeVar("T")
_PREFIX = "rds-csi:v1:"


def encode(slot: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + slot).encode()).decode().rstrip("=")


def decode(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX) or len(text) == len(_PREFIX):
        raise CsiError(
            grpc.StatusCode.ABORTED,
            "starting_token %r was not issued by this driver; list again from the beginning." % token,
        )
    return text[len(_PREFIX) :]


def page(items: Sequence[T], key: Callable[[T], str], max_entries: int, token: str) -> tuple[list[T], str]:
    """One page of ``items`` (sorted by ``key``) and the token of the next page ('' when none)."""
    if max_entries < 0:
        raise invalid("max_entries must not be negative, got %d." % max_entries)
    ordered = sorted(items, key=key)
    if token:
        start = decode(token)
        ordered = [item for item in ordered if key(item) >= start]
    if not max_entries or len(ordered) <= max_entries:
        return ordered, ""
    return ordered[:max_entries], encode(key(ordered[max_entries]))
