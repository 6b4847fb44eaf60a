"""One owner per rule: the compatibility defaults live in ``rds_rules`` and nowhere else in code;
module documentation and role defaults, which must spell them out, are checked against it.

A rule changed in ``rds_rules`` alone fails these tests until the docs and roles follow, and a
literal copy of a rule in production code fails them at once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.srvlab.rds.plugins.module_utils import rds_rules

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("plugins/module_utils", "plugins/modules", "csi_driver/rds_csi")
DOC_VARIABLES = {"DOCUMENTATION", "EXAMPLES", "RETURN"}
RULE_VALUES: dict[object, str] = {
    rds_rules.NQN_BASE: "NQN_BASE",
    rds_rules.DEFAULT_NQN_PREFIX: "DEFAULT_NQN_PREFIX",
    rds_rules.VOLUME_SLOT_PREFIX: "VOLUME_SLOT_PREFIX",
    rds_rules.DEFAULT_BASE_PATH: "DEFAULT_BASE_PATH",
    rds_rules.DEFAULT_NVME_PORT: "DEFAULT_NVME_PORT",
    rds_rules.MAX_NQN_BYTES: "MAX_NQN_BYTES",
}
# Option or variable names whose default is a rule, by the rule's value.
DEFAULTS = {
    "base_path": rds_rules.DEFAULT_BASE_PATH,
    "nvme_port": rds_rules.DEFAULT_NVME_PORT,
    "managed_nqn_prefix": rds_rules.DEFAULT_NQN_PREFIX,
    "managed_slot_prefix": rds_rules.VOLUME_SLOT_PREFIX,
}


def production_files() -> Iterator[Path]:
    for folder in PRODUCTION:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name != "rds_rules.py" and "generated" not in path.parts:
                yield path


def docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def documentation_constants(tree: ast.Module) -> set[int]:
    found: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id in DOC_VARIABLES for target in node.targets
        ):
            found.update(id(child) for child in ast.walk(node.value))
    return found


def rule_literals(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    skipped = docstrings(tree) | documentation_constants(tree)
    copies = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in skipped or isinstance(node.value, bool):
            continue
        value = node.value
        if value in RULE_VALUES or (isinstance(value, str) and rds_rules.NQN_BASE in value):
            name = RULE_VALUES.get(value, "NQN_BASE")
            copies.append(
                "%s:%d repeats %r; import %s from rds_rules" % (path.relative_to(root), node.lineno, value, name)
            )
    return copies


def test_no_rule_is_written_out_in_production_code() -> None:
    copies = [copy for path in production_files() for copy in rule_literals(path)]
    assert copies == []


def test_the_literal_check_finds_a_copy(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docs may say nqn.2000-02.com.mikrotik:pvc-1."""\nPORT = 4420\nBASE = "/storage-pool/metal-csi"\n'
    )
    assert [copy.split(" repeats ")[1] for copy in rule_literals(sample, tmp_path)] == [
        "4420; import DEFAULT_NVME_PORT from rds_rules",
        "'/storage-pool/metal-csi'; import DEFAULT_BASE_PATH from rds_rules",
    ]


def documented_options() -> Iterator[tuple[str, str, Any]]:
    """(file, option, default) from the documentation of every module and doc fragment."""
    sources = sorted((ROOT / "plugins" / "modules").glob("*.py")) + sorted(
        (ROOT / "plugins" / "doc_fragments").glob("*.py")
    )
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
                continue
            if not any(isinstance(target, ast.Name) and target.id.isupper() for target in node.targets):
                continue
            document = yaml.safe_load(str(node.value.value))
            options = document.get("options") if isinstance(document, dict) else None
            for option, spec in (options or {}).items():
                if isinstance(spec, dict) and "default" in spec:
                    yield path.name, option, spec["default"]


@pytest.mark.parametrize("option", sorted(set(DEFAULTS) - {"nvme_port"}))
def test_documented_defaults_are_the_rules(option: str) -> None:
    found = [(source, default) for source, name, default in documented_options() if name == option]
    assert found, "no documentation names a default for %s" % option
    assert all(default == DEFAULTS[option] for _source, default in found), found


def test_role_defaults_are_the_rules() -> None:
    checked = 0
    for path in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        variables = yaml.safe_load(path.read_text()) or {}
        role = path.parts[-3]
        for suffix, value in DEFAULTS.items():
            name = "%s_%s" % (role, suffix)
            if name in variables:
                checked += 1
                assert variables[name] == value, "%s: %s is %r, the rule is %r" % (path, name, variables[name], value)
    assert checked >= 5
