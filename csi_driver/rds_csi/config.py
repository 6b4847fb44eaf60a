"""Driver configuration from defaults, a YAML file, the environment and flags (later wins),
validated once at start with every problem listed (A-4).

Every setting has one name: ``rds_address`` is ``--rds-address`` on the command line,
``RDS_CSI_RDS_ADDRESS`` in the environment and ``rds_address:`` in the file. The old driver's
``CSI_MANAGED_NQN_PREFIX``, and ``CSI_ENDPOINT`` and ``NODE_ID`` as the sidecars' manifests set
them, are read too.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Optional

import yaml
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_HOSTNQN_FILE,
    configured_prefix,
    read_text,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import (
    DEFAULT_BASE_PATH,
    DEFAULT_NQN_PREFIX,
    DEFAULT_NVME_PORT,
    nqn_problem,
)

from rds_csi.params import VOLUME_PATH_RULE, is_volume_path

if TYPE_CHECKING:
    from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings

MODES = ("controller", "node", "all")
ENV_PREFIX = "RDS_CSI_"
ENV_ALIASES = {"CSI_MANAGED_NQN_PREFIX": "managed_nqn_prefix", "CSI_ENDPOINT": "endpoint", "NODE_ID": "node_id"}
_SECRETS = ("rds_password", "rds_key_passphrase")


class ConfigError(Exception):
    """The configuration is unusable; the message lists every problem and how to fix it."""


@dataclass(frozen=True)
class Config:
    mode: str = "all"
    endpoint: str = "unix:///csi/csi.sock"
    node_id: str = ""
    zone: str = "default"
    log_level: str = "info"
    rds_address: str = ""
    rds_port: int = 22
    rds_user: str = "admin"
    rds_key_file: str = ""
    rds_key_passphrase: str = field(default="", repr=False)
    rds_password: str = field(default="", repr=False)
    rds_host_key: str = ""
    rds_known_hosts: str = ""
    rds_verify_host_key: bool = True
    rds_connect_timeout: float = 10.0
    rds_command_timeout: float = 30.0
    rds_max_sessions: int = 4
    base_path: str = DEFAULT_BASE_PATH
    nvme_address: str = ""
    nvme_port: int = DEFAULT_NVME_PORT
    managed_nqn_prefix: str = DEFAULT_NQN_PREFIX
    node_ids: tuple[str, ...] = ()
    kubeconfig: str = ""
    # Node settings (P-6): where nvme-cli, sysfs and /dev are (tests point them at the test fabric).
    nvme_binary: str = "nvme"
    sysfs_root: str = "/sys"
    dev_root: str = "/dev"
    host_nqn_file: str = DEFAULT_HOSTNQN_FILE
    node_config_file: str = DEFAULT_CONFIG_FILE
    nvme_command_timeout: float = 30.0
    device_wait_timeout: float = 30.0
    mount_timeout: float = 60.0

    @property
    def runs_controller(self) -> bool:
        return self.mode in ("controller", "all")

    @property
    def runs_node(self) -> bool:
        return self.mode in ("node", "all")

    @property
    def pool(self) -> str:
        return self.base_path.strip("/").partition("/")[0]

    def ssh_settings(self) -> SshSettings:
        # Imported here: paramiko and cryptography cost a node-only process about 20 MiB (P-11.6).
        from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings  # noqa: PLC0415

        return SshSettings(
            host=self.rds_address,
            port=self.rds_port,
            username=self.rds_user,
            private_key_file=self.rds_key_file or None,
            private_key_passphrase=self.rds_key_passphrase or None,
            password=self.rds_password or None,
            host_key=self.rds_host_key or None,
            known_hosts_file=self.rds_known_hosts or None,
            verify_host_key=self.rds_verify_host_key,
            connect_timeout=self.rds_connect_timeout,
            command_timeout=self.rds_command_timeout,
            max_sessions=self.rds_max_sessions,
        )

    def summary(self) -> dict[str, Any]:
        """The settings for the start-up log line, secrets masked."""
        shown = {item.name: getattr(self, item.name) for item in fields(self)}
        for name in _SECRETS:
            shown[name] = "*****" if shown[name] else ""
        shown["node_ids"] = ",".join(self.node_ids)
        return shown


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rds-csi-driver", description="CSI driver for MikroTik RDS over NVMe/TCP.")
    parser.add_argument("--config", help="YAML file with settings (keys as the flags, with underscores)")
    for item in fields(Config):
        flag = "--" + item.name.replace("_", "-")
        if item.type == "bool":
            parser.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(flag, dest=item.name, default=None, metavar=item.name.upper())
    return parser


def load(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Build and validate the configuration; raises ConfigError listing every problem."""
    args = vars(_parser().parse_args(list(argv)))
    raw: dict[str, Any] = {}
    path = args.pop("config") or environ.get(ENV_PREFIX + "CONFIG")
    if path:
        raw.update(_read_file(path))
    for name, target in ENV_ALIASES.items():
        if environ.get(name):
            raw[target] = environ[name]
    for item in fields(Config):
        value = environ.get(ENV_PREFIX + item.name.upper())
        if value is not None:
            raw[item.name] = value
    raw.update({key: value for key, value in args.items() if value is not None})
    if raw.get("mode", Config.mode) in ("node", "all") and "managed_nqn_prefix" not in raw:
        raw["managed_nqn_prefix"] = _node_file_prefix(str(raw.get("node_config_file", Config.node_config_file)))
    return validate(_typed(raw))


