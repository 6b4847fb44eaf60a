"""P-9.3 and P-9.1 proven in CI: a real Prometheus (Debian's ``prometheus``) on loopback scrapes a
running controller (on the emulator) and a node plugin (on the test fabric), each its own process as
in a cluster, both posting events to the Kubernetes API fake. After a short volume lifecycle every
query of every panel of the shipped Grafana dashboard must return series, and ``promtool check
metrics`` must accept both endpoints' output. The dashboard's layout and data source rules are
checked without any of that."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX
from csi_helpers import (
    GIB,
    Csi,
    NodeHarness,
    NodeVolume,
    free_port,
    mount,
    node_publish,
    node_stage,
    node_unpublish,
    node_unstage,
)
from rds_csi.proto import csi_pb2, csi_pb2_grpc, health_pb2_grpc
from rds_csi.topology import host_segments
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from tests.integration.kube_api_fake import KubeApiFake

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "roles" / "csi_driver" / "files" / "grafana" / "rds-csi-driver.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 41  # Grafana 12's classic dashboard schema; later versions migrate it on import
GRID_COLUMNS = 24
SCRAPE_INTERVAL = 1
# What Grafana substitutes for its macros; each window covers the whole run, as a dashboard looking at
# the last minutes would.
MACROS = {"$__rate_interval": "2m", "$__interval": "15s", "$__range": "5m"}
NODE_ID = "node-a"
NAMESPACE = "apps"
PVC_NAME_KEY = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE_KEY = "csi.storage.k8s.io/pvc/namespace"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
WAIT_TIMEOUT = 60.0


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return dashboard


def panels_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included; rows themselves are not panels."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def grafana_expr(expr: str) -> str:
    """The PromQL Grafana sends for ``expr``: its macros replaced (longest name first)."""
    for macro in sorted(MACROS, key=len, reverse=True):
        expr = expr.replace(macro, MACROS[macro])
    return expr


# The dashboard itself


def test_dashboard_uses_the_datasource_variable_everywhere() -> None:
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels_of(dashboard):
        assert panel["datasource"] == DATASOURCE, "panel %r: use the ${datasource} variable" % panel["title"]
        assert panel["targets"], "panel %r has no query" % panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, "panel %r, query %s" % (panel["title"], target["refId"])
            assert target["expr"].strip(), "panel %r, query %s is empty" % (panel["title"], target["refId"])
    stored = [value for value in datasources(dashboard) if value != DATASOURCE]
    assert not stored, "data sources other than the ${datasource} variable: %s" % stored


def datasources(node: Any) -> list[Any]:
    """Every ``datasource`` value anywhere in the dashboard."""
    if isinstance(node, list):
        return [found for item in node for found in datasources(item)]
    if not isinstance(node, dict):
        return []
    found = [node["datasource"]] if "datasource" in node else []
    return found + [item for value in node.values() for item in datasources(value)]


def test_dashboard_panels_do_not_overlap() -> None:
    dashboard = load_dashboard()
    every = dashboard["panels"] + [item for row in dashboard["panels"] for item in row.get("panels", [])]
    ids = [panel["id"] for panel in every]
    assert len(ids) == len(set(ids)), "panel IDs are unique"
    cells: dict[tuple[int, int], str] = {}
    for panel in every:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, "%r overlaps %r at column %d, row %d" % (panel["title"], cells[x, y], x, y)
                cells[x, y] = panel["title"]


# The running driver


@dataclass
class DriverProcess:
    process: subprocess.Popen[bytes]
    channel: grpc.Channel
    metrics_port: int
    log: Path

    @property
    def metrics_url(self) -> str:
        return "http://127.0.0.1:%d/metrics" % self.metrics_port

    def scrape(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as answer:
            return str(answer.read().decode("utf-8"))


@dataclass
class Stack:
    """The controller and the node plugin as processes; their stubs, the emulator and the fabric."""

    controller: DriverProcess
    node: DriverProcess
    harness: NodeHarness
    kube: KubeApiFake
    kube_running: bool = True

    @property
    def csi(self) -> Csi:
        return self.harness.csi

    def stop_kube_api(self) -> None:
        self.kube.stop()
        self.kube_running = False


def driver_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RDS_CSI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "csi_driver"), str(REPO / "build" / "collections")])
    return env


def start_driver_process(name: str, work: Path, arguments: list[str]) -> DriverProcess:
    """``python -m rds_csi`` with ``arguments``; returns once it serves gRPC and metrics."""
    socket_path = work / ("%s.sock" % name)
    port = free_port()
    log = work / ("%s.log" % name)
    command = [sys.executable, "-m", "rds_csi", "--endpoint=unix://%s" % socket_path, "--metrics-address=127.0.0.1"]
    command += ["--metrics-port=%d" % port, *arguments]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=driver_env(), stderr=sink)
    channel = grpc.insecure_channel("unix:%s" % socket_path)
    driver = DriverProcess(process, channel, port, log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            stop_driver_process(driver)
            raise AssertionError("the %s exited with %s:\n%s" % (name, process.returncode, log.read_text()))
        try:
            grpc.channel_ready_future(channel).result(timeout=1)
            driver.scrape()
            return driver
        except (grpc.FutureTimeoutError, OSError):
            if time.monotonic() > deadline:
                stop_driver_process(driver)
                raise AssertionError(
                    "the %s did not serve within %.0f s:\n%s" % (name, START_TIMEOUT, log.read_text())
                ) from None


def stop_driver_process(driver: DriverProcess) -> None:
    driver.channel.close()
    if driver.process.poll() is None:
        driver.process.send_signal(signal.SIGTERM)
    try:
        driver.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        driver.process.kill()
        driver.process.wait(STOP_TIMEOUT)


@pytest.fixture
def stack(driver_config: Any, emulator: EmulatorServer, node_fabric: Any, tmp_path: Path) -> Iterator[Stack]:
    kube = KubeApiFake().start()
    started: list[DriverProcess] = []
    running = None
    try:
        labels = host_segments(node_fabric.config.hostnqn)  # as kubelet copies the node plugin's topology
        kube.put(
            "v1/nodes",
            None,
            NODE_ID,
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE_ID, "labels": labels}},
        )
        shared = ["--kubeconfig=%s" % kube.write_kubeconfig(tmp_path / "kubeconfig"), "--pod-namespace=kube-system"]
        controller = [
            "--mode=controller",
            "--pod-name=rds-csi-controller-0",
            "--rds-address=%s" % driver_config.rds_address,
            "--rds-port=%d" % driver_config.rds_port,
            "--rds-key-file=%s" % driver_config.rds_key_file,
            "--rds-host-key=%s" % driver_config.rds_host_key,
            "--rds-connect-timeout=3",
            "--nvme-address=%s" % driver_config.nvme_address,
            "--appliance-metrics-interval=1",
        ]
        started.append(start_driver_process("controller", tmp_path, shared + controller))
        host_nqn_file = tmp_path / "node" / "hostnqn"
        host_nqn_file.write_text(node_fabric.config.hostnqn + "\n")
        node = [
            "--mode=node",
            "--pod-name=rds-csi-node-a",
            "--node-id=%s" % NODE_ID,
            "--managed-nqn-prefix=%s" % DEFAULT_NQN_PREFIX,
            "--nvme-binary=%s" % node_fabric.write_nvme_executable(tmp_path / "node" / "bin" / "nvme"),
            "--sysfs-root=%s" % node_fabric.config.sysfs_root,
            "--dev-root=%s" % node_fabric.config.dev_root,
            "--host-nqn-file=%s" % host_nqn_file,
            "--device-wait-timeout=10",
        ]
        started.append(start_driver_process("node", tmp_path, shared + node))
        csi = Csi(
            identity=csi_pb2_grpc.IdentityStub(started[1].channel),
            controller=csi_pb2_grpc.ControllerStub(started[0].channel),
            node=csi_pb2_grpc.NodeStub(started[1].channel),
            health=health_pb2_grpc.HealthStub(started[1].channel),
            emulator=emulator,
            state=tmp_path / "state",
        )
        harness = NodeHarness(csi=csi, fabric=node_fabric, work=tmp_path / "kubelet")
        running = Stack(controller=started[0], node=started[1], harness=harness, kube=kube)
        yield running
    finally:
        for driver in reversed(started):
            stop_driver_process(driver)
        if running is None or running.kube_running:
            kube.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "waited %.0f s for %s" % (timeout, what)
        time.sleep(0.2)


def create_and_stage(stack: Stack, name: str) -> NodeVolume:
    """CreateVolume (with the PVC identity the provisioner passes), publish, stage, publish on the node,
    write through the target, stats."""
    capability = mount()
    request = csi_pb2.CreateVolumeRequest(
        name=name,
        capacity_range=csi_pb2.CapacityRange(required_bytes=GIB),
        volume_capabilities=[capability],
        parameters={PVC_NAME_KEY: name, PVC_NAMESPACE_KEY: NAMESPACE},
    )
    created = stack.csi.controller.CreateVolume(request).volume
    published = stack.csi.controller.ControllerPublishVolume(
        csi_pb2.ControllerPublishVolumeRequest(
            volume_id=created.volume_id, node_id=NODE_ID, volume_capability=capability
        )
    )
    work = stack.harness.work
    staging = work / "plugins" / "staging" / created.volume_id
    target_parent = work / "pods" / created.volume_id / "volumes"
    staging.mkdir(parents=True)
    target_parent.mkdir(parents=True)
    volume = NodeVolume(
        harness=stack.harness,
        id=created.volume_id,
        publish_context=dict(published.publish_context),
        volume_context=dict(created.volume_context),
        staging=str(staging),
        target=str(target_parent / "target"),
    )
    stack.csi.node.NodeStageVolume(node_stage(volume, capability))
    stack.csi.node.NodePublishVolume(node_publish(volume, capability))
    Path(volume.target, "data").write_bytes(os.urandom(1024 * 1024))
    os.sync()
    stack.csi.node.NodeGetVolumeStats(csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=volume.target))
    return volume


def remove(stack: Stack, volume: NodeVolume) -> None:
    stack.csi.node.NodeUnpublishVolume(node_unpublish(volume))
    stack.csi.node.NodeUnstageVolume(node_unstage(volume))
    volume.delete()


def expect_failure(call: Callable[[], Any], code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == code, raised.value.details()


def drive_lifecycle(stack: Stack) -> NodeVolume:
    """A short life of two volumes, failing RPCs on both services, and the RDS lost twice: once with
    the Kubernetes API up (events posted), once with it down (events not posted). The second volume
    stays staged and published, as a running workload's would."""
    stack.csi.controller.GetCapacity(csi_pb2.GetCapacityRequest(volume_capabilities=[mount()]))
    gone = create_and_stage(stack, "pvc-dashboard-gone")
    kept = create_and_stage(stack, "pvc-dashboard-kept")
    unknown_node = csi_pb2.ControllerPublishVolumeRequest(
        volume_id=kept.id, node_id="node-unknown", volume_capability=mount()
    )
    expect_failure(lambda: stack.csi.controller.ControllerPublishVolume(unknown_node), grpc.StatusCode.NOT_FOUND)
    not_published = csi_pb2.NodeGetVolumeStatsRequest(
        volume_id=kept.id, volume_path=str(stack.harness.work / "nowhere")
    )
    expect_failure(lambda: stack.csi.node.NodeGetVolumeStats(not_published), grpc.StatusCode.NOT_FOUND)
    written = 'rds_csi_volume_write_bytes_total{volume="%s"}' % kept.id
    wait_for(lambda: written in stack.controller.scrape(), "the appliance collection of %s's traffic" % kept.id)
    reboot(stack)
    wait_for(lambda: "rds_csi_events_posted_total{" in stack.controller.scrape(), "an event posted")
    remove(stack, gone)
    stack.stop_kube_api()
    reboot(stack)
    wait_for(lambda: "rds_csi_events_failed_total{" in stack.controller.scrape(), "an event the API did not take")
    return kept


