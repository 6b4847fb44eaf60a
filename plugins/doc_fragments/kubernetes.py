# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches the Kubernetes API (KUBERNETES_ARGUMENT_SPEC in plugins/module_utils/kube_volumes.py).
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Kubeconfig file. Omitted, the in-cluster service account is used when running in a pod, otherwise the default
        kubeconfig (E(KUBECONFIG) or C(~/.kube/config)).
    type: path
  context:
    description:
      - Kubeconfig context to use.
    type: str
"""
