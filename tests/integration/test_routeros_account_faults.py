"""routeros_user's changes go through RdsClient.mutate: a lost reply is re-checked by reading the account back.

Against the emulator over real SSH, with its ``lose_reply`` fault: the command runs and commits, then
the connection closes without a reply, so the client cannot know whether it was applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Optional

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient, RetryPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_account import (
    apply_account,
    key_comment,
    plan_account,
    wanted_account,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import (
    CommandResult,
    SshSettings,
    SshTransport,
)
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from tests.unit.plugins.module_utils.test_ssh_public_key import ED25519, RSA

pytestmark = pytest.mark.timeout(60)
KEY = PublicKey(ED25519)


class RecordingTransport(SshTransport):
    """The real transport, remembering every command line it was asked to run."""

    def __init__(self, settings: SshSettings) -> None:
        super().__init__(settings)
        self.sent: list[str] = []

    def run(self, command: str, timeout: Optional[float] = None, log_as: Optional[str] = None) -> CommandResult:
        self.sent.append(command)
        return super().run(command, timeout, log_as)


@pytest.fixture
def transport(settings: SshSettings) -> Iterator[RecordingTransport]:
    recording = RecordingTransport(settings)
    yield recording
    recording.close()


@pytest.fixture
def rds(transport: RecordingTransport) -> RdsClient:
    return RdsClient(transport, retry=RetryPolicy(attempts=4, initial_delay=0.05, max_delay=0.2))


def users(emulator: EmulatorServer) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((emulator.state_dir / "users.json").read_text(encoding="utf-8"))
    return document


def sent(transport: RecordingTransport, start: str) -> list[str]:
    return [line for line in transport.sent if line.startswith(start)]


CREATION = ("/user group add", "/user add", "/user ssh-keys add")


@pytest.mark.parametrize("lost", CREATION)
def test_a_lost_reply_while_creating_the_account_is_rechecked_not_repeated(
    lost: str, rds: RdsClient, transport: RecordingTransport, emulator: EmulatorServer
) -> None:
    emulator.set_faults([Fault(FaultKind.LOSE_REPLY, count=1, match="^" + lost + " ")])
    plan = plan_account(rds, wanted_account("rds-csi", "rds-csi", ["ssh", "read"], public_keys=[ED25519]))
    after = apply_account(rds, plan)
    assert after.shows(plan.after)
    assert transport.reconnects >= 1
    assert [len(sent(transport, start + " ")) for start in CREATION] == [1, 1, 1]
    state = users(emulator)
    assert [group["name"] for group in state["groups"]] == ["rds-csi"]
    assert [user["name"] for user in state["users"]] == ["rds-csi"]
    assert [key["comment"] for key in state["keys"]] == [key_comment("rds-csi", KEY.fingerprint)]


def test_a_lost_reply_while_removing_a_key_is_rechecked(
    rds: RdsClient, transport: RecordingTransport, emulator: EmulatorServer
) -> None:
    apply_account(rds, plan_account(rds, wanted_account("rds-csi", "rds-csi", ["ssh"], public_keys=[ED25519])))
    emulator.set_faults([Fault(FaultKind.LOSE_REPLY, count=1, match="^/user ssh-keys remove ")])
    rotated = plan_account(rds, wanted_account("rds-csi", "rds-csi", ["ssh"], public_keys=[RSA]))
    after = apply_account(rds, rotated)
    assert after.fingerprints == (PublicKey(RSA).fingerprint,)
    assert len(sent(transport, "/user ssh-keys remove ")) == 1
    assert [key["comment"] for key in users(emulator)["keys"]] == [key_comment("rds-csi", PublicKey(RSA).fingerprint)]
