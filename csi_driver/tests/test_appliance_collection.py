"""Appliance health and per-volume traffic (P-9.1): collected by the controller over its own SSH
sessions on an interval, scraped over HTTP from memory. Against the emulator through real SSH."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ConnectionLostError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_monitor import DiskTraffic, HealthReading
from csi_helpers import Csi, create_request, free_port
from prometheus_client.parser import text_string_to_metric_families
from rds_csi import appliance, metrics
from rds_csi.proto import csi_pb2
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.health import Sensor
from rds_emulator.server import EmulatorServer

pytestmark = pytest.mark.timeout(120)

VOLUME_SERIES = frozenset(
    {
        "rds_csi_volume_read_bytes_total",
        "rds_csi_volume_write_bytes_total",
        "rds_csi_volume_read_ops_total",
        "rds_csi_volume_write_ops_total",
        "rds_csi_volume_in_flight_ops",
    }
)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as response:
        text = response.read().decode("utf-8")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.05)


def collections(status: str) -> float:
    return metrics.REGISTRY.get_sample_value("rds_csi_appliance_collections_total", {"status": status}) or 0.0


def collection_commands() -> float:
    return sum(
        metrics.REGISTRY.get_sample_value("rds_csi_rds_commands_total", {"purpose": "collection", "status": status})
        or 0.0
        for status in (metrics.SUCCESS, metrics.FAILURE)
    )


def test_health_pool_and_volume_traffic_are_scraped_with_the_emulators_values(
    start_driver: Callable[..., Csi], emulator: EmulatorServer
) -> None:
    emulator.set_health(
        [
            Sensor("cpu-temperature", 58.5, "C"),
            Sensor("fan1-speed", 6120, "RPM"),
            Sensor("psu1-state", "ok"),
            Sensor("psu2-state", "fail"),
        ]
    )
    port = free_port()
    csi = start_driver(metrics_port=port, appliance_metrics_interval=0.2)
    volumes = [csi.controller.CreateVolume(create_request("pvc-traffic-%d" % number)).volume for number in (1, 2)]
    first, second = (volume.volume_id for volume in volumes)
    emulator.set_traffic(first, {"read-bytes": 515659673600, "write-bytes": 4096, "read-ops": 1234567, "write-ops": 1})
    emulator.set_traffic(second, {"write-ops": 42, "in-flight-ops": 3})

    def collected() -> bool:
        samples = scrape(port)
        return value(samples, "rds_csi_volume_write_ops_total", volume=second) == 42.0 and (
            value(samples, "rds_csi_volume_read_bytes_total", volume=first) == 515659673600.0
        )

    wait_for(collected, "both volumes' traffic")
    samples = scrape(port)

    assert value(samples, "rds_csi_rds_health", name="cpu-temperature", type="C") == 58.5
    assert value(samples, "rds_csi_rds_health", name="fan1-speed", type="RPM") == 6120.0
    assert value(samples, "rds_csi_rds_health_state", name="psu1-state", state="ok") == 1.0
    assert value(samples, "rds_csi_rds_health_state", name="psu2-state", state="fail") == 1.0
    assert value(samples, "rds_csi_rds_health_state", name="psu2-state", state="ok") == 0.0
    assert value(samples, "rds_csi_volume_write_bytes_total", volume=first) == 4096.0
    assert value(samples, "rds_csi_volume_read_ops_total", volume=first) == 1234567.0
    assert value(samples, "rds_csi_volume_write_ops_total", volume=first) == 1.0
    assert value(samples, "rds_csi_volume_in_flight_ops", volume=second) == 3.0
    assert value(samples, "rds_csi_rds_pool_size_bytes", pool="storage-pool") == emulator.config.pool_size
    assert 0 < (value(samples, "rds_csi_rds_pool_free_bytes", pool="storage-pool") or 0) <= emulator.config.pool_size
    assert (value(samples, "rds_csi_appliance_collections_total", status="success") or 0) >= 1
    assert (value(samples, "rds_csi_appliance_last_collection_timestamp_seconds") or 0) > time.time() - 60
    assert (value(samples, "rds_csi_appliance_collection_duration_seconds_count") or 0) >= 1
    assert (value(samples, "rds_csi_rds_commands_total", purpose="collection", status="success") or 0) >= 4

    csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=first))
    wait_for(lambda: value(scrape(port), "rds_csi_volume_write_ops_total", volume=first) is None, "the deleted volume")


def test_only_the_drivers_own_volumes_are_collected(
    start_driver: Callable[..., Csi], emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    port = free_port()
    csi = start_driver(metrics_port=port, appliance_metrics_interval=0.2)
    own = csi.controller.CreateVolume(create_request("pvc-own")).volume.volume_id
    emulator.set_traffic(own, {"read-ops": 5})
    foreign = "pvc-00000000-0000-4000-8000-000000000001"
    for slot, nqn in ((foreign, "nqn.2001-01.org.example:" + foreign), ("nixos-r640-var", "")):
        export = "nvme-tcp-export=yes nvme-tcp-server-nqn=%s" % nqn if nqn else ""
        line = "/disk add type=file file-path=/storage-pool/metal-csi/%s.img file-size=1G slot=%s %s" % (
            slot,
            slot,
            export,
        )
        operator_run(emulator, client_key[0], line)

    wait_for(lambda: value(scrape(port), "rds_csi_volume_read_ops_total", volume=own) == 5.0, "the driver's volume")
    volumes = {dict(labels)["volume"] for name, labels in scrape(port) if name in VOLUME_SERIES}

    assert volumes == {own}


def operator_run(emulator: EmulatorServer, key: Path, line: str) -> None:
    """Run one console line on the emulator over its own SSH connection, as an operator's tool would."""
    from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport

    host, port = emulator.address
    settings = SshSettings(
        host=host, port=port, username="admin", private_key_file=str(key), host_key=emulator.host_public_key_line
    )
    transport = SshTransport(settings)
    try:
        result = transport.run(line)
    finally:
        transport.close()
    assert result.exit_status == 0, result.output


