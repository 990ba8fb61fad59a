"""Ready: insert the card, scan it, or type the code on a keypad that shows Persian digits."""
from __future__ import annotations

from typing import Any

from kiosk.core.eligibility import Verdict
from kiosk.core.flow import Notice
from kiosk.core.staff import Role
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv
from kiosk.ui.screens.verdict import next_step
from kiosk.ui.widgets import in_reading_order


class ReadyScreen(View):
    """Waiting for the next person; a hardware keyboard or keyboard-wedge scanner types into the code box."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("ready")
        self._correcting = ""       # the typed code last put back into the box
        super().__init__(bridge, name="ready", **kwargs)
        self.ids.keypad.target = self.ids.code
        # The row's buttons, held here: kv's ids are weak, and a worker's row leaves the head's out.
        self._row = tuple(self.ids[name].__self__ for name in ("summary", "staff", "cases", "lock"))
        self._footer = (self.ids.who_row.__self__, self.ids.buttons.__self__)
        self._refresh()

    def check(self) -> None:
        """Ask the core about the code typed so far, then clear the box for the next person."""
        raw, self.ids.code.text = self.ids.code.text, ""
        if raw.strip():
            self.bridge.flow.code_entered(raw)

    def edited(self, text: str) -> None:
        """An emptied box drops the verdict of the code that was in it."""
        state = self.bridge.state
        if not text and state is not None and state.correcting:
            self.bridge.flow.correction_dropped()

    def render(self) -> None:
        state = self.bridge.state
        self._show_correction(state)
        self.ids.check.raw = self.t("ready.check")
        self.ids.escalate.raw = self.t("ready.escalate")
        # An invalid typed code is mended in the box: a referral is offered where a correction cannot help.
        mend_only = state is not None and state.correcting and state.outcome is not None \
            and state.outcome.verdict is Verdict.INVALID_CODE
        self.ids.escalate.opacity, self.ids.escalate.disabled = (0, True) if mend_only else (1, False)
        self.ids.lock.raw = self.t("lock")
        unseen = state.decided_unseen if state is not None else 0
        self.ids.cases.raw = self.t("cases.open_new", count=unseen) if unseen else self.t("cases.open")
        self.ids.staff.raw = self.t("staff.open")
        self.ids.summary.raw = self.t("ready.summary")
        head = state is not None and state.role is Role.HEAD
        ids = self.ids
        if hasattr(self, "_row"):
            in_reading_order(ids.buttons, self._row if head else self._row[2:], self.bridge.lang == "fa")
        ids.who.raw = self._who(state)
        ids.help.raw = self.t("ready.help")
        in_reading_order(ids.who_row, (ids.who, ids.help), self.bridge.lang == "fa")
        duplicates = len(state.duplicates) if state is not None else 0
        self.ids.duplicates.raw = self.t("ready.duplicates", count=duplicates) if duplicates else ""
        # On this screen the red button is the notice of a double check-in; other notices still show above it.
        said_by_button = duplicates > 0 and state.notice is Notice.DUPLICATE_CHECK_IN
        self.ids.notice.raw = "" if said_by_button else self.notice()
        self.ids.keypad.relabel(self.bridge.lang == "fa", self.t("ready.clear"), self.t("ready.back"))

    def _show_correction(self, state: Any) -> None:
        """The band and next step of a typed code found invalid or not found, and the code back in the box."""
        outcome = state.outcome if state is not None and state.correcting else None
        if outcome is None:
            if self._correcting:       # the flow moved on (a card, a lock): the code goes with its verdict
                self.ids.code.text = ""
            self._correcting = ""
            self.ids.band.hide()
            self.ids.hint.raw = ""
            self.ids.title.raw = self.t("ready.title")
            self._show_footer(True)
            return
        if state.correcting != self._correcting:     # once per check: staff may be editing it already
            self._correcting = state.correcting
            self.ids.code.text = state.correcting
        self.ids.title.raw = ""
        self.ids.band.show(outcome.verdict, self.t(f"verdict.{outcome.verdict.value}"), self.bridge.lang == "fa")
        self.ids.hint.raw = next_step(self, outcome, read=False)
        self._show_footer(False)

    def _show_footer(self, shown: bool) -> None:
        """The sign-in row and the head's buttons, off the screen while a typed code is being corrected."""
        if not hasattr(self, "_footer"):
            return
        left = self.ids.left
        for part in self._footer:
            if shown and part.parent is None:
                left.add_widget(part, index=0)
            elif not shown and part.parent is not None:
                left.remove_widget(part)

    def _who(self, state: Any) -> str:
        """Who is signed in, and as what: staff see whose PIN the check-ins go under."""
        if state is None or state.account is None or state.role is None:
            return ""
        names = {account: name for account, name, _ in state.accounts}
        role = self.t(f"staff.role.{state.role.value}")
        if state.account not in names:     # an official's card: its roster id is not a name to show
            return self.t("ready.who_role", role=role)
        return self.t("ready.who", name=names[state.account], role=role)
