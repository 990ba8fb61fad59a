"""The kiosk app: status bar, screens, and the wiring of drivers to the core flow. The App stays small."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from kivy.base import ExceptionManager
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition

from drivers.card.profiles import PROFILES, read_card
from drivers.card.reader import CardReader, ReaderEvent, ReaderStatus
from drivers.errors import DriverError
from drivers.printer import PrintResult, ReceiptPrinter
from drivers.receipts import closing_layout, render
from drivers.scanner import BarcodeScanner, ScanEvent, Scanned, StatusChanged, Unusable
from kiosk.core.branch import SyncStatus
from kiosk.core.closing import DaySummary, day_lines
from kiosk.core.flow import CheckInFlow, Printed
from kiosk.core.jalali import TEHRAN, JalaliDate, format_en, format_fa, persian_digits
from kiosk.logbook import Event, log
from kiosk.trust.manifest import Difference
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.disk_full import DiskFullHandler, DiskFullNotice, watch_disk_full
from kiosk.ui.lockdown import LockedDownApp
from kiosk.ui.screens import KV
from kiosk.ui.screens.approval import ApprovalScreen
from kiosk.ui.screens.cases import CasesScreen
from kiosk.ui.screens.done import DoneScreen
from kiosk.ui.screens.duplicates import DuplicatesScreen
from kiosk.ui.screens.escalation import EscalationScreen
from kiosk.ui.screens.ready import ReadyScreen
from kiosk.ui.screens.help import HelpScreen
from kiosk.ui.screens.sign_in import SignInScreen
from kiosk.ui.screens.staff import StaffScreen
from kiosk.ui.screens.stopped import StoppedScreen, stop_root
from kiosk.ui.screens.summary import SummaryScreen
from kiosk.ui.screens.verdict import VerdictScreen
from kiosk.ui.text import say
from kiosk.ui.keyboard import keyboard_words, shared_keyboard
from kiosk.ui.widgets import add_dev_buttons


class KioskRoot(BoxLayout):  # type: ignore[misc]
    """Status bar on top, the current screen below, the developer panel (simulation only) at the bottom."""

    def __init__(self, bridge: FlowBridge, branch_code: str, **kw: Any) -> None:
        self.bridge = bridge
        self.branch_code = branch_code
        self.stopped: StoppedScreen | None = None
        super().__init__(**kw)
        screens = self.ids.screens
        screens.transition = NoTransition()
        for view in (SignInScreen(bridge), ReadyScreen(bridge), VerdictScreen(bridge),
                     DoneScreen(bridge), EscalationScreen(bridge), CasesScreen(bridge), StaffScreen(bridge),
                     DuplicatesScreen(bridge), SummaryScreen(bridge), ApprovalScreen(bridge),
                     HelpScreen(bridge)):
            screens.add_widget(view)
        bridge.bind(state=self.refresh, lang=self.refresh, reader=self.refresh, scanner=self.refresh,
                    printer=self.refresh, rep=self.refresh, rep_skew_minutes=self.refresh, sync=self.refresh)
        Clock.schedule_interval(lambda _dt: self.refresh(), 1.0)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Follow the core's screen and redraw the status bar."""
        if self.stopped is not None:
            return   # the stop screen is all there is
        state, lang = self.bridge.state, self.bridge.lang
        self.ids.screens.current = state.screen.value
        reader = say(lang, f"status.reader.{self.bridge.reader}")
        scanner = say(lang, f"status.scanner.{self.bridge.scanner}") if self.bridge.scanner else ""
        printer = say(lang, f"status.printer.{self.bridge.printer}") if self.bridge.printer else ""
        self.ids.reader.raw = "\n".join(part for part in (reader, scanner) if part)
        rep = say(lang, f"status.rep.{self.bridge.rep}", minutes=int(self.bridge.rep_skew_minutes))
        self.ids.branch.raw = "\n".join(part for part in (printer, rep) if part)
        now = dt.datetime.now(TEHRAN)  # "today" is the election day in Tehran, whatever the device's zone
        day = JalaliDate.from_gregorian(now.date())
        code = persian_digits(self.branch_code) if lang == "fa" else self.branch_code
        # "، ساعت" keeps the bidi algorithm from running the year and the time together.
        when = f"{format_fa(day)}، ساعت {persian_digits(now.strftime('%H:%M'))}" if lang == "fa" \
            else f"{format_en(day)}, {now.strftime('%H:%M')}"
        self.ids.clock.raw = f"{say(lang, 'status.branch', code=code)}\n{when}"
        self.ids.checkins.raw = say(lang, "status.checkins", count=state.checkins)
        self.ids.sync.raw = self.sync_text(self.bridge.sync, lang)
        self.ids.lang.raw = say(lang, "lang.switch")
        shared_keyboard().relabel(keyboard_words(lambda key: say(lang, key)))

    def stop(self, difference: Difference) -> None:
        """Only the stop screen from now on: no status bar, no developer panel, no screen of the flow."""
        if self.stopped is None:
            self.stopped = stop_root(self, difference, "kiosk")

    @staticmethod
    def sync_text(status: SyncStatus, lang: str) -> str:
        """Two lines on the other kiosks of the branch: linked (and refused), then behind, in step or last contact.

        Records the rules refused to count take the second line once there are any: kept as evidence, they stay
        for the rest of the day, and the first line still says whether the kiosk is cut off.
        """
        irregular = say(lang, "status.sync.anomalies", count=status.anomalies) if status.anomalies else ""
        if not status.peers and not status.refused:
            return irregular  # a branch with one kiosk: the cell takes no room unless there is evidence to show
        key = "status.sync.linked_refused" if status.refused else "status.sync.linked"
        linked = say(lang, key, online=status.online, refused=len(status.refused))
        contacts = [p.last_contact for p in status.peers if p.last_contact]
        if status.online == 0 and contacts:
            # Cut off from every other kiosk: since when matters more than a count that no longer moves.
            at = dt.datetime.fromisoformat(max(contacts)).astimezone(TEHRAN).strftime("%H:%M")
            second = say(lang, "status.sync.last_contact", at=persian_digits(at) if lang == "fa" else at)
        elif status.behind > 0:
            second = say(lang, "status.sync.behind", count=status.behind)
        elif status.online > 0:
            second = say(lang, "status.sync.in_step")
        else:
            second = ""
        return "\n".join(line for line in (linked, irregular or second) if line)


