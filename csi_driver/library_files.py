"""The library files the driver imports (A-2), found by reading import statements with ``ast``.

Starting from every module of ``rds_csi``, the closure follows imports of
``ansible_collections.srvlab.rds.plugins.module_utils...`` (absolute or relative, ``import M``,
``from M import name`` where name may be a submodule, ``from <library> import a, b``), wherever they
stand in a file (top level, ``TYPE_CHECKING`` blocks, function bodies). ``setup.py`` ships exactly
this set; ``tests/test_driver_imports.py`` fails when a file in it imports Ansible.
"""

from __future__ import annotations

import ast
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

LIBRARY = "ansible_collections.srvlab.rds.plugins.module_utils"
DRIVER_PACKAGE = "rds_csi"
DRIVER_DIR = Path(__file__).resolve().parent
LIBRARY_DIR = DRIVER_DIR.parent / "plugins" / "module_utils"


class MissingLibraryModule(LookupError):
    """A file imports a library module that has no file: the wheel would be broken."""


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name; for ``from M import a, b`` this is M
    names: tuple[str, ...]  # the names after ``import`` of a from-import; empty for ``import M``
    line: int


@dataclass(frozen=True)
class Source:
    path: Path
    package: str  # the package relative imports in the file resolve against


@dataclass(frozen=True)
class Trees:
    driver_dir: Path
    library_dir: Path

    def display(self, path: Path) -> str:
        """A path as the repository names it (relative to the driver directory's parent)."""
        return os.path.relpath(path, self.driver_dir.parent)


REPOSITORY = Trees(DRIVER_DIR, LIBRARY_DIR)


def imports_of(source: Source) -> Iterator[Import]:
    tree = ast.parse(source.path.read_text(encoding="utf-8"), filename=str(source.path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, source.package)
            yield Import(module, tuple(alias.name for alias in node.names), node.lineno)


def _absolute(module: Optional[str], level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def in_library(module: str) -> bool:
    return module == LIBRARY or module.startswith(LIBRARY + ".")


def is_foreign_ansible(module: str) -> bool:
    """Ansible itself or another collection; the library and its namespace parents are not foreign."""
    top = module.split(".", maxsplit=1)[0]
    if top == "ansible":
        return True
    return top == "ansible_collections" and not (in_library(module) or LIBRARY.startswith(module + "."))


def _locate(module: str, library_dir: Path) -> Optional[Path]:
    """The file of a library module, its directory if it is a namespace package, or None."""
    relative = module[len(LIBRARY) + 1 :].split(".") if module != LIBRARY else []
    directory = library_dir.joinpath(*relative)
    candidates = [directory / "__init__.py"]
    if relative:
        candidates.insert(0, directory.with_suffix(".py"))
    found = next((path for path in candidates if path.is_file()), None)
    if found is None and directory.is_dir():
        return directory
    return found


def _library_files(statement: Import, source: Source, library_dir: Path) -> Iterator[Path]:
    """The library files one import statement loads: its module, that module's library parents and
    every imported name that is a submodule."""
    base = _locate(statement.module, library_dir) if in_library(statement.module) else None
    names = [statement.module] + [statement.module + "." + name for name in statement.names if name != "*"]
    for index, name in enumerate(names):
        if not in_library(name):
            continue
        if _locate(name, library_dir) is None:
            # ``from M import x`` where M has a file (module or package __init__): x may be an attribute.
            if index > 0 and base is not None and base.is_file():
                continue
            raise MissingLibraryModule(
                "%s:%d imports %s, which is not in %s" % (source.path, statement.line, name, library_dir)
            )
        yield from _files_along(name, library_dir)


def _files_along(module: str, library_dir: Path) -> Iterator[Path]:
    """The files of a library module and of its library parents (importing a.b runs a/__init__.py)."""
    parts = module.split(".")
    for end in range(len(LIBRARY.split(".")), len(parts) + 1):
        location = _locate(".".join(parts[:end]), library_dir)
        if location is not None and location.is_file():
            yield location


def library_source(path: Path, library_dir: Path) -> Source:
    package_parts = path.relative_to(library_dir).with_suffix("").parts[:-1]
    return Source(path, ".".join([LIBRARY, *package_parts]))


def driver_sources(driver_dir: Path) -> list[Source]:
    """Every module of the driver package, generated stubs included."""
    paths = sorted((driver_dir / DRIVER_PACKAGE).rglob("*.py"))
    return [Source(path, ".".join(path.relative_to(driver_dir).parent.parts)) for path in paths]


def library_closure(trees: Trees) -> dict[Source, tuple[Path, ...]]:
    """Every library file the driver imports, directly or through other library files, with the
    shortest import chain that reaches it (a driver module first, the file itself last)."""
    chains: dict[Source, tuple[Path, ...]] = {}
    queue: deque[tuple[Source, tuple[Path, ...]]] = deque(
        (root, (root.path,)) for root in driver_sources(trees.driver_dir)
    )
    while queue:
        source, chain = queue.popleft()
        for statement in imports_of(source):
            for path in _library_files(statement, source, trees.library_dir):
                reached = library_source(path, trees.library_dir)
                if reached not in chains:
                    chains[reached] = (*chain, path)
                    queue.append((reached, chains[reached]))
    return chains


def library_modules(trees: Trees) -> list[str]:
    """The closure as setuptools ``py_modules`` names: a package's own file is ``<package>.__init__``."""
    names = []
    for source in library_closure(trees):
        parts = source.path.relative_to(trees.library_dir).with_suffix("").parts
        names.append(".".join([LIBRARY, *parts]))
    return sorted(names)


def ansible_imports(trees: Trees) -> list[str]:
    """One message per import of Ansible in the driver or a library file it imports, naming the
    file, the line, the imported module and the chain of imports from the driver to the file."""
    reached: dict[Source, tuple[Path, ...]] = {root: (root.path,) for root in driver_sources(trees.driver_dir)}
    reached.update(library_closure(trees))
    messages = []
    for source, chain in reached.items():
        for statement in imports_of(source):
            if is_foreign_ansible(statement.module):
                route = " -> ".join(trees.display(link) for link in chain)
                messages.append(
                    "%s:%d imports %s; the driver imports it through %s"
                    % (trees.display(source.path), statement.line, statement.module, route)
                )
    return messages
