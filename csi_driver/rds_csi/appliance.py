"""Appliance health and per-volume traffic, collected from the RDS on an interval (P-9.1).

A daemon thread of the controller reads, every ``appliance_metrics_interval`` seconds, the
sensors (``/system health print``), the pool's capacity and the traffic of the driver's volumes
(``/disk monitor-traffic``, ``TRAFFIC_BATCH`` volumes per exec line). It talks through the
controller's own ``SshTransport``, one command at a time, so collection takes at most one of the
driver's ``rds_max_sessions`` sessions and never opens a session of its own (R-7.3). A round
stops at its deadline (the interval) or on the first error and keeps what it read; the next round
starts where a stopped one ended, so every volume is read in turn however many there are.

What a round read is published to ``APPLIANCE``, which formats its families once per reading; every
scrape serves that text from memory (``metrics.add_prerendered``): a scrape never sends a command to
the RDS, and thousands of per-volume samples are not formatted again for each scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Optional

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import RdsError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_monitor import (
    HEALTH_STATES,
    DiskTraffic,
    HealthReading,
)
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rds_csi import metrics

if TYPE_CHECKING:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient

    from rds_csi.volumes import Backend

LOG = logging.getLogger("rds_csi.appliance")
TRAFFIC_BATCH = 50
"""Volumes per exec line: about 5 KB of command line and 50 KB of output each."""
PARTIAL = "partial"
IN_FLIGHT = "in-flight-ops"
_VOLUME_COUNTERS = (
    ("rds_csi_volume_read_bytes", "read-bytes", "Bytes read from the volume's disk on the RDS."),
    ("rds_csi_volume_write_bytes", "write-bytes", "Bytes written to the volume's disk on the RDS."),
    ("rds_csi_volume_read_ops", "read-ops", "Read operations on the volume's disk on the RDS."),
    ("rds_csi_volume_write_ops", "write-ops", "Write operations on the volume's disk on the RDS."),
)


@dataclass(frozen=True)
class Reading:
    """What the collector last read: the sensors, and each volume's traffic by volume ID."""

    health: tuple[HealthReading, ...] = ()
    traffic: Mapping[str, DiskTraffic] = field(default_factory=lambda: MappingProxyType({}), hash=False)


class ApplianceMetrics(Collector):
    """The Prometheus collector of the appliance families: yields the last published ``Reading``."""

    def __init__(self) -> None:
        self._reading = Reading()
        self._owner: object = None
        self._text = generate_latest(self)

    def publish(self, owner: object, reading: Reading) -> None:
        self._owner, self._reading = owner, reading
        self._text = generate_latest(self)

    def withdraw(self, owner: object) -> None:
        """Forget the reading of a collector that stopped (unless another has published since)."""
        if self._owner is owner:
            self.publish(None, Reading())

    def exposition(self) -> bytes:
        """The families of the last reading, as a scrape serves them."""
        return self._text

    @property
    def reading(self) -> Reading:
        return self._reading

    def describe(self) -> Iterator[Metric]:
        return self._families(Reading())

    def collect(self) -> Iterator[Metric]:
        return self._families(self._reading)

    @staticmethod
    def _families(reading: Reading) -> Iterator[Metric]:
        health = GaugeMetricFamily(
            "rds_csi_rds_health",
            "A numeric sensor of the RDS (/system health print), by name and type (C, RPM, V, A, W).",
            labels=["name", "type"],
        )
        states = GaugeMetricFamily(
            "rds_csi_rds_health_state",
            "1 for the current state of an RDS sensor that reports a state (ok, fail, not-present, idle, "
            "no-input), 0 for the others.",
            labels=["name", "state"],
        )
        for sensor in reading.health:
            if sensor.value is not None:
                health.add_metric([sensor.name, sensor.type], sensor.value)
            elif sensor.state is not None:
                for state in states_of(sensor.state):
                    states.add_metric([sensor.name, state], 1.0 if state == sensor.state else 0.0)
        yield health
        yield states
        volumes = sorted(reading.traffic.items())
        for name, key, text in _VOLUME_COUNTERS:
            family = CounterMetricFamily(name, text, labels=["volume"])
            for volume, traffic in volumes:
                value = traffic.get(key)
                if value is not None:
                    family.add_metric([volume], value)
            yield family
        in_flight = GaugeMetricFamily(
            "rds_csi_volume_in_flight_ops", "Operations in flight on the volume's disk on the RDS.", labels=["volume"]
        )
        for volume, traffic in volumes:
            value = traffic.get(IN_FLIGHT)
            if value is not None:
                in_flight.add_metric([volume], value)
        yield in_flight


