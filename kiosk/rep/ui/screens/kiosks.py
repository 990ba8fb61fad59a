"""Every kiosk of the console's branches: online, last seen, check-ins, open cases, problems reported, clock skew."""
from __future__ import annotations

from typing import Any

from kivy.metrics import dp

from kiosk.core.console import KioskSeen
from kiosk.core.console_flow import skew_shown
from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import ConsoleRow, ConsoleView, short_device
from kiosk.ui.widgets import BidiButton, BidiLabel

_COLUMNS = (("device", 0.9), ("branch", 0.7), ("status", 0.8), ("last_seen", 0.9), ("checkins", 1.0),
            ("open", 0.9), ("duplicates", 1.0), ("anomalies", 1.0), ("skew", 1.1))
_GREEN, _RED, _AMBER = (0.05, 0.45, 0.15, 1), (0.7, 0.1, 0.1, 1), (0.6, 0.35, 0.0, 1)


class ConsoleKiosksScreen(ConsoleView):
    """A table with a header, one row per kiosk, and the totals."""

    def __init__(self, bridge: ConsoleBridge, **kwargs: Any) -> None:
        super().__init__(bridge, "kiosks", **kwargs)

    def render(self) -> None:
        kiosks: tuple[KioskSeen, ...] = self.bridge.state.kiosks
        self.ids.title.raw = self.t("console.kiosks.title")
        self.ids.back.raw = self.t("console.back")
        self.ids.notice.raw = self.notice()
        rows = self.ids.rows
        rows.clear_widgets()
        if not kiosks:
            rows.add_widget(BidiLabel(raw=self.t("console.kiosks.none"), font_size="20sp"))
            return
        header = ConsoleRow(shade=[0.8, 0.83, 0.88, 1], height=dp(40))
        self.cells(header, [(self.t(f"console.kiosks.{key}"), width) for key, width in _COLUMNS], size="15sp",
                   bold=True)
        rows.add_widget(header)
        for kiosk in kiosks:
            rows.add_widget(self._row(kiosk))
            if kiosk.asks_unlock:
                rows.add_widget(self._unlock_row(kiosk))
        online = sum(1 for k in kiosks if k.online)
        total = ConsoleRow(shade=[0.8, 0.83, 0.88, 1], height=dp(40))
        # No total of double check-ins or irregular records: every kiosk that holds one reports it, so a sum
        # would count it more than once.
        self.cells(total, [(self.t("console.kiosks.total"), 1.6),
                           (self.t("console.kiosks.total_online", online=online, total=len(kiosks)), 1.7),
                           (self.digits(sum(k.checkins_today for k in kiosks)), 1.0),
                           (self.digits(sum(k.open_cases for k in kiosks)), 0.9), ("", 1.0), ("", 1.0), ("", 1.1)],
                   bold=True)
        rows.add_widget(total)

    def _row(self, kiosk: KioskSeen) -> ConsoleRow:
        row = ConsoleRow(height=dp(40))
        status = self.t("console.kiosks.online" if kiosk.online else "console.kiosks.offline")
        seen = self.when(kiosk.last_seen) if kiosk.last_seen else self.t("console.kiosks.never")
        self.cells(row, [(short_device(kiosk.device), 0.9), (self.digits(kiosk.branch), 0.7), (status, 0.8),
                         (seen, 0.9), (self.digits(kiosk.checkins_today), 1.0), (self.digits(kiosk.open_cases), 0.9),
                         (self.digits(kiosk.duplicates) if kiosk.duplicates else "", 1.0),
                         (self.digits(kiosk.anomalies) if kiosk.anomalies else "", 1.0), (self._skew(kiosk), 1.1)],
                   colors={2: _GREEN if kiosk.online else _RED, 6: _RED, 7: _RED, 8: _AMBER})
        return row

    def _unlock_row(self, kiosk: KioskSeen) -> ConsoleRow:
        """A locked kiosk asks for the day's unlock: confirm (the signed-in representative) or refuse."""
        row = ConsoleRow(shade=[0.85, 0.95, 0.88, 1], height=dp(52))
        device = short_device(kiosk.device)
        row.add_widget(BidiLabel(raw=self.t("console.unlock.asks", device=device), font_size="16sp", size_hint_y=1))
        confirm = BidiButton(raw=self.t("console.unlock.confirm", device=device), font_size="16sp", size_hint_y=1,
                             background_color=(0.1, 0.45, 0.3, 1))
        confirm.device = kiosk.device
        confirm.bind(on_release=lambda _b, k=kiosk.device: self.bridge.flow.unlock_kiosk(k))
        refuse = BidiButton(raw=self.t("console.unlock.refuse"), font_size="16sp", size_hint_y=1, size_hint_x=0.5,
                            background_color=(0.55, 0.15, 0.15, 1))
        refuse.device = kiosk.device
        refuse.bind(on_release=lambda _b, k=kiosk.device: self.bridge.flow.refuse_unlock(k))
        row.add_widget(confirm)
        row.add_widget(refuse)
        return row

    def _skew(self, kiosk: KioskSeen) -> str:
        """How far the kiosk's clock is off, once it is far enough to matter."""
        if not skew_shown(kiosk):
            return ""
        way = "ahead" if kiosk.skew_ms > 0 else "behind"
        seconds = abs(kiosk.skew_ms) // 1000
        if seconds < 120:
            return self.t(f"console.kiosks.{way}_s", count=seconds)
        return self.t(f"console.kiosks.{way}_min", count=seconds // 60)
