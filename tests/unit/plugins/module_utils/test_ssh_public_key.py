"""OpenSSH public key lines and fingerprints; expected values printed by `ssh-keygen -lf` (OpenSSH 9.2)."""

from __future__ import annotations

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJkcAn20iIfc63UpuGatyNJkG6f9mqv/ZnO9XZ69LNNo fixture@test"
RSA = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQD+SggEL0xlta8oXvYTM0lzqE1+zs1uKDpZdRYK6B1gSm0SATw/Yf3lEYSxYGptdRGzmkuLkOL5"
    "RNwtxBkMkYMdhpp4JqmdHp5CTI5A6GUtzlYnqJtESLk73ePZMAbLW3Xx+ThZPOwkJm8uOLT5KDf3vcNHpjweSgHbgt0PL4FwBRQvJg+Bb6ZK39PA"
    "v8g3yomd8XT8zhPmpuLbYSIgZM1GBrEGiIDQhWfORQFYl4Lt+9dQEaiIiCUeOcsqUu132Wzt4Gi/eA5TW9eoJEQeQfB5/sZpX4BTNN+G7Y+5hnGkk7x"
    "SWKU5gkfSrScsbRT3vvQdun4jTPGnZZE9Z5sCTjSr rsa@test"
)


@pytest.mark.parametrize(
    ("line", "fingerprint", "key_type", "owner"),
    [
        (ED25519, "SHA256:suamXa7awOPzKhFHhHt+bbxgfgQykGP2zsF0LDbiIDY", "ssh-ed25519", "fixture@test"),
        (RSA, "SHA256:fY7Mrhr8Zv0UAkTPVXXgwSFxIBuCAFxL9c2ol5jE8oM", "ssh-rsa", "rsa@test"),
        (
            "  " + " ".join(ED25519.split()[:2]) + "\n",
            "SHA256:suamXa7awOPzKhFHhHt+bbxgfgQykGP2zsF0LDbiIDY",
            "ssh-ed25519",
            "",
        ),
    ],
)
def test_fingerprint_matches_ssh_keygen(line: str, fingerprint: str, key_type: str, owner: str) -> None:
    key = PublicKey(line)
    assert (key.fingerprint, key.key_type, key.owner) == (fingerprint, key_type, owner)
    assert key.line == line.strip()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "is not an OpenSSH public key line"),
        ("AAAAC3NzaC1lZDI1NTE5", "is not an OpenSSH public key line"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "is not an OpenSSH public key line"),
        ("ssh-ed25519 not-base64!", "is not valid base64"),
    ],
)
def test_lines_that_are_not_public_keys_are_refused(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PublicKey(line)