def _node_file_prefix(path: str) -> str:
    """The prefix srvlab.rds.nqn_filter wrote into the node's configuration file, or "" (P-8.6: a node
    never falls back to a built-in prefix; an empty one fails validation with the fix)."""
    try:
        return configured_prefix(read_text(path)) or ""
    except OSError as error:
        raise ConfigError("Cannot read the node configuration file %s: %s" % (path, error)) from error


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError("Cannot read the configuration file %s: %s" % (path, error)) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("The configuration file %s must hold a mapping of settings." % path)
    known = {item.name for item in fields(Config)}
    unknown = sorted(str(key) for key in data if str(key).replace("-", "_") not in known)
    if unknown:
        raise ConfigError("Unknown setting(s) in %s: %s." % (path, ", ".join(unknown)))
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def _typed(raw: dict[str, Any]) -> Config:
    problems: list[str] = []
    values: dict[str, Any] = {}
    for item in fields(Config):
        if item.name not in raw:
            continue
        value = raw[item.name]
        try:
            values[item.name] = _convert(str(item.type), value)
        except ValueError:
            problems.append("%s=%r is not a valid %s" % (item.name, value, item.type))
    if problems:
        raise ConfigError("Invalid configuration: " + "; ".join(problems) + ".")
    return dataclasses.replace(Config(), **values)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(entry).strip() for entry in items if str(entry).strip())


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "bool": _boolean,
    "int": int,
    "float": float,
    "tuple[str, ...]": _names,
    "str": str,
}


def _convert(kind: str, value: Any) -> Any:
    return _CONVERTERS[kind](value)


def validate(config: Config) -> Config:
    problems = _problems(config)
    if problems:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(problems))
    if not config.nvme_address:
        config = dataclasses.replace(config, nvme_address=config.rds_address)
    return config


def _problems(config: Config) -> list[str]:
    problems = []
    if config.mode not in MODES:
        problems.append("mode=%r: use one of %s" % (config.mode, ", ".join(MODES)))
    if not (config.endpoint.startswith("unix:") or endpoint_tcp(config.endpoint)):
        problems.append("endpoint=%r: use unix:///path/to/csi.sock or tcp://host:port" % config.endpoint)
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append("log_level=%r: use debug, info, warning or error" % config.log_level)
    prefix = config.managed_nqn_prefix
    if not prefix:
        problems.append(
            "managed_nqn_prefix is not set: a node needs CSI_MANAGED_NQN_PREFIX (or --managed-nqn-prefix), or "
            "managed_nqn_prefix in %s, which srvlab.rds.nqn_filter writes" % config.node_config_file
        )
    elif nqn_problem(prefix):
        problems.append(
            "managed_nqn_prefix=%r (CSI_MANAGED_NQN_PREFIX, or managed_nqn_prefix in %s as srvlab.rds.nqn_filter "
            "writes it): %s" % (prefix, config.node_config_file, nqn_problem(prefix))
        )
    if config.runs_node and not config.node_id:
        problems.append("node_id is required in mode %s (--node-id or NODE_ID)" % config.mode)
    if config.runs_controller:
        problems.extend(_controller_problems(config))
    if config.runs_node:
        problems.extend(_node_problems(config))
    return problems


def _node_problems(config: Config) -> list[str]:
    problems = []
    for name in ("nvme_command_timeout", "device_wait_timeout", "mount_timeout"):
        if not 0 < getattr(config, name) <= 3600:
            problems.append("%s=%s: use 0 to 3600 seconds" % (name, getattr(config, name)))
    for name in ("sysfs_root", "dev_root"):
        if not os.path.isabs(getattr(config, name)):
            problems.append("%s=%r: use an absolute path" % (name, getattr(config, name)))
    return problems


def _controller_problems(config: Config) -> list[str]:
    problems = []
    if not config.rds_address:
        problems.append("rds_address is required to run the controller (--rds-address)")
    if not (config.rds_key_file or config.rds_password):
        problems.append("give rds_key_file (preferred) or rds_password to log in to the RDS")
    if config.rds_key_file and not os.path.isfile(config.rds_key_file):
        problems.append("rds_key_file=%s does not exist" % config.rds_key_file)
    if config.rds_verify_host_key and not (config.rds_host_key or config.rds_known_hosts):
        problems.append(
            "host key verification is on: give rds_host_key (the RDS's 'ssh-ed25519 AAAA...' line) or "
            "rds_known_hosts, or turn it off explicitly with --no-rds-verify-host-key"
        )
    if not 1 <= config.rds_port <= 65535 or not 1 <= config.nvme_port <= 65535:
        problems.append("rds_port and nvme_port must be 1 to 65535")
    if not 1 <= config.rds_max_sessions <= 64:
        problems.append("rds_max_sessions=%d: use 1 to 64" % config.rds_max_sessions)
    if not is_volume_path(config.base_path):
        problems.append("base_path=%r: %s" % (config.base_path, VOLUME_PATH_RULE))
    if config.kubeconfig and config.kubeconfig != "in-cluster" and not os.path.isfile(config.kubeconfig):
        problems.append("kubeconfig=%s does not exist (or use in-cluster)" % config.kubeconfig)
    return problems


def endpoint_tcp(endpoint: str) -> Optional[str]:
    """``host:port`` of a TCP endpoint, or None for anything else."""
    text = endpoint[len("tcp://") :] if endpoint.startswith("tcp://") else endpoint
    host, port = text.rpartition(":")[::2]
    return text if host and port.isdigit() and not endpoint.startswith("unix:") else None
