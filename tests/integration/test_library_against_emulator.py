"""The shared library against the emulator over real SSH: every operation, idempotency, each error class."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec, ManagedPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AlreadyExistsError,
    AuthenticationError,
    HostKeyError,
    InvalidValueError,
    NoSpaceError,
    NotFoundError,
    UnreachableError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.server import EmulatorServer

from .conftest import BASE, GIB

NQN = "nqn.2000-02.com.mikrotik:"
pytestmark = pytest.mark.timeout(60)


def volume(slot: str, size: int = GIB, exported: bool = True, comment: str = "") -> DiskSpec:
    export = ExportSpec(nqn=NQN + slot) if exported else None
    return DiskSpec(slot, "%s/%s.img" % (BASE, slot), size, export, comment)


def backing_file(emulator: EmulatorServer, rds_path: str) -> Path:
    return emulator.config.state_dir / "files" / rds_path.lstrip("/")


def sent_commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(record.args[1])
        for record in caplog.records
        if record.name == "srvlab.rds.ssh" and isinstance(record.args, tuple)
    ]


def test_version_and_capacity(rds: RdsClient) -> None:
    assert str(rds.version()) == "7.24 (stable)"
    pool = rds.pool_capacity()
    assert pool.size == 64 * GIB
    assert 0 < pool.free <= pool.size
    with pytest.raises(NotFoundError, match="no storage pool"):
        rds.pool_capacity("no-such-pool")


def test_add_get_and_list(rds: RdsClient, emulator: EmulatorServer) -> None:
    size = 10 * GIB + 4096
    disk = rds.add_disk(volume("pvc-a", size, comment="made by test"))
    assert disk.size == size and disk.size_exact
    assert disk.export.enabled and disk.export.port == 4420 and disk.export.nqn == NQN + "pvc-a"
    assert disk.comment == "made by test"
    file = backing_file(emulator, disk.file_path)
    assert file.stat().st_size == size
    assert file.stat().st_blocks * 512 < 1024 * 1024, "a new disk is a sparse file"

    rds.ensure_directory("/storage-pool/system")
    rds.add_disk(
        DiskSpec(
            "nixos-r640-var",
            "/storage-pool/system/nixos-r640-var.img",
            2 * GIB,
            ExportSpec(nqn=NQN + "nixos-r640-var"),
        )
    )
    assert rds.get_disk("pvc-a") == disk
    assert rds.get_disk("pvc-missing") is None
    assert [found.slot for found in rds.list_disks("^pvc-")] == ["pvc-a"]
    policy = ManagedPolicy()
    assert {found.slot: policy.is_managed(found) for found in rds.list_disks()} == {
        "pvc-a": True,
        "nixos-r640-var": False,
    }


def test_add_is_idempotent_and_does_not_write_twice(rds: RdsClient, caplog: pytest.LogCaptureFixture) -> None:
    first = rds.add_disk(volume("pvc-b"))
    caplog.set_level(logging.DEBUG, logger="srvlab.rds.ssh")
    assert rds.add_disk(volume("pvc-b")) == first
    assert not [command for command in sent_commands(caplog) if command.startswith("/disk add")]
    with pytest.raises(AlreadyExistsError, match="pvc-b"):
        rds.add_disk(DiskSpec("pvc-b", BASE + "/other.img", GIB))
    with pytest.raises(AlreadyExistsError, match="resize it"):
        rds.add_disk(volume("pvc-b", 2 * GIB))
    assert len(rds.list_disks()) == 1


def test_grow_exactly_and_never_shrink(
    rds: RdsClient, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    rds.add_disk(volume("pvc-c"))
    odd_size = 3 * GIB + 512
    grown = rds.resize_disk("pvc-c", odd_size)
    assert grown.size == odd_size
    assert backing_file(emulator, grown.file_path).stat().st_size == odd_size
    caplog.set_level(logging.DEBUG, logger="srvlab.rds.ssh")
    assert rds.resize_disk("pvc-c", odd_size) == grown
    assert not [command for command in sent_commands(caplog) if command.startswith("/disk set")]
    with pytest.raises(InvalidValueError, match="Refusing to shrink disk 'pvc-c'"):
        rds.resize_disk("pvc-c", GIB)
    with pytest.raises(NotFoundError, match="pvc-nothing"):
        rds.resize_disk("pvc-nothing", GIB)


def test_export_fields_and_secret_never_logged(
    rds: RdsClient, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    rds.add_disk(volume("pvc-d", exported=False))
    assert not rds.get_disk("pvc-d").export.enabled  # type: ignore[union-attr]
    caplog.set_level(logging.DEBUG, logger="srvlab.rds")
    hosts = ("nqn.2014-08.org.nvmexpress:uuid:node-a", "nqn.2014-08.org.nvmexpress:uuid:node-b")
    secret = "DHHC-1:00:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0:"
    changed = rds.set_export(
        "pvc-d", ExportSpec(port=4421, nqn=NQN + "pvc-d", allowed_host_nqns=hosts, password=secret)
    )
    assert changed.export.enabled and changed.export.port == 4421
    assert changed.export.allowed_host_nqns == hosts and changed.export.has_password
    assert secret not in caplog.text
    exports = emulator.config.state_dir / "exports.json"
    assert (NQN + "pvc-d") in exports.read_text()
    assert not rds.set_export("pvc-d", ExportSpec(enabled=False)).export.enabled
    with pytest.raises(InvalidValueError, match="valid NVMe qualified name"):
        rds.set_export("pvc-d", ExportSpec(nqn="not-an-nqn"))
    with pytest.raises(NotFoundError):
        rds.set_export("pvc-gone", ExportSpec(nqn=NQN + "x"))


@pytest.mark.parametrize(
    "hostile",
    [
        'quote " and \\ backslash',
        "semi; /system reboot",
        "[/disk remove [find]]",
        "$dollar and ?question",
        "line one\nline two",
        "tab\tand unicode ☃ €",
        "  padded  \n\n   lines with spaces   ",
    ],
)
def test_hostile_comments_are_stored_verbatim(rds: RdsClient, hostile: str) -> None:
    created = rds.add_disk(volume("pvc-e", comment=hostile))
    assert created.comment == hostile
    assert rds.set_comment("pvc-e", hostile + "!").comment == hostile + "!"
    assert [disk.slot for disk in rds.list_disks()] == ["pvc-e"]


def test_hostile_slot_and_path_never_alter_the_command(rds: RdsClient) -> None:
    slot = 'pvc-x"; [:execute "disk remove [find]"]; $x ?"'
    path = BASE + "/weird $name ?.img"
    rds.add_disk(volume("pvc-keep"))
    disk = rds.add_disk(DiskSpec(slot, path, GIB))
    assert disk.slot == slot and disk.file_path == path
    assert rds.remove_disk(slot)
    assert [found.slot for found in rds.list_disks()] == ["pvc-keep"]


def test_copy_with_and_without_size(rds: RdsClient, emulator: EmulatorServer) -> None:
    source = rds.add_disk(volume("pvc-src", 2 * GIB))
    data = b"snapshot me " * 1000
    with backing_file(emulator, source.file_path).open("r+b") as handle:
        handle.seek(GIB)
        handle.write(data)
    snap = rds.copy_disk("pvc-src", volume("snap-1", 2 * GIB, exported=False, comment="snapshot-of=pvc-src"))
    assert snap.size == 2 * GIB and not snap.export.enabled and snap.comment == "snapshot-of=pvc-src"
    clone = rds.copy_disk("snap-1", volume("pvc-clone", 5 * GIB))
    assert clone.size == 5 * GIB and clone.export.nqn == NQN + "pvc-clone"
    for copy in (snap, clone):
        with backing_file(emulator, copy.file_path).open("rb") as handle:
            handle.seek(GIB)
            assert handle.read(len(data)) == data
    assert rds.copy_disk("pvc-src", volume("snap-1", 2 * GIB, exported=False, comment="snapshot-of=pvc-src")) == snap
    with pytest.raises(NotFoundError, match="pvc-none"):
        rds.copy_disk("pvc-none", volume("pvc-z"))
    with pytest.raises(InvalidValueError, match="smaller"):
        rds.copy_disk("pvc-src", volume("pvc-small", GIB))
    assert rds.get_disk("pvc-small") is None


def test_remove_disk_and_file_idempotently(rds: RdsClient, emulator: EmulatorServer) -> None:
    disk = rds.add_disk(volume("pvc-f"))
    assert rds.get_file(disk.file_path) is not None
    assert rds.remove_disk("pvc-f")
    assert rds.get_disk("pvc-f") is None and rds.get_file(disk.file_path) is None
    assert not backing_file(emulator, disk.file_path).exists()
    assert not rds.remove_disk("pvc-f")

    kept = rds.add_disk(volume("pvc-g"))
    assert rds.remove_disk("pvc-g", remove_file=False)
    assert rds.get_file(kept.file_path) is not None, "the backing file stays when asked"
    assert rds.remove_disk("pvc-g", file_path=kept.file_path), "an orphaned file is removed by path"
    assert rds.get_file(kept.file_path) is None


def test_files_and_directories(rds: RdsClient) -> None:
    assert not rds.ensure_directory(BASE)
    assert rds.ensure_directory(BASE + "/nested/deeper")
    rds.add_disk(volume("pvc-h"))
    images = rds.list_files(r"\.img$")
    assert [entry.path for entry in images] == [BASE + "/pvc-h.img"]
    assert images[0].is_disk_image and images[0].size == GIB
    directory = rds.get_file(BASE + "/nested")
    assert directory is not None and directory.type == "directory"
    assert not rds.remove_file(BASE + "/missing.img")
    with pytest.raises(InvalidValueError, match="absolute RDS path"):
        rds.get_file("relative/path.img")


def test_out_of_space_leaves_nothing_behind(rds: RdsClient) -> None:
    with pytest.raises(NoSpaceError):
        rds.add_disk(volume("pvc-huge", 100 * GIB))
    assert rds.get_disk("pvc-huge") is None
    assert rds.get_file(BASE + "/pvc-huge.img") is None
    source = rds.add_disk(volume("pvc-i", 40 * GIB))
    with pytest.raises(NoSpaceError, match="Not enough space"):
        rds.copy_disk(source.slot, volume("pvc-i-copy", 100 * GIB))
    assert rds.get_disk("pvc-i-copy") is None


def test_bad_input_is_refused_before_sending(rds: RdsClient) -> None:
    with pytest.raises(InvalidValueError, match=r"must end in \.img"):
        rds.add_disk(DiskSpec("pvc-j", BASE + "/pvc-j.raw", GIB))
    with pytest.raises(InvalidValueError, match="at least 314572800 bytes"):
        rds.add_disk(DiskSpec("pvc-j", BASE + "/pvc-j.img", 0))
    with pytest.raises(InvalidValueError, match="out of range"):
        rds.add_disk(DiskSpec("pvc-j", BASE + "/pvc-j.img", GIB, ExportSpec(port=70000, nqn=NQN + "j")))
    with pytest.raises(InvalidValueError, match="at most 223 bytes"):
        rds.add_disk(DiskSpec("pvc-j", BASE + "/pvc-j.img", GIB, ExportSpec(nqn=NQN + "x" * 200)))
    with pytest.raises(InvalidValueError, match="NUL"):
        rds.add_disk(DiskSpec("pvc-j", BASE + "/pvc-j.img", GIB, comment="nul\0"))
    assert rds.list_disks() == []


def test_wrong_key_is_an_authentication_error(connect: Callable[..., RdsClient], tmp_path: Path) -> None:
    from rds_emulator.process import write_client_key

    other = tmp_path / "other_key"
    write_client_key(other)
    with pytest.raises(AuthenticationError, match="refused the key"):
        connect(private_key_file=str(other)).version()


def test_host_key_mismatch_is_refused(connect: Callable[..., RdsClient], tmp_path: Path) -> None:
    from rds_emulator.process import write_client_key

    impostor = write_client_key(tmp_path / "impostor").read_text().split()
    with pytest.raises(HostKeyError, match="does not match the trusted key"):
        connect(host_key="%s %s" % (impostor[0], impostor[1])).version()


def test_known_hosts_file_is_honoured(connect: Callable[..., RdsClient], settings: SshSettings, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[%s]:%d %s\n" % (settings.host, settings.port, settings.host_key))
    assert connect(host_key=None, known_hosts_file=str(known_hosts)).version()
    known_hosts.write_text("[%s]:%d %s\n" % (settings.host, settings.port + 1, settings.host_key))
    with pytest.raises(HostKeyError, match="No trusted"):
        connect(host_key=None, known_hosts_file=str(known_hosts)).version()


def test_verification_is_on_by_default_and_off_only_loudly(
    connect: Callable[..., RdsClient], settings: SshSettings, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(HostKeyError, match="no host_key or known_hosts_file"):
        SshTransport(SshSettings(host=settings.host, username="admin", private_key_file=settings.private_key_file))
    caplog.set_level(logging.WARNING, logger="srvlab.rds.ssh")
    assert connect(host_key=None, verify_host_key=False).version()
    assert "host key verification is DISABLED" in caplog.text


def test_unreachable_appliance(connect: Callable[..., RdsClient], settings: SshSettings) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RetryPolicy

    with pytest.raises(UnreachableError, match="Cannot reach the RDS"):
        connect(port=free_port, retry=RetryPolicy(attempts=2, initial_delay=0.01, max_delay=0.02)).version()
