"""The test NVMe fabric through its real interfaces: the `nvme` stand-in as a subprocess, real loop
devices and device nodes (root), the sysfs tree read as node code reads it (NVME_HOST.md §1.7)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from emulator_harness import Emulator
from rds_emulator.nvme_fabric import CliProfile, ConnectRequest, ModuleParameters, Naming, TestFabric
from rds_emulator.nvme_fabric.state import LoopAttachment, read_state, write_state

NQN_PREFIX = "nqn.2000-02.com.mikrotik:"
_SUBSYSTEM = re.compile(r"nvme-subsys\d+\Z")
_CONTROLLER = re.compile(r"nvme\d+\Z")
_NAMESPACE = re.compile(r"nvme\d+n\d+\Z")


@dataclass(frozen=True)
class Volume:
    slot: str
    nqn: str
    backing_file: Path


def export_volume(emulator: Emulator, slot: str, size: str = "8M", extra: str = "") -> Volume:
    emulator.ok(
        f"/disk add type=file file-path=/storage-pool/{slot}.img file-size={size} slot={slot} "
        f"nvme-tcp-export=yes {extra}"
    )
    return Volume(slot=slot, nqn=NQN_PREFIX + slot, backing_file=emulator.files / "storage-pool" / f"{slot}.img")


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_nvme(nvme: Path, *arguments: str) -> Run:
    completed = subprocess.run([str(nvme), *arguments], capture_output=True, text=True, timeout=60, check=False)
    return Run(completed.returncode, completed.stdout, completed.stderr)


def connect(nvme: Path, volume: Volume, *options: str) -> Run:
    return run_nvme(nvme, "connect", "-t", "tcp", "-a", "127.0.0.1", "-s", "4420", "-n", volume.nqn, *options)


def read_attribute(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def resolve(sysfs: Path, dev_root: Path, nqn: str, nsid: int) -> Path | None:
    """NQN + NSID → /dev node, following §1.7 step by step; the node must carry the disk's dev_t."""
    for subsystem in sorted((sysfs / "class" / "nvme-subsystem").iterdir()):
        if not _SUBSYSTEM.match(subsystem.name) or read_attribute(subsystem / "subsysnqn") != nqn:
            continue
        controllers = sorted(entry.name for entry in subsystem.iterdir() if _CONTROLLER.match(entry.name))
        if not controllers:
            continue
        candidates = sorted(entry for entry in subsystem.iterdir() if _NAMESPACE.match(entry.name))
        if not candidates:
            for controller in controllers:
                directory = sysfs / "class" / "nvme" / controller
                candidates += sorted(entry for entry in directory.iterdir() if _NAMESPACE.match(entry.name))
        for disk in candidates:
            if int(read_attribute(disk / "nsid")) != nsid:
                continue
            node = dev_root / disk.name
            major, minor = (int(part) for part in read_attribute(disk / "dev").split(":"))
            assert os.stat(node).st_rdev == os.makedev(major, minor), f"{node} does not carry {disk}/dev"
            return node
    return None


def dhchap_secret(seed: int) -> str:
    """A well-formed DHHC-1 secret: a 32-byte key and its CRC-32, base64 (NVME_HOST.md §5)."""
    key = bytes((seed + index) % 256 for index in range(32))
    return f"DHHC-1:00:{base64.b64encode(key + zlib.crc32(key).to_bytes(4, 'little')).decode()}:"


def loops_on(backing_file: Path) -> list[str]:
    listing = subprocess.run(
        ["losetup", "--associated", str(backing_file)], capture_output=True, text=True, timeout=30, check=True
    )
    return [line.split(":", 1)[0] for line in listing.stdout.splitlines() if line]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices and mknod need root")


@dataclass(frozen=True)
class Fabric:
    fabric: TestFabric
    nvme: Path
    sysfs: Path
    dev: Path


MakeFabric = Callable[..., Fabric]


@pytest.fixture
def make_fabric(tmp_path: Path, emulator: Emulator) -> Iterator[MakeFabric]:
    created: list[TestFabric] = []

    def make(
        naming: Naming = Naming.MULTIPATH,
        *,
        nsid: int = 1,
        sysfs_root: Path | None = None,
        scan_delay: float = 0.0,
        module_parameters: ModuleParameters = ModuleParameters.STANDARD,
        cli_profile: CliProfile = CliProfile.DEBIAN_12,
    ) -> Fabric:
        base = tmp_path / f"fabric{len(created)}"
        sysfs = sysfs_root or base / "sys"
        fabric = TestFabric.create(
            base / "state",
            emulator.server.state_dir,
            sysfs,
            base / "dev",
            naming,
            nsid=nsid,
            scan_delay=scan_delay,
            module_parameters=module_parameters,
            cli_profile=cli_profile,
        )
        created.append(fabric)
        return Fabric(fabric, fabric.write_nvme_executable(base / "bin" / "nvme"), sysfs, base / "dev")

    try:
        yield make
    finally:
        for fabric in created:
            fabric.teardown()


@pytest.fixture
def fabric(make_fabric: MakeFabric) -> Fabric:
    return make_fabric()


