"""What every node operation works with: the NVMe host, the command runner, the mounter, the stage
records and the settings, built once from the configuration (the seam tests fill with the test
fabric's paths).

Stage records: the NQN a volume was staged with, decided once by NodeStageVolume from the contexts,
is what every later RPC of the volume uses (publish, unstage, stats, expand), since only stage and
publish requests carry the contexts. One JSON file per staged volume, ``{"volume_id": ..., "nqn":
...}``, in the ``staged`` directory beside the endpoint's unix socket: the plugin's own directory on
the host (``/var/lib/kubelet/plugins/<driver>``), which kubelet's plugin registration needs there
too, so the records outlive restarts of the plugin while its volumes stay staged. The file is
named by the volume ID, or by its SHA-256 when the ID is not a safe file name; written atomically
before the connect, removed by unstage once the volume is disconnected.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils import node_mounts
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import CommandRunner, SubprocessRunner
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import DeviceNumber, MountEntry, Mounter
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import read_text
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import BlockDevice, read_subsystems
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import nqn_problem

from rds_csi import events, metrics
from rds_csi.claims import volume_id_of
from rds_csi.config import Config, ConfigError
from rds_csi.errors import CsiError
from rds_csi.events import Recorder

LOG = logging.getLogger("rds_csi.node")
RECORDS_DIRECTORY = "staged"
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


@dataclass(frozen=True)
class StageRecords:
    """The NQN each volume staged on this node was staged with (see the module's docstring)."""

    directory: str

    def path(self, volume_id: str) -> str:
        if _SAFE_FILE_NAME.match(volume_id):
            name = volume_id
        else:
            name = "sha256-" + hashlib.sha256(volume_id.encode("utf-8")).hexdigest()
        return os.path.join(self.directory, name + ".json")

    def read(self, volume_id: str) -> Optional[str]:
        """The recorded NQN, None without a record; FailedPrecondition for a record that is not valid."""
        path = self.path(volume_id)
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise _bad_record(volume_id, path, "it cannot be read (%s)" % error) from error
        if not isinstance(record, dict) or record.get("volume_id") != volume_id:
            raise _bad_record(volume_id, path, "it is not a stage record of this volume")
        nqn = record.get("nqn")
        if not isinstance(nqn, str):
            raise _bad_record(volume_id, path, "it has no nqn")
        problem = nqn_problem(nqn)
        if problem:
            raise _bad_record(volume_id, path, "its nqn %r is not an NQN: %s" % (nqn, problem))
        return nqn

    def write(self, volume_id: str, nqn: str) -> None:
        path = self.path(volume_id)
        # One writer per volume at a time (the node's in-flight guard), so a fixed temporary name is safe.
        temporary = path + ".tmp"
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"volume_id": volume_id, "nqn": nqn}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            _sync_directory(self.directory)
        except OSError as error:
            raise CsiError(
                grpc.StatusCode.INTERNAL,
                "Cannot write the stage record %s of volume %s (%s); nothing was connected. The node keeps which "
                "NQN each staged volume uses in %s: make it writable." % (path, volume_id, error, self.directory),
            ) from error

    def remove(self, volume_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(volume_id))
            _sync_directory(self.directory)

    def count(self) -> int:
        """How many volumes have a stage record (are staged, or mid-stage) on this node."""
        try:
            return sum(1 for name in os.listdir(self.directory) if name.endswith(".json"))
        except FileNotFoundError:
            return 0


def records_directory(endpoint: str) -> str:
    """The stage records' directory: ``staged`` beside the endpoint's unix socket."""
    if not endpoint.startswith("unix:"):
        raise ConfigError(
            "endpoint=%r: the node service keeps its stage records beside its unix socket (the plugin's "
            "directory on the host), which a TCP endpoint does not have. Serve the node on unix:///path/csi.sock."
            % endpoint
        )
    socket_path = endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint[len("unix:") :]
    return os.path.join(os.path.dirname(socket_path), RECORDS_DIRECTORY)


def _sync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _bad_record(volume_id: str, path: str, problem: str) -> CsiError:
    return CsiError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "The stage record %s of volume %s is not valid: %s. It says which NQN the volume was staged with on this "
        "node; put that NQN back in it, or delete the file to fall back to %s."
        % (path, volume_id, problem, nqn_for(volume_id)),
    )


