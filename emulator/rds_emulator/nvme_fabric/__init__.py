"""A stand-in for nvme-cli and the kernel's NVMe/TCP sysfs on loop devices, serving the RDS
emulator's exports (NVME_HOST.md; emulator/README.md "Test NVMe fabric")."""

from .connect_checks import ConnectRequest
from .errors import AlreadyConnected, ConnectRefused, FabricError, UnknownDevice
from .fabric import TestFabric
from .naming import ModuleParameters, Naming
from .profiles import CliProfile

__all__ = [
    "AlreadyConnected",
    "CliProfile",
    "ConnectRefused",
    "ConnectRequest",
    "FabricError",
    "ModuleParameters",
    "Naming",
    "TestFabric",
    "UnknownDevice",
]