EXPORTED_FIELDS = (*(key for _family, key, _text in _VOLUME_COUNTERS), IN_FLIGHT)


def exported(traffic: DiskTraffic) -> DiskTraffic:
    """Only the fields the metrics serve: a volume's full reading holds about twenty, and with 1,000
    volumes keeping them all cost several MiB of the controller's memory."""
    return DiskTraffic(traffic.slot, {key: traffic.values[key] for key in EXPORTED_FIELDS if key in traffic.values})


def states_of(state: str) -> tuple[str, ...]:
    """The states a sensor is reported among: the known ones, and its own when RouterOS printed another."""
    return HEALTH_STATES if state in HEALTH_STATES else (*HEALTH_STATES, state)


APPLIANCE = ApplianceMetrics()
metrics.add_prerendered(APPLIANCE.exposition)


class ApplianceCollector:
    """Collects on its own thread between ``start`` and ``stop``; ``collect_round`` runs one round."""

    def __init__(
        self,
        client: RdsClient,
        backend: Backend,
        interval: float,
        publisher: ApplianceMetrics = APPLIANCE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.backend = backend
        self.interval = interval
        self._publisher = publisher
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._reading = Reading()
        self._next_volume = 0
        self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="appliance-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop before its next command; ``join`` waits for it."""
        self._stopping.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        self._publisher.withdraw(self)

    def collect_round(self) -> str:
        """Read the RDS once and publish what was read; returns the round's status (success, partial:
        stopped at its deadline or by ``stop``, or failure). Never raises for the RDS's failures."""
        started = self._clock()
        status = metrics.FAILURE
        try:
            status = self._read(deadline=started + self.interval)
        except RdsError as error:
            if not self._stopping.is_set():  # closing the transport at stop ends a command: no news
                self._log_failure(error)
        except Exception as error:  # a bug must not end collection: count it, say it once, go on
            self._log_failure(error, trace=True)
        finally:
            if not self._stopping.is_set():
                self._publisher.publish(self, self._reading)
            metrics.APPLIANCE_COLLECTIONS.labels(status).inc()
            metrics.APPLIANCE_COLLECTION_DURATION.observe(self._clock() - started)
        if status != metrics.FAILURE:
            metrics.APPLIANCE_LAST_COLLECTION.set(time.time())
            if self._failing:
                self._failing = False
                LOG.info("appliance metrics collection recovered")
        return status

    def _run(self) -> None:
        """The first round one interval after the start, when the RPCs of a starting driver are done."""
        delay = self.interval
        while not self._stopping.wait(delay):
            started = self._clock()
            self.collect_round()
            delay = max(0.0, self.interval - (self._clock() - started))

    def _read(self, deadline: float) -> str:
        """One round; the reading is updated after each step, so an error keeps the steps before it."""
        if self._over(deadline):
            return PARTIAL
        health = tuple(self.client.health())
        self._reading = Reading(health, self._reading.traffic)
        if self._over(deadline):
            return PARTIAL
        pool = self.backend.config.pool
        capacity = self.client.pool_capacity(pool)
        metrics.RDS_POOL_SIZE.labels(pool).set(capacity.size)
        metrics.RDS_POOL_FREE.labels(pool).set(capacity.free)
        if self._over(deadline):
            return PARTIAL
        volumes = sorted(disk.slot for disk in self.backend.managed_volumes())
        traffic = {volume: self._reading.traffic[volume] for volume in volumes if volume in self._reading.traffic}
        self._reading = Reading(health, MappingProxyType(traffic))
        start = self._next_volume % len(volumes) if volumes else 0
        order = volumes[start:] + volumes[:start]
        for offset in range(0, len(order), TRAFFIC_BATCH):
            if self._over(deadline):
                self._next_volume = start + offset
                return PARTIAL
            report = self.client.disk_traffic(order[offset : offset + TRAFFIC_BATCH])
            traffic.update((volume, exported(reading)) for volume, reading in report.traffic.items())
            for volume in report.missing:
                traffic.pop(volume, None)
            self._reading = Reading(health, MappingProxyType(dict(traffic)))
            self._next_volume = start + offset + TRAFFIC_BATCH
        self._next_volume = 0
        return metrics.SUCCESS

    def _over(self, deadline: float) -> bool:
        return self._stopping.is_set() or self._clock() >= deadline

    def _log_failure(self, error: BaseException, trace: bool = False) -> None:
        if self._failing:
            LOG.debug("appliance metrics collection still failing", extra={"fields": {"error": str(error)}})
            return
        self._failing = True
        LOG.warning(
            "appliance metrics collection failed; the last values stay published",
            extra={"fields": {"error": str(error)}},
            exc_info=error if trace else None,
        )
