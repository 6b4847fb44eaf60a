"""The event rules without I/O: client-go's aggregation, count bumps and spam filter (events.Correlator),
the claim a context or a PV names (claims), and the claim keys CreateVolume keeps in the context."""

from __future__ import annotations

from typing import Optional

from rds_csi import events
from rds_csi.claims import PVC_NAME_KEY, PVC_NAMESPACE_KEY, Claim, Claims, claim_of, volume_id_of
from rds_csi.events import COMBINED, Correlator, ObjectRef, Occurrence, Write
from rds_csi.params import parse_params

CLAIM = ObjectRef("PersistentVolumeClaim", "data", "apps", "uid-1")
OTHER = ObjectRef("PersistentVolumeClaim", "logs", "apps", "uid-2")
START = 1_800_000_000.0


def occurrence(
    message: str, at: float, subject: ObjectRef = CLAIM, reason: events.Reason = events.MOUNT_FAILURE
) -> Occurrence:
    return Occurrence(subject, reason, message, at)


def sent(correlator: Correlator, item: Occurrence) -> Write:
    write = correlator.correlate(item)
    assert write is not None, "the spam filter held back %s" % item
    return write


def test_a_repeat_bumps_the_count_of_the_same_event() -> None:
    correlator = Correlator("rds.csi.srvlab.io", "node-a")
    first = sent(correlator, occurrence("mount failed", START))
    assert not first.bump and first.event["count"] == 1
    assert first.namespace == "apps" and first.name.startswith("data.")
    assert first.event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "name": "data",
        "namespace": "apps",
        "uid": "uid-1",
    }
    assert first.event["source"] == {"component": "rds.csi.srvlab.io", "host": "node-a"}
    assert first.event["type"] == "Warning" and first.event["reason"] == "MountFailure"
    second = sent(correlator, occurrence("mount failed", START + 30))
    assert second.bump and second.name == first.name
    assert second.patch() == {"count": 2, "lastTimestamp": events.timestamp(START + 30), "message": "mount failed"}
    assert second.event["firstTimestamp"] == first.event["firstTimestamp"]
    other = sent(correlator, occurrence("another failure", START + 31))
    assert not other.bump and other.name != first.name, "another message is another event"
    elsewhere = sent(correlator, occurrence("mount failed", START + 32, subject=OTHER))
    assert not elsewhere.bump, "the same message on another object is another event"


def test_similar_messages_are_combined_past_the_limit() -> None:
    correlator = Correlator("rds.csi.srvlab.io", "node-a")
    writes = [sent(correlator, occurrence("failure %d" % number, START + number)) for number in range(12)]
    singles, combined = writes[: events.SIMILAR_LIMIT - 1], writes[events.SIMILAR_LIMIT - 1 :]
    assert len({write.name for write in singles}) == len(singles) and not any(write.bump for write in singles)
    assert len({write.name for write in combined}) == 1, "one combined event from the limit on"
    assert [write.event["count"] for write in combined] == [1, 2, 3]
    assert combined[-1].event["message"] == COMBINED + "failure 11"
    other_reason = sent(correlator, occurrence("failure 0", START + 20, reason=events.CONNECTION_FAILURE))
    assert not other_reason.bump and other_reason.event["message"] == "failure 0", "another reason is not similar"
    later = sent(correlator, occurrence("failure 99", START + 12 + events.SIMILAR_WINDOW + 1))
    assert later.event["message"] == "failure 99", "past the window the messages count afresh"


def test_spam_filter_allows_a_burst_per_object_then_one_per_refill() -> None:
    correlator = Correlator("rds.csi.srvlab.io", "node-a")
    accepted = [correlator.correlate(occurrence("stale", START + number * 0.01)) for number in range(30)]
    assert sum(write is not None for write in accepted) == events.SPAM_BURST
    assert all(write is None for write in accepted[events.SPAM_BURST :])
    assert sent(correlator, occurrence("stale", START + 1, subject=OTHER)).event["count"] == 1, "per object"
    refilled = correlator.correlate(occurrence("stale", START + 1 + events.SPAM_REFILL))
    assert refilled is not None and refilled.event["count"] == 31, "held-back repeats still count"
    assert correlator.correlate(occurrence("stale", START + 2 + events.SPAM_REFILL)) is None


def test_cluster_scoped_objects_have_their_events_in_default() -> None:
    write = sent(
        Correlator("rds.csi.srvlab.io", "node-a"), occurrence("orphan", START, subject=events.node_ref("node-a"))
    )
    assert write.namespace == "default"
    assert write.event["involvedObject"] == {"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "node-a"}


def test_a_long_message_is_cut() -> None:
    write = sent(Correlator("rds.csi.srvlab.io", "node-a"), occurrence("x" * 5000, START))
    assert len(write.event["message"]) == events.MESSAGE_LIMIT


def test_claim_keys_and_nqns() -> None:
    assert claim_of({PVC_NAME_KEY: "data", PVC_NAMESPACE_KEY: "apps"}) == Claim("apps", "data")
    assert claim_of({PVC_NAME_KEY: "data"}) is None
    assert volume_id_of("nqn.2000-02.com.mikrotik:pvc-1234") == "pvc-1234"
    assert volume_id_of("nqn.2014-08.org.nvmexpress:uuid:1") is None
    params = parse_params(
        {PVC_NAME_KEY: "data", PVC_NAMESPACE_KEY: "apps"}, "/storage-pool/metal-csi", "10.0.0.5", 4420
    )
    context = params.context("nqn.2000-02.com.mikrotik:pvc-1")
    assert context[PVC_NAME_KEY] == "data" and context[PVC_NAMESPACE_KEY] == "apps"
    without = parse_params({}, "/storage-pool/metal-csi", "10.0.0.5", 4420).context("nqn.2000-02.com.mikrotik:pvc-1")
    assert PVC_NAME_KEY not in without


class CountingReader:
    """A ClaimReader that answers from a table and counts the questions; ``down`` makes it raise."""

    def __init__(self, refs: dict[str, Claim], uids: dict[tuple[str, str], str]) -> None:
        self.refs, self.uids = refs, uids
        self.asked = 0
        self.down = False

    def claim_ref(self, volume_id: str) -> Optional[Claim]:
        self._ask()
        return self.refs.get(volume_id)

    def claim_uid(self, claim: Claim) -> str:
        self._ask()
        return self.uids.get((claim.namespace, claim.name), "")

    def _ask(self) -> None:
        self.asked += 1
        if self.down:
            raise ConnectionError("API down")


def test_claims_are_asked_until_answered_then_cached() -> None:
    reader = CountingReader({"pvc-old": Claim("apps", "old", "uid-old")}, {("apps", "new"): "uid-new"})
    claims = Claims(reader)
    assert claims.of("pvc-old") == Claim("apps", "old", "uid-old")
    assert claims.of("pvc-old") == Claim("apps", "old", "uid-old") and reader.asked == 1
    assert claims.of("pvc-none") is None and claims.of("pvc-none") is None and reader.asked == 2
    claims.note("pvc-new", {PVC_NAME_KEY: "new", PVC_NAMESPACE_KEY: "apps"})
    reader.down = True
    assert claims.of("pvc-new") == Claim("apps", "new"), "what the context said, while the API is down"
    reader.down = False
    assert claims.of("pvc-new") == Claim("apps", "new", "uid-new")
    asked = reader.asked
    assert claims.of("pvc-new") == Claim("apps", "new", "uid-new") and reader.asked == asked
    assert Claims(None).of("pvc-old") is None, "without an API only contexts name claims"
