"""A running console without its screen: the service on the LAN and its zeroconf advertisement."""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.net.channel import listen_host
from kiosk.net.discovery import REP_SERVICE, Advert, Advertiser
from kiosk.net.keeper import Closable, DiscoveryKeeper
from kiosk.rep.service import RepService
from kiosk.state import Installed


@dataclass
class Console:
    """The service kiosks connect to, announced on the branch LAN."""

    service: RepService
    keeper: DiscoveryKeeper

    @classmethod
    def start(cls, installed: Installed, lan: list[str] | None = None, port: int = 0) -> Console:
        """Serve on `lan` (interface addresses; None: all) and advertise the port, the election and the branches.

        A console started before its address exists serves anyway and advertises once the address is there.
        """
        service = RepService(installed, host=listen_host(lan), port=port)
        service.start()
        advert = Advert(installed.claims.device_id, service.port, installed.config.id, installed.claims.branches,
                        service.identity.fingerprint)

        def advertise() -> list[Closable]:
            advertiser = Advertiser(REP_SERVICE, advert, interfaces=lan)
            advertiser.start()
            return [advertiser]

        keeper = DiscoveryKeeper("console", advertise)
        keeper.start()
        return cls(service, keeper)

    @property
    def advertised(self) -> bool:
        """Whether kiosks can find the console now."""
        return self.keeper.running

    def close(self) -> None:
        """Say goodbye on the LAN first, so kiosks stop trying, then stop serving."""
        self.keeper.close()
        self.service.close()
