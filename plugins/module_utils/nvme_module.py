# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the node-side NVMe modules (``nvme_connection``, ``nvme_connection_info``).

The options naming the subsystem and the host's paths, the NQN they name, the managed prefix, the
connection facts both modules return, and nvme-cli runs through ``module.run_command``. Library
errors are turned into ``fail_json`` messages here and nowhere else. Only modules import this file
(it imports ansible); the driver uses the library modules directly.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import (
    DEFAULT_TIMEOUT,
    CommandNotFound,
    CommandResult,
    CommandRunner,
    CommandTimeout,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import (
    DEFAULT_CONFIG_FILE,
    configured_prefix,
    read_text,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import Resolution, Subsystem
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX, nqn_for

# The options every NVMe module takes: which subsystem, which namespace, the managed prefix, where sysfs and /dev are.
# They are documented in the ``srvlab.rds.nvme_target`` doc fragment.
TARGET_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "nqn": {"type": "str"},
    "volume_id": {"type": "str"},
    "nsid": {"type": "int", "default": 1},
    "managed_nqn_prefix": {"type": "str"},
    "config_file": {"type": "path", "default": DEFAULT_CONFIG_FILE},
    "sysfs_root": {"type": "path", "default": "/sys"},
    "dev_root": {"type": "path", "default": "/dev"},
}
# Keyword arguments for AnsibleModule: exactly one of nqn and volume_id.
TARGET_OPTION_RULES: Dict[str, Any] = {
    "mutually_exclusive": [("nqn", "volume_id")],
    "required_one_of": [("nqn", "volume_id")],
}

# coreutils timeout: 124 when the deadline passed, 137 when the program had to be killed after the grace.
_TIMED_OUT = (124, 137)
_NOT_FOUND = (126, 127)
_KILL_GRACE = "5s"


def argument_spec(own: Mapping[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """The target options plus the module's own."""
    clash = set(own) & set(TARGET_ARGUMENT_SPEC)
    if clash:
        raise ValueError("Module options %s clash with the shared NVMe options." % ", ".join(sorted(clash)))
    return dict(TARGET_ARGUMENT_SPEC, **own)


class ModuleRunner:
    """A node_commands.CommandRunner over ``module.run_command``, with the deadline enforced by ``timeout``."""

    def __init__(self, module: AnsibleModule) -> None:
        self._module = module
        self._timeout = module.get_bin_path("timeout", required=True)

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT, stdin: Optional[str] = None) -> CommandResult:
        wrapped = [self._timeout, "--kill-after=%s" % _KILL_GRACE, "%gs" % timeout, *argv]
        returncode, stdout, stderr = self._module.run_command(wrapped, data=stdin, expand_user_and_vars=False)
        if returncode in _TIMED_OUT:
            raise CommandTimeout(argv, timeout)
        if returncode in _NOT_FOUND and not stdout:
            raise CommandNotFound(argv[0])
        return CommandResult(argv=list(argv), returncode=returncode, stdout=stdout, stderr=stderr)


def target_nqn(params: Mapping[str, Any]) -> str:
    """The subsystem NQN the task names: ``nqn``, or the NQN of the CSI volume ``volume_id``."""
    return str(params["nqn"]) if params["nqn"] else nqn_for(params["volume_id"])


def managed_prefix(params: Mapping[str, Any]) -> str:
    """``managed_nqn_prefix``, else the one in ``config_file``, else the default."""
    if params["managed_nqn_prefix"]:
        return str(params["managed_nqn_prefix"])
    return configured_prefix(read_text(params["config_file"])) or DEFAULT_NQN_PREFIX


def host_paths(params: Mapping[str, Any]) -> NvmeHostConfig:
    """Where sysfs and /dev are; a module that runs nvme-cli adds its binary and timeout with ``replace``."""
    return NvmeHostConfig(sysfs_root=params["sysfs_root"], dev_root=params["dev_root"])


def connected_first(subsystems: Sequence[Subsystem]) -> Optional[Subsystem]:
    """The subsystem with an active controller when the NQN has several, else any, else None."""
    ordered = sorted(subsystems, key=lambda subsystem: not subsystem.connected)
    return ordered[0] if ordered else None


def facts(resolution: Resolution) -> Dict[str, Any]:
    """The connection as the modules return it and show it in the diff."""
    subsystem = connected_first(resolution.subsystems)
    controllers = subsystem.controllers if subsystem else ()
    device = resolution.device
    return {
        "connected": subsystem is not None and subsystem.connected,
        "subsystem": subsystem.name if subsystem else None,
        "controllers": [
            {
                "name": controller.name,
                "state": controller.state,
                "transport": controller.transport,
                "address": controller.address.traddr,
                "port": controller.address.trsvcid,
                "source_address": controller.address.src_addr,
                "host_nqn": controller.host_nqn,
            }
            for controller in controllers
        ],
        "device": None
        if device is None
        else {
            "name": device.name,
            "path": device.path,
            "major": device.major,
            "minor": device.minor,
            "size_bytes": device.size_bytes,
            "nsid": device.nsid,
        },
        "device_problem": None if resolution.ready else resolution.describe(),
    }


def run_nvme_module(
    module: AnsibleModule,
    config: NvmeHostConfig,
    body: Callable[[NvmeHost, str], Dict[str, Any]],
    runner: Optional[CommandRunner] = None,
) -> None:
    """Build the host, run ``body`` for the task's NQN and exit with its result plus the NQN and prefix facts.

    Every library error and unreadable sysfs becomes ``fail_json``.
    """
    nqn = target_nqn(module.params)
    try:
        prefix = managed_prefix(module.params)
        host = NvmeHost(config, prefix, runner=runner)
        result = body(host, nqn)
        result.update(nqn=nqn, managed=host.is_managed(nqn), managed_nqn_prefix=prefix)
    except LibraryError as error:
        module.fail_json(msg=str(error), nqn=nqn)
    except OSError as error:
        module.fail_json(msg="Cannot read the NVMe state of %s: %s. Check sysfs_root and permissions." % (nqn, error))
    module.exit_json(**result)
