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

from rds_csi.logs import LOG_FORMATS, masked
from rds_csi.params import VOLUME_PATH_RULE, is_volume_path

if TYPE_CHECKING:
    from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import JumpHost, SshSettings

MODES = ("controller", "node", "all")
ENV_PREFIX = "RDS_CSI_"
ENV_ALIASES = {
    "CSI_MANAGED_NQN_PREFIX": "managed_nqn_prefix",
    "CSI_ENDPOINT": "endpoint",
    "NODE_ID": "node_id",
    "POD_NAME": "pod_name",
    "POD_NAMESPACE": "pod_namespace",
}
CONTROLLER_METRICS_PORT = 9809  # the replaced driver's port: existing scrape configurations keep working
NODE_METRICS_PORT = 9810  # node plugins run on the host network, beside a controller's port


class ConfigError(Exception):
    """The configuration is unusable; the message lists every problem and how to fix it."""


def _about(text: str) -> dict[str, str]:
    """A setting's one description: its --help line and its row in the documentation's table."""
    return {"help": text}


@dataclass(frozen=True)
class Config:
    mode: str = field(
        default="all", metadata=_about("which services run: controller, node, or all (both in one process)")
    )
    endpoint: str = field(
        default="unix:///csi/csi.sock",
        metadata=_about("where gRPC is served: unix:///path, or tcp://host:port for tests"),
    )
    node_id: str = field(
        default="", metadata=_about("this node's ID (its Kubernetes node name); required in modes node and all")
    )
    zone: str = field(
        default="default", metadata=_about("value of the topology segment this driver's volumes and nodes are in")
    )
    log_level: str = field(
        default="info",
        metadata=_about("debug, info, warning or error; debug also logs RouterOS commands (secrets masked)"),
    )
    log_format: str = field(
        default="text", metadata=_about("text (one key=value line per event) or json (one JSON object per line)")
    )
    metrics: bool = field(default=True, metadata=_about("serve Prometheus metrics over HTTP"))
    metrics_address: str = field(
        default="0.0.0.0", metadata=_about("address the metrics endpoint listens on (host network on a node)")
    )
    metrics_port: int = field(
        default=0,
        metadata=_about(
            "port of the metrics endpoint; 0: %d in modes controller and all, %d in mode node"
            % (CONTROLLER_METRICS_PORT, NODE_METRICS_PORT)
        ),
    )
    appliance_metrics_interval: float = field(
        default=60.0,
        metadata=_about(
            "seconds between collections of the RDS's health and per-volume traffic (over the driver's own "
            "SSH sessions); 0 turns collection off"
        ),
    )
    events: bool = field(
        default=True, metadata=_about("post Kubernetes events (needs kubeconfig); the RPCs never wait on them")
    )
    pod_name: str = field(
        default="", metadata=_about("this driver's Pod, for events about the RDS connection (downward API)")
    )
    pod_namespace: str = field(default="", metadata=_about("the namespace of pod_name (downward API)"))
    rds_address: str = field(
        default="", metadata=_about("address or DNS name of the RDS's SSH service; required for the controller")
    )
    rds_port: int = field(default=22, metadata=_about("SSH port of the RDS, 1 to 65535"))
    rds_user: str = field(default="admin", metadata=_about("RouterOS user the controller logs in as"))
    rds_key_file: str = field(
        default="", metadata=_about("private key (ed25519 or RSA) to log in with; preferred over a password")
    )
    rds_key_passphrase_file: str = field(
        default="",
        metadata=_about(
            "file holding the passphrase of rds_key_file (a mounted Secret; preferred over rds_key_passphrase)"
        ),
    )
    rds_key_passphrase: str = field(
        default="",
        repr=False,
        metadata=_about("passphrase of rds_key_file; rds_key_passphrase_file keeps it out of the environment"),
    )
    rds_password: str = field(
        default="", repr=False, metadata=_about("password, used when the key is refused or not given")
    )
    rds_host_key: str = field(
        default="", metadata=_about("the RDS's public host key line to pin ('ssh-ed25519 AAAA...')")
    )
    rds_known_hosts: str = field(default="", metadata=_about("OpenSSH known_hosts file that holds the RDS's host key"))
    rds_verify_host_key: bool = field(
        default=True,
        metadata=_about("verify the RDS's host key (needs rds_host_key or rds_known_hosts); off logs a warning"),
    )
    rds_connect_timeout: float = field(
        default=10.0, metadata=_about("seconds to establish the SSH connection (both hops with a jump host)")
    )
    rds_command_timeout: float = field(default=30.0, metadata=_about("seconds each RouterOS command may take"))
    rds_max_sessions: int = field(
        default=4, metadata=_about("SSH sessions open at once on the connection to the RDS, 1 to 64")
    )
    rds_jump_host: str = field(
        default="", metadata=_about("OpenSSH server to reach the RDS through (as ssh -J); empty: connect directly")
    )
    rds_jump_port: int = field(default=22, metadata=_about("SSH port of rds_jump_host, 1 to 65535"))
    rds_jump_user: str = field(default="", metadata=_about("user on rds_jump_host; required with rds_jump_host"))
    rds_jump_key_file: str = field(
        default="", metadata=_about("private key for rds_jump_host; empty: rds_key_file and its passphrase")
    )
    rds_jump_key_passphrase_file: str = field(
        default="", metadata=_about("file holding the passphrase of rds_jump_key_file")
    )
    rds_jump_host_key: str = field(default="", metadata=_about("rds_jump_host's public host key line to pin"))
    rds_jump_known_hosts: str = field(
        default="",
        metadata=_about(
            "known_hosts file with rds_jump_host's key; with neither this nor rds_jump_host_key, rds_known_hosts"
        ),
    )
    rds_jump_verify_host_key: bool = field(
        default=True, metadata=_about("verify rds_jump_host's host key; off logs a warning")
    )
    base_path: str = field(
        default=DEFAULT_BASE_PATH,
        metadata=_about("directory on the RDS for volumes when a StorageClass gives no volumePath"),
    )
    nvme_address: str = field(
        default="",
        metadata=_about("NVMe/TCP address nodes connect to when a StorageClass gives none; empty: rds_address"),
    )
    nvme_port: int = field(
        default=DEFAULT_NVME_PORT, metadata=_about("NVMe/TCP port nodes connect to when a StorageClass gives none")
    )
    managed_nqn_prefix: str = field(
        default=DEFAULT_NQN_PREFIX,
        metadata=_about(
            "NQN prefix of the volumes this driver manages (nqn., a colon, at most 223 bytes); "
            "a node reads it from node_config_file"
        ),
    )
    node_ids: tuple[str, ...] = field(
        default=(),
        metadata=_about("comma-separated node IDs ControllerPublish accepts without a kubeconfig (node_id counts too)"),
    )
    storage_fencing: bool = field(
        default=True,
        metadata=_about(
            "restrict each volume's export to the host NQNs of the nodes it is published to, so a fenced-off node "
            "cannot connect (P-7.7); off logs a warning at every start"
        ),
    )
    node_host_nqns: tuple[str, ...] = field(
        default=(),
        metadata=_about(
            "comma-separated node=hostNQN pairs for storage fencing without a Node label (standalone mode); "
            "in mode all this node's host_nqn_file counts too"
        ),
    )
    kubeconfig: str = field(
        default="",
        metadata=_about(
            "kubeconfig path, or in-cluster: Kubernetes Node objects decide which nodes exist, and events are posted"
        ),
    )
    handoff_grace: float = field(
        default=30.0,
        metadata=_about(
            "seconds after this controller unpublished a node during which that node's VolumeAttachment, "
            "marked for deletion, no longer blocks another node (0 to 600)"
        ),
    )
    deleted_node_grace: float = field(
        default=300.0,
        metadata=_about(
            "seconds a blocking node's Node object must be gone before its attachment is cleared (0 to 86400)"
        ),
    )
    attachment_state_file: str = field(
        default="",
        metadata=_about(
            "without a kubeconfig, the file keeping which nodes hold which volumes; empty: attachments.json "
            "beside the endpoint's unix socket"
        ),
    )
    max_volumes_per_node: int = field(
        default=0, metadata=_about("volumes of this driver one node may hold, as NodeGetInfo reports it; 0: no limit")
    )
    # Node settings (P-6): where nvme-cli, sysfs and /dev are (tests point them at the test fabric).
    nvme_binary: str = field(default="nvme", metadata=_about("the nvme-cli program the node runs"))
    sysfs_root: str = field(default="/sys", metadata=_about("where sysfs is mounted (absolute)"))
    dev_root: str = field(default="/dev", metadata=_about("where device nodes are (absolute)"))
    host_nqn_file: str = field(default=DEFAULT_HOSTNQN_FILE, metadata=_about("file holding this node's host NQN"))
    node_config_file: str = field(
        default=DEFAULT_CONFIG_FILE, metadata=_about("the node's configuration, as srvlab.rds.nqn_filter writes it")
    )
    nvme_command_timeout: float = field(
        default=30.0, metadata=_about("seconds each nvme-cli command may take, up to 3600")
    )
    device_wait_timeout: float = field(
        default=30.0, metadata=_about("seconds to wait for a connected volume's block device, up to 3600")
    )
    mount_timeout: float = field(default=60.0, metadata=_about("seconds each mount or unmount may take, up to 3600"))

    @property
    def runs_controller(self) -> bool:
        return self.mode in ("controller", "all")

    @property
    def runs_node(self) -> bool:
        return self.mode in ("node", "all")

    @property
    def served_metrics_port(self) -> int:
        if self.metrics_port:
            return self.metrics_port
        return CONTROLLER_METRICS_PORT if self.runs_controller else NODE_METRICS_PORT

    @property
    def attachment_state_path(self) -> str:
        if self.attachment_state_file:
            return self.attachment_state_file
        socket_path = self.endpoint.split(":", 1)[1].removeprefix("//")
        return os.path.join(os.path.dirname(socket_path), "attachments.json")

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
            private_key_passphrase=self.rds_key_passphrase or read_secret(self.rds_key_passphrase_file),
            password=self.rds_password or None,
            host_key=self.rds_host_key or None,
            known_hosts_file=self.rds_known_hosts or None,
            verify_host_key=self.rds_verify_host_key,
            connect_timeout=self.rds_connect_timeout,
            command_timeout=self.rds_command_timeout,
            max_sessions=self.rds_max_sessions,
            use_agent=False,  # a daemon has no agent of its own; its key comes from a mounted Secret
            jump=self._jump_host(),
        )

    def _jump_host(self) -> Optional[JumpHost]:
        from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import JumpHost  # noqa: PLC0415

        if not self.rds_jump_host:
            return None
        return JumpHost(
            host=self.rds_jump_host,
            port=self.rds_jump_port,
            username=self.rds_jump_user,
            private_key_file=self.rds_jump_key_file or None,
            private_key_passphrase=read_secret(self.rds_jump_key_passphrase_file),
            host_key=self.rds_jump_host_key or None,
            known_hosts_file=self.rds_jump_known_hosts or None,
            verify_host_key=self.rds_jump_verify_host_key,
        )

    def summary(self) -> dict[str, Any]:
        """The settings for the start-up log line, secrets masked."""
        shown = {item.name: getattr(self, item.name) for item in fields(self)}
        shown["node_ids"] = ",".join(self.node_ids)
        return masked(shown)


