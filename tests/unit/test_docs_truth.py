"""The documents name only what the code has, and every requirement ID the repository cites is defined.

Documents are README.md, docs/*.md, emulator/README.md and any Markdown file under roles/. Planned
work is described only in a "Not yet" section: a heading that contains "Not yet", up to the next
heading of the same or a higher level. Text there is skipped, and so is docs/requirements.md, which
states requirements rather than behaviour. Everywhere else:

- Every key under ``rds.csi.srvlab.io/`` (PV annotations, labels, topology keys, with their prefix such
  as ``topology.``) and every metric name ``rds_csi_...`` appears in the code: the .py files outside
  tests.
- Every flag of the project's own commands is one the command accepts. A flag belongs to a command
  when it stands in a command line that runs it (a code span, or a line of a fenced block with its
  continuations, whose program is ``rds-csi-driver``, ``rds-emulator`` or ``rds-test-nvme``, or one of
  their ``python -m`` forms), or when a code span holds the flag alone in a document or section about
  that command (``SUBJECTS``). Flags of other programs (``ansible-playbook --check``,
  ``pip wheel --no-deps``) never belong to one. The accepted flags are read from the code: the
  parsers of the driver and of the emulator, and the string constants of the nvme stand-in's command
  line module, which parses its arguments partly by hand.

And every requirement ID (``P-8.6``, ``C-2``, ...) cited in any text file of the repository has an
entry in docs/requirements.md, so a new citation without a definition fails here.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "docs" / "requirements.md"
SKIPPED_DIRECTORIES = frozenset(
    {".git", ".venv", "build", "output", "generated", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
)

KEY = re.compile(r"(?<![\w.-])(?:[a-z0-9-]+\.)*rds\.csi\.srvlab\.io/[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
METRIC = re.compile(r"\brds_csi_[a-z_]*[a-z]\b(?!-)")  # not the wheel's file name rds_csi_driver-0.1.0-...
FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*=?")
LONE_FLAG = re.compile(r"--[A-Za-z][\w-]*(?:[= ].*)?\Z")
CITATION = re.compile(r"\b[PRCNAS]-\d+(?:\.\d+)*\b")
DEFINITION = re.compile(r'<a id="([^"]+)"></a>\*\*([PRCNAS]-\d+(?:\.\d+)*)\b')
HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*\Z")
FENCE = re.compile(r"\s*(```|~~~)")
SPAN = re.compile(r"`([^`]+)`")
SEGMENT_BREAK = re.compile(r"&&|\|\||[;|()]")
ENVIRONMENT_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?\Z")

DRIVER, EMULATOR, NVME_STAND_IN = "rds-csi-driver", "rds-emulator", "rds-test-nvme"
PROGRAMS = frozenset({DRIVER, EMULATOR, NVME_STAND_IN})
MODULES = {"rds_csi": DRIVER, "rds_emulator.nvme_fabric": NVME_STAND_IN}
# Documents, or sections of them (by heading), about one command: a lone flag there is that command's.
SUBJECTS: Mapping[str, Mapping[str, str]] = {
    "docs/csi-driver.md": {"": DRIVER},
    "emulator/README.md": {"": EMULATOR, "Test NVMe fabric": NVME_STAND_IN},
}


@dataclass(frozen=True)
class Block:
    """A paragraph of prose, or one logical line of a fenced block, outside every Not yet section."""

    line: int
    text: str
    fenced: bool
    headings: tuple[str, ...]


def described_blocks(markdown: str) -> list[Block]:
    """The text of a Markdown document that describes what exists (Not yet sections left out)."""
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    fence = ""
    fence_start = 0  # index in blocks of the current fenced block's first line
    paragraph: list[str] = []
    start = 0

    def close() -> None:
        nonlocal paragraph
        if paragraph and not _planned(headings):
            blocks.append(Block(start, "\n".join(paragraph), False, _titles(headings)))
        paragraph = []

    for number, line in enumerate(markdown.splitlines(), 1):
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1) == fence:
                fence = ""
            elif not _planned(headings):
                _add_code_line(blocks, fence_start, Block(number, line, True, _titles(headings)))
            continue
        if opening:
            close()
            fence = opening.group(1)
            fence_start = len(blocks)
            continue
        heading = HEADING.match(line)
        if heading:
            close()
            level = len(heading.group(1))
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, heading.group(2)))
            continue
        if not line.strip():
            close()
            continue
        if not paragraph:
            start = number
        paragraph.append(line.strip())
    close()
    return blocks


def _titles(headings: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(title for _level, title in headings)


def _planned(headings: list[tuple[int, str]]) -> bool:
    return any("not yet" in title.lower() for title in _titles(headings))


def _add_code_line(blocks: list[Block], fence_start: int, line: Block) -> None:
    """A line of a fenced block continues the block's previous line after a trailing backslash, or
    when it is indented (a wrapped usage line)."""
    previous = blocks[-1] if len(blocks) > fence_start else None
    if previous is not None and (previous.text.endswith("\\") or line.text[:1].isspace()):
        joined = previous.text.rstrip("\\").rstrip() + " " + line.text.strip()
        blocks[-1] = Block(previous.line, joined, True, line.headings)
    else:
        blocks.append(Block(line.line, line.text.strip(), True, line.headings))


def command_lines(block: Block) -> list[tuple[int, str]]:
    """(line, text) of each command line of a block: a paragraph's code spans, or the fenced line."""
    if block.fenced:
        return [(block.line, block.text)]
    return [(line_of(block, span.start()), " ".join(span.group(1).split())) for span in SPAN.finditer(block.text)]


