"""Quoting and the command builder (pure); the emulator-side round trip lives in the integration tests."""

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    SECRET_MASK,
    build,
    equals,
    matches,
    print_detail,
    quote,
    script,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import parse_detail
from hypothesis import given, settings
from hypothesis import strategies as st

# Inside double quotes only these act on the console: the quote ends the string, $ substitutes
# variables and $[...] commands, ? asks for help, and line ends end the command.
STRUCTURE_IN_QUOTES = set('"$?\n\r')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "yes"),
        (False, "no"),
        (4420, "4420"),
        ("pvc-1", '"pvc-1"'),
        ("", '""'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("$x", '"\\$x"'),
        ("what?", '"what\\?"'),
        ("l1\nl2\r\t", '"l1\\nl2\\r\\t"'),
        ("\x07b", '"\\07b"'),
        ("\x1b[0m", '"\\1B[0m"'),
        ("x;/system reboot", '"x;/system reboot"'),
        ("€", '"€"'),
    ],
)
def test_quote(value: object, expected: str) -> None:
    assert quote(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["nul\0byte", "\ud800", 1.5, None])
def test_unrepresentable_values_are_refused(value: object) -> None:
    with pytest.raises(InvalidValueError):
        quote(value)  # type: ignore[arg-type]


@settings(max_examples=2000)
@given(st.text())
def test_quoted_text_never_exposes_structure(value: str) -> None:
    """Between the quotes, every structural character is escaped: nothing can end the string early."""
    if "\0" in value or any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return
    rendered = quote(value)[1:-1]
    index = 0
    while index < len(rendered):
        char = rendered[index]
        if char == "\\":
            index += 2
            continue
        assert char not in STRUCTURE_IN_QUOTES and (ord(char) >= 0x20 and ord(char) != 0x7F)
        index += 1


@settings(max_examples=2000)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\0")))
def test_quote_round_trips_through_the_output_parser(value: str) -> None:
    assert parse_detail(" 0    comment=%s\n" % quote(value))[0].fields["comment"] == value


def test_add_command() -> None:
    command = build(
        "/disk",
        "add",
        args={
            "type": "file",
            "file-size": 1024,
            "slot": "pvc-1",
            "nvme-tcp-export": True,
            "nvme-tcp-server-password": "s3",
        },
        secret_args=["nvme-tcp-server-password"],
    )
    assert command.render() == (
        '/disk add type="file" file-size=1024 slot="pvc-1" nvme-tcp-export=yes nvme-tcp-server-password="s3"'
    )
    assert "s3" not in command.render_for_log()
    assert SECRET_MASK in command.render_for_log()
    assert command.mutates


def test_set_with_find_and_copy_from() -> None:
    assert build("/disk", "set", target=[equals("slot", "a b")], args={"file-size": 2}).render() == (
        '/disk set [find slot="a b"] file-size=2'
    )
    copy = build("/disk", "add", args={"copy-from": (equals("slot", "src"),), "slot": "dst"})
    assert copy.render() == '/disk add copy-from=[find slot="src"] slot="dst"'


def test_print_with_where_and() -> None:
    command = print_detail("/disk", [matches("slot", "^pvc-"), equals("nvme-tcp-export", True)])
    assert command.render() == '/disk print detail without-paging where slot~"^pvc-" and nvme-tcp-export=yes'
    assert not command.mutates


@pytest.mark.parametrize("name", ["Slot", "slot=x", "a b", "", "-x", "slot;"])
def test_bad_argument_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidValueError):
        build("/disk", "set", args={name: 1}).render()


@pytest.mark.parametrize("menu", ["disk", "/disk;", "/disk [find]", "/Disk", "/disk/"])
def test_bad_menus_are_refused(menu: str) -> None:
    with pytest.raises(InvalidValueError):
        build(menu, "print").render()


def test_menu_with_space_or_slash() -> None:
    assert build("/system resource", "print").render() == "/system resource print"
    assert build("/system/identity", "print").render() == "/system/identity print"


def test_a_find_with_several_conditions_uses_where_and() -> None:
    command = build("/user ssh-keys", "remove", target=[equals("user", "rds-csi"), equals("comment", "srvlab.rds")])
    assert command.render() == '/user ssh-keys remove [find where user="rds-csi" and comment="srvlab.rds"]'


def test_a_script_is_one_line_joined_by_semicolons_with_secrets_masked() -> None:
    change = build(
        "/disk",
        "set",
        target=[equals("slot", "a")],
        args={"nvme-tcp-server-password": "s;x"},
        secret_args=["nvme-tcp-server-password"],
    )
    line = script(change, print_detail("/disk", [equals("slot", "a")]))
    assert line.render() == (
        '/disk set [find slot="a"] nvme-tcp-server-password="s;x"; /disk print detail without-paging where slot="a"'
    )
    assert "\n" not in line.render(), "RouterOS runs no second command after a newline over exec"
    assert SECRET_MASK in line.render_for_log() and "s;x" not in line.render_for_log()
    assert line.mutates and not script(print_detail("/file")).mutates