def test_collection_shares_one_session_with_the_rpcs(
    start_driver: Callable[..., Csi], emulator: EmulatorServer
) -> None:
    """With ``rds_max_sessions=1`` the collector, slowed down by the appliance, never holds a second
    session: RPCs wait their turn and succeed, and the emulator never sees two at once."""
    csi = start_driver(rds_max_sessions=1, appliance_metrics_interval=0.3)
    ids = [
        csi.controller.CreateVolume(create_request("pvc-shared-%d" % number)).volume.volume_id for number in range(3)
    ]
    emulator.set_faults([Fault(FaultKind.LATENCY, seconds=0.1, match="monitor-traffic")])
    before = collections("success")
    wait_for(lambda: collections("success") >= before + 2, "collection rounds under latency")

    errors: list[BaseException] = []

    def churn(index: int) -> None:
        try:
            for round_ in range(5):
                name = "pvc-churn-%d-%d" % (index, round_)
                volume_id = csi.controller.CreateVolume(create_request(name)).volume.volume_id
                csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
                time.sleep(0.05)  # as RPCs come in a cluster, not back to back on one session forever
        except BaseException as error:
            errors.append(error)

    churn_started = collection_commands()
    threads = [threading.Thread(target=churn, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    emulator.set_faults([])

    assert errors == []
    assert collection_commands() > churn_started, "collection went on while the RPCs ran"
    stats = emulator.stats
    assert stats.sessions_refused == 0
    assert max(connection.sessions_peak for connection in stats.connections) == 1
    for volume_id in ids:
        csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))


def test_a_scrape_sends_no_command(start_driver: Callable[..., Csi], emulator: EmulatorServer) -> None:
    port = free_port()
    rounds = collections("success")
    start_driver(metrics_port=port, appliance_metrics_interval=2.0)
    wait_for(lambda: collections("success") > rounds, "the first round")  # the next is 2 s later
    before = emulator.stats.exec_requests

    for _scrape in range(5):
        assert value(scrape(port), "rds_csi_rds_health", name="cpu-temperature", type="C") == 47.0

    assert emulator.stats.exec_requests == before


