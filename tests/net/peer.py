"""A kiosk or a console as a real process, driven by JSON lines on stdin, answering JSON lines on stdout.

`python tests/net/peer.py console STATE` serves and advertises a console on loopback;
`python tests/net/peer.py kiosk STATE` runs a kiosk's courier and zeroconf browser on loopback.
Commands: {"cmd": "raise"}, {"cmd": "cases"}, {"cmd": "decide", ...}, {"cmd": "checkin", "case_id": ...}.
The end-to-end tests kill these with SIGKILL and start them again on the same state.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kiosk.core.cases import CaseForm, CaseReason, Ruling
from kiosk.core.jalali import JalaliDate
from kiosk.desk import CaseDesk
from kiosk.net.courier import Courier
from kiosk.net.discovery import REP_SERVICE, Browser
from kiosk.rep.console import Console
from kiosk.state import Installed

LOOPBACK = ["127.0.0.1"]


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def console(installed: Installed) -> None:
    running = Console.start(installed, LOOPBACK)
    say(event="ready", port=running.service.port)
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            service = running.service
            if cmd["cmd"] == "cases":
                say(cases={c.case_id: [c.status.value, c.delivered] for c in service.open_cases()
                           + service.recent_decided(1000)})
            elif cmd["cmd"] == "decide":
                result = service.decide(cmd["case_id"], Ruling(cmd["ruling"]), cmd.get("code", ""),
                                        cmd.get("reference", ""), cmd.get("reason", ""))
                say(decided=not isinstance(result, list))
    finally:
        running.close()


def kiosk(installed: Installed) -> None:
    courier = Courier(installed)
    browser = Browser(REP_SERVICE, installed.config.id, installed.claims.branches,
                      on_change=courier.endpoints_changed, interfaces=LOOPBACK)
    browser.start()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    cases = CaseDesk(installed.open_outbox(ledger), installed.config.rules, ledger, registry, courier.poke)
    say(event="ready")
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["cmd"] == "raise":
                form = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "456", "", CaseReason.NO_CODE)
                case = cases.raise_case(form)
                assert not isinstance(case, list)
                say(case_id=case.case_id)
            elif cmd["cmd"] == "cases":
                say(cases={c.case_id: [c.status.value, c.check_in] for c in cases.cases()},
                    consoles=courier.status().consoles)
            elif cmd["cmd"] == "checkin":
                say(result=type(cases.check_in_approved(cmd["case_id"])).__name__)
    finally:
        browser.close()
        courier.close()
        ledger.close()
        registry.close()


if __name__ == "__main__":
    role, state = sys.argv[1], Path(sys.argv[2])
    {"console": console, "kiosk": kiosk}[role](Installed.open(state))
