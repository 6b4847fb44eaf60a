"""P-7.8: every event reason the driver has is posted where it happens, through the real interfaces
(the CSI socket, the test fabric, the emulator over SSH), to the Kubernetes API fake over HTTP with
the real ``kubernetes`` client; repeats bump one Event's count; an API that hangs never slows or
fails an RPC."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import grpc
import pytest
import yaml
from csi_helpers import (
    Csi,
    NodeHarness,
    NodeVolume,
    block,
    create_request,
    error_of,
    mount,
    node_publish,
    node_stage,
    publish_request,
)
from rds_csi import events, metrics
from rds_csi.claims import PVC_NAME_KEY, PVC_NAMESPACE_KEY
from rds_csi.proto import csi_pb2
from rds_emulator.faults import Fault, FaultKind

from tests.integration.kube_api_fake import KubeApiFake

pytestmark = pytest.mark.timeout(120)

WAIT = 10.0
POD = ("kube-system", "rds-csi-controller-0")


@dataclass
class Kube:
    fake: KubeApiFake
    kubeconfig: str

    def add_claim(self, namespace: str, name: str) -> str:
        """Store a PersistentVolumeClaim; returns the UID the fake gave it."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}}
        self.fake.put("v1/persistentvolumeclaims", namespace, name, body)
        return str(body["metadata"]["uid"])

    def add_bound_volume(self, volume_id: str, namespace: str, claim: str, uid: str) -> None:
        """A PV as the old driver's provisioning left it: named by the volume ID, bound to a claim."""
        self.fake.put(
            "v1/persistentvolumes",
            None,
            volume_id,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": volume_id},
                "spec": {
                    "csi": {"driver": "rds.csi.srvlab.io", "volumeHandle": volume_id},
                    "claimRef": {"kind": "PersistentVolumeClaim", "namespace": namespace, "name": claim, "uid": uid},
                },
            },
        )

    def events(self, reason: str) -> list[dict[str, Any]]:
        found = self.fake.objects()
        return [body for (kind, _ns, _name), body in found.items() if kind == "v1/events" and body["reason"] == reason]

    def wait_for(
        self, reason: str, count: int = 1, check: Callable[[dict[str, Any]], bool] = lambda event: True
    ) -> Any:
        """The one Event of ``reason`` once its count reaches ``count`` and ``check`` holds."""
        deadline = time.monotonic() + WAIT
        while True:
            found = self.events(reason)
            if len(found) == 1 and found[0]["count"] >= count and check(found[0]):
                return found[0]
            assert len(found) <= 1, "a repeat creates no second Event: %s" % found
            assert time.monotonic() < deadline, "no %s event with count %d: %s" % (reason, count, found)
            time.sleep(0.05)