def line_of(block: Block, offset: int) -> int:
    return block.line + block.text.count("\n", 0, offset)


def program_of(segment: str) -> str:
    """The project command a shell segment runs, or "" for any other program."""
    words = segment.split()
    while words and (ENVIRONMENT_ASSIGNMENT.match(words[0]) or words[0] in ("sudo", "exec")):
        words.pop(0)
    if not words:
        return ""
    program = words[0].rsplit("/", 1)[-1]
    if program in PROGRAMS:
        return program
    if PYTHON.match(program) and len(words) > 2 and words[1] == "-m":
        return MODULES.get(words[2], "")
    return ""


def attributed_flags(block: Block, subjects: Mapping[str, str]) -> list[tuple[int, str, str]]:
    """(line, command, flag) for every flag in the block that belongs to one of the project's commands."""
    found = []
    for line, command_line in command_lines(block):
        if not block.fenced and LONE_FLAG.match(command_line):
            subject = _subject(block.headings, subjects)
            if subject:
                found.append((line, subject, FLAG.findall(command_line)[0]))
            continue
        uncommented = re.split(r"(?:^|\s)#", command_line, maxsplit=1)[0]
        for segment in SEGMENT_BREAK.split(uncommented):
            program = program_of(segment)
            if program:
                found.extend((line, program, flag) for flag in FLAG.findall(segment))
    return found


def _subject(headings: tuple[str, ...], subjects: Mapping[str, str]) -> str:
    for title in reversed(headings):
        if title in subjects:
            return subjects[title]
    return subjects.get("", "")


def unknown_flags(label: str, markdown: str, accepted: Mapping[str, frozenset[str]]) -> list[str]:
    """A message for every flag the document gives one of the commands that the command does not accept."""
    subjects = SUBJECTS.get(label, {})
    return [
        "%s:%d: `%s %s` is documented, but %s does not accept %s; fix the text, or move it into the "
        "document's Not yet section." % (label, line, command, flag, command, flag)
        for block in described_blocks(markdown)
        for line, command, flag in attributed_flags(block, subjects)
        if flag not in accepted[command]
    ]


def unknown_names(label: str, markdown: str, code: str) -> list[str]:
    """A message for every driver key or metric name the document uses that no code has."""
    messages = []
    for block in described_blocks(markdown):
        for pattern in (KEY, METRIC):
            for match in pattern.finditer(block.text):
                if not re.search(r"(?<![\w.-])%s(?![\w-])" % re.escape(match.group()), code):
                    messages.append(
                        "%s:%d: %s appears in no .py file outside the tests; build it, fix the text, or move it "
                        "into the document's Not yet section." % (label, line_of(block, match.start()), match.group())
                    )
    return messages


def repository_files() -> Iterator[Path]:
    for root, directories, files in os.walk(REPO):
        directories[:] = sorted(
            name for name in directories if name not in SKIPPED_DIRECTORIES and not name.endswith(".egg-info")
        )
        for name in sorted(files):
            yield Path(root, name)