@dataclass(frozen=True)
class NodeRuntime:
    host: NvmeHost
    runner: CommandRunner
    mounter: Mounter
    records: StageRecords
    host_nqn: str
    sysfs_root: str
    device_wait_timeout: float
    events: Recorder
    # Volumes whose last connect on this node failed, for ConnectionRecovery (one RPC per volume at a time).
    failed_connects: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: Config, recorder: Recorder, runner: Optional[CommandRunner] = None) -> NodeRuntime:
        runner = runner or SubprocessRunner()
        nvme = NvmeHostConfig(
            nvme_binary=config.nvme_binary,
            sysfs_root=config.sysfs_root,
            dev_root=config.dev_root,
            command_timeout=config.nvme_command_timeout,
        )
        return cls(
            host=NvmeHost(nvme, config.managed_nqn_prefix, runner),
            runner=runner,
            mounter=CountedMounter(runner, timeout=config.mount_timeout),
            records=StageRecords(records_directory(config.endpoint)),
            host_nqn=(read_text(config.host_nqn_file) or "").strip(),
            sysfs_root=config.sysfs_root,
            device_wait_timeout=config.device_wait_timeout,
            events=recorder,
        )

    def mounts(self) -> list[MountEntry]:
        return node_mounts.read_mountinfo()

    def device(self, nqn: str) -> Optional[BlockDevice]:
        """The volume's block device now, resolved from the NQN through sysfs (never remembered)."""
        device = self.host.device(nqn)
        return device if device is not None and os.path.exists(device.path) else None

    def staged_nqn(self, volume_id: str) -> Optional[str]:
        """The NQN the volume is staged with on this node: its stage record's; for a volume staged before
        records existed, the one derived from the volume ID while that is connected; else None."""
        recorded = self.records.read(volume_id)
        if recorded is not None:
            return recorded
        derived = nqn_for(volume_id)
        return derived if self.host.subsystem(derived) is not None else None

    def clean_orphans(self) -> list[str]:
        """Disconnect managed subsystems that have no block device (P-8.6); returns their NQNs. Each is
        reported on its volume's claim, or on this node's Node object when it has none."""
        cleaned = []
        for subsystem in self.host.orphans():
            volume_id = volume_id_of(subsystem.nqn)
            self.events.on_volume_or_node(
                volume_id,
                events.ORPHAN_DETECTED,
                "NVMe/TCP subsystem %s is connected without a block device (an orphaned connection); the node "
                "disconnects it." % subsystem.nqn,
            )
            try:
                self.host.disconnect(subsystem.nqn)
            except Exception as error:  # one stuck orphan must not stop the node from starting
                LOG.warning("orphan not cleaned", extra={"fields": {"nqn": subsystem.nqn, "error": str(error)}})
                continue
            cleaned.append(subsystem.nqn)
            metrics.ORPHANS_CLEANED.inc()
            LOG.info("orphan cleaned", extra={"fields": {"nqn": subsystem.nqn}})
            self.events.on_volume_or_node(
                volume_id,
                events.ORPHAN_CLEANED,
                "The orphaned NVMe/TCP connection to %s was disconnected." % subsystem.nqn,
            )
        self.count_connections()
        return cleaned

    def count_connections(self) -> None:
        """Set ``rds_csi_nvme_connections_active`` to the connected subsystems under the managed prefix, as
        sysfs shows them now. Called when this node connects or disconnects, never per scrape: walking
        sysfs for 1,000 connections took about 80 ms on the test fabric, more than a scrape may."""
        managed = read_subsystems(self.host.config, self.host.managed_prefix)
        metrics.NVME_CONNECTIONS_ACTIVE.set(sum(1 for subsystem in managed if subsystem.connected))


class CountedMounter(Mounter):
    """The library's mounter, counting each mount, bind and unmount by outcome in the metrics."""

    def mount(self, source: str, target: str, fstype: str, options: Sequence[str]) -> None:
        with _counted("mount"):
            super().mount(source, target, fstype, options)

    def bind(self, source: str, target: str, read_only: bool) -> None:
        with _counted("bind"):
            super().bind(source, target, read_only)

    def unmount(self, target: str) -> None:
        with _counted("unmount"):
            super().unmount(target)


@contextlib.contextmanager
def _counted(operation: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        metrics.MOUNT_OPERATIONS.labels(operation, metrics.FAILURE).inc()
        raise
    metrics.MOUNT_OPERATIONS.labels(operation, metrics.SUCCESS).inc()


def number_of(device: BlockDevice) -> DeviceNumber:
    return DeviceNumber(device.major, device.minor)


def stale_reason(runtime: NodeRuntime, volume_id: str, nqn: str, mounted: DeviceNumber) -> str:
    """Why a mount of ``mounted`` is stale for the volume with this NQN (P-8.2), or "" when it is not.
    A stale mount is counted and reported on the volume's claim."""
    device = runtime.device(nqn)
    if device is None:
        reason = "the volume's device is gone (NQN %s has no block device on this node)" % nqn
    elif number_of(device) != mounted:
        reason = "it is mounted from device %s, but NQN %s now resolves to %s (%s)" % (
            mounted,
            nqn,
            device.name,
            number_of(device),
        )
    else:
        return ""
    metrics.STALE_MOUNTS_DETECTED.inc()
    runtime.events.on_volume(
        volume_id,
        events.STALE_MOUNT_DETECTED,
        "A mount of volume %s on this node is stale: %s. Restart the pods that use it here, so that it is "
        "unstaged and staged again." % (volume_id, reason),
    )
    return reason