class CardWiring:
    """Reader events (driver thread) → a card read (worker thread) → flow commands (Kivy thread)."""

    def __init__(self, reader: CardReader, bridge: FlowBridge, profile: str,
                 anchors: list[x509.Certificate], election_day: dt.date) -> None:
        self._reader, self._bridge = reader, bridge
        self._profile, self._anchors, self._day = PROFILES[profile], anchors, election_day
        reader.subscribe(self._on_event)
        self._on_event(ReaderEvent(reader.status()))

    def _on_event(self, event: ReaderEvent) -> None:
        flow = self._bridge.flow
        self._bridge.on_kivy_thread(setattr, self._bridge, "reader", event.status.value)
        match event.status:
            case ReaderStatus.CARD_PRESENT:
                threading.Thread(target=self._read, name="card-read", daemon=True).start()
            case ReaderStatus.NO_CARD:
                self._bridge.on_kivy_thread(flow.card_removed)
            case ReaderStatus.NO_READER:
                self._bridge.on_kivy_thread(flow.reader_unplugged)
            case ReaderStatus.CARD_ERROR:
                self._bridge.on_kivy_thread(flow.card_unreadable)

    def _read(self) -> None:
        flow = self._bridge.flow
        try:
            read = read_card(self._reader.transmit, self._profile, self._anchors, self._day)
        except DriverError:
            self._bridge.on_kivy_thread(flow.card_unreadable)
            return
        self._bridge.on_kivy_thread(flow.card_read, read.national_code, read.trusted)