def write_kubeconfig(url: str, path: Path) -> str:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "not-checked"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return str(path)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[Kube]:
    fake = KubeApiFake().start()
    fake.put("v1/nodes", None, "node-a", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}})
    yield Kube(fake, str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    fake.stop()


@pytest.fixture
def silent_api(tmp_path: Path) -> Iterator[str]:
    """A kubeconfig whose API server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield write_kubeconfig("http://127.0.0.1:%d" % listener.getsockname()[1], tmp_path / "silent-kubeconfig")
    listener.close()


def posted(reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("rds_csi_events_posted_total", {"reason": reason}) or 0.0


def failed(reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("rds_csi_events_failed_total", {"reason": reason}) or 0.0


def claimed_volume(
    harness: NodeHarness, name: str, capability: Any, claim: Optional[tuple[str, str]], publish: bool = True
) -> NodeVolume:
    """A volume created as the external-provisioner with --extra-create-metadata creates it (``claim``:
    namespace and name), or as the old driver's PVs were (None), then published to node-a (without
    ``publish``, the node stages it from its volume_context alone)."""
    controller = harness.csi.controller
    parameters = {PVC_NAMESPACE_KEY: claim[0], PVC_NAME_KEY: claim[1]} if claim else {}
    volume = controller.CreateVolume(create_request(name, capability=capability, parameters=parameters)).volume
    published = csi_pb2.ControllerPublishVolumeResponse()
    if publish:
        published = controller.ControllerPublishVolume(
            csi_pb2.ControllerPublishVolumeRequest(
                volume_id=volume.volume_id, node_id="node-a", volume_capability=capability
            )
        )
    staging = harness.work / "plugins" / "staging" / volume.volume_id
    target_parent = harness.work / "pods" / volume.volume_id / "volumes"
    staging.mkdir(parents=True)
    target_parent.mkdir(parents=True)
    return NodeVolume(
        harness=harness,
        id=volume.volume_id,
        publish_context=dict(published.publish_context),
        volume_context=dict(volume.volume_context),
        staging=str(staging),
        target=str(target_parent / "target"),
    )


def on_claim(event: dict[str, Any], namespace: str, name: str, uid: str) -> bool:
    involved = event["involvedObject"]
    return (involved["kind"], involved.get("namespace"), involved["name"], involved.get("uid")) == (
        "PersistentVolumeClaim",
        namespace,
        name,
        uid,
    )


def test_create_volume_keeps_the_claim_in_the_context(csi: Csi) -> None:
    claim = {PVC_NAMESPACE_KEY: "apps", PVC_NAME_KEY: "data"}
    created = csi.controller.CreateVolume(create_request("pvc-with-claim", parameters=claim)).volume
    assert {key: created.volume_context[key] for key in claim} == claim
    again = csi.controller.CreateVolume(create_request("pvc-with-claim", parameters=claim)).volume
    assert dict(again.volume_context) == dict(created.volume_context)
    listed = csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries[0].volume
    assert PVC_NAME_KEY not in listed.volume_context, "ListVolumes rebuilds the context from the RDS alone"


def test_connection_failure_repeats_bump_one_event_then_recovery(
    start_node_driver: Callable[..., NodeHarness], kube: Kube
) -> None:
    uid = kube.add_claim("apps", "data")
    harness = start_node_driver(kubeconfig=kube.kubeconfig)
    volume = claimed_volume(harness, "pvc-connect", mount(), ("apps", "data"))
    request = node_stage(volume, mount())
    request.publish_context["nvmePort"] = "4421"  # no export listens there: the connect is refused
    before = posted("ConnectionFailure")
    for attempt in range(3):
        code, message = error_of(lambda: harness.csi.node.NodeStageVolume(request))
        assert code == grpc.StatusCode.UNAVAILABLE and "4421" in message
        event = kube.wait_for("ConnectionFailure", count=attempt + 1)
    assert on_claim(event, "apps", "data", uid) and event["type"] == "Warning" and "4421" in event["message"]
    assert event["source"] == {"component": "rds.csi.srvlab.io", "host": "node-a"}
    assert event["firstTimestamp"] <= event["lastTimestamp"]
    assert posted("ConnectionFailure") - before == 3, "a create and two count bumps are three posts"
    assert not kube.events("ConnectionRecovery")

    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    recovery = kube.wait_for("ConnectionRecovery")
    assert on_claim(recovery, "apps", "data", uid) and recovery["type"] == "Normal"
    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    time.sleep(0.5)
    assert kube.wait_for("ConnectionRecovery")["count"] == 1, "a connect after a success recovers nothing"


def test_mount_failure_on_the_claim(start_node_driver: Callable[..., NodeHarness], kube: Kube) -> None:
    uid = kube.add_claim("apps", "journal")
    harness = start_node_driver(kubeconfig=kube.kubeconfig)
    refused = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4", mount_flags=["data=journal", "delalloc"]),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
    )
    volume = claimed_volume(harness, "pvc-mount-refused", refused, ("apps", "journal"))
    code, _message = error_of(lambda: harness.csi.node.NodeStageVolume(node_stage(volume, refused)))
    assert code != grpc.StatusCode.OK
    event = kube.wait_for("MountFailure")
    assert on_claim(event, "apps", "journal", uid) and event["type"] == "Warning"
    assert "NodeStageVolume" in event["message"] and volume.staging in event["message"]


def test_stale_mount_of_an_old_pv_goes_on_its_claim_ref(
    start_node_driver: Callable[..., NodeHarness], kube: Kube
) -> None:
    """A PV of the old driver has no claim keys in its context: the claim comes from the PV's claimRef."""
    harness = start_node_driver(kubeconfig=kube.kubeconfig)
    # The PV exists before the attach, as in a cluster: the controller's VolumeAttached event asks for the
    # claim at publish, and this process (mode all) keeps that answer.
    volume = claimed_volume(harness, "pvc-old-stale", mount(), None, publish=False)
    kube.add_bound_volume(volume.id, "legacy", "old-data", "uid-from-claim-ref")
    published = harness.csi.controller.ControllerPublishVolume(publish_request(volume.id, "node-a", mount()))
    volume.publish_context = dict(published.publish_context)
    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    harness.csi.node.NodePublishVolume(node_publish(volume, mount()))
    stats = csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=volume.target)
    harness.fabric.lose_controller(volume.nqn)
    before = posted("StaleMountDetected")
    for _poll in range(3):
        assert harness.csi.node.NodeGetVolumeStats(stats).volume_condition.abnormal
    event = kube.wait_for("StaleMountDetected", count=3)
    assert on_claim(event, "legacy", "old-data", "uid-from-claim-ref") and volume.id in event["message"]
    assert posted("StaleMountDetected") - before == 3
    other_target = str(Path(volume.target).parent / "second")
    code, _message = error_of(
        lambda: harness.csi.node.NodePublishVolume(node_publish(volume, mount(), target=other_target))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert kube.wait_for("StaleMountDetected", count=4)["count"] == 4, "NodePublishVolume reports it too"


def test_orphans_go_on_their_claim_or_on_the_node(start_node_driver: Callable[..., NodeHarness], kube: Kube) -> None:
    harness = start_node_driver()
    with_pv = NodeVolume.create(harness, "pvc-orphan-bound", block())
    without_pv = NodeVolume.create(harness, "pvc-orphan-unbound", block())
    kube.add_bound_volume(with_pv.id, "apps", "cache", "uid-cache")
    for volume in (with_pv, without_pv):
        harness.csi.node.NodeStageVolume(node_stage(volume, block()))
        harness.fabric.remove_device(volume.nqn)  # connected, its namespace gone: an orphan
    start_node_driver(kubeconfig=kube.kubeconfig)  # a node start cleans them

    for reason in ("OrphanDetected", "OrphanCleaned"):
        deadline = time.monotonic() + WAIT
        while len(kube.events(reason)) < 2:
            assert time.monotonic() < deadline, kube.events(reason)
            time.sleep(0.05)
        by_kind = {event["involvedObject"]["kind"]: event for event in kube.events(reason)}
        assert on_claim(by_kind["PersistentVolumeClaim"], "apps", "cache", "uid-cache")
        assert with_pv.nqn in by_kind["PersistentVolumeClaim"]["message"]
        node = by_kind["Node"]
        assert node["involvedObject"] == {"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "node-a"}
        assert node["metadata"]["namespace"] == "default" and without_pv.nqn in node["message"]
    assert {event["type"] for event in kube.events("OrphanDetected")} == {"Warning"}
    assert {event["type"] for event in kube.events("OrphanCleaned")} == {"Normal"}


def test_rds_disconnect_and_reconnect_on_the_controller_pod(start_driver: Any, emulator: Any, kube: Kube) -> None:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RetryPolicy

    namespace, name = POD
    kube.fake.put("v1/pods", namespace, name, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}})
    pod_uid = kube.fake.objects()["v1/pods", namespace, name]["metadata"]["uid"]
    csi = start_driver(
        retry=RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1),
        kubeconfig=kube.kubeconfig,
        pod_name=name,
        pod_namespace=namespace,
    )
    csi.controller.CreateVolume(create_request("pvc-before-outage"))
    emulator.set_faults([Fault(FaultKind.REBOOT, seconds=3.0)])
    code, _message = error_of(lambda: csi.controller.CreateVolume(create_request("pvc-during-outage")))
    assert code == grpc.StatusCode.UNAVAILABLE
    disconnected = kube.wait_for("RDSDisconnected")
    pod = {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": namespace, "uid": pod_uid}
    assert disconnected["involvedObject"] == pod and disconnected["type"] == "Warning"
    assert "unreachable" in disconnected["message"]
    deadline = time.monotonic() + 20
    while True:
        try:
            csi.controller.CreateVolume(create_request("pvc-during-outage"))
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
            time.sleep(0.2)
    reconnected = kube.wait_for("RDSReconnected")
    assert reconnected["involvedObject"] == pod and reconnected["type"] == "Normal"
    assert kube.wait_for("RDSDisconnected")["count"] == 1, "one event per transition, not per failed call"


def test_a_hanging_api_never_slows_or_fails_an_rpc(
    start_node_driver: Callable[..., NodeHarness], silent_api: str
) -> None:
    # Staged without ControllerPublish, which storage fencing would refuse at the appliance: fencing off.
    harness = start_node_driver(kubeconfig=silent_api, storage_fencing=False)
    # Not published: ControllerPublishVolume asks the API whether the node exists (and fails closed).
    volume = claimed_volume(harness, "pvc-silent-api", mount(), ("apps", "data"), publish=False)
    request = node_stage(volume, mount())
    request.volume_context["nvmePort"] = "4421"
    before = failed("ConnectionFailure")
    for _attempt in range(3):
        started = time.monotonic()
        code, _message = error_of(lambda: harness.csi.node.NodeStageVolume(request))
        assert code == grpc.StatusCode.UNAVAILABLE, "the same status as with a working API"
        assert time.monotonic() - started < 2.0, "the RPC never waits for the API"
    started = time.monotonic()
    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    assert time.monotonic() - started < 10.0
    deadline = time.monotonic() + 30
    while failed("ConnectionFailure") - before < 1:
        assert time.monotonic() < deadline, "a post that timed out is counted as failed"
        time.sleep(0.2)


# The recorder itself, against the fake and against APIs that refuse or hang.


def noted_recorder(kubeconfig: str, volume_id: str, namespace: str, claim: str) -> events.Recorder:
    recorder = events.Recorder(events.KubeApi(kubeconfig), host="node-a", node_name="node-a")
    recorder.claims.note(volume_id, {PVC_NAMESPACE_KEY: namespace, PVC_NAME_KEY: claim})
    return recorder


def test_the_spam_filter_holds_back_a_flood(kube: Kube) -> None:
    uid = kube.add_claim("apps", "noisy")
    recorder = noted_recorder(kube.kubeconfig, "pvc-noisy", "apps", "noisy")
    writes, before = kube.fake.writes, posted("MountFailure")
    for _repeat in range(30):
        recorder.on_volume("pvc-noisy", events.MOUNT_FAILURE, "the same failure")
    recorder.stop(WAIT)
    [event] = kube.events("MountFailure")
    assert on_claim(event, "apps", "noisy", uid)
    assert event["count"] == events.SPAM_BURST, "a burst of 25 per object, then one per 5 minutes"
    assert kube.fake.writes - writes == events.SPAM_BURST and posted("MountFailure") - before == events.SPAM_BURST


def test_a_bump_of_an_expired_event_creates_it_again(kube: Kube) -> None:
    from kubernetes import client, config

    kube.add_claim("apps", "expiring")
    recorder = noted_recorder(kube.kubeconfig, "pvc-expiring", "apps", "expiring")
    recorder.on_volume("pvc-expiring", events.MOUNT_FAILURE, "mount refused")
    first = kube.wait_for("MountFailure")
    configuration = client.Configuration()
    config.load_kube_config(config_file=kube.kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    api = client.CoreV1Api(client.ApiClient(configuration))
    api.delete_namespaced_event(first["metadata"]["name"], "apps")  # what the API server's TTL does after an hour
    recorder.on_volume("pvc-expiring", events.MOUNT_FAILURE, "mount refused")
    recorder.stop(WAIT)
    [again] = kube.events("MountFailure")
    assert again["metadata"]["name"] == first["metadata"]["name"] and again["count"] == 2


def test_similar_events_are_combined(kube: Kube) -> None:
    kube.add_claim("apps", "varied")
    recorder = noted_recorder(kube.kubeconfig, "pvc-varied", "apps", "varied")
    for number in range(12):
        recorder.on_volume("pvc-varied", events.CONNECTION_FAILURE, "failure number %d" % number)
    recorder.stop(WAIT)
    found = kube.events("ConnectionFailure")
    combined = [event for event in found if event["message"].startswith(events.COMBINED)]
    assert len(found) == events.SIMILAR_LIMIT and len(combined) == 1
    assert combined[0]["count"] == 3 and combined[0]["message"].endswith("failure number 11")


def test_a_refusing_api_is_logged_once_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    recorder = noted_recorder(write_kubeconfig("http://127.0.0.1:%d" % port, tmp_path / "kc"), "pvc-x", "apps", "x")
    before = failed("OrphanCleaned")
    for number in range(3):
        recorder.on_volume("pvc-x", events.ORPHAN_CLEANED, "cleaned %d" % number)
    recorder.stop(WAIT)
    assert failed("OrphanCleaned") - before == 3
    warnings = [record for record in caplog.records if record.getMessage() == "events cannot be posted"]
    assert len(warnings) == 1, "once per transition, not once per event"


def test_stop_keeps_to_its_deadline_with_a_hanging_api(silent_api: str, driver_config: Any) -> None:
    import dataclasses

    from rds_csi.server import Driver

    recorder = noted_recorder(silent_api, "pvc-y", "apps", "y")
    before = failed("StaleMountDetected")
    started = time.monotonic()
    for number in range(events.QUEUE_SIZE + 5):
        recorder.on_volume("pvc-y", events.STALE_MOUNT_DETECTED, "stale %d" % number)
    assert time.monotonic() - started < 1.0, "posting only queues"
    assert failed("StaleMountDetected") - before >= 4, "past the bound the queue drops events, counted"
    started = time.monotonic()
    recorder.stop(1.0)
    assert time.monotonic() - started < 1.5

    config = dataclasses.replace(
        driver_config, kubeconfig=silent_api, pod_name=POD[1], pod_namespace=POD[0], metrics=False, mode="controller"
    )
    driver = Driver(config)
    driver.start()
    driver.events.on_pod(events.RDS_RECONNECTED, "queued while the API hangs")
    started = time.monotonic()
    driver.stop(grace=1.0)
    assert time.monotonic() - started < 2.5, "Driver.stop posts events within its grace only"
