"""What `print` shows for each kind of entry, and the raw values `where` and `[find]` compare.

Raw values are the unquoted, ungrouped forms (`size` is `10737418240`, `nvme-tcp-export` is
`yes`); a field an entry does not have compares as the empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType

from .dialect import NEWEST, DiskDialect
from .files import FileNode
from .layout import DetailItem, DetailStyle
from .model import PARTITION_ID, Disk, PoolUsage, format_item_id
from .quoting import quote, render
from .timestamps import format_timestamp
from .units import group_thousands, human_size

DISK_STYLE = DetailStyle(legend="Flags: X - DISABLED; B - BLOCK-DEVICE; M - MOUNTED", flag_width=2)
FILE_STYLE = DetailStyle(legend=None, flag_width=0)
PASSWORD_MASK = '"*****"'
"""A set NVMe/TCP password is printed masked, and not at all when empty."""
ID_FIELD = ".id"
"""The internal id (`*1A`): never printed, matched by an item written as an id (`remove *1A`)."""


@dataclass(frozen=True)
class Entry:
    item: DetailItem
    raw: Mapping[str, str] = field(hash=False)

    def value_of(self, name: str) -> str:
        return self.raw.get(name, "")


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _entry(
    printed: list[tuple[str, str, str]],
    *,
    hidden: Mapping[str, str] | None = None,
    flags: str = "",
    comment: str = "",
) -> Entry:
    """Build an entry from (key, raw, printed) triples plus fields that are matched, not printed."""
    raw = {key: value for key, value, _shown in printed}
    raw.update(hidden or {})
    item = DetailItem(tuple((key, shown) for key, _value, shown in printed), flags=flags, comment=comment)
    return Entry(item=item, raw=MappingProxyType(raw))


def _plain(key: str, value: str) -> tuple[str, str, str]:
    return key, value, value


def _quoted(key: str, value: str) -> tuple[str, str, str]:
    return key, value, quote(value)


@lru_cache(maxsize=8192)
def disk_entry(disk: Disk, dialect: DiskDialect = NEWEST) -> Entry:
    """Printed with the names `dialect` has; raw values keep canonical names for `where`. Cached: every
    `/disk` command builds the entries of the whole table to select from, a thousand disks' worth."""
    printed = [
        _plain("type", "file"),
        _quoted("slot", disk.slot),
        _quoted("slot-default", ""),
        _quoted("parent", ""),
        _plain("fs", "-"),
        _quoted("model", disk.file_path),
        ("size", str(disk.file_size), group_thousands(disk.file_size)),
        _plain("mount-filesystem", "yes"),
        _plain("mount-read-only", "no"),
        _plain("compress", "no"),
        _plain("sector-size", "512"),
        _plain("nvme-tcp-export", _yes_no(disk.nvme_tcp_export)),
        _plain("nvme-tcp-server-port", str(disk.nvme_tcp_server_port)),
        _quoted("nvme-tcp-server-nqn", disk.nvme_tcp_server_nqn),
        _quoted("nvme-tcp-name", disk.nvme_tcp_name),
        _quoted("nvme-tcp-server-allow-host-name", disk.nvme_tcp_server_allow_host_name),
    ]
    if disk.nvme_tcp_server_password:
        printed.append(("nvme-tcp-server-password", disk.nvme_tcp_server_password, PASSWORD_MASK))
    printed += [
        _plain("iscsi-export", "no"),
        _plain("nfs-sharing", "no"),
        _plain("smb-sharing", "no"),
        ("file-path", disk.file_path, render(disk.file_path)),
        ("file-size", str(disk.file_size), human_size(disk.file_size)),
        _plain("file-offset", "0"),
    ]
    entry = _entry(
        printed,
        hidden={"disabled": _yes_no(disk.disabled), "comment": disk.comment, ID_FIELD: format_item_id(disk.item_id)},
        flags="X" if disk.disabled else "",
        comment=disk.comment,
    )
    return replace(entry, item=replace(entry.item, properties=dialect.printed(entry.item.properties)))


def partition_entry(pool: PoolUsage) -> Entry:
    """The pool's partition (R-5): mounted at the pool name, found by `where mount-point=...`."""
    return _entry(
        [
            _plain("type", "partition"),
            _quoted("slot", pool.name),
            _quoted("slot-default", ""),
            _quoted("parent", ""),
            _plain("fs", "btrfs"),
            ("mount-point", pool.name, render(pool.name)),
            _plain("file-system", "btrfs"),
            ("size", str(pool.size), group_thousands(pool.size)),
            ("free", str(pool.free), group_thousands(pool.free)),
            _plain("use", f"{pool.use_percent}%"),
            _plain("mount-filesystem", "yes"),
            _plain("mount-read-only", "no"),
            _plain("compress", "no"),
            _plain("sector-size", "512"),
        ],
        hidden={"disabled": "no", ID_FIELD: format_item_id(PARTITION_ID)},
        flags="M",
    )


def file_entry(node: FileNode, *, iso_dates: bool) -> Entry:
    """`/file` entries: `.img file` and the creation time are printed unquoted despite their space."""
    if node.is_directory:
        kind = "directory"
    elif node.name.endswith(".img"):
        kind = ".img file"
    else:
        kind = "file"
    printed = [("name", node.name, render(node.name)), _plain("type", kind)]
    if not node.is_directory:
        printed.append(("size", str(node.size), group_thousands(node.size)))
    printed.append(_plain("creation-time", format_timestamp(node.modified, iso=iso_dates)))
    return _entry(printed, hidden={ID_FIELD: format_item_id(node.item_id)})