def read_secret(path: str) -> Optional[str]:
    """The first line of a secret file (a mounted Kubernetes Secret), or None without a path."""
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.readline().rstrip("\r\n") or None


def environment_names(name: str) -> list[str]:
    """The environment variables a setting is read from, its own name first."""
    return [ENV_PREFIX + name.upper()] + [alias for alias, target in ENV_ALIASES.items() if target == name]


def shown_default(item: dataclasses.Field[Any]) -> str:
    default = item.default
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return ",".join(default) or "none"
    return str(default) if default != "" else "none"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rds-csi-driver",
        description="CSI driver for MikroTik RDS over NVMe/TCP. Every setting is also read from the environment "
        "variable shown and from the --config file; later sources win: defaults, file, environment, flags.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML file of settings, keyed by the names below with underscores (default: none; env %sCONFIG)"
        % ENV_PREFIX,
    )
    for item in fields(Config):
        flag = "--" + item.name.replace("_", "-")
        text = "%s (default: %s; env %s)" % (
            item.metadata["help"],
            shown_default(item),
            ", ".join(environment_names(item.name)),
        )
        text = text.replace("%", "%%")
        if item.type == "bool":
            parser.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            parser.add_argument(flag, dest=item.name, default=None, metavar=item.name.upper(), help=text)
    return parser


