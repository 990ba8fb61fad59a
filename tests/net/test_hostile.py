"""Thousands of generated and mutated messages thrown at a running console: it refuses them and keeps serving."""
from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import World
from kiosk.core.cases import check_form
from kiosk.net import messages as m
from kiosk.net.channel import PeerPolicy, TlsIdentity, connect
from kiosk.rep.service import RepService
from kiosk.trust.certs import Role
from test_delivery import WIRE_FORM
from test_messages import MESSAGES, mutate


def test_a_console_survives_a_barrage_and_keeps_only_what_was_valid(world: World) -> None:
    kiosk, console = world.installed("kiosk1"), world.console("rep1")
    service = RepService(console, host="127.0.0.1")
    service.start()
    prefix = f"E-{kiosk.claims.device_id[:6].upper()}-"
    expected: set[str] = set()
    try:
        channel = connect("127.0.0.1", service.port, TlsIdentity.from_installed(kiosk),
                          PeerPolicy(Role.REP, frozenset({"1001"})))

        @given(MESSAGES, st.data(), st.booleans())
        @settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
        def throw(message: m.Message, data: st.DataObject, ours: bool) -> None:
            if ours and isinstance(message, m.OpenCase):  # some carry this kiosk's prefix, so they can be valid
                message = m.OpenCase(prefix + message.case_id[-4:], message.created, message.form)
            wire = mutate(m.encode(message), data) if data.draw(st.booleans()) else m.encode(message)
            if not wire:
                return
            decoded = m.decode(wire)
            if isinstance(decoded, m.OpenCase) and decoded.case_id.startswith(prefix) and \
                    not check_form(decoded.form, console.config.rules.day) and decoded.case_id not in expected:
                expected.add(decoded.case_id)
            channel.send(wire)
            while channel.receive(timeout=0) is not None:
                pass  # acknowledgements and beacons: drain them

        throw()
        sentinel = f"{prefix}999999"
        channel.send(m.encode(m.OpenCase(sentinel, "2026-05-22T08:30:00+00:00", WIRE_FORM)))
        deadline = time.monotonic() + 30
        acked = False
        while not acked and time.monotonic() < deadline:
            payload = channel.receive(timeout=0.5)
            acked = payload is not None and m.decode(payload) == m.Ack(sentinel, "case")
        assert acked, "the console stopped answering"
        channel.close()
        assert {c.case_id for c in service.open_cases()} == expected | {sentinel}
    finally:
        service.close()


def test_a_stolen_kiosk_flooding_bad_messages_writes_a_few_lines_not_one_each(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    """An enrolled device passes the handshake; its garbage must not fill the never-rotated security log."""
    import logging
    kiosk, console = world.installed("kiosk1"), world.console("rep1")
    service = RepService(console, host="127.0.0.1")
    service.start()
    caplog.set_level(logging.WARNING, logger="kiosk")
    try:
        channel = connect("127.0.0.1", service.port, TlsIdentity.from_installed(kiosk),
                          PeerPolicy(Role.REP, frozenset({"1001"})))
        for n in range(600):
            channel.send(b'{"v": 1, "type": "nonsense"}' if n % 2 else b"not json at all")
        sentinel = f"E-{kiosk.claims.device_id[:6].upper()}-999999"
        channel.send(m.encode(m.OpenCase(sentinel, "2026-05-22T08:30:00+00:00", WIRE_FORM)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sentinel not in {c.case_id for c in service.open_cases()}:
            time.sleep(0.05)
        assert sentinel in {c.case_id for c in service.open_cases()}     # the console still serves
        channel.close()
    finally:
        service.close()
    refused = [r for r in caplog.records if '"N101"' in r.getMessage()]
    assert 2 <= len(refused) <= 6, len(refused)                      # one line per reason, then counts
    counted = sum(json.loads(r.getMessage()).get("count", 1) for r in refused)
    assert counted == 600
