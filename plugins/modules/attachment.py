#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: attachment
short_description: Show a volume's attachments and clear a stale one the way the external-attacher does
version_added: 0.1.0
description:
  - Shows the whole attachment picture of one volume of the CSI driver. The cluster's VolumeAttachments of
    O(driver_name) for its PersistentVolume (node, attached flag, deletion time, finalizers, attach and detach
    errors), the PersistentVolume's annotations C(rds.csi.srvlab.io/attached-node) and C(rds.csi.srvlab.io/attached-at)
    (written by the driver for humans, never read by it), the host NQNs the disk's NVMe/TCP export allows on the RDS,
    and each attached node's status (whether the Node exists, its Ready condition, the
    C(node.kubernetes.io/out-of-service) taint).
  - With O(state=absent) clears stale attachments the way the external-attacher expects. A VolumeAttachment not yet
    being deleted is deleted, which is what the attach/detach controller does; a working external-attacher then calls
    ControllerUnpublishVolume, the controller narrows the export's allowed hosts, and the attacher removes its finalizer
    C(external-attacher/rds-csi-srvlab-io), so the object goes. If it is still there after O(detach_timeout) seconds
    (ControllerUnpublishVolume keeps failing, the usual case after an RDS crash), the module marks it detached exactly
    as the attacher does after a successful detach, status first (C(attached=false), no detach error) and then the
    finalizer removed. The attacher then finds nothing to do, and the attach/detach controller sees the detach finished
    and attaches the volume where its pods run now.
  - A VolumeAttachment marked detached by the module skipped ControllerUnpublishVolume, so the export may still allow
    the old node's host NQN until the volume's next publish narrows it; RV(allowed_hosts) shows it.
  - Without O(node) only attachments to stale nodes are cleared, those whose Node is gone, not Ready, or tainted
    C(node.kubernetes.io/out-of-service). Attachments to Ready nodes are kept and listed in RV(kept).
  - With O(node) that node's attachments are cleared, and refused while the node is Ready and not tainted out of
    service unless O(force=true). A Ready node may still be writing to the volume.
  - Force-delete the pods that used the volume on a dead node first (or taint it out of service). Otherwise the
    attach/detach controller still wants the volume there and creates the VolumeAttachment again.
  - The RDS is only read. When it cannot be reached the picture says so in RV(rds_error), RV(allowed_hosts) is null,
    and the cluster side is still shown and cleared.
author:
  - srvlab developers (@srvlab)
requirements:
  - kubernetes (Python package)
extends_documentation_fragment:
  - srvlab.rds.connection
  - srvlab.rds.kubernetes
attributes:
  check_mode:
    support: full
    description: Nothing is changed; RV(cleared) lists what would be cleared and how.
  diff_mode:
    support: none
    description: The changes are listed in RV(cleared) and RV(annotations_removed).
options:
  volume_id:
    description:
      - The volume, the PersistentVolume's C(spec.csi.volumeHandle) (the RDS slot, C(pvc-<uuid>)).
    type: str
    required: true
  state:
    description:
      - V(present) only shows the picture. V(absent) clears stale attachments (see O(node) and O(force)).
    type: str
    choices: [present, absent]
    default: present
  node:
    description:
      - Clear only the attachments to this node (the Node's name). Omitted, every attachment to a stale node is cleared.
    type: str
  force:
    description:
      - Clear the attachments to O(node) although that node is Ready. Only when the node is known not to use the
        volume any more; requires O(node).
    type: bool
    default: false
  detach_timeout:
    description:
      - Seconds to wait after deleting a VolumeAttachment for the external-attacher to detach it before the module
        marks it detached itself. V(0) does not wait.
    type: int
    default: 30
  driver_name:
    description:
      - CSI driver whose VolumeAttachments and PersistentVolumes count.
    type: str
    default: rds.csi.srvlab.io
"""

EXAMPLES = r"""
# A play on the controller sets the connection options once for every module of the srvlab.rds.rds group.
- name: Repair a volume's attachments
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ lookup('ansible.builtin.file', 'rds_host_key.pub') }}"
      private_key_file: ~/.ssh/rds_ed25519
  tasks:
    - name: Show the volume's attachment picture
      srvlab.rds.attachment:
        volume_id: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        kubeconfig: ~/.kube/config
      register: picture

    - name: Clear the attachments to nodes that are gone, not Ready or out of service
      srvlab.rds.attachment:
        volume_id: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        kubeconfig: ~/.kube/config
        state: absent

    - name: Clear the attachment to a node that still reports Ready but is known to be fenced off
      srvlab.rds.attachment:
        volume_id: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        kubeconfig: ~/.kube/config
        state: absent
        node: node1
        force: true