def settings_markdown() -> str:
    """The documentation's table of settings (docs/csi-driver.md), from the same descriptions as --help."""
    rows = ["| setting | flag | environment | default | meaning |", "|---|---|---|---|---|"]
    for item in fields(Config):
        flag = "--" + item.name.replace("_", "-")
        if item.type == "bool":
            flag += "`, `--no-" + item.name.replace("_", "-")
        rows.append(
            "| `%s` | `%s` | %s | %s | %s |"
            % (
                item.name,
                flag,
                ", ".join("`%s`" % name for name in environment_names(item.name)),
                "`%s`" % shown_default(item) if shown_default(item) != "none" else "",
                item.metadata["help"],
            )
        )
    return "\n".join(rows) + "\n"


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
    problems.extend(_observability_problems(config))
    if config.max_volumes_per_node < 0:
        problems.append("max_volumes_per_node=%d: use 0 (no limit) or more" % config.max_volumes_per_node)
    if config.kubeconfig and config.kubeconfig != "in-cluster" and not os.path.isfile(config.kubeconfig):
        problems.append("kubeconfig=%s does not exist (or use in-cluster)" % config.kubeconfig)
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


def _observability_problems(config: Config) -> list[str]:
    problems = []
    if config.log_format not in LOG_FORMATS:
        problems.append("log_format=%r: use %s" % (config.log_format, " or ".join(LOG_FORMATS)))
    if not 0 <= config.metrics_port <= 65535:
        problems.append("metrics_port=%d: use 1 to 65535, or 0 for the mode's default" % config.metrics_port)
    if not 0 <= config.appliance_metrics_interval <= 3600:
        interval = config.appliance_metrics_interval
        problems.append("appliance_metrics_interval=%s: use 0 (off) to 3600 seconds" % interval)
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
    if config.rds_key_passphrase and config.rds_key_passphrase_file:
        problems.append("give rds_key_passphrase_file or rds_key_passphrase, not both (the file is preferred)")
    problems.extend(_secret_file_problems(config))
    if config.rds_jump_host:
        problems.extend(_jump_problems(config))
    if config.rds_verify_host_key and not (config.rds_host_key or config.rds_known_hosts):
        problems.append(
            "host key verification is on: give rds_host_key (the RDS's 'ssh-ed25519 AAAA...' line) or "
            "rds_known_hosts, or turn it off explicitly with --no-rds-verify-host-key"
        )
    if not 1 <= config.rds_port <= 65535 or not 1 <= config.nvme_port <= 65535:
        problems.append("rds_port and nvme_port must be 1 to 65535")
    problems.extend(_host_nqn_problems(config))
    if not 1 <= config.rds_max_sessions <= 64:
        problems.append("rds_max_sessions=%d: use 1 to 64" % config.rds_max_sessions)
    if not is_volume_path(config.base_path):
        problems.append("base_path=%r: %s" % (config.base_path, VOLUME_PATH_RULE))
    if not 0 <= config.handoff_grace <= 600 or not 0 <= config.deleted_node_grace <= 86400:
        problems.append("handoff_grace must be 0 to 600 seconds and deleted_node_grace 0 to 86400")
    if not config.kubeconfig and not config.attachment_state_file and not config.endpoint.startswith("unix:"):
        problems.append(
            "without a kubeconfig the controller keeps its attachments in a file: give attachment_state_file "
            "(a TCP endpoint has no socket directory to keep it beside)"
        )
    return problems


