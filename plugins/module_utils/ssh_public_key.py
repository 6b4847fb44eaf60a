# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH public key lines and their SHA256 fingerprints, as ``ssh-keygen -l`` prints them."""

from __future__ import annotations

import base64
import binascii
import hashlib

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")


def fingerprint(blob: bytes) -> str:
    """``SHA256:`` and the unpadded base64 of the key blob's SHA-256 digest."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


class PublicKey:
    """One ``<type> <base64> [comment]`` line; ValueError with a sentence when it is not one."""

    def __init__(self, line: str) -> None:
        words = line.strip().split(None, 2)
        if len(words) < 2 or words[0] not in KEY_TYPES:
            raise ValueError("%r is not an OpenSSH public key line (%s AAAA... comment)." % (line, KEY_TYPES[0]))
        try:
            blob = base64.b64decode(words[1], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("The public key %r is not valid base64." % line) from None
        self.line = " ".join(words)
        self.key_type = words[0]
        self.owner = words[2] if len(words) == 3 else ""
        self.fingerprint = fingerprint(blob)
