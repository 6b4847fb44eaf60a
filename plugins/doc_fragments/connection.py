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
      - Must not be empty or contain spaces or control characters.
      - Falls back to the E(RDS_HOST) environment variable.
    type: str
    required: true
  port:
    description:
      - SSH port of the RDS, 1 to 65535.
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
      - An encrypted key needs O(private_key_passphrase), or the key loaded into a running C(ssh-agent)
        (see O(use_agent)).
      - Falls back to the E(RDS_PRIVATE_KEY_FILE) environment variable.
    type: path
  private_key_passphrase:
    description:
      - Passphrase that decrypts O(private_key_file).
      - A wrong passphrase fails the task with a message that says so; an unencrypted key ignores it.
      - Falls back to the E(RDS_PRIVATE_KEY_PASSPHRASE) environment variable.
    type: str
  use_agent:
    description:
      - Offer the keys of the running C(ssh-agent) named by E(SSH_AUTH_SOCK) on the controller, as OpenSSH does.
      - They are tried after O(private_key_file) and before O(password), for the RDS and for the jump host.
      - Without E(SSH_AUTH_SOCK), or with an agent that holds no key, nothing is offered.
      - Falls back to the E(RDS_USE_AGENT) environment variable.
    type: bool
    default: true
  password:
    description:
      - Password to log in with when neither O(private_key_file) nor an agent key is accepted.
      - RouterOS refuses passwords for a user that has an SSH key.
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
      - An OpenSSH known_hosts file that holds the RDS's host key (under C([host]:port) when O(port) is not 22).
    type: path
  host_key_checking:
    description:
      - Verify the RDS's host key before logging in.
      - Turning this off lets anyone on the network path impersonate the RDS; a warning is logged on every connection.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the SSH connection (both hops together with O(jump_host)) and for each RouterOS command,
        1 to 3600.
    type: int
    default: 30
  jump_host:
    description:
      - Address or name of an OpenSSH server through which the RDS is reached, as C(ssh -J) does (a C(direct-tcpip)
        tunnel); O(host) and O(port) are then resolved and reached from the jump host.
      - Falls back to the E(RDS_JUMP_HOST) environment variable.
    type: str
  jump_port:
    description:
      - SSH port of O(jump_host), 1 to 65535.
      - Falls back to the E(RDS_JUMP_PORT) environment variable.
    type: int
    default: 22
  jump_username:
    description:
      - User to log in as on O(jump_host); defaults to the user running the module on the controller, as with OpenSSH.
      - Falls back to the E(RDS_JUMP_USERNAME) environment variable.
    type: str
  jump_private_key_file:
    description:
      - Private key to log in to O(jump_host) with; defaults to O(private_key_file) and O(private_key_passphrase).
      - The agent's keys (O(use_agent)) are offered to the jump host too.
      - Falls back to the E(RDS_JUMP_PRIVATE_KEY_FILE) environment variable.
    type: path
  jump_private_key_passphrase:
    description:
      - Passphrase that decrypts O(jump_private_key_file).
      - Falls back to the E(RDS_JUMP_PRIVATE_KEY_PASSPHRASE) environment variable.
    type: str
  jump_host_key:
    description:
      - The jump host's SSH public host key line to pin, for example C(ssh-ed25519 AAAAC3Nza...).
      - With O(jump_host_key_checking=true) this, O(jump_known_hosts_file) or O(known_hosts_file) must hold the key.
      - Falls back to the E(RDS_JUMP_HOST_KEY) environment variable.
    type: str
  jump_known_hosts_file:
    description:
      - An OpenSSH known_hosts file that holds the jump host's key; when neither this nor O(jump_host_key) is given,
        O(known_hosts_file) is searched.
      - Falls back to the E(RDS_JUMP_KNOWN_HOSTS_FILE) environment variable.
    type: path
  jump_host_key_checking:
    description:
      - Verify the jump host's host key before logging in to it.
      - Turning this off lets anyone on the path to the jump host impersonate it; a warning is logged on every
        connection.
    type: bool
    default: true
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
      - Must not be empty, like O(managed_slot_prefix); an empty prefix would make every disk managed.
    type: str
    default: nqn.2000-02.com.mikrotik:pvc-
"""
