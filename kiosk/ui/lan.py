"""The kiosk's links over the branch LAN: the representative's consoles (courier) and the other kiosks (sync).

Made before the screens, so the desk can push each new ledger event at once;
attached to the bridge once the app exists, so statuses, decisions and double
check-ins reach the screen on the Kivy thread. A kiosk whose network cannot
start still serves voters: cases wait in the outbox and sync waits for a link.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.net.channel import listen_host
from kiosk.net.courier import Courier
from kiosk.net.discovery import REP_SERVICE, Browser
from kiosk.net.keeper import Closable, DiscoveryKeeper
from kiosk.net.sync import BranchSync
from kiosk.state import Installed
from kiosk.trust.certs import Role
from kiosk.trust.live import LiveRoster, admits
from kiosk.trust.roster import Roster
from kiosk.ui.bridge import FlowBridge


@dataclass
class LanLinks:
    """The courier with the browser that feeds it consoles, and branch sync, under one roster in force."""

    installed: Installed
    courier: Courier
    sync: BranchSync
    lan: list[str] | None
    live: LiveRoster
    browser: Browser | None = None
    keeper: DiscoveryKeeper | None = None

    @classmethod
    def create(cls, installed: Installed, lan: list[str] | None, skew_bound_ms: int,
               today_start_utc: Callable[[], str], sync_port: int = 0) -> LanLinks:
        """The links, not started yet; `lan` pins every socket and zeroconf to these addresses (None: all)."""
        live = LiveRoster(installed)
        courier = Courier(installed, today_start_utc=today_start_utc, skew_bound_ms=skew_bound_ms, live=live)
        sync = BranchSync(installed, lan=lan, host=listen_host(lan), port=sync_port, now_ms=courier.best_time_ms)
        live.subscribe(sync.use_roster)   # a list the console relays shuts the revoked kiosk out of sync too
        links = cls(installed, courier, sync, lan, live)
        live.subscribe(links._roster_changed)
        return links

    def poke(self) -> None:
        """A case or a ledger event was written on the screen's side: send it now."""
        self.courier.poke()
        self.sync.poke()

    def attach(self, bridge: FlowBridge) -> None:
        """Send what the links learn to the screen, then start them."""
        flow = bridge.flow
        self.courier.on_status = bridge.link_changed
        self.courier.on_cases = lambda: self._decided(bridge)
        self.sync.on_status = bridge.sync_changed
        self.sync.on_duplicates = lambda: bridge.on_kivy_thread(flow.duplicates_changed)
        self.sync.start()
        self.keeper = DiscoveryKeeper("rep", self._browse)
        self.keeper.start()
        self.live.watch()   # a list or device a technician adds from a stick while the app runs

    def _browse(self) -> list[Closable]:
        """Look for the representative's consoles (again after the machine's addresses changed)."""
        self.browser = None
        branches = self.installed.claims.branches
        browser = Browser(REP_SERVICE, self.installed.config.id, branches,
                          on_change=self.courier.endpoints_changed, interfaces=self.lan,
                          known=lambda device: admits(self.live.source, device, Role.REP, branches))
        browser.start()
        self.browser = browser
        return [browser]

    def _roster_changed(self, _roster: Roster) -> None:
        """A console enrolled after the package, added from a stick, is taken from the adverts already seen."""
        browser = self.browser
        if browser is not None:
            browser.recheck()

    def _decided(self, bridge: FlowBridge) -> None:
        """A decision arrived: the cases screen refreshes, and its ledger entry goes to the other kiosks."""
        bridge.on_kivy_thread(bridge.flow.cases_changed)
        self.sync.poke()

    def close(self) -> None:
        """Stop browsing, then the links."""
        self.live.close()
        if self.keeper is not None:
            self.keeper.close()
        self.sync.close()
        self.courier.close()