def reboot(stack: Stack) -> None:
    """A short outage of the RDS: the controller loses its connection and connects again."""
    stack.csi.emulator.set_faults([Fault(FaultKind.REBOOT, seconds=1.0)])
    wait_for(lambda: listed(stack), "the controller to reach the RDS again after its reboot")


def listed(stack: Stack) -> bool:
    try:
        stack.csi.controller.ListVolumes(csi_pb2.ListVolumesRequest())
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        return False
    return True


def test_promtool_accepts_both_endpoints(stack: Stack) -> None:
    drive_lifecycle(stack)
    for name, driver in (("controller", stack.controller), ("node", stack.node)):
        body = driver.scrape()
        assert "rds_csi_rpc_total{" in body, "the %s counted its RPCs" % name
        checked = subprocess.run(
            ["promtool", "check", "metrics"], input=body, capture_output=True, text=True, check=False, timeout=60
        )
        assert checked.returncode == 0, "promtool on the %s's metrics:\n%s%s" % (name, checked.stdout, checked.stderr)


# Prometheus


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **params: str) -> Any:
        address = "%s%s?%s" % (self.url, path, urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(address, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:  # a bad query answers 400 with the error in JSON
            return json.loads(error.read())

    def query(self, expr: str) -> Any:
        return self.get("/api/v1/query", query=expr)


def start_prometheus(work: Path, targets: dict[str, DriverProcess]) -> Prometheus:
    config = {
        "global": {"scrape_interval": "%ds" % SCRAPE_INTERVAL, "scrape_timeout": "%ds" % SCRAPE_INTERVAL},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": ["127.0.0.1:%d" % driver.metrics_port]}]}
            for job, driver in targets.items()
        ],
    }
    config_file = work / "prometheus.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log = work / "prometheus.log"
    command = [
        "prometheus",
        "--config.file=%s" % config_file,
        "--storage.tsdb.path=%s" % (work / "prometheus-data"),
        "--web.listen-address=127.0.0.1:%d" % port,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    prometheus = Prometheus("http://127.0.0.1:%d" % port, process, log)
    try:
        wait_for(lambda: ready(prometheus), "Prometheus to be ready", START_TIMEOUT)
    except AssertionError:
        stop_prometheus(prometheus)
        raise AssertionError("Prometheus did not start:\n%s" % log.read_text()) from None
    return prometheus


def ready(prometheus: Prometheus) -> bool:
    assert prometheus.process.poll() is None, "Prometheus exited"
    try:
        with urllib.request.urlopen(prometheus.url + "/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def stop_prometheus(prometheus: Prometheus) -> None:
    prometheus.process.terminate()
    try:
        prometheus.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        prometheus.process.kill()
        prometheus.process.wait(STOP_TIMEOUT)


def scraped_since(prometheus: Prometheus, jobs: list[str], since: float) -> bool:
    """Whether every job's target was up in a scrape that started at or after ``since``."""
    answer = prometheus.query("timestamp(up == 1)")
    times = {item["metric"]["job"]: float(item["value"][1]) for item in answer["data"]["result"]}
    return all(times.get(job, 0.0) >= since for job in jobs)


def query_problem(prometheus: Prometheus, expr: str) -> str:
    answer = prometheus.query(grafana_expr(expr))
    if answer.get("status") != "success":
        return "error: %s" % answer.get("error", answer)
    if not answer["data"]["result"]:
        return "no series"
    return ""


@pytest.mark.slow
def test_every_dashboard_query_returns_data(stack: Stack, tmp_path: Path) -> None:
    targets = {"rds-csi-controller": stack.controller, "rds-csi-node": stack.node}
    prometheus = start_prometheus(tmp_path, targets)
    try:
        # Prometheus starts scraping some seconds after it is ready: a scrape before the lifecycle, and
        # two after it, give every series the samples rate() needs.
        started = time.time()
        wait_for(lambda: scraped_since(prometheus, list(targets), started), "a first scrape of both endpoints")
        drive_lifecycle(stack)
        since = time.time() + 2 * SCRAPE_INTERVAL
        wait_for(lambda: scraped_since(prometheus, list(targets), since), "two scrapes of both endpoints")
        problems = []
        for panel in panels_of(load_dashboard()):
            for target in panel["targets"]:
                problem = query_problem(prometheus, target["expr"])
                if problem:
                    problems.append(
                        "panel %r, query %s `%s`: %s" % (panel["title"], target["refId"], target["expr"], problem)
                    )
        assert not problems, "dead dashboard queries:\n" + "\n".join(problems)
    finally:
        stop_prometheus(prometheus)
