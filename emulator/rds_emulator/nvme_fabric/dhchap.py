"""DH-HMAC-CHAP secret syntax as the kernel checks it (NVME_HOST.md §5): `DHHC-1:<hh>:<base64>:`
whose payload is a 32, 48 or 64 byte key followed by its CRC-32 (little-endian)."""

from __future__ import annotations

import base64
import binascii
import errno
import zlib

_KEY_LENGTHS = (32, 48, 64)


def secret_error(secret: str) -> int | None:
    """None for a well-formed secret, else the errno the kernel answers the connect with."""
    if len(secret) < 11 or not secret.startswith("DHHC-1:"):
        return errno.EINVAL
    parts = secret.split(":")
    if len(parts) != 4 or parts[1] not in ("00", "01", "02", "03") or parts[3] != "":
        return errno.EINVAL
    try:
        payload = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        return errno.EINVAL
    if len(payload) - 4 not in _KEY_LENGTHS:
        return errno.EINVAL
    key, crc = payload[:-4], payload[-4:]
    if zlib.crc32(key).to_bytes(4, "little") != crc:
        return errno.EKEYREJECTED
    return None
