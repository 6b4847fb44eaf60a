"""`/system resource print`, `/system identity print` and `/system health print`."""

from __future__ import annotations

from datetime import datetime, timezone

from .appliance import Appliance
from .commandline import Command
from .health import render_health
from .layout import render_key_values
from .outcomes import Outcome, Reply
from .timestamps import format_timestamp, format_uptime

_BUILD_TIME = datetime(2024, 9, 20, 13, 0, 27, tzinfo=timezone.utc)
"""One build time for every emulated version: nothing is known to depend on it."""


def resource_print(appliance: Appliance, command: Command, width: int) -> Outcome:
    settings = appliance.settings
    return Reply(
        render_key_values(
            [
                ("uptime", format_uptime(appliance.uptime_seconds())),
                ("version", settings.version.text),
                ("build-time", format_timestamp(_BUILD_TIME, iso=settings.version.uses_iso_dates)),
                ("factory-software", "7.14.3"),
                ("free-memory", "29.4GiB"),
                ("total-memory", "32.0GiB"),
                ("cpu", "ARM64"),
                ("cpu-count", "16"),
                ("cpu-frequency", "2000MHz"),
                ("cpu-load", "1%"),
                ("free-hdd-space", "101.2MiB"),
                ("total-hdd-space", "128.0MiB"),
                ("architecture-name", "arm64"),
                ("board-name", "RDS2216"),
                ("platform", "MikroTik"),
            ]
        )
    )


def identity_print(appliance: Appliance, command: Command, width: int) -> Outcome:
    return Reply(render_key_values([("name", appliance.settings.identity)]))


def health_print(appliance: Appliance, command: Command, width: int) -> Outcome:
    return Reply(render_health(appliance.sensors.sensors()))
