"""Drive a locked kiosk's real app under a display: the locked screen, its three ways, then check-ins resume.

Run as `python tests/ui/drive_locked.py KIOSK_STATE CONSOLE_STATE OUT LANG WAY HEAD_CARD_DIR RECOVERY_CODE PIN
VOTER`; prints one JSON object. WAY is how the kiosk is finally unlocked: `code` (typed on the keypad),
`card` (the head's virtual card from the simulation panel, its PIN on the keypad) or `console` (asked on
the screen; the representative's confirmation is the console service's, running in this process with its
zeroconf advert on 127.0.0.1, as its own screen would make it). Before that, every run types a recovery code
that cannot be right and a wrong card PIN, and both are refused. Then, in the same process as on a device,
the kiosk app starts with the unlocked device: the head signs in and checks a voter in.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from drivers.card.virtual import VirtualCard  # noqa: E402
from kiosk.rep.console import Console  # noqa: E402
from kiosk.core.console import UnlockGrant  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.ui import run  # noqa: E402
from person import Wait, keypad, touch  # noqa: E402
from steps import Step, run_steps, screenshot  # noqa: E402

HEAD_CARD_PIN = "4821"


def head_card(folder: Path) -> VirtualCard:
    key = serialization.load_pem_private_key((folder / "head.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return VirtualCard.of("test", (folder / "head.der").read_bytes(), key=key, pin=HEAD_CARD_PIN)


def main() -> None:
    (kiosk_state, console_state, out, lang, way, cards, recovery, pin,
     voter) = (Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5], Path(sys.argv[6]),
               sys.argv[7], sys.argv[8], sys.argv[9])
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    console = Console.start(Installed.open(console_state), ["127.0.0.1"])
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    card = head_card(cards)
    installed = Installed.open(kiosk_state)
    kiosk_id = installed.claims.device_id
    from drivers.card.fake import FakeCardReader
    from kiosk.ui.locked_app import LockedApp

    reader = FakeCardReader()
    locked = LockedApp(installed, reader, "test", lang, lan=["127.0.0.1"],
                       dev_buttons=[("head's card", lambda: reader.insert_card(card))])

    def screen() -> Any:
        return locked.screen

    def answer() -> tuple[str, int | None] | None:
        shown = screen().answer
        return (shown.key, shown.count) if shown is not None else None

    def dev(raw: str) -> Any:
        [button] = [b for b in locked.root.children[0].children if getattr(b, "raw", None) == raw]
        return button

    def typed_code(code: str) -> Iterator[Wait]:
        touch(screen().ids.way_code)
        yield lambda: screen().ids.keypad.target is screen().ids.code
        touch({b.key: b for b in screen().ids.keypad.children}["clear"])
        keypad(screen().ids.keypad, "".join(c for c in code if c.isdigit()))
        yield None
        touch(screen().ids.with_code)

    def card_pin(typed: str) -> Iterator[Wait]:
        if reader.status().value != "card_present":
            touch(dev("head's card"))
            yield lambda: reader.status().value == "card_present"
        touch(screen().ids.way_card)
        yield lambda: screen().ids.keypad.target is screen().ids.pin
        keypad(screen().ids.keypad, typed)
        yield None
        touch(screen().ids.with_card)

    def ask() -> Iterator[Wait]:
        touch(screen().ids.way_console)
        yield lambda: locked.routes.console_state().consoles == 1   # found by zeroconf, linked over TLS
        touch(screen().ids.ask)
        yield lambda: any(k.device == kiosk_id and k.asks_unlock for k in console.service.kiosks())
        # The representative, signed in on the console, confirms this kiosk.
        assert console.service.grant_unlock(kiosk_id, "rep-1") is UnlockGrant.SENT

    unlock = {"code": lambda: typed_code(recovery), "card": lambda: card_pin(HEAD_CARD_PIN), "console": ask}[way]
    steps: list[Step] = [
        ("locked", lambda: None, lambda: screen().ids.title.raw != "", 10),
        ("code_mistyped", lambda: typed_code(recovery[:-3]), lambda: answer() == ("code.mistyped", 17), 10),
        ("card_wrong_pin", lambda: card_pin("0000"), lambda: answer() == ("card.wrong_pin", 2), 10),
        ("unlocked", unlock, lambda: locked.unlocked is not None, 20),
    ]

    def record(name: str, ok: bool, _number: int) -> None:
        ids = screen().ids
        results.append({"step": name, "ok": ok, "answer": answer(), "notice": str(ids.notice.raw),
                         "title": str(ids.title.raw), "console": str(ids.console_state.raw)})
        screenshot(str(out / f"locked-{lang}-{way}-{name}.png"))

    run_steps(locked, steps, record, settle=0.2, errors=errors)
    try:
        locked.run()
    finally:
        reader.close()
    if locked.unlocked is not None and not any(r["step"] == "unlocked" for r in results):
        results.append({"step": "unlocked", "ok": True})
    if locked.unlocked is not None:
        resumed(locked.unlocked, kiosk_state, lang, pin, voter, results, errors, card if way == "card" else None)
    console.close()
    print(json.dumps({"results": results, "errors": errors, "locked_after": Installed.open(kiosk_state).locked},
                     ensure_ascii=False))


def resumed(installed: Installed, state: Path, lang: str, pin: str, voter: str, results: list[dict[str, Any]],
            errors: list[str], card: VirtualCard | None) -> None:
    """The kiosk app with the unlocked device, as kiosk.ui.run starts it: the head signs in (with the PIN, or
    with `card` and its PIN on the keypad), a voter is checked in."""
    card = VirtualCard.of("test", card.certificate, key=card.key, pin=HEAD_CARD_PIN) if card else None   # its PIN fresh
    kiosk = run.build(state, simulate=True, lang=lang, profile="test", network=False, installed=installed,
                      head_card=card)
    app = kiosk.app

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def on(name: str) -> bool:
        return bool(app.root.ids.screens.current == name and app.bridge.state.screen.value == name)

    def verdict() -> str | None:
        outcome = app.bridge.state.outcome
        return outcome.verdict.value if outcome is not None else None

    def sign_in() -> Iterator[Wait]:
        yield lambda: on("sign_in")
        if card is None:
            keypad(view("sign_in").ids.keypad, pin)
            touch(view("sign_in").ids.submit)
            return
        [button] = [b for b in app.root.ids.dev_panel.children if b.raw == "head's card"]
        touch(button)
        yield lambda: app.bridge.reader == "card_present"
        keypad(view("sign_in").ids.keypad, HEAD_CARD_PIN)
        touch(view("sign_in").ids.with_card)

    def check() -> None:
        keypad(view("ready").ids.keypad, voter)
        touch(view("ready").ids.check)

    steps: list[Step] = [
        ("signed_in", sign_in, lambda: on("ready"), 10),
        ("verdict", check, lambda: on("verdict") and verdict() == "eligible", 10),
        ("checked_in", lambda: touch(view("verdict").ids.confirm), lambda: on("done"), 10),
    ]

    def record(name: str, ok: bool, _number: int) -> None:
        results.append({"step": name, "ok": ok, "screen": app.bridge.state.screen.value,
                        "account": app.bridge.state.account})

    run_steps(app, steps, record, settle=0.1, errors=errors)
    try:
        app.run()
    finally:
        kiosk.close()


if __name__ == "__main__":
    main()
