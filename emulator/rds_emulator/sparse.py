"""Copying disk images without filling their holes (`cp --sparse=always` semantics)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

_CHUNK = 1024 * 1024


def copy_sparse(source_fd: int, target_fd: int) -> None:
    """Copy every byte of `source_fd` into the empty `target_fd`, writing only non-zero chunks.

    The target is first extended to the source's size, so skipped chunks read back as zeros.
    """
    length = os.fstat(source_fd).st_size
    os.ftruncate(target_fd, length)
    zeros = bytes(_CHUNK)
    for start, end in _data_extents(source_fd, length):
        offset = start
        while offset < end:
            chunk = os.pread(source_fd, min(_CHUNK, end - offset), offset)
            if not chunk:
                break
            if chunk != zeros[: len(chunk)]:
                os.pwrite(target_fd, chunk, offset)
            offset += len(chunk)


def _data_extents(fd: int, length: int) -> Iterator[tuple[int, int]]:
    """(start, end) ranges that may hold data; the whole file where SEEK_DATA is unsupported."""
    offset = 0
    while offset < length:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as error:
            if error.errno == errno.ENXIO:
                return
            yield offset, length
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        offset = end
