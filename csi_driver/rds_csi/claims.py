"""Which PersistentVolumeClaim a volume belongs to, for the events posted on it (P-7.8).

CreateVolume keeps the claim's name and namespace in the volume_context (the external-provisioner
passes them as parameters when it runs with ``--extra-create-metadata``), so every later RPC that
carries the context knows the claim. A PV of the old driver has no such keys: its claim is read
from the PV's ``spec.claimRef`` (the PV's name is the volume ID), once per volume. The claim's UID,
which ``kubectl describe pvc`` matches events by, comes from the claimRef or from reading the claim.

Lookups run on the event recorder's own thread, never on an RPC's.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Optional, Protocol

from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import NQN_BASE

LOG = logging.getLogger("rds_csi.events")
PVC_NAME_KEY = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE_KEY = "csi.storage.k8s.io/pvc/namespace"
# Volumes whose claim is remembered; a node holds far fewer at once, the oldest answer is forgotten first.
CACHE_SIZE = 4096


@dataclass(frozen=True)
class Claim:
    namespace: str
    name: str
    uid: str = ""


class ClaimReader(Protocol):
    """What the cluster says. Each raises when the API gives no answer (unreachable, refusing)."""

    def claim_ref(self, volume_id: str) -> Optional[Claim]:
        """The claimRef of the PV named ``volume_id``; None when there is no such PV or it has no claim."""

    def claim_uid(self, claim: Claim) -> str:
        """The claim's UID; "" when there is no such claim."""


@dataclass(frozen=True)
class _Entry:
    claim: Optional[Claim]
    settled: bool  # the cluster has answered everything there is to ask about it


def claim_of(context: Mapping[str, str]) -> Optional[Claim]:
    """The claim named in CreateVolume's parameters or a volume_context; None without both keys."""
    name, namespace = context.get(PVC_NAME_KEY, ""), context.get(PVC_NAMESPACE_KEY, "")
    return Claim(namespace, name) if name and namespace else None


def volume_id_of(nqn: str) -> Optional[str]:
    """The volume (and PV) name behind a subsystem NQN of the driver's form, None for any other NQN."""
    return nqn[len(NQN_BASE) :] if nqn.startswith(NQN_BASE) and len(nqn) > len(NQN_BASE) else None


class Claims:
    """The claim of each volume this process has heard of, from a context or from the cluster."""

    def __init__(self, reader: Optional[ClaimReader]) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self._known: OrderedDict[str, _Entry] = OrderedDict()

    def note(self, volume_id: str, context: Mapping[str, str]) -> None:
        """Remember the claim a volume_context names (cheap: RPCs call it)."""
        claim = claim_of(context)
        if claim is None:
            return
        with self._lock:
            entry = self._known.get(volume_id)
            known = entry.claim if entry is not None else None
            if known is None or (known.namespace, known.name) != (claim.namespace, claim.name):
                self._remember(volume_id, _Entry(claim, settled=False))

    def of(self, volume_id: str) -> Optional[Claim]:
        """The volume's claim, with its UID when the cluster has one. The cluster is asked until it
        answers, then never again for this volume; without an answer, what is known so far."""
        with self._lock:
            entry = self._known.get(volume_id)
        known = entry.claim if entry is not None else None
        if self._reader is None or (entry is not None and entry.settled):
            return known
        try:
            claim = known if known is not None else self._reader.claim_ref(volume_id)
            if claim is not None and not claim.uid:
                claim = replace(claim, uid=self._reader.claim_uid(claim))
        except Exception as error:  # the API's failure is the recorder's to report; keep what is known
            LOG.debug("claim lookup failed", extra={"fields": {"volume_id": volume_id, "error": str(error)}})
            return known
        with self._lock:
            self._remember(volume_id, _Entry(claim, settled=True))
        return claim

    def _remember(self, volume_id: str, entry: _Entry) -> None:
        self._known[volume_id] = entry
        self._known.move_to_end(volume_id)
        while len(self._known) > CACHE_SIZE:
            self._known.popitem(last=False)