def text_of(path: Path) -> str:
    """The file's text, or "" for a binary file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return ""
    return "" if "\0" in text else text


@cache
def code_text() -> str:
    """Every .py file outside the tests, as one text."""
    return "\n".join(
        text_of(path)
        for path in repository_files()
        if path.suffix == ".py" and "tests" not in path.relative_to(REPO).parts
    )


def documents() -> list[str]:
    paths = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "emulator" / "README.md"]
    paths += sorted((REPO / "roles").rglob("*.md"))
    return [path.relative_to(REPO).as_posix() for path in paths if path != REQUIREMENTS]


def parser_flags(parser: argparse.ArgumentParser) -> frozenset[str]:
    """Every long option of an argparse parser and of its subcommands."""
    flags: set[str] = set()
    for action in parser._actions:
        flags.update(option for option in action.option_strings if option.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                flags |= parser_flags(subparser)
    return frozenset(flags)


def constant_flags(*paths: Path) -> frozenset[str]:
    """The string constants of the modules that are a long option (``--name`` or ``--name=``)."""
    flags = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and LONG_OPTION.fullmatch(node.value):
                flags.add(node.value.rstrip("="))
    return frozenset(flags)


@cache
def accepted_flags() -> Mapping[str, frozenset[str]]:
    # The driver derives its flags from its settings, so only its parser knows them all.
    from rds_csi.config import _parser as driver_parser
    from rds_emulator.cli import _parser as emulator_parser

    return {
        DRIVER: parser_flags(driver_parser()),
        EMULATOR: parser_flags(emulator_parser()),
        NVME_STAND_IN: constant_flags(REPO / "emulator" / "rds_emulator" / "nvme_fabric" / "cli.py"),
    }


def defined_requirements() -> dict[str, str]:
    """Requirement ID -> anchor, from docs/requirements.md."""
    defined: dict[str, str] = {}
    for anchor, identifier in DEFINITION.findall(REQUIREMENTS.read_text(encoding="utf-8")):
        assert identifier not in defined, "%s is defined twice in docs/requirements.md" % identifier
        defined[identifier] = anchor
    return defined


def cited_requirements() -> dict[str, str]:
    """Requirement ID -> the first file that cites it, over every text file of the repository."""
    cited: dict[str, str] = {}
    for path in repository_files():
        for identifier in CITATION.findall(text_of(path)):
            cited.setdefault(identifier, path.relative_to(REPO).as_posix())
    return cited


@pytest.mark.parametrize("label", documents())
def test_documented_keys_and_metrics_exist_in_code(label: str) -> None:
    messages = unknown_names(label, (REPO / label).read_text(encoding="utf-8"), code_text())
    assert not messages, "\n".join(messages)


@pytest.mark.parametrize("label", documents())
def test_documented_flags_are_accepted_by_their_command(label: str) -> None:
    messages = unknown_flags(label, (REPO / label).read_text(encoding="utf-8"), accepted_flags())
    assert not messages, "\n".join(messages)


def test_every_cited_requirement_id_is_defined() -> None:
    defined = defined_requirements()
    missing = sorted(
        "%s (cited in %s)" % (identifier, where)
        for identifier, where in cited_requirements().items()
        if identifier not in defined
    )
    assert not missing, "Define these in docs/requirements.md: " + ", ".join(missing)


def test_every_requirement_entry_has_its_own_anchor() -> None:
    defined = defined_requirements()
    assert len(defined) > 100
    assert {identifier: anchor for identifier, anchor in defined.items() if anchor != identifier.lower()} == {}


SAMPLE = """# Sample

```sh
ansible-playbook site.yml --check --diff        # another program's flags
pip wheel --no-deps ./csi_driver                # (add --no-such-pip-flag)
rds-csi-driver --mode=node --no-such-flag \\
    --also-unknown
.venv/bin/rds-emulator serve --listen 127.0.0.1:0 --bogus
# a comment, not a heading
PYTHONPATH=x python3 -m rds_csi --config f --invented
```

Run `rds-emulator fault --state-dir DIR --clear` or `kubectl annotate pv x k=v --overwrite`; the
driver's `--rds-address` and `--made-up` are flags only where the document is about the driver.
Keys: `topology.rds.csi.srvlab.io/zone`, `rds.csi.srvlab.io/no-such-key`; metric rds_csi_no_such_total;
the wheel rds_csi_driver-0.1.0-py3-none-any.whl is not a metric.

## Not yet

`rds-csi-driver --planned-flag`, `rds.csi.srvlab.io/planned-key`, rds_csi_planned_total.

### Still planned

`rds-csi-driver --planned-too`

## Again described

`rds-csi-driver --after-not-yet`
"""


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        (
            "docs/csi-driver.md",
            ["--no-such-flag", "--also-unknown", "--bogus", "--invented", "--made-up", "--after-not-yet"],
        ),
        ("docs/operator-guide.md", ["--no-such-flag", "--also-unknown", "--bogus", "--invented", "--after-not-yet"]),
    ],
)
def test_scope_takes_only_the_projects_commands_outside_not_yet(label: str, expected: list[str]) -> None:
    accepted = {
        DRIVER: frozenset({"--mode", "--config", "--rds-address"}),
        EMULATOR: frozenset({"--listen", "--state-dir", "--clear"}),
        NVME_STAND_IN: frozenset(),
    }
    messages = unknown_flags(label, SAMPLE, accepted)
    assert [FLAG.findall(message.split("`")[1])[0] for message in messages] == expected
    assert all("does not accept" in message for message in messages)


def test_scope_of_names_skips_not_yet_and_file_names() -> None:
    messages = unknown_names("sample.md", SAMPLE, 'ZONE_KEY = "topology.rds.csi.srvlab.io/zone"')
    assert [message.split(" ")[1] for message in messages] == ["rds.csi.srvlab.io/no-such-key", "rds_csi_no_such_total"]
