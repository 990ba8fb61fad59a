"""One thin view per screen; its layout lives in kiosk/ui/kv/<name>.kv."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from kiosk.ui.bridge import FlowBridge
from kiosk.ui.colours import notice_ink
from kiosk.ui.text import say

KV = Path(__file__).resolve().parent.parent / "kv"


def load_kv(name: str, folder: Path = KV) -> None:
    """Load a screen's .kv file once."""
    path = str(folder / f"{name}.kv")
    if path not in Builder.files:
        Builder.load_file(path)


class Bridge(Protocol):
    """What a view needs of its bridge: the Kivy properties `state` (with `notice`, `notice_detail`) and `lang`."""

    state: Any
    lang: str

    def bind(self, **handlers: Any) -> Any:
        """Kivy's property binding."""
        ...


class BoundView(Screen):  # type: ignore[misc]
    """A screen bound to a bridge; `t(key)` gives text in the current language. The kiosk and the console share it."""

    notices = "notice."  # where the state's notices live in the catalogue

    def __init__(self, bridge: Bridge, **kwargs: Any) -> None:
        self.bridge = bridge
        super().__init__(**kwargs)
        bridge.bind(state=self._refresh, lang=self._refresh)
        self._refresh()

    def t(self, key: str, **values: object) -> str:
        """Catalogue text for the current language."""
        return say(self.bridge.lang, key, **values)

    def notice(self) -> str:
        """The current notice, if any, in the current language."""
        state = self.bridge.state
        if state is None or state.notice is None:
            return ""
        detail: object = int(state.notice_detail) if state.notice_detail else ""
        return self.t(f"{self.notices}{state.notice.value}", detail=detail)

    def _refresh(self, *_: Any) -> None:
        """Re-render once the .kv rule has given the screen its widgets (the bridge may fire before).

        The notice line then takes the colour of its sense (kiosk/ui/colours.py): good news is green.
        """
        if self.ids:
            self.render()
            state = self.bridge.state
            if "notice" in self.ids and state is not None and getattr(state, "notice", None) is not None:
                self.ids.notice.color = notice_ink(state.notice.value)

    def render(self) -> None:
        """Draw the screen from the bridge's state and language; each screen fills this in."""


class View(BoundView):
    """A kiosk screen, bound to the check-in flow's bridge."""

    bridge: FlowBridge

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        super().__init__(bridge, **kwargs)
