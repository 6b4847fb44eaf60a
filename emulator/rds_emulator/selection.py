"""Resolving `[find ...]` and item names against a menu's entries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from .commandline import ArgValue, Filter
from .entries import ID_FIELD, Entry
from .errors import Failure

_T = TypeVar("_T")


def select(candidates: Sequence[tuple[_T, Entry]], item: ArgValue, name_field: str) -> list[_T]:
    """Everything `[find ...]` matches (possibly nothing), or the one entry named `item`; a name
    starting with `*` is an internal id (`*1A`, any case) of the entries that have one.

    An empty `[find ...]` is not an error (set and remove then do nothing, as on the real console);
    a name that matches nothing is `failure: no such item`.
    """
    if isinstance(item, Filter):
        return [value for value, entry in candidates if item.matches(entry.value_of)]
    field, wanted = (ID_FIELD, item.upper()) if item.startswith("*") else (name_field, item)
    named = [value for value, entry in candidates if entry.value_of(field) == wanted]
    if not named:
        raise Failure("no such item")
    return named


def matching_entries(entries: Sequence[Entry], where: Filter | None) -> list[Entry]:
    if where is None:
        return list(entries)
    return [entry for entry in entries if where.matches(entry.value_of)]