def test_connect_is_silent_and_the_node_reads_the_backing_file(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-data")
    payload = os.urandom(4096)
    with open(volume.backing_file, "r+b") as backing:
        backing.seek(1 << 20)
        backing.write(payload)

    result = connect(fabric.nvme, volume)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    node = resolve(fabric.sysfs, fabric.dev, volume.nqn, 1)
    assert node == fabric.dev / "nvme0n1"
    with open(node, "rb") as device:
        device.seek(1 << 20)
        assert device.read(4096) == payload
    controller = fabric.sysfs / "class" / "nvme" / "nvme0"
    assert read_attribute(controller / "state") == "live"
    assert read_attribute(controller / "address") == "traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1"
    assert read_attribute(controller / "ctrl_loss_tmo") == "600"
    assert read_attribute(controller / "kato") == "5"
    assert len((controller / "model").read_text()) == 41
    assert (fabric.dev / "nvme0").exists()


def test_connect_options_reach_sysfs(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-options")
    hostnqn = "nqn.2014-08.org.nvmexpress:uuid:0b8e5f3c-5f2e-4d1a-9c55-2f0b7f1f0a11"
    result = connect(
        fabric.nvme,
        volume,
        "-l",
        "-1",
        "-c",
        "4",
        "-k",
        "7",
        "-q",
        hostnqn,
        "-I",
        "0B8E5F3C-5F2E-4D1A-9C55-2F0B7F1F0A11",
    )
    assert result.returncode == 0, result.stderr
    controller = fabric.sysfs / "class" / "nvme" / "nvme0"
    assert read_attribute(controller / "ctrl_loss_tmo") == "off"
    assert read_attribute(controller / "reconnect_delay") == "4"
    assert read_attribute(controller / "kato") == "7"
    assert read_attribute(controller / "hostnqn") == hostnqn
    assert read_attribute(controller / "hostid") == "0b8e5f3c-5f2e-4d1a-9c55-2f0b7f1f0a11"


def test_ctrl_loss_tmo_reads_back_rounded_up(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-round")
    assert connect(fabric.nvme, volume, "--ctrl-loss-tmo=25", "--reconnect-delay=10").returncode == 0
    assert read_attribute(fabric.sysfs / "class" / "nvme" / "nvme0" / "ctrl_loss_tmo") == "30"


def test_connect_output_formats(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-json"), export_volume(emulator, "pvc-normal")
    assert connect(fabric.nvme, first, "-o", "json").stdout == '{\n  "device":"nvme0"\n}\n'
    assert connect(fabric.nvme, second, "-o", "normal").stdout == "device: nvme1\n"


def test_list_subsys_json_has_the_2_3_shape(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-list")
    assert connect(fabric.nvme, volume).returncode == 0

    result = run_nvme(fabric.nvme, "list-subsys", "-o", "json")

    assert result.returncode == 0
    assert '"Name":"nvme-subsys0"' in result.stdout
    assert json.loads(result.stdout) == [
        {
            "HostNQN": fabric.fabric.config.hostnqn,
            "HostID": fabric.fabric.config.hostid,
            "Subsystems": [
                {
                    "Name": "nvme-subsys0",
                    "NQN": volume.nqn,
                    "Paths": [
                        {
                            "Name": "nvme0",
                            "Transport": "tcp",
                            "Address": "traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1",
                            "State": "live",
                        }
                    ],
                }
            ],
        }
    ]


def test_list_subsys_groups_hosts_and_empty_arrays_span_two_lines(emulator: Emulator, fabric: Fabric) -> None:
    assert run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout == "[\n]\n"
    first, second = export_volume(emulator, "pvc-h1"), export_volume(emulator, "pvc-h2")
    other_host = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
    assert connect(fabric.nvme, first).returncode == 0
    assert connect(fabric.nvme, second, "-q", other_host, "-I", "11111111-2222-3333-4444-555555555555").returncode == 0

    hosts = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)

    # libnvme 1.3 lists in reverse order of discovery (checked against it in the real-CLI tests)
    assert [(host["HostNQN"], [item["NQN"] for item in host["Subsystems"]]) for host in hosts] == [
        (other_host, [second.nqn]),
        (fabric.fabric.config.hostnqn, [first.nqn]),
    ]


def test_list_subsys_for_one_namespace(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-one"), export_volume(emulator, "pvc-two")
    assert connect(fabric.nvme, first).returncode == 0
    assert connect(fabric.nvme, second).returncode == 0

    (host,) = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json", str(fabric.dev / "nvme1n1")).stdout)

    assert [item["NQN"] for item in host["Subsystems"]] == [second.nqn]
    wrong = run_nvme(fabric.nvme, "list-subsys", "-o", "json", "/dev/nvme1")
    assert (wrong.returncode, wrong.stderr) == (1, "Invalid device name\n")


def test_list_json_simple_and_verbose(emulator: Emulator, make_fabric: MakeFabric) -> None:
    fabric = make_fabric(Naming.MULTIPATH, nsid=5)
    volume = export_volume(emulator, "pvc-ls", size="16M")
    assert connect(fabric.nvme, volume).returncode == 0

    simple = json.loads(run_nvme(fabric.nvme, "list", "-o", "json").stdout)
    verbose = json.loads(run_nvme(fabric.nvme, "list", "-v", "-o", "json").stdout)

    (device,) = simple["Devices"]
    assert (device["NameSpace"], device["DevicePath"], device["PhysicalSize"]) == (
        5,
        str(fabric.dev / "nvme0n1"),
        16 << 20,
    )
    assert device["MaximumLBA"] == 32768 and device["SectorSize"] == 512
    (host,) = verbose["Devices"]
    (subsystem,) = host["Subsystems"]
    (controller,) = subsystem["Controllers"]
    assert subsystem["SubsystemNQN"] == volume.nqn
    assert [(item["NameSpace"], item["NSID"]) for item in subsystem["Namespaces"]] == [("nvme0n1", 5)]
    assert controller["Namespaces"] == []
    assert controller["Paths"] == [{"Path": "nvme0c0n1", "ANAState": "optimized"}]


def test_nsid_is_not_the_name_suffix(emulator: Emulator, make_fabric: MakeFabric) -> None:
    fabric = make_fabric(Naming.NON_MULTIPATH, nsid=5)
    volume = export_volume(emulator, "pvc-nsid")
    assert connect(fabric.nvme, volume).returncode == 0
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is None
    node = resolve(fabric.sysfs, fabric.dev, volume.nqn, 5)
    assert node == fabric.dev / "nvme0n1"


def test_already_connected_under_any_host_nqn(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-twice")
    assert connect(fabric.nvme, volume).returncode == 0
    other_host = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"

    for options in ((), ("-q", other_host), ("-D",)):
        result = connect(fabric.nvme, volume, *options)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", "already connected\n")
    fabric.fabric.set_state(volume.nqn, "connecting")
    assert connect(fabric.nvme, volume).stderr == "already connected\n"
    assert sorted(path.name for path in (fabric.sysfs / "class" / "nvme").iterdir()) == ["nvme0"]


def test_concurrent_connects_serialise(emulator: Emulator, fabric: Fabric) -> None:
    volumes = [export_volume(emulator, f"pvc-par{index}") for index in range(3)]
    results: list[int] = []
    lock = threading.Lock()

    def attempt(volume: Volume) -> None:
        returncode = connect(fabric.nvme, volume).returncode
        with lock:
            results.append(returncode)

    threads = [threading.Thread(target=attempt, args=(volume,)) for volume in [*volumes, volumes[0], volumes[0]]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == [0, 0, 0, 1, 1]
    assert sorted(path.name for path in (fabric.sysfs / "class" / "nvme").iterdir()) == ["nvme0", "nvme1", "nvme2"]
    for volume in volumes:
        assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is not None


FAILED_WRITE = "Failed to write to /dev/nvme-fabrics: {}\ncould not add new controller: {}\n"
IO_ERROR = FAILED_WRITE.format("Input/output error", "failed to write to nvme-fabrics device")
INVALID = FAILED_WRITE.format("Invalid argument", "invalid arguments/configuration")


@pytest.mark.parametrize(
    ("disk_fields", "options", "stderr"),
    [
        ("", ("-s", "4421"), FAILED_WRITE.format("Connection refused", "connection refused")),
        ("nvme-tcp-server-port=4421", (), IO_ERROR),
        ("", ("-n", "nqn.2000-02.com.mikrotik:pvc-unknown"), IO_ERROR),
        ('nvme-tcp-server-allow-host-name="nqn.2014-08.org.nvmexpress:uuid:other"', (), IO_ERROR),
        (f'nvme-tcp-server-password="{dhchap_secret(1)}"', (), IO_ERROR),
        (f'nvme-tcp-server-password="{dhchap_secret(1)}"', ("-S", dhchap_secret(2)), IO_ERROR),
        (f'nvme-tcp-server-password="{dhchap_secret(1)}"', ("-S", "DHHC-1:00:short:"), INVALID),
        ("", ("-I", "not-a-uuid"), INVALID),
        ("", ("-t", "rdma"), INVALID),
    ],
    ids=[
        "closed-port",
        "nqn-on-other-port",
        "unknown-nqn",
        "host-not-allowed",
        "secret-missing",
        "secret-wrong",
        "secret-malformed",
        "bad-hostid",
        "bad-transport",
    ],
)
def test_connect_failures(
    emulator: Emulator, fabric: Fabric, disk_fields: str, options: tuple[str, ...], stderr: str
) -> None:
    volume = export_volume(emulator, "pvc-fail", extra=disk_fields)
    if disk_fields.startswith("nvme-tcp-server-port"):
        export_volume(emulator, "pvc-on-4420")  # the target listens on 4420 but not for this NQN

    result = run_nvme(fabric.nvme, "connect", "-t", "tcp", "-a", "127.0.0.1", "-s", "4420", "-n", volume.nqn, *options)

    assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr)
    assert list((fabric.sysfs / "class" / "nvme").iterdir()) == []
    assert list((fabric.sysfs / "class" / "nvme-subsystem").iterdir()) == []
    assert loops_on(volume.backing_file) == []


def test_connect_with_the_right_secret_and_an_allowed_host(emulator: Emulator, fabric: Fabric) -> None:
    hostnqn = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-2222-3333-4444-555555555555"
    secret = dhchap_secret(3)
    volume = export_volume(
        emulator, "pvc-auth", extra=f'nvme-tcp-server-password="{secret}" nvme-tcp-server-allow-host-name="{hostnqn}"'
    )
    result = connect(fabric.nvme, volume, "-q", hostnqn, "-I", "aaaaaaaa-2222-3333-4444-555555555555", "-S", secret)
    assert result.returncode == 0, result.stderr
    assert read_attribute(fabric.sysfs / "class" / "nvme" / "nvme0" / "dhchap_secret") == secret


def test_a_host_removed_from_the_allowed_hosts_loses_its_controller_until_admitted_again(
    emulator: Emulator, fabric: Fabric
) -> None:
    own = fabric.fabric.config.hostnqn
    other = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-2222-3333-4444-555555555555"
    volume = export_volume(emulator, "pvc-fenced", extra=f'nvme-tcp-server-allow-host-name="{own},{other}"')
    assert connect(fabric.nvme, volume).returncode == 0
    state = fabric.sysfs / "class" / "nvme" / "nvme0" / "state"

    def paths() -> list[dict[str, str]]:
        listing = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)
        return [path for host in listing for subsystem in host["Subsystems"] for path in subsystem["Paths"]]

    emulator.ok(f'/disk set [find slot=pvc-fenced] nvme-tcp-server-allow-host-name="{other}"')
    assert [path["State"] for path in paths()] == ["connecting"], "the kernel keeps reconnecting, refused"
    assert read_attribute(state) == "connecting"
    assert "src_addr" not in read_attribute(fabric.sysfs / "class" / "nvme" / "nvme0" / "address")
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is not None, "the disk stays while the kernel retries"

    emulator.ok(f'/disk set [find slot=pvc-fenced] nvme-tcp-server-allow-host-name="{own}"')
    assert [path["State"] for path in paths()] == ["live"], "the next reconnect is admitted"
    assert read_attribute(state) == "live"


def test_a_connect_from_a_host_outside_the_list_is_refused_as_nvme_cli_reports_it(
    emulator: Emulator, fabric: Fabric
) -> None:
    allowed = "nqn.2014-08.org.nvmexpress:uuid:cccccccc-2222-3333-4444-555555555555"
    volume = export_volume(emulator, "pvc-other", extra=f'nvme-tcp-server-allow-host-name="{allowed}"')
    printed = emulator.ok("/disk print detail without-paging where slot=pvc-other")
    assert f'nvme-tcp-server-allow-host-name="{allowed}"' in printed.replace("\r\n      ", "").replace("\n      ", "")
    assert (connect(fabric.nvme, volume).returncode, connect(fabric.nvme, volume).stderr) == (1, IO_ERROR)
    hostid = "cccccccc-2222-3333-4444-555555555555"
    assert connect(fabric.nvme, volume, "-q", allowed, "-I", hostid).returncode == 0


def test_one_hostnqn_with_two_hostids_is_refused(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-id1"), export_volume(emulator, "pvc-id2")
    assert connect(fabric.nvme, first).returncode == 0
    result = connect(fabric.nvme, second, "-I", "11111111-2222-3333-4444-555555555555")
    assert (result.returncode, result.stderr) == (1, INVALID)
    assert connect(fabric.nvme, second, "-I", fabric.fabric.config.hostid.upper()).returncode == 0


def test_disconnect_by_nqn(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-dn")
    assert connect(fabric.nvme, volume).returncode == 0
    loops = loops_on(volume.backing_file)
    assert len(loops) == 1

    result = run_nvme(fabric.nvme, "disconnect", "-n", volume.nqn)

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"NQN:{volume.nqn} disconnected 1 controller(s)\n",
        "",
    )
    assert not (fabric.dev / "nvme0n1").exists() and not (fabric.dev / "nvme0").exists()
    assert list((fabric.sysfs / "class" / "nvme").iterdir()) == []
    assert list((fabric.sysfs / "class" / "block").iterdir()) == []
    assert list((fabric.sysfs / "dev" / "block").iterdir()) == []
    assert loops_on(volume.backing_file) == []
    again = run_nvme(fabric.nvme, "disconnect", "-n", volume.nqn)
    assert (again.returncode, again.stdout) == (0, f"NQN:{volume.nqn} disconnected 0 controller(s)\n")


def test_disconnect_by_device(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-d1"), export_volume(emulator, "pvc-d2")
    assert connect(fabric.nvme, first).returncode == 0
    assert connect(fabric.nvme, second).returncode == 0

    result = run_nvme(fabric.nvme, "disconnect", "-d", "/dev/nvme0")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert resolve(fabric.sysfs, fabric.dev, first.nqn, 1) is None
    assert resolve(fabric.sysfs, fabric.dev, second.nqn, 1) == fabric.dev / "nvme1n1"
    missing = run_nvme(fabric.nvme, "disconnect", "-d", "nvme7")
    assert (missing.returncode, missing.stderr) == (1, "Did not find device nvme7\n")


def test_system_subsystem_survives_disconnects_of_other_nqns(
    emulator: Emulator, fabric: Fabric, tmp_path: Path
) -> None:
    system_file = tmp_path / "var.img"
    system_file.write_bytes(b"system volume" + bytes(1 << 20))
    system_nqn = "nqn.2000-02.com.mikrotik:node1-var"
    assert fabric.fabric.add_system_subsystem(system_nqn, system_file) == "nvme0"
    volume = export_volume(emulator, "pvc-next")
    assert connect(fabric.nvme, volume).returncode == 0

    assert run_nvme(fabric.nvme, "disconnect", "-n", volume.nqn).returncode == 0
    assert run_nvme(fabric.nvme, "disconnect", "-n", "nqn.2000-02.com.mikrotik:node1").stdout.endswith(
        " 0 controller(s)\n"
    )

    node = resolve(fabric.sysfs, fabric.dev, system_nqn, 1)
    assert node is not None
    with open(node, "rb") as device:
        assert device.read(13) == b"system volume"
    (host,) = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)
    assert [item["NQN"] for item in host["Subsystems"]] == [system_nqn]


def test_lost_controller_comes_back_renumbered(emulator: Emulator, fabric: Fabric) -> None:
    """§3.3: a stale user of the old disk keeps the subsystem (zero controllers, §1.4) and the
    disk's instance, so the reconnected disk is `nvme0n2` on a new loop device."""
    volume = export_volume(emulator, "pvc-lost")
    with open(volume.backing_file, "r+b") as backing:
        backing.write(b"still here")
    assert connect(fabric.nvme, volume).returncode == 0
    old_node = resolve(fabric.sysfs, fabric.dev, volume.nqn, 1)
    assert old_node == fabric.dev / "nvme0n1"
    with open(old_node, "rb"):  # like a stale mount, keeps the old loop device busy
        (old_loop,) = loops_on(volume.backing_file)
        fabric.fabric.lose_controller(volume.nqn)

        assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is None
        assert not old_node.exists()
        (host,) = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)
        assert host["Subsystems"] == [{"Name": "nvme-subsys0", "NQN": volume.nqn, "Paths": []}]
        stuck = run_nvme(fabric.nvme, "disconnect", "-n", volume.nqn)
        assert stuck.stdout == f"NQN:{volume.nqn} disconnected 0 controller(s)\n"

        assert fabric.fabric.reconnect_controller(volume.nqn, new_name=True) == "nvme1"
        new_node = resolve(fabric.sysfs, fabric.dev, volume.nqn, 1)
        assert new_node == fabric.dev / "nvme0n2"
        assert (fabric.sysfs / "class" / "nvme" / "nvme1" / "nvme0c1n2").is_dir()
        with open(new_node, "rb") as device:
            assert device.read(10) == b"still here"
        assert old_loop in loops_on(volume.backing_file) and len(loops_on(volume.backing_file)) == 2

    assert wait_until(lambda: old_loop not in loops_on(volume.backing_file))
    assert fabric.fabric.snapshot().subsystem_by_nqn(volume.nqn).held_loops == []  # type: ignore[union-attr]
    assert run_nvme(fabric.nvme, "disconnect", "-n", volume.nqn).stdout.endswith(" 1 controller(s)\n")
    assert fabric.fabric.snapshot().subsystems == []


def test_a_lost_subsystem_without_users_goes_at_once(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-free")
    assert connect(fabric.nvme, volume).returncode == 0
    fabric.fabric.lose_controller(volume.nqn)
    assert run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout == "[\n]\n"
    assert loops_on(volume.backing_file) == []
    assert fabric.fabric.reconnect_controller(volume.nqn, new_name=True) == "nvme1"
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme1n1"


def test_reconnect_may_reuse_the_name(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-same")
    assert connect(fabric.nvme, volume).returncode == 0
    fabric.fabric.lose_controller(volume.nqn)
    assert fabric.fabric.reconnect_controller(volume.nqn, new_name=False) == "nvme0"
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme0n1"


def test_disappearing_device_and_rescan(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-gone")
    assert connect(fabric.nvme, volume).returncode == 0

    fabric.fabric.remove_device(volume.nqn)

    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is None
    assert not (fabric.dev / "nvme0n1").exists()
    assert read_attribute(fabric.sysfs / "class" / "nvme" / "nvme0" / "state") == "live"
    assert loops_on(volume.backing_file) == []
    assert run_nvme(fabric.nvme, "ns-rescan", "/dev/nvme0").returncode == 0
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme0n1"


def test_reconnect_window_keeps_the_disk_and_drops_src_addr(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-window")
    assert connect(fabric.nvme, volume).returncode == 0

    fabric.fabric.set_state(volume.nqn, "connecting")

    controller = fabric.sysfs / "class" / "nvme" / "nvme0"
    assert read_attribute(controller / "state") == "connecting"
    assert read_attribute(controller / "address") == "traddr=127.0.0.1,trsvcid=4420"
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme0n1"
    fabric.fabric.set_state(volume.nqn, "deleting (no IO)")
    assert read_attribute(controller / "state") == "deleting (no IO)"
    with pytest.raises(ValueError, match="unknown controller state"):
        fabric.fabric.set_state(volume.nqn, "reconnecting")


def test_ns_rescan_picks_up_a_grown_file(emulator: Emulator, fabric: Fabric) -> None:
    volume = export_volume(emulator, "pvc-grow", size="8M")
    assert connect(fabric.nvme, volume).returncode == 0
    head = fabric.sysfs / "class" / "block" / "nvme0n1"
    emulator.ok("/disk set pvc-grow file-size=16M")
    assert read_attribute(head / "size") == str(8 << 11)

    result = run_nvme(fabric.nvme, "ns-rescan", str(fabric.dev / "nvme0"))

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert read_attribute(head / "size") == str(16 << 11)
    assert read_attribute(fabric.sysfs / "class" / "block" / "nvme0c0n1" / "size") == str(16 << 11)
    size = subprocess.run(
        ["blockdev", "--getsize64", str(fabric.dev / "nvme0n1")], capture_output=True, text=True, timeout=30, check=True
    )
    assert int(size.stdout) == 16 << 20
    missing = run_nvme(fabric.nvme, "ns-rescan", "/dev/nvme5")
    assert missing.returncode == 1 and missing.stderr.startswith("/dev/nvme5: No such file or directory\n")


def _layout(sysfs: Path) -> set[str]:
    """Every path under the controller and subsystem objects, with symlinks as `path -> target`."""
    entries = set()
    for top in ("devices/virtual/nvme-fabrics/ctl", "devices/virtual/nvme-subsystem"):
        for path in (sysfs / top).rglob("*"):
            relative = str(path.relative_to(sysfs / top))
            if path.is_symlink():
                entries.add(f"{relative} -> {os.readlink(path)}")
            elif path.is_dir() and not path.name.endswith(("holders", "slaves", "queue")):
                entries.add(relative + "/")
    return entries


@dataclass(frozen=True)
class NamingExpectation:
    second_path_disk: str | None
    """The disk the second controller brings (a hidden path in case A), None if it gets none."""
    after_first_path_is_gone: str
    """The visible disk once only the second controller is left (after a rescan)."""
    generic_after: str
    """The generic char device left in /dev then."""


@pytest.mark.parametrize(
    ("naming", "expected"),
    [
        (Naming.MULTIPATH, NamingExpectation("nvme0c1n1", "nvme0n1", "ng0n1")),
        (Naming.MULTIPATH_SINGLE_CONTROLLER, NamingExpectation(None, "nvme0n1", "ng1n1")),
        (Naming.NON_MULTIPATH, NamingExpectation("nvme1n1", "nvme1n1", "ng1n1")),
    ],
    ids=[naming.value for naming in Naming],
)
def test_naming_cases(emulator: Emulator, make_fabric: MakeFabric, naming: Naming, expected: NamingExpectation) -> None:
    """Two paths to one subsystem (nvme0 via 127.0.0.1, nvme1 via 127.0.0.2), then the first goes:
    the subsystem number 0 and the controller number 1 differ, which tells the cases apart."""
    fabric = make_fabric(naming)
    volume = export_volume(emulator, "pvc-paths")
    assert connect(fabric.nvme, volume).returncode == 0
    second = run_nvme(fabric.nvme, "connect", "-t", "tcp", "-a", "127.0.0.2", "-n", volume.nqn)
    assert second.returncode == 0, second.stderr
    parameters = fabric.sysfs / "module" / "nvme_core" / "parameters"
    assert read_attribute(parameters / "multipath") == ("N" if naming is Naming.NON_MULTIPATH else "Y")

    layout = _layout(fabric.sysfs)
    assert "nvme-subsys0/nvme0 -> ../../nvme-fabrics/ctl/nvme0" in layout
    assert "nvme-subsys0/nvme1 -> ../../nvme-fabrics/ctl/nvme1" in layout
    if naming is Naming.MULTIPATH:
        assert "nvme-subsys0/nvme0n1/device -> ../../nvme-subsys0" in layout
        assert "nvme0/nvme0c0n1/device -> ../../nvme0" in layout
        assert "nvme-subsys0/nvme0n1/multipath/nvme0c1n1 -> ../../../../nvme-fabrics/ctl/nvme1/nvme0c1n1" in layout
        hidden = fabric.sysfs / "block" / "nvme0c1n1"
        assert read_attribute(hidden / "hidden") == "1" and not (hidden / "dev").exists()
        assert not (fabric.dev / "nvme0c1n1").exists()
    else:
        assert "nvme0/nvme0n1/device -> ../../nvme0" in layout
        assert not any(entry.startswith("nvme-subsys0/nvme0n1") for entry in layout)
    if expected.second_path_disk:
        assert (fabric.sysfs / "block" / expected.second_path_disk).is_dir()
    else:  # case B: without CMIC the second controller gets no disk
        assert list((fabric.sysfs / "class" / "nvme" / "nvme1").glob("nvme*n*")) == []
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme0n1"

    assert run_nvme(fabric.nvme, "disconnect", "-d", "nvme0").returncode == 0
    assert run_nvme(fabric.nvme, "ns-rescan", "/dev/nvme1").returncode == 0

    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / expected.after_first_path_is_gone
    disk = fabric.sysfs / "class" / "block" / expected.after_first_path_is_gone
    owner = "nvme-subsys0" if naming is Naming.MULTIPATH else "nvme1"
    assert os.readlink(disk / "device") == f"../../{owner}"
    assert sorted(path.name for path in fabric.dev.iterdir()) == sorted(
        ["nvme-fabrics", "nvme1", expected.after_first_path_is_gone, expected.generic_after]
    )


@pytest.mark.parametrize(
    ("parameters", "files"),
    [
        (ModuleParameters.STANDARD, {"multipath": "Y", "iopolicy": "numa"}),
        (ModuleParameters.WITHOUT_MULTIPATH_PARAMETER, {"iopolicy": "numa"}),
        (ModuleParameters.NONE, {}),
    ],
    ids=[parameters.value for parameters in ModuleParameters],
)
def test_module_parameter_variants_do_not_change_the_layout(
    emulator: Emulator, make_fabric: MakeFabric, parameters: ModuleParameters, files: dict[str, str]
) -> None:
    fabric = make_fabric(Naming.MULTIPATH, module_parameters=parameters)
    volume = export_volume(emulator, "pvc-params")
    fabric.fabric.connect(ConnectRequest(nqn=volume.nqn, traddr="127.0.0.1"))

    directory = fabric.sysfs / "module" / "nvme_core" / "parameters"
    found = {path.name: read_attribute(path) for path in directory.iterdir()} if directory.exists() else {}
    assert found == files
    assert (fabric.sysfs / "class" / "nvme-subsystem" / "nvme-subsys0" / "nvme0n1").is_dir()
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme0n1"


def test_synthetic_controllers_for_benchmarks(make_fabric: MakeFabric) -> None:
    # On tmpfs like the real sysfs: on a disk filesystem creating the 30 000 files takes 6x longer.
    fabric = make_fabric(sysfs_root=Path(tempfile.mkdtemp(prefix="rds-test-sysfs-", dir="/dev/shm")))
    started = time.monotonic()
    names = fabric.fabric.add_synthetic_controllers(500)
    elapsed = time.monotonic() - started

    assert len(names) == 500 and names[-1] == "nvme499"
    assert len(list((fabric.sysfs / "class" / "nvme").iterdir())) == 500
    disk = fabric.sysfs / "class" / "nvme-subsystem" / "nvme-subsys499" / "nvme499n1"
    assert (
        read_attribute(disk / "nsid") == "1"
        and (fabric.sysfs / "dev" / "block" / read_attribute(disk / "dev")).exists()
    )
    assert not (fabric.dev / "nvme499n1").exists()
    assert elapsed < 30, f"500 synthetic controllers took {elapsed:.1f} s"


def test_teardown_detaches_every_loop_even_after_a_crash(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-t1"), export_volume(emulator, "pvc-t2")
    assert connect(fabric.nvme, first).returncode == 0
    # Another fabric (another node) has the second file attached; it must survive our teardown.
    other = subprocess.run(
        ["losetup", "--find", "--show", str(second.backing_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    try:
        # A crash right after losetup: the attachment is recorded, its device never written down.
        state = read_state(fabric.fabric.fabric_dir)
        state.loops.append(LoopAttachment(backing_file=str(second.backing_file.resolve()), others=[other]))
        write_state(fabric.fabric.fabric_dir, state)
        subprocess.run(["losetup", "--find", str(second.backing_file)], timeout=30, check=True)
        assert len(loops_on(second.backing_file)) == 2

        fabric.fabric.teardown()
        fabric.fabric.teardown()

        assert loops_on(first.backing_file) == []
        assert loops_on(second.backing_file) == [other]
    finally:
        subprocess.run(["losetup", "--detach", other], timeout=30, check=True)
    assert (
        str(first.backing_file)
        not in subprocess.run(["losetup", "-a"], capture_output=True, text=True, timeout=30, check=True).stdout
    )
    assert not fabric.sysfs.exists() and not fabric.dev.exists() and not fabric.fabric.fabric_dir.exists()


def test_module_entry_point_and_simple_commands(fabric: Fabric) -> None:
    fabric_dir = str(fabric.fabric.fabric_dir)
    module = [sys.executable, "-m", "rds_emulator.nvme_fabric", "--fabric-dir", fabric_dir]
    console_script = [str(Path(sys.executable).parent / "rds-test-nvme"), "--fabric-dir", fabric_dir]
    for command in (module, console_script):
        version = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=60, check=False)
        assert (version.returncode, version.stdout) == (
            0,
            "nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n",
        )
    hostnqn = run_nvme(fabric.nvme, "gen-hostnqn").stdout
    assert hostnqn.startswith("nqn.2014-08.org.nvmexpress:uuid:") and hostnqn.endswith("\n")
    unknown = run_nvme(fabric.nvme, "frobnicate")
    assert (unknown.returncode, unknown.stderr) == (1, "ERROR: Invalid sub-command 'frobnicate'\n")
    no_nqn = run_nvme(fabric.nvme, "connect", "-t", "tcp", "-a", "127.0.0.1")
    assert (no_nqn.returncode, no_nqn.stderr) == (1, "required argument [--nqn | -n] not specified\n")


def test_namespace_scan_can_lag_behind_connect_and_rescan(emulator: Emulator, make_fabric: MakeFabric) -> None:
    # The delay must outlast a loaded machine's latency between the call and the first check.
    fabric = make_fabric(scan_delay=1.5)
    volume = export_volume(emulator, "pvc-slow", size="8M")

    assert fabric.fabric.connect(ConnectRequest(nqn=volume.nqn, traddr="127.0.0.1")) == "nvme0"

    assert read_attribute(fabric.sysfs / "class" / "nvme" / "nvme0" / "state") == "live"
    assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is None
    assert wait_until(lambda: resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) is not None)
    emulator.ok("/disk set pvc-slow file-size=12M")
    fabric.fabric.rescan("nvme0")
    size = fabric.sysfs / "class" / "block" / "nvme0n1" / "size"
    assert read_attribute(size) == str(8 << 11)
    assert wait_until(lambda: read_attribute(size) == str(12 << 11))


def test_a_scan_still_pending_at_teardown_attaches_nothing(emulator: Emulator, make_fabric: MakeFabric) -> None:
    fabric = make_fabric(scan_delay=0.3)
    volume = export_volume(emulator, "pvc-pending")
    assert fabric.fabric.connect(ConnectRequest(nqn=volume.nqn, traddr="127.0.0.1")) == "nvme0"

    fabric.fabric.teardown()

    time.sleep(1.0)
    assert loops_on(volume.backing_file) == []
    assert not fabric.sysfs.exists()


def test_writes_to_delete_and_rescan_controller_take_effect(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-del"), export_volume(emulator, "pvc-keep")
    assert connect(fabric.nvme, first).returncode == 0
    assert connect(fabric.nvme, second).returncode == 0
    fabric.fabric.remove_device(second.nqn)

    (fabric.sysfs / "class" / "nvme" / "nvme0" / "delete_controller").write_bytes(b"1")
    (fabric.sysfs / "class" / "nvme" / "nvme1" / "rescan_controller").write_bytes(b"1")

    (host,) = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)
    assert [item["NQN"] for item in host["Subsystems"]] == [second.nqn]
    assert loops_on(first.backing_file) == []
    assert resolve(fabric.sysfs, fabric.dev, second.nqn, 1) == fabric.dev / "nvme1n1"


REAL_NVME = shutil.which("nvme")


def real_nvme_is_2_3() -> bool:
    if REAL_NVME is None:
        return False
    version = subprocess.run([REAL_NVME, "version"], capture_output=True, text=True, timeout=30, check=False)
    return version.stdout.startswith("nvme version 2.3 ")


def run_real_nvme(sysfs: Path, *arguments: str) -> Run:
    """The distribution's nvme-cli reading the fabric's tree as /sys, in a private mount namespace
    (NVME_HOST.md §7: cross-checking fakes against the real binary)."""
    script = 'mount --bind "$1" /sys && shift && exec nvme "$@"'
    completed = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", str(sysfs), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def _without_namespaces(document: object) -> object:
    """libnvme 1.3 finds namespaces by opening /dev nodes, which it cannot on a fake tree."""
    if isinstance(document, dict):
        return {key: _without_namespaces(value) for key, value in document.items() if key != "Namespaces"}
    if isinstance(document, list):
        return [_without_namespaces(item) for item in document]
    return document


real_cli = pytest.mark.skipif(not real_nvme_is_2_3(), reason="the cross-check needs Debian 12's nvme-cli 2.3")


@real_cli
@pytest.mark.parametrize("naming", list(Naming), ids=[naming.value for naming in Naming])
def test_real_nvme_cli_reads_the_tree_as_the_stand_in_prints_it(
    emulator: Emulator, make_fabric: MakeFabric, naming: Naming, tmp_path: Path
) -> None:
    fabric = make_fabric(naming)
    first, second = export_volume(emulator, "pvc-real1"), export_volume(emulator, "pvc-real2")
    for volume, address in ((first, "127.0.0.1"), (second, "127.0.0.1"), (first, "127.0.0.2")):
        fabric.fabric.connect(ConnectRequest(nqn=volume.nqn, traddr=address))
    system_file = tmp_path / "var.img"
    system_file.write_bytes(bytes(1 << 20))
    fabric.fabric.add_system_subsystem("nqn.2000-02.com.mikrotik:node-var", system_file)
    fabric.fabric.set_state(second.nqn, "connecting")

    for arguments in (("list-subsys", "-o", "json"), ("list-subsys",)):
        real, ours = run_real_nvme(fabric.sysfs, *arguments), run_nvme(fabric.nvme, *arguments)
        assert (real.returncode, real.stdout) == (0, ours.stdout), real.stderr
    real = run_real_nvme(fabric.sysfs, "list", "-v", "-o", "json")
    ours = run_nvme(fabric.nvme, "list", "-v", "-o", "json")
    assert _without_namespaces(json.loads(real.stdout)) == _without_namespaces(json.loads(ours.stdout))


@real_cli
def test_real_nvme_disconnect_acts_on_the_fabric(emulator: Emulator, fabric: Fabric) -> None:
    first, second = export_volume(emulator, "pvc-rd1"), export_volume(emulator, "pvc-rd2")
    assert connect(fabric.nvme, first).returncode == 0
    assert connect(fabric.nvme, second).returncode == 0

    by_nqn = run_real_nvme(fabric.sysfs, "disconnect", "-n", first.nqn)
    by_device = run_real_nvme(fabric.sysfs, "disconnect", "-d", "nvme1")

    assert (by_nqn.returncode, by_nqn.stdout) == (0, f"NQN:{first.nqn} disconnected 1 controller(s)\n")
    assert by_device.returncode == 0, by_device.stderr
    assert run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout == "[\n]\n"
    assert loops_on(first.backing_file) == [] and loops_on(second.backing_file) == []


def test_mkfs_and_mount_through_the_node_and_a_loss_under_the_mount(
    emulator: Emulator, fabric: Fabric, tmp_path: Path
) -> None:
    volume = export_volume(emulator, "pvc-mount", size="32M")
    assert connect(fabric.nvme, volume).returncode == 0
    node = resolve(fabric.sysfs, fabric.dev, volume.nqn, 1)
    assert node is not None
    subprocess.run(["mkfs.ext4", "-q", "-F", str(node)], timeout=60, check=True)
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    subprocess.run(["mount", str(node), str(mount_point)], timeout=60, check=True)
    try:
        (mount_point / "hello").write_text("from the fabric")
        major, minor = (
            int(part) for part in read_attribute(fabric.sysfs / "class" / "block" / node.name / "dev").split(":")
        )
        assert os.stat(mount_point).st_dev == os.makedev(major, minor)

        fabric.fabric.lose_controller(volume.nqn)

        assert not (fabric.sysfs / "dev" / "block" / f"{major}:{minor}").exists()
        (host,) = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)
        assert host["Subsystems"][0]["Paths"] == []
        fabric.fabric.reconnect_controller(volume.nqn)
        assert resolve(fabric.sysfs, fabric.dev, volume.nqn, 1) == fabric.dev / "nvme0n2"
    finally:
        subprocess.run(["umount", str(mount_point)], timeout=60, check=True)
    assert wait_until(lambda: len(loops_on(volume.backing_file)) == 1)
    assert run_nvme(fabric.nvme, "disconnect", "-n", volume.nqn).stdout.endswith(" 1 controller(s)\n")
    assert fabric.fabric.snapshot().subsystems == []
    assert loops_on(volume.backing_file) == []


def test_the_nvme_cli_2_8_profile(emulator: Emulator, make_fabric: MakeFabric) -> None:
    fabric = make_fabric(cli_profile=CliProfile.UBUNTU_24_04)
    volume = export_volume(emulator, "pvc-28")
    other_host = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"

    first = connect(fabric.nvme, volume)
    other = connect(fabric.nvme, volume, "-q", other_host, "-I", "11111111-2222-3333-4444-555555555555")
    again = connect(fabric.nvme, volume)

    assert (first.returncode, first.stdout) == (0, "connecting to device: nvme0\n")
    assert (other.returncode, other.stdout) == (0, "connecting to device: nvme1\n")  # 2.6+: per host
    assert (again.returncode, again.stderr) == (1, "already connected\n")
    hosts = json.loads(run_nvme(fabric.nvme, "list-subsys", "-o", "json").stdout)
    assert [host["HostNQN"] for host in hosts] == [other_host, fabric.fabric.config.hostnqn]
    for host in hosts:
        (subsystem,) = host["Subsystems"]
        assert list(subsystem) == ["Name", "NQN", "IOPolicy", "Paths"] and subsystem["IOPolicy"] == "numa"
    (device,) = json.loads(run_nvme(fabric.nvme, "list", "-o", "json").stdout)["Devices"]
    assert list(device)[:3] == ["NameSpace", "DevicePath", "GenericPath"]
    assert device["GenericPath"] == str(fabric.dev / "ng0n1") and (fabric.dev / "ng0n1").exists()
    version = run_nvme(fabric.nvme, "version").stdout
    assert version == "nvme version 2.8 (git 2.8)\nlibnvme version 1.8 (git 1.8)\n"