class ScannerWiring:
    """Scanner events (driver thread) → flow commands (Kivy thread); a bad scan is a notice, not a crash."""

    def __init__(self, scanner: BarcodeScanner, bridge: FlowBridge) -> None:
        self._bridge = bridge
        scanner.subscribe(self._on_event)

    def _on_event(self, event: ScanEvent) -> None:
        flow = self._bridge.flow
        match event:
            case Scanned():
                self._bridge.on_kivy_thread(flow.code_entered, event.code, False)  # scanned: not typed
            case Unusable():
                self._bridge.on_kivy_thread(flow.scan_unusable)
            case StatusChanged():
                self._bridge.on_kivy_thread(setattr, self._bridge, "scanner", event.status.value)


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who prints: the top of a receipt."""

    branch_code: str = ""
    branch_name: str = ""
    device_id: str = ""


def printed(result: PrintResult) -> Printed:
    """The driver's result in the core's words (the core imports no driver; the two enums share their values)."""
    return Printed(result.value)


class PrinterWiring:
    """Asks the printer for its status every few seconds on a thread of its own (status is a value, not a crash).

    Also the flow's print port: a job runs on a thread of its own, and its result reaches the flow on Kivy's.
    """

    def __init__(self, printer: ReceiptPrinter, bridge: FlowBridge, every: float = 10.0,
                 letterhead: Letterhead | None = None) -> None:
        self._printer, self._bridge, self._every = printer, bridge, every
        self._letterhead = letterhead or Letterhead()
        self._stop = threading.Event()
        self._job: threading.Thread | None = None
        self._thread = threading.Thread(target=self._poll, name="printer-status", daemon=True)
        self._thread.start()

    @property
    def device(self) -> ReceiptPrinter:
        """The printer itself (with --simulate, the fake whose controls a test or demo uses)."""
        return self._printer

    def print_summary(self, summary: DaySummary, done: Callable[[Printed], None], account: str = "") -> None:
        """Print today's figures (counts only) as the close-of-polls receipt; `done` is called on the Kivy thread."""
        log(Event.SUMMARY_PRINTED, account=account)
        self._job = threading.Thread(target=self._print, args=(summary, done), name="summary-print", daemon=True)
        self._job.start()

    def _print(self, summary: DaySummary, done: Callable[[Printed], None]) -> None:
        head = self._letterhead
        image = render(closing_layout(branch_code=head.branch_code, branch_name=head.branch_name,
                                      day=summary.day, at=summary.at.time(), device_id=head.device_id,
                                      lines_fa=day_lines(summary, "fa"), lines_en=day_lines(summary, "en")))
        try:
            result = printed(self._printer.print_image(image))
        except DriverError:
            result = Printed.ERROR
        self._bridge.on_kivy_thread(done, result)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                status = self._printer.status().value
            except DriverError:
                status = "error"
            self._bridge.on_kivy_thread(setattr, self._bridge, "printer", status)
            self._stop.wait(self._every)

    def close(self) -> None:
        """Stop polling, let a job under way finish, and release the printer."""
        self._stop.set()
        self._thread.join(timeout=5)
        if self._job is not None:
            self._job.join(timeout=60)  # a receipt at 9600 baud takes tens of seconds
        self._printer.close()


class KioskApp(LockedDownApp):
    """Builds the root and feeds the core's clock; everything else is in the views and the core."""

    def __init__(self, flow: CheckInFlow, branch_code: str,
                 dev_buttons: list[tuple[str, Any]] | None = None, lang: str = "fa", **kw: Any) -> None:
        super().__init__(**kw)
        self.bridge = FlowBridge(flow, lang=lang)
        self._branch, self._dev = branch_code, dev_buttons or []
        self.title = "Polling-branch kiosk"
        self.disk_full: DiskFullNotice | None = None   # shown while the state disk is full
        self._disk_watch: DiskFullHandler | None = None

    def build(self) -> KioskRoot:
        path = str(KV / "common.kv")
        if path not in Builder.files:
            Builder.load_file(path)
        app_kv = str(KV / "app.kv")
        if app_kv not in Builder.files:
            Builder.load_file(app_kv)
        root = KioskRoot(self.bridge, self._branch)
        add_dev_buttons(root.ids.dev_panel, self._dev)
        Clock.schedule_interval(lambda _dt: self.bridge.flow.tick(), 1.0)
        self._disk_watch = watch_disk_full(self.show_disk_full)
        return root

    def show_disk_full(self) -> None:
        """A write failed on a full state disk: say so over whatever screen shows, and keep running."""
        if self.disk_full is None:
            self.disk_full = DiskFullNotice()
            self.disk_full.bind(on_dismiss=lambda *_: setattr(self, "disk_full", None))
            self.disk_full.open()

    def on_stop(self) -> None:
        """The disk-full handler is this app's; another app in the same process starts without it."""
        if self._disk_watch is not None:
            ExceptionManager.remove_handler(self._disk_watch)
            self._disk_watch = None
        super().on_stop()

    def stop_serving(self, difference: Difference) -> None:
        """An installed file changed under the running app: sign out, forget the person, show the stop screen.

        Call on the Kivy thread, after the staff gate was closed (nobody signs in again).
        """
        self.bridge.flow.lock()
        self.root.stop(difference)


def monotonic() -> float:
    """The flow's clock: idle and done timers must not jump with the wall clock."""
    return time.monotonic()