def node_host_nqn_pairs(entries: Sequence[str]) -> dict[str, str]:
    """``node_host_nqns`` as a mapping of node ID to host NQN (entries without ``=`` are left out;
    validation names them)."""
    pairs = (entry.partition("=") for entry in entries)
    return {node.strip(): host.strip() for node, sep, host in pairs if sep}


def _host_nqn_problems(config: Config) -> list[str]:
    problems = []
    for entry in config.node_host_nqns:
        node, sep, host = entry.partition("=")
        problem = nqn_problem(host.strip()) if sep and node.strip() else "write it as node=hostNQN"
        if problem:
            problems.append("node_host_nqns entry %r: %s" % (entry, problem))
    return problems


def _secret_file_problems(config: Config) -> list[str]:
    problems = []
    for name in ("rds_key_passphrase_file", "rds_jump_key_passphrase_file"):
        path = getattr(config, name)
        if not path:
            continue
        try:
            read_secret(path)
        except (OSError, UnicodeError) as error:
            problems.append("%s=%s cannot be read: %s" % (name, path, error))
    return problems


def _jump_problems(config: Config) -> list[str]:
    problems = []
    if not config.rds_jump_user:
        problems.append("rds_jump_user is required with rds_jump_host=%s (--rds-jump-user)" % config.rds_jump_host)
    if not 1 <= config.rds_jump_port <= 65535:
        problems.append("rds_jump_port=%d: use 1 to 65535" % config.rds_jump_port)
    if config.rds_jump_key_file and not os.path.isfile(config.rds_jump_key_file):
        problems.append("rds_jump_key_file=%s does not exist" % config.rds_jump_key_file)
    trusted = config.rds_jump_host_key or config.rds_jump_known_hosts or config.rds_known_hosts
    if config.rds_jump_verify_host_key and not trusted:
        problems.append(
            "host key verification of the jump host is on: give rds_jump_host_key (its 'ssh-ed25519 AAAA...' line) "
            "or rds_jump_known_hosts, or turn it off explicitly with --no-rds-jump-verify-host-key"
        )
    return problems


def endpoint_tcp(endpoint: str) -> Optional[str]:
    """``host:port`` of a TCP endpoint, or None for anything else."""
    text = endpoint[len("tcp://") :] if endpoint.startswith("tcp://") else endpoint
    host, port = text.rpartition(":")[::2]
    return text if host and port.isdigit() and not endpoint.startswith("unix:") else None
