"""The disk table and the files derived from it, kept in the state directory.

`config.json` holds every disk with all its fields and is rewritten after each change;
`exports.json` maps each NQN served over NVMe/TCP to its backing file for the node test fabric.
Both are replaced atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .atomicio import write_json_atomically
from .files import FileTree
from .jsontypes import JsonObject, JsonValue
from .model import PARTITION_ID, Disk

_FORMAT = 1
_T = TypeVar("_T")


class DiskTable:
    def __init__(self, state_dir: Path, tree: FileTree) -> None:
        self._config_path = state_dir / "config.json"
        self._exports_path = state_dir / "exports.json"
        self._tree = tree
        self._disks: tuple[Disk, ...] = ()
        self._next_id = PARTITION_ID + 1

    @property
    def disks(self) -> tuple[Disk, ...]:
        return self._disks

    @property
    def next_id(self) -> int:
        """The id the next added disk gets: ids only grow, so a removed disk's id is never reused."""
        return self._next_id

    def load(self) -> None:
        """Read `config.json` if there is one, then write both files so they exist and agree."""
        disks: list[Disk] = []
        if self._config_path.exists():
            document = json.loads(self._config_path.read_text(encoding="utf-8"))
            if document.get("format") != _FORMAT:
                raise ValueError(f"{self._config_path}: unknown format {document.get('format')!r}")
            if "next-id" in document:
                self._next_id = max(self._next_id, _typed(document, "next-id", int))
            disks = _numbered([_disk_from_json(entry) for entry in document["disks"]], self._next_id)
        self.commit(disks)

    def commit(self, disks: Sequence[Disk]) -> None:
        self._disks = tuple(disks)
        self._next_id = max([self._next_id, *(disk.item_id + 1 for disk in self._disks)])
        write_json_atomically(
            self._config_path,
            {
                "format": _FORMAT,
                "next-id": self._next_id,
                "disks": [_disk_to_json(disk) for disk in self._disks],
            },
        )
        self._write_exports()

    def _write_exports(self) -> None:
        exports: JsonObject = {
            disk.nvme_tcp_server_nqn: {
                "slot": disk.slot,
                "file": str(self._tree.host_path(disk.file_name).absolute()),
                "port": disk.nvme_tcp_server_port,
                "allowed_host_nqns": list(disk.allowed_host_nqns),
                "dh_chap_secret": disk.nvme_tcp_server_password or None,
            }
            for disk in self._disks
            if disk.serves_nvme
        }
        write_json_atomically(self._exports_path, exports)


def _numbered(disks: Sequence[Disk], first_free: int) -> list[Disk]:
    """Disks of a config.json written before disks had ids get new ids after every known one."""
    next_id = max([first_free, *(disk.item_id + 1 for disk in disks)])
    numbered: list[Disk] = []
    for disk in disks:
        if disk.item_id > PARTITION_ID:
            numbered.append(disk)
            continue
        numbered.append(replace(disk, item_id=next_id))
        next_id += 1
    return numbered


def _disk_to_json(disk: Disk) -> JsonObject:
    return {
        "id": disk.item_id,
        "slot": disk.slot,
        "file-path": disk.file_path,
        "file-size": disk.file_size,
        "comment": disk.comment,
        "disabled": disk.disabled,
        "nvme-tcp-export": disk.nvme_tcp_export,
        "nvme-tcp-server-port": disk.nvme_tcp_server_port,
        "nvme-tcp-server-nqn": disk.nvme_tcp_server_nqn,
        "nvme-tcp-server-allow-host-name": disk.nvme_tcp_server_allow_host_name,
        "nvme-tcp-server-password": disk.nvme_tcp_server_password,
        **({"nvme-tcp-name": disk.nvme_tcp_name} if disk.nvme_tcp_name else {}),
    }


def _disk_from_json(entry: JsonValue) -> Disk:
    if not isinstance(entry, dict):
        raise ValueError(f"disk entry is not an object: {entry!r}")
    return Disk(
        slot=_typed(entry, "slot", str),
        file_path=_typed(entry, "file-path", str),
        file_size=_typed(entry, "file-size", int),
        comment=_typed(entry, "comment", str),
        disabled=_typed(entry, "disabled", bool),
        nvme_tcp_export=_typed(entry, "nvme-tcp-export", bool),
        nvme_tcp_server_port=_typed(entry, "nvme-tcp-server-port", int),
        nvme_tcp_server_nqn=_typed(entry, "nvme-tcp-server-nqn", str),
        nvme_tcp_server_allow_host_name=_typed(entry, "nvme-tcp-server-allow-host-name", str),
        nvme_tcp_server_password=_typed(entry, "nvme-tcp-server-password", str),
        nvme_tcp_name=_typed(entry, "nvme-tcp-name", str) if "nvme-tcp-name" in entry else "",
        item_id=_typed(entry, "id", int) if "id" in entry else 0,
    )


def _typed(entry: dict[str, JsonValue], key: str, kind: type[_T]) -> _T:
    value = entry.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"disk field {key!r} is not a {kind.__name__}: {value!r}")
    return value
