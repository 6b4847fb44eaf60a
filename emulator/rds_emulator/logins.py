"""Who may log in: the authorized_keys file and RouterOS login names with `+` options."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

_WIDTH_OPTION = re.compile(r"([0-9]+)w")
_KEY_TYPE = re.compile(r"(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)")


@dataclass(frozen=True)
class Login:
    user: str
    width: int | None
    """Console width asked for with a `<digits>w` option, as in `admin+cet512w`."""


def parse_login(name: str) -> Login:
    """`admin+512w` is user `admin` with a 512-column console; other option letters are ignored."""
    user, _plus, options = name.partition("+")
    width = _WIDTH_OPTION.search(options)
    return Login(user=user, width=int(width.group(1)) if width else None)


def read_authorized_keys(path: Path | None) -> frozenset[bytes]:
    """The public key blobs of an OpenSSH authorized_keys file (options and comments allowed).

    Lines that cannot be read are skipped, as sshd does. The file is read on every login attempt,
    so keys can be added while the server runs.
    """
    if path is None or not path.exists():
        return frozenset()
    blobs: set[bytes] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        for index, word in enumerate(words[:-1]):
            if _KEY_TYPE.fullmatch(word):
                try:
                    blobs.add(base64.b64decode(words[index + 1], validate=True))
                except (binascii.Error, ValueError):
                    continue
                break
    return frozenset(blobs)
