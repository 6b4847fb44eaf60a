"""The version table and its gate (ROUTEROS.md R-3, R-7), without I/O."""

from __future__ import annotations

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError, UnsupportedVersionError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import (
    DiskFields,
    RouterOsVersion,
    confirmed_support,
    fields_for,
    inspected_arguments,
    known_support,
    range_for,
    unconfirmed_support,
)

V = RouterOsVersion.parse
EVERY_NAME = DiskFields().arguments()
# ':put [/console inspect as-value request=child path=disk,add]' as the emulator prints it for 7.24.
INSPECT_7_24 = (
    "name=add;node-type=cmd;type=self;name=comment;node-type=arg;type=child;name=copy-from;node-type=arg;"
    "type=child;name=disabled;node-type=arg;type=child;name=file-path;node-type=arg;type=child;name=file-size;"
    "node-type=arg;type=child;name=nvme-tcp-export;node-type=arg;type=child;name=nvme-tcp-server-allow-host-name;"
    "node-type=arg;type=child;name=nvme-tcp-server-nqn;node-type=arg;type=child;name=nvme-tcp-server-password;"
    "node-type=arg;type=child;name=nvme-tcp-server-port;node-type=arg;type=child;name=slot;node-type=arg;"
    "type=child;name=type;node-type=arg;type=child\n"
)


def refusal(version: str, *names: str) -> str:
    support = known_support(V(version))
    assert support is not None
    with pytest.raises(UnsupportedVersionError) as refused:
        support.check_arguments(names)
    return str(refused.value)


@pytest.mark.parametrize("version", ["7.21", "7.22.1", "7.23 (stable)", "7.24.2 (stable)"])
def test_7_21_to_7_24_take_every_name_without_a_warning(version: str) -> None:
    support = known_support(V(version))
    assert support is not None and support.warning is None
    support.check_arguments(EVERY_NAME)
    assert support.fields.nqn == "nvme-tcp-server-nqn"


@pytest.mark.parametrize("version", ["7.17", "7.20.4 (stable)"])
def test_7_17_to_7_20_refuse_only_the_server_nqn(version: str) -> None:
    support = known_support(V(version))
    assert support is not None and support.warning is None
    support.check_arguments(EVERY_NAME - {"nvme-tcp-server-nqn"})
    message = refusal(version, "type", "file-path", "nvme-tcp-export", "nvme-tcp-server-nqn")
    assert "RouterOS %s, which has no nvme-tcp-server-nqn" % V(version) in message
    assert "RouterOS 7.21 is the first version the srvlab.rds collection and the CSI driver fully support" in message


@pytest.mark.parametrize("version", ["7.16 (stable)", "7.12", "6.49.10"])
def test_before_7_17_there_are_no_file_disks(version: str) -> None:
    message = refusal(version, "type", "file-path", "file-size", "slot")
    assert "RouterOS %s, which has no file-backed disks (file-path" % V(version) in message
    assert "came with RouterOS 7.17" in message and "7.21 is the first version" in message
    assert "copy-from" in refusal(version, "type", "copy-from")


def test_reads_never_meet_the_gate() -> None:
    """Every known version has names to read with; only what a command sends is checked."""
    for version in ("6.49", "7.16", "7.20", "7.24", "7.26", "8.1"):
        assert fields_for(V(version)).slot == "slot"
    assert range_for(V("7.16")) is not None and range_for(V("7.25")) is None and range_for(V("8.0")) is None


@pytest.mark.parametrize("version", ["7.25", "7.26.1 (stable)", "8.0"])
def test_a_newer_version_is_known_from_the_appliance(version: str) -> None:
    assert known_support(V(version)) is None
    support = confirmed_support(V(version), inspected_arguments(INSPECT_7_24))
    support.check_arguments(EVERY_NAME)
    assert support.warning is not None
    assert support.warning.startswith("The RDS runs RouterOS %s, newer than the versions" % V(version))
    assert "(7.17 to 7.24)" in support.warning and "confirmed every disk field name" in support.warning


def test_a_field_missing_on_a_newer_version_is_refused_by_name() -> None:
    renamed = inspected_arguments(INSPECT_7_24.replace("nvme-tcp-server-port", "nvme-tcp-port"))
    support = confirmed_support(V("7.26 (stable)"), renamed)
    support.check_arguments(["type", "file-path", "file-size", "slot", "nvme-tcp-export"])
    with pytest.raises(UnsupportedVersionError) as refused:
        support.check_arguments(["type", "nvme-tcp-export", "nvme-tcp-server-port", "nvme-tcp-server-nqn"])
    message = str(refused.value)
    assert "RouterOS 7.26 (stable)" in message and "no argument nvme-tcp-server-port" in message
    assert "Upgrade the srvlab.rds collection, or run RouterOS 7.24 or older" in message
    assert support.warning is not None and "shows no nvme-tcp-server-port" in support.warning


def test_an_unreadable_schema_refuses_nothing_and_says_why() -> None:
    support = unconfirmed_support(V("7.30"), "bad command name inspect (line 1 column 17)")
    support.check_arguments(EVERY_NAME)
    assert support.warning is not None
    assert "could not be confirmed on the RDS (bad command name inspect" in support.warning
    assert "the 7.24 names are used" in support.warning


def test_inspect_output_is_read_by_node() -> None:
    assert inspected_arguments(INSPECT_7_24) == EVERY_NAME
    trailing = "name=add;node-type=cmd;type=self;name=slot;node-type=arg;type=child;"
    assert inspected_arguments(trailing) == {"slot"}
    not_arguments = "name=disk;node-type=dir;type=self;name=add;node-type=cmd;type=child;name=x;node-type=arg;type=self"
    with pytest.raises(ParseError):
        inspected_arguments(not_arguments)
    with pytest.raises(ParseError):
        inspected_arguments("\n")


def test_the_names_the_library_sends() -> None:
    assert "size" not in EVERY_NAME
    assert {"file-path", "copy-from", "nvme-tcp-server-nqn", "nvme-tcp-server-password"} <= EVERY_NAME
