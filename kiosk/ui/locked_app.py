"""The app a locked kiosk runs: the locked screen and the LAN link to ask the console, nothing else.

No registry, ledger or staff book is opened before the unlock. Once a way
works the app ends and the kiosk app starts with the unlocked device in the
same process (kiosk.ui.run). The reader is this app's until then.
"""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout

from drivers.card.profiles import PROFILES
from drivers.card.reader import CardReader
from kiosk.net.discovery import REP_SERVICE, Browser
from kiosk.net.keeper import Closable, DiscoveryKeeper
from kiosk.net.unlock_asker import UnlockAsker
from kiosk.state import Installed
from kiosk.trust.certs import Role
from kiosk.trust.live import admits
from kiosk.ui.lockdown import LockedDownApp
from kiosk.ui.screens import KV
from kiosk.ui.screens.locked import LockedScreen
from kiosk.ui.widgets import add_dev_buttons
from kiosk.unlock_routes import UnlockRoutes


class LockedApp(LockedDownApp):
    """Runs until the device is unlocked (then `unlocked` holds it) or the app is stopped."""

    def __init__(self, installed: Installed, reader: CardReader, profile: str, lang: str = "fa",
                 lan: list[str] | None = None, network: bool = True,
                 dev_buttons: list[tuple[str, Any]] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.title = "Polling-branch kiosk"
        self.unlocked: Installed | None = None
        self._lang, self._lan, self._dev = lang, lan, dev_buttons or []
        self.asker = UnlockAsker(installed, lambda _i: None) if network else None
        self.routes = UnlockRoutes(installed, reader, PROFILES[profile], self._unlocked,
                                   lambda answer: self.screen.show(answer), asker=self.asker)
        self.screen: LockedScreen
        self._keeper: DiscoveryKeeper | None = None
        self._stopped = False

    def build(self) -> BoxLayout:
        common = str(KV / "common.kv")
        if common not in Builder.files:
            Builder.load_file(common)
        root = BoxLayout(orientation="vertical")
        self.screen = LockedScreen(self.routes, self._lang)
        root.add_widget(self.screen)
        if self._dev:
            panel = BoxLayout(size_hint_y=None, height="44dp")
            add_dev_buttons(panel, self._dev)
            root.add_widget(panel)
        if self.asker is not None:
            self._keeper = DiscoveryKeeper("rep", self._browse)
            self._keeper.start()
        return root

    def _browse(self) -> list[Closable]:
        assert self.asker is not None
        installed = self.routes.installed
        roster, branches = installed.roster(), installed.claims.branches
        browser = Browser(REP_SERVICE, installed.config.id, branches, on_change=self.asker.endpoints_changed,
                          interfaces=self._lan, known=lambda device: admits(roster, device, Role.REP, branches))
        browser.start()
        return [browser]

    def _unlocked(self, opened: Installed) -> None:
        """A way worked (on a worker or link thread): end this app on Kivy's thread."""
        self.unlocked = opened
        Clock.schedule_once(lambda _dt: self.stop(), 0)

    def stop(self, *args: Any) -> None:
        """End this app once: a stop still queued on Kivy's clock must not end the kiosk app that starts next."""
        if self._stopped:
            return
        self._stopped = True
        super().stop(*args)

    def on_stop(self) -> None:
        """Stop browsing and the links to the consoles; the reader stays open for the kiosk app."""
        if self._keeper is not None:
            self._keeper.close()
        if self.asker is not None:
            self.asker.close()
        super().on_stop()
