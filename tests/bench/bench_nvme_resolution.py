"""NQN -> block device resolution with 500 controllers in a sysfs tree; prints p50/p99 (target < 20 ms).

The tree is built with the unit tests' kernel-shaped ``FakeSysfs``: 500 subsystems with one
controller each, a third of them with a native multipath head (case A), a third with the disk under
the controller named after the subsystem (case B), a third named after the controller (case C);
controller and subsystem numbers differ so nothing can be derived from a name. Each resolution looks
up a random NQN, the last one in directory order and one that is not connected, and reads sysfs
afresh (nothing is cached). ``ready`` adds the ``/dev`` node check of a real block node (root).

From the repository root:

    .venv/bin/python -m tests.bench.bench_nvme_resolution [--controllers 500] [--rounds 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List

from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import resolve, resolve_device

from tests.unit.module_utils.test_nvme_sysfs import PREFIX, FakeSysfs

TARGET_MS = 20.0


def build(root: Path, controllers: int) -> tuple[FakeSysfs, List[str]]:
    sysfs = FakeSysfs(root)
    nqns = []
    for index in range(controllers):
        nqn = "%s%08x-0000-4000-8000-%012x" % (PREFIX, index, index)
        subsystem_instance = index
        controller_instance = index + controllers  # never equal to the subsystem number
        subsystem = sysfs.subsystem(subsystem_instance, nqn)
        controller = sysfs.controller(controller_instance, subsystem_instance)
        dev = "259:%d" % index
        case = index % 3
        if case == 0:
            sysfs.disk(controller, "nvme%dc%dn1" % (subsystem_instance, controller_instance), 1)
            name = "nvme%dn1" % subsystem_instance
            sysfs.disk(subsystem, name, 1, dev)
        elif case == 1:
            name = "nvme%dn1" % subsystem_instance
            sysfs.disk(controller, name, 1, dev)
        else:
            name = "nvme%dn1" % controller_instance
            sysfs.disk(controller, name, 1, dev)
        sysfs.node(name, dev)
        nqns.append(nqn)
    return sysfs, nqns


def measure(rounds: int, call: Callable[[], object]) -> List[float]:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def report(label: str, timings: List[float]) -> float:
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print("%-34s p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms   (%d runs)" % (label, p50, p99, ordered[-1], len(ordered)))
    return p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nvme-") as directory:
        started = time.perf_counter()
        sysfs, nqns = build(Path(directory), options.controllers)
        print(
            "sysfs tree: %d subsystems, %d controllers, %d disks (built in %.1f s)"
            % (len(nqns), len(nqns), len(nqns), time.perf_counter() - started)
        )
        config = sysfs.config
        chooser = random.Random(1)

        def random_device() -> None:
            nqn = chooser.choice(nqns)
            assert resolve_device(config, nqn) is not None, nqn

        def last_device() -> None:
            assert resolve_device(config, nqns[-1]) is not None

        def missing() -> None:
            assert resolve_device(config, PREFIX + "not-connected") is None

        def ready() -> None:
            assert resolve(config, chooser.choice(nqns)).ready

        worst = max(
            report("resolve_device (random NQN)", measure(options.rounds, random_device)),
            report("resolve_device (last NQN)", measure(options.rounds, last_device)),
            report("resolve_device (not connected)", measure(options.rounds, missing)),
            report("resolve + /dev node check", measure(options.rounds, ready)),
        )
    verdict = "meets" if worst < TARGET_MS else "MISSES"
    print("worst p99 %.2f ms %s the %.0f ms target" % (worst, verdict, TARGET_MS))
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
