"""The parser against one fixture per R-4 quirk, each named after the command that printed it."""

import json
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import parse_detail, parse_screen

FIXTURES = Path(__file__).parent.parent / "fixtures" / "routeros"
CASES = sorted(path.stem for path in FIXTURES.glob("*.txt"))


@pytest.mark.parametrize("case", CASES)
def test_fixture_parses_to_expected(case: str) -> None:
    text = (FIXTURES / (case + ".txt")).read_text()
    expected = json.loads((FIXTURES / (case + ".json")).read_text())
    if case.startswith("system_resource"):
        assert parse_screen(text) == expected
    else:
        items = parse_detail(text)
        assert [
            {"number": item.number, "flags": item.flags, "comment": item.comment, "fields": item.fields}
            for item in items
        ] == expected


def test_every_quirk_has_a_fixture() -> None:
    quirks = {
        "r4_example",
        "single_unnumbered",
        "flags_and_comment",
        "split_inside_quotes",
        "continuation_starts_with_digits",
        "quoted_escapes",
        "empty",
        "pool_partition",
        "img_file",
        "old_time_format",
        "two_prints_one_exec",
    }
    assert quirks <= {case.split("__", 1)[-1] for case in CASES}


def test_split_path_is_rejoined_without_a_space() -> None:
    items = parse_detail((FIXTURES / "disk_print_detail__r4_example.txt").read_text())
    assert items[0].fields["file-path"] == "/storage-pool/metal-csi/pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11.img"


def test_crlf_line_ends_are_accepted() -> None:
    text = (FIXTURES / "disk_print_detail__r4_example.txt").read_text().replace("\n", "\r\n")
    assert parse_detail(text)[1].fields["slot"] == "nixos-r640-var"


def test_unterminated_quote_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Unterminated"):
        parse_detail(' 0    slot="never closed\n')


def test_stray_word_before_any_key_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Unexpected text"):
        parse_detail(" 0    garbage slot=x\n")


def test_key_split_across_lines_is_rejoined() -> None:
    text = ' 0    slot="a" nvme-tcp-export=yes nvme-tcp-server-\n      port=4420 file-path=/p/a.img\n'
    fields = parse_detail(text)[0].fields
    assert fields["nvme-tcp-server-port"] == "4420"
    assert fields["nvme-tcp-export"] == "yes"


def test_comment_text_is_kept_verbatim() -> None:
    text = ' 0    ;;;   leading and trailing  \n      ;;; \n      ;;;no space\n      slot="a"\n'
    assert parse_detail(text)[0].comment == "  leading and trailing  \n\nno space"