def test_failed_rounds_are_counted_logged_once_and_collection_goes_on(
    start_driver: Callable[..., Csi], emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rds_csi.appliance")
    port = free_port()
    start_driver(metrics_port=port, appliance_metrics_interval=0.1)
    health = ("rds_csi_rds_health", frozenset({("name", "cpu-temperature"), ("type", "C")}))
    wait_for(lambda: health in scrape(port), "a first round")
    emulator.set_health([Sensor("cpu-temperature", 91, "C")])
    failed = collections("failure")

    emulator.set_faults([Fault(FaultKind.DROP, match="health")])
    wait_for(lambda: collections("failure") >= failed + 3, "three failed rounds")
    samples = scrape(port)
    emulator.set_faults([])
    wait_for(lambda: value(scrape(port), "rds_csi_rds_health", name="cpu-temperature", type="C") == 91.0, "recovery")

    assert value(samples, "rds_csi_rds_health", name="cpu-temperature", type="C") == 47.0, "the last values stay"
    messages = [record.getMessage() for record in caplog.records if record.name == "rds_csi.appliance"]
    assert sum("collection failed" in message for message in messages) == 1
    assert sum("collection recovered" in message for message in messages) == 1


def test_stop_ends_collection_within_the_grace_while_a_command_hangs(
    driver_config: Any, emulator: EmulatorServer
) -> None:
    from rds_csi.server import Driver

    emulator.set_faults([Fault(FaultKind.HANG, match="health")])
    config = dataclasses.replace(driver_config, metrics_port=free_port(), appliance_metrics_interval=0.1)
    driver = Driver(config)
    driver.start()
    wait_for(lambda: emulator.stats.sessions_current >= 1, "the collector's hanging command")
    started = time.monotonic()

    driver.stop(grace=1.0)

    assert time.monotonic() - started < 5.0
    assert driver.collector is not None and driver.collector._thread is not None
    assert not driver.collector._thread.is_alive()
    assert appliance.APPLIANCE.reading == appliance.Reading()


def test_collection_off_with_interval_zero(start_driver: Callable[..., Csi], emulator: EmulatorServer) -> None:
    port = free_port()
    csi = start_driver(metrics_port=port, appliance_metrics_interval=0)
    csi.controller.CreateVolume(create_request("pvc-quiet"))
    time.sleep(0.3)

    names = {name for name, _labels in scrape(port)}

    assert not any(name.startswith(("rds_csi_rds_health", "rds_csi_volume_read")) for name in names)


def test_a_round_stops_at_its_deadline_and_the_next_goes_on_from_there() -> None:
    """A round that overruns keeps what it read; the next starts at the first volume it did not reach."""
    clock = FakeClock()
    client = FakeClient(clock, seconds_per_line=1.0)
    volumes = ["pvc-%03d" % number for number in range(appliance.TRAFFIC_BATCH * 3)]
    publisher = appliance.ApplianceMetrics()
    collector = appliance.ApplianceCollector(
        client,  # type: ignore[arg-type]
        FakeBackend(volumes),  # type: ignore[arg-type]
        interval=1.0,
        publisher=publisher,
        clock=clock,
    )

    assert collector.collect_round() == appliance.PARTIAL
    assert client.batches == [volumes[:50]]
    assert set(publisher.reading.traffic) == set(volumes[:50])
    assert collector.collect_round() == appliance.PARTIAL
    assert client.batches[1] == volumes[50:100]
    assert set(publisher.reading.traffic) == set(volumes[:100])
    client.seconds_per_line = 0.0
    assert collector.collect_round() == metrics.SUCCESS
    assert client.batches[2:] == [volumes[100:], volumes[:50], volumes[50:100]]
    assert set(publisher.reading.traffic) == set(volumes)


def test_a_failure_mid_round_keeps_what_was_read() -> None:
    clock = FakeClock()
    client = FakeClient(clock, seconds_per_line=0.0, fail_at_batch=1)
    volumes = ["pvc-%03d" % number for number in range(appliance.TRAFFIC_BATCH * 2)]
    publisher = appliance.ApplianceMetrics()
    collector = appliance.ApplianceCollector(
        client,  # type: ignore[arg-type]
        FakeBackend(volumes),  # type: ignore[arg-type]
        interval=60,
        publisher=publisher,
        clock=clock,
    )

    assert collector.collect_round() == metrics.FAILURE
    assert set(publisher.reading.traffic) == set(volumes[:50])
    assert [sensor.name for sensor in publisher.reading.health] == ["cpu-temperature"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class FakeCapacity:
    size: int = 100
    free: int = 50


class FakeClient:
    """The collector's view of ``RdsClient``; each traffic line takes ``seconds_per_line`` on the clock."""

    def __init__(self, clock: FakeClock, seconds_per_line: float, fail_at_batch: int = -1) -> None:
        self.clock = clock
        self.seconds_per_line = seconds_per_line
        self.fail_at_batch = fail_at_batch
        self.batches: list[list[str]] = []

    def health(self) -> list[HealthReading]:
        return [HealthReading("cpu-temperature", 40.0, "C")]

    def pool_capacity(self, pool: str) -> FakeCapacity:
        return FakeCapacity()

    def disk_traffic(self, slots: list[str]) -> Any:
        from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import TrafficReport

        if len(self.batches) == self.fail_at_batch:
            raise ConnectionLostError("the connection dropped")
        self.batches.append(list(slots))
        self.clock.now += self.seconds_per_line
        return TrafficReport({slot: DiskTraffic(slot, {"read-ops": 1.0}) for slot in slots})


class FakeBackend:
    def __init__(self, volumes: list[str]) -> None:
        self.volumes = volumes
        self.config = type("Config", (), {"pool": "storage-pool"})()

    def managed_volumes(self) -> list[Any]:
        return [type("Disk", (), {"slot": slot})() for slot in self.volumes]
