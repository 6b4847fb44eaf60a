"""The server's host key: loaded from a file, or generated as ed25519 on first start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def load_or_create_host_key(path: Path) -> Any:
    """Return the paramiko key at `path`, creating an ed25519 key (and `path`.pub) if it is missing.

    paramiko cannot generate ed25519 keys, so `cryptography` writes the OpenSSH private format.
    """
    if not path.exists():
        _create_ed25519_key(path)
    return paramiko.PKey.from_path(path)


def public_key_line(key: Any) -> str:
    """`ssh-ed25519 AAAA...`, the form for known_hosts and for pinning."""
    return f"{key.get_name()} {key.get_base64()}"


def _create_ed25519_key(path: Path) -> None:
    public_line = write_ed25519_key(path)
    path.with_name(f"{path.name}.pub").write_bytes(public_line + b" rds-emulator\n")


def write_ed25519_key(path: Path) -> bytes:
    """Write a new ed25519 private key (OpenSSH format, mode 0600, never over an existing file);
    return its public key line without a comment (`ssh-ed25519 AAAA...`)."""
    private_key = Ed25519PrivateKey.generate()
    private_text = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.OpenSSH,
        encryption_algorithm=serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(private_text)
    return private_key.public_key().public_bytes(
        encoding=serialization.Encoding.OpenSSH, format=serialization.PublicFormat.OpenSSH
    )