"""

RETURN = r"""
persistent_volume:
  description: The PersistentVolume of O(volume_id) and its attachment annotations, or null when there is none.
  returned: success
  type: dict
  contains:
    name:
      description: Name of the PersistentVolume.
      type: str
    attached_node:
      description: Annotation C(rds.csi.srvlab.io/attached-node), or null.
      type: str
    attached_at:
      description: Annotation C(rds.csi.srvlab.io/attached-at), or null.
      type: str
  sample:
    name: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
    attached_node: node1
    attached_at: "2026-11-11T14:32:41Z"
attachments:
  description: The VolumeAttachments of O(driver_name) for the PersistentVolume, as found before any change, by node.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name of the VolumeAttachment.
      type: str
    node:
      description: Node it attaches the volume to.
      type: str
    attached:
      description: C(status.attached).
      type: bool
    deletion_timestamp:
      description: When its deletion was asked for, or null.
      type: str
    finalizers:
      description: Its finalizers.
      type: list
      elements: str
    attach_error:
      description: The external-attacher's last attach error, or null.
      type: str
    detach_error:
      description: The external-attacher's last detach error, or null.
      type: str
  sample:
    - name: csi-5f1d3a0c9e
      node: node1
      attached: true
      deletion_timestamp: "2026-11-11T15:02:11+00:00"
      finalizers: ["external-attacher/rds-csi-srvlab-io"]
      attach_error: null
      detach_error: "rpc error: code = Unavailable desc = the RDS does not answer"
nodes:
  description: Status of each node named by an attachment or by the annotation, by node name.
  returned: success
  type: dict
  sample:
    node1:
      exists: true
      ready: false
      out_of_service: false
allowed_hosts:
  description:
    - Host NQNs the disk's export allows (C(nvme-tcp-server-allow-host-name)); empty when the RDS lists none.
    - Null when unknown, when the RDS could not be read or has no disk O(volume_id).
  returned: success
  type: list
  elements: str
  sample: ["nqn.2014-08.org.nvmexpress:uuid:3f1b7c2e-1b1e-4c4e-9a55-0e6d3c3c1a10"]
export_enabled:
  description: Whether the disk is exported over NVMe/TCP, or null when unknown.
  returned: success
  type: bool
  sample: true
rds_error:
  description: Why the RDS part is unknown (the RDS unreachable, no such disk); empty when it was read.
  returned: success
  type: str
  sample: ""
cleared:
  description: Attachments cleared (or that would be, in check mode).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name of the VolumeAttachment.
      type: str
    node:
      description: Its node.
      type: str
    deleted:
      description: Whether the module deleted it (false when its deletion had been asked for already).
      type: bool
    marked_detached:
      description:
        - Whether the module marked it detached and removed the attacher's finalizer (the attacher had not detached
          it within O(detach_timeout)). In check mode, whether it would have to if the attacher does not detach it.
      type: bool
    remaining:
      description: Whether it is still there afterwards (another finalizer holds it).
      type: bool
  sample:
    - name: csi-5f1d3a0c9e
      node: node1
      deleted: false
      marked_detached: true
      remaining: false
kept:
  description: Attachments left alone because their node is Ready (or not the O(node) asked for), by name.
  returned: success
  type: list
  elements: str
  sample: []
annotations_removed:
  description: Whether the PersistentVolume's attachment annotations were removed because they named a cleared node.
  returned: success
  type: bool
  sample: false
