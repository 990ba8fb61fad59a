"""A running console without its screen: the service on the LAN and its zeroconf advertisement."""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.net.channel import listen_host
from kiosk.net.discovery import REP_SERVICE, Advert, Advertiser
from kiosk.rep.service import RepService
from kiosk.state import Installed


@dataclass
class Console:
    """The service kiosks connect to, announced on the branch LAN."""

    service: RepService
    advertiser: Advertiser

    @classmethod
    def start(cls, installed: Installed, lan: list[str] | None = None, port: int = 0) -> Console:
        """Serve on `lan` (interface addresses; None: all) and advertise the port, the election and the branches."""
        service = RepService(installed, host=listen_host(lan), port=port)
        service.start()
        advert = Advert(installed.claims.device_id, service.port, installed.config.id, installed.claims.branches,
                        service.identity.fingerprint)
        advertiser = Advertiser(REP_SERVICE, advert, interfaces=lan)
        try:
            advertiser.start()
        except BaseException:
            service.close()
            raise
        return cls(service, advertiser)

    def close(self) -> None:
        """Say goodbye on the LAN first, so kiosks stop trying, then stop serving."""
        self.advertiser.close()
        self.service.close()
