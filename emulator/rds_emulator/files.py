"""The appliance's file system: RouterOS names mapped onto a host directory.

The RouterOS file `storage-pool/metal-csi/x.img` (or the path `/storage-pool/metal-csi/x.img`)
is the host file `<root>/storage-pool/metal-csi/x.img`. Names are checked so that no name can
leave the root: no empty, `.` or `..` components and no control characters.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .quoting import is_control
from .sparse import copy_sparse


@dataclass(frozen=True)
class FileNode:
    name: str
    """RouterOS name, without a leading slash."""
    is_directory: bool
    size: int
    modified: datetime
    """Last modification in UTC; printed as the file's creation time."""
    item_id: int = 0


def name_parts(path: str) -> tuple[str, ...]:
    """Split a RouterOS path or name into components; raise ValueError if it is not a safe name."""
    parts = tuple(path.removeprefix("/").split("/"))
    for part in parts:
        if part in ("", ".", "..") or any(is_control(character) for character in part):
            raise ValueError(f"not a usable file name: {path!r}")
    return parts


class FileTree:
    """Files get internal ids when first seen (listed or created by `make_directory`); an id
    lasts while its file does and the emulator runs, and is never reused. Not thread-safe: callers
    hold the appliance lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ids: dict[str, int] = {}
        self._next_id = 1

    def item_id(self, name: str) -> int:
        key = "/".join(name_parts(name))
        if key not in self._ids:
            self._ids[key] = self._next_id
            self._next_id += 1
        return self._ids[key]

    def host_path(self, name: str) -> Path:
        return self.root.joinpath(*name_parts(name))

    def exists(self, name: str) -> bool:
        return self.host_path(name).exists()

    def is_directory(self, name: str) -> bool:
        return self.host_path(name).is_dir()

    def nodes(self) -> list[FileNode]:
        """Every file and directory under the root, sorted by name."""
        paths = sorted(
            Path(directory, entry)
            for directory, subdirectories, file_names in os.walk(self.root)
            for entry in [*subdirectories, *file_names]
        )
        names = [path.relative_to(self.root).as_posix() for path in paths]
        present = set(names)
        self._ids = {name: number for name, number in self._ids.items() if name in present}
        return sorted((self._node(name, path) for name, path in zip(names, paths)), key=lambda node: node.name)

    def _node(self, name: str, path: Path) -> FileNode:
        status = path.lstat()
        return FileNode(
            name=name,
            is_directory=path.is_dir(),
            size=status.st_size,
            modified=datetime.fromtimestamp(status.st_mtime, tz=timezone.utc),
            item_id=self.item_id(name),
        )

    def allocated_bytes(self, name: str) -> int:
        """Bytes really allocated (st_blocks) by the files under `name`."""
        total = 0
        for directory, _subdirectories, file_names in os.walk(self.host_path(name)):
            for file_name in file_names:
                total += Path(directory, file_name).lstat().st_blocks * 512
        return total

    def create_sparse(self, name: str, size: int) -> None:
        """Create a new file of `size` bytes that allocates no data blocks."""
        path = self.host_path(name)
        with path.open("xb") as stream:
            try:
                stream.truncate(size)
            except BaseException:
                path.unlink(missing_ok=True)
                raise

    def create_copy(self, source: str, name: str, size: int) -> None:
        """Create `name` with the data of `source`, then extend it to `size` (not below the source)."""
        target = self.host_path(name)
        with self.host_path(source).open("rb") as reader, target.open("xb") as writer:
            try:
                copy_sparse(reader.fileno(), writer.fileno())
                writer.truncate(max(size, os.fstat(reader.fileno()).st_size))
            except BaseException:
                target.unlink(missing_ok=True)
                raise

    def grow(self, name: str, size: int) -> None:
        with self.host_path(name).open("r+b") as stream:
            stream.truncate(size)

    def make_directory(self, name: str) -> None:
        self.host_path(name).mkdir()

    def remove(self, name: str) -> None:
        key = "/".join(name_parts(name))
        self._ids = {
            known: number for known, number in self._ids.items() if known != key and not known.startswith(f"{key}/")
        }
        path = self.host_path(name)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