"""

from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.kube_attachments import (
    Attachment,
    AttachmentApi,
    Clearing,
    NodeStatus,
    RefusedError,
    VolumeRecord,
    attacher_finalizer,
    plan_clearing,
)
from ansible_collections.srvlab.rds.plugins.module_utils.kube_volumes import (
    DRIVER_NAME,
    KUBERNETES_ARGUMENT_SPEC,
    KubeError,
    core_api,
)
from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, error_message, ssh_settings
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport

ARGUMENT_SPEC = argument_spec(
    {
        "volume_id": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "node": {"type": "str"},
        "force": {"type": "bool", "default": False},
        "detach_timeout": {"type": "int", "default": 30},
        "driver_name": {"type": "str", "default": DRIVER_NAME},
        **KUBERNETES_ARGUMENT_SPEC,
    }
)


def read_export(module: AnsibleModule) -> Tuple[Optional[List[str]], Optional[bool], str]:
    """The export's allowed host NQNs and enabled flag, or (None, None, why) when the RDS cannot tell."""
    params = module.params
    try:
        settings = ssh_settings(params)
    except InvalidValueError as error:
        module.fail_json(msg=error_message(error, params["host"]))
    transport = SshTransport(settings)
    try:
        disk = RdsClient(transport).get_disk(params["volume_id"])
    except LibraryError as error:
        why = error_message(error, params["host"])
        module.warn("The export of %s could not be read: %s" % (params["volume_id"], why))
        return None, None, why
    finally:
        transport.close()
    if disk is None:
        return None, None, "The RDS at %s has no disk with slot %s." % (params["host"], params["volume_id"])
    return list(disk.export.allowed_host_nqns), disk.export.enabled, ""


def clear(module: AnsibleModule, api: AttachmentApi, attachments: List[Attachment]) -> List[Clearing]:
    if module.check_mode:
        finalizer = attacher_finalizer(api.driver)
        return [
            Clearing(
                attachment,
                deleted=attachment.deletion_timestamp is None,
                marked_detached=finalizer in attachment.finalizers,
                remaining=any(name != finalizer for name in attachment.finalizers),
            )
            for attachment in attachments
        ]
    return [api.clear(attachment, float(module.params["detach_timeout"])) for attachment in attachments]


def run(module: AnsibleModule, api: AttachmentApi) -> Dict[str, Any]:
    params = module.params
    volume_id = params["volume_id"]
    volume: Optional[VolumeRecord] = api.volume(volume_id)
    attachments = api.attachments(volume.name) if volume is not None else []
    names = {attachment.node for attachment in attachments}
    if volume is not None and volume.attached_node:
        names.add(volume.attached_node)
    if params["node"]:
        names.add(params["node"])
    nodes: Dict[str, NodeStatus] = {name: api.node(name) for name in sorted(names)}
    clearing: List[Clearing] = []
    kept = attachments
    annotations_removed = False
    if params["state"] == "absent":
        targets, kept = plan_clearing(volume_id, attachments, nodes, params["node"], params["force"])
        clearing = clear(module, api, targets)
        cleared_nodes = {entry.attachment.node for entry in clearing if not entry.remaining}
        stays = {attachment.node for attachment in kept}
        if volume is not None and volume.attached_node in cleared_nodes - stays:
            annotations_removed = module.check_mode or api.forget_node(volume, volume.attached_node or "")
    allowed_hosts, export_enabled, rds_error = read_export(module)
    return {
        "changed": bool(clearing) or annotations_removed,
        "persistent_volume": volume.as_dict() if volume is not None else None,
        "attachments": [attachment.as_dict() for attachment in attachments],
        "nodes": {name: status.as_dict() for name, status in nodes.items()},
        "allowed_hosts": allowed_hosts,
        "export_enabled": export_enabled,
        "rds_error": rds_error,
        "cleared": [entry.as_dict() for entry in clearing],
        "kept": [attachment.name for attachment in kept],
        "annotations_removed": annotations_removed,
    }


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["detach_timeout"] < 0:
        module.fail_json(msg="detach_timeout must be zero or more seconds, got %d." % params["detach_timeout"])
    if params["force"] and not params["node"]:
        module.fail_json(
            msg="force=true needs node: name the one node whose attachment of %s is to be cleared although it is "
            "Ready; nothing was changed." % params["volume_id"]
        )
    try:
        api = AttachmentApi(
            core_api(params["kubeconfig"], params["context"], float(params["timeout"])),
            params["driver_name"],
            float(params["timeout"]),
        )
        result = run(module, api)
    except RefusedError as error:
        module.fail_json(msg=str(error))
    except KubeError as error:
        module.fail_json(
            msg="%s The attachments of %s were not (all) read or cleared; fix the cluster access and run again."
            % (error, params["volume_id"])
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
