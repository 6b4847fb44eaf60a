# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The options naming one subsystem on a node (TARGET_ARGUMENT_SPEC in plugins/module_utils/nvme_module.py).
    DOCUMENTATION = r"""
options:
  nqn:
    description:
      - The subsystem NQN. Exactly one of O(nqn) and O(volume_id) is required.
    type: str
  volume_id:
    description:
      - The CSI volume ID (the PersistentVolume's C(spec.csi.volumeHandle), such as C(pvc-<uuid>)).
    type: str
  nsid:
    description:
      - The namespace ID whose block device is reported.
    type: int
    default: 1
  managed_nqn_prefix:
    description:
      - The managed NQN prefix, which decides RV(managed). Defaults to the C(managed_nqn_prefix) of O(config_file),
        else C(nqn.2000-02.com.mikrotik:pvc-).
    type: str
  config_file:
    description:
      - The node plugin's configuration file written by M(srvlab.rds.nqn_filter).
    type: path
    default: /etc/srvlab-rds/node.yaml
  sysfs_root:
    description:
      - Where sysfs is mounted.
    type: path
    default: /sys
  dev_root:
    description:
      - Where the device nodes are.
    type: path
    default: /dev
"""
