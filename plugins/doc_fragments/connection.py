# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The connection options every RDS module shares (plugins/module_utils/rds_module.py).
    DOCUMENTATION = r"""
options:
  host:
    description:
      - Address or name of the RDS to reach over SSH.
      - Falls back to the E(RDS_HOST) environment variable.
    type: str
    required: true
  port:
    description:
      - SSH port of the RDS.
      - Falls back to the E(RDS_PORT) environment variable.
    type: int
    default: 22
  username:
    description:
      - RouterOS user to log in as.
      - Falls back to the E(RDS_USERNAME) environment variable.
    type: str
    default: admin
  private_key_file:
    description:
      - Path on the controller of the private key (ed25519 or RSA) to log in with.
      - Falls back to the E(RDS_PRIVATE_KEY_FILE) environment variable.
    type: path
  password:
    description:
      - Password to log in with when no key is given, or the passphrase-less fallback.
      - Falls back to the E(RDS_PASSWORD) environment variable.
    type: str
  host_key:
    description:
      - The RDS's SSH public host key line to pin, for example C(ssh-ed25519 AAAAC3Nza...).
      - Falls back to the E(RDS_HOST_KEY) environment variable.
      - With O(host_key_checking=true) either this or O(known_hosts_file) is required.
    type: str
  known_hosts_file:
    description:
      - An OpenSSH known_hosts file that holds the RDS's host key.
    type: path
  host_key_checking:
    description:
      - Verify the RDS's host key before logging in.
      - Turning this off lets anyone on the network path impersonate the RDS; a warning is logged on every connection.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the SSH connection and for each RouterOS command.
    type: int
    default: 30
attributes:
  action_group:
    support: full
    description: Use C(group/srvlab.rds.rds) in C(module_defaults) to set the connection options once.
    membership:
      - srvlab.rds.rds
notes:
  - The module runs on the controller (or wherever it is delegated) and reaches the RDS over SSH; it needs the
    C(paramiko) Python package there.
  - The action group C(srvlab.rds.rds) lets a play set these options once in C(module_defaults).
"""

    MANAGED = r"""
options:
  managed_slot_prefix:
    description:
      - Disks whose slot starts with this prefix (and whose NQN, if exported, starts with O(managed_nqn_prefix)) are
        managed by the CSI driver. Anything else is treated as unmanaged (system volumes, hand-made disks).
    type: str
    default: pvc-
  managed_nqn_prefix:
    description:
      - NQN prefix of exports that belong to the CSI driver.
      - Must not be empty, like O(managed_slot_prefix): an empty prefix would make every disk managed.
    type: str
    default: nqn.2000-02.com.mikrotik:pvc-
"""
