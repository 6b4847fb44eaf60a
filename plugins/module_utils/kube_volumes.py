# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The volume handles of a CSI driver's PersistentVolumes, read with the ``kubernetes`` client."""

from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Set

try:
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config

    KUBERNETES_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:  # the ansible-test import sanity check runs without it
    KUBERNETES_IMPORT_ERROR = import_error

DRIVER_NAME = "rds.csi.srvlab.io"
PAGE_SIZE = 500


class KubeError(Exception):
    """The cluster could not be asked for its PersistentVolumes."""


# The options of a module that reads the Kubernetes API (documented by doc_fragments/kubernetes.py).
KUBERNETES_ARGUMENT_SPEC = {
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
}


def core_api(kubeconfig: Optional[str], context: Optional[str], timeout: float) -> Any:
    """A CoreV1Api from a kubeconfig file, the in-cluster service account, or the default kubeconfig."""
    if KUBERNETES_IMPORT_ERROR is not None:
        raise KubeError("The kubernetes Python package is required: %s" % KUBERNETES_IMPORT_ERROR)
    configuration = kube_client.Configuration()
    try:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
    except Exception as error:  # the loaders raise ConfigException, OSError, yaml errors
        raise KubeError("Cannot load the Kubernetes configuration (kubeconfig=%s): %s" % (kubeconfig, error)) from error
    configuration.retries = 2
    api = kube_client.CoreV1Api(kube_client.ApiClient(configuration))
    api.api_client.rest_client.pool_manager.connection_pool_kw["timeout"] = timeout
    return api


def storage_api(core: Any) -> Any:
    """A StorageV1Api on the connection of a CoreV1Api from ``core_api``."""
    return kube_client.StorageV1Api(core.api_client)


def driver_volumes(api: Any, driver: str = DRIVER_NAME, timeout: float = 30.0) -> Iterator[Any]:
    """Every PersistentVolume of ``driver`` (with a volume handle), whatever its phase, read page by page."""
    token = None
    while True:
        try:
            page = api.list_persistent_volume(limit=PAGE_SIZE, _continue=token, _request_timeout=timeout)
        except Exception as error:  # ApiException, urllib3 errors
            raise KubeError("Cannot list PersistentVolumes: %s" % error) from error
        for volume in page.items or []:
            csi = volume.spec.csi if volume.spec is not None else None
            if csi is not None and csi.driver == driver and csi.volume_handle:
                yield volume
        token = page.metadata._continue if page.metadata is not None else None
        if not token:
            return


def volume_handles(api: Any, driver: str = DRIVER_NAME, timeout: float = 30.0) -> Set[str]:
    """Volume handles of every PersistentVolume of ``driver``, whatever its phase."""
    return {volume.spec.csi.volume_handle for volume in driver_volumes(api, driver, timeout)}
