"""A-2: the driver, and every library file it imports, runs without Ansible; the wheel ships exactly
the library files the driver imports (library_files.py computes them; test_wheel.py checks the wheel).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from library_files import (
    LIBRARY,
    REPOSITORY,
    MissingLibraryModule,
    Trees,
    ansible_imports,
    library_closure,
    library_modules,
)


def test_nothing_the_driver_imports_imports_ansible() -> None:
    found = ansible_imports(REPOSITORY)
    assert found == [], "the driver must run without ansible-core:\n" + "\n".join(found)


def test_the_ansible_module_helpers_are_not_part_of_the_driver() -> None:
    names = {source.path.name for source in library_closure(REPOSITORY)}
    assert "rds_client.py" in names
    assert not names & {"rds_module.py", "nvme_module.py"}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def trees(tmp_path: Path) -> Trees:
    """A driver and a library laid out as in the repository, with every import form the driver uses."""
    write(
        tmp_path / "csi_driver",
        {
            "rds_csi/__init__.py": "",
            "rds_csi/main.py": f"""
                from . import helpers
                from {LIBRARY} import first, second
                from {LIBRARY}.pkg import sub
                """,
            "rds_csi/helpers.py": f"""
                def load() -> None:
                    import {LIBRARY}.lazy
                """,
        },
    )
    write(
        tmp_path / "plugins/module_utils",
        {
            "first.py": f"from {LIBRARY}.base import Error\n",
            "second.py": "from .deep import value\n",
            "deep.py": "import ansible\nfrom ansible.module_utils.basic import AnsibleModule\n",
            "base.py": "class Error(Exception): ...\n",
            "lazy.py": "",
            "pkg/__init__.py": "",
            "pkg/sub.py": "",
            "pkg/unused.py": "",
            "module_only.py": "from ansible.module_utils.basic import AnsibleModule\n",
        },
    )
    return Trees(tmp_path / "csi_driver", tmp_path / "plugins/module_utils")


def test_the_closure_follows_every_import_form_and_nothing_else(trees: Trees) -> None:
    assert library_modules(trees) == [
        LIBRARY + "." + name for name in ("base", "deep", "first", "lazy", "pkg.__init__", "pkg.sub", "second")
    ]


def test_an_ansible_import_is_reported_with_its_chain_from_the_driver(trees: Trees) -> None:
    chain = "csi_driver/rds_csi/main.py -> plugins/module_utils/second.py -> plugins/module_utils/deep.py"
    assert ansible_imports(trees) == [
        "plugins/module_utils/deep.py:1 imports ansible; the driver imports it through " + chain,
        "plugins/module_utils/deep.py:2 imports ansible.module_utils.basic; the driver imports it through " + chain,
    ]


def test_an_import_of_a_missing_library_file_fails(trees: Trees) -> None:
    (trees.library_dir / "lazy.py").unlink()
    with pytest.raises(MissingLibraryModule, match=r"helpers\.py:3 imports .*\.lazy"):
        library_closure(trees)
