"""An approved case before it is recorded: the registry's verdict on the person, and the head's word if it is needed."""
from __future__ import annotations

from typing import Any

from kivy.properties import ListProperty

from kiosk.core.approval import MAX_HEAD_REASON, ApprovalCheck
from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import format_en, format_fa
from kiosk.core.staff import Role
from kiosk.text.persian import shape_line
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.limits import PIN_MAX, limit_box, limit_pin_box
from kiosk.ui.screens import View, load_kv
from kiosk.ui.screens.verdict import ledger_time
from kiosk.ui.verdict_look import LOOKS
from kiosk.ui.widgets import in_reading_order

REASONS = ("registry", "identity", "representative")   # a picked reason fills the box; staff may edit it


class ApprovalScreen(View):
    """Shows the approved person as the verdict screen would; a verdict against them asks for the branch head."""

    band = ListProperty(list(LOOKS[Verdict.NOT_FOUND].band))
    ink = ListProperty(list(LOOKS[Verdict.NOT_FOUND].ink))

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("approval")
        super().__init__(bridge, name="approval", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = PIN_MAX
        limit_box(self.ids.reason, MAX_HEAD_REASON)
        limit_pin_box(self.ids.pin)
        self._heights = {box: self.ids[box].height for box in ("reason", "presets", "pin")}
        self._side = self.ids.side.size_hint_x
        self.render()

    def pick(self, reason: str) -> None:
        """A preset reason, in the screen's language, into the reason box."""
        self.ids.reason.text = self.t(f"approval.reason.{reason}")

    def confirm(self) -> None:
        """Hand the reason and the head's PIN to the core; the PIN box is cleared whatever happens."""
        pin, self.ids.pin.text = self.ids.pin.text, ""
        self.bridge.flow.confirm_approval(self.ids.reason.text.strip(), pin)

    def on_leave(self, *_: Any) -> None:
        """Nothing typed stays behind for the next approval or a lock."""
        self.ids.reason.text = self.ids.pin.text = ""

    def render(self) -> None:
        state = self.bridge.state
        check = state.approval if state is not None else None
        if check is None or not hasattr(self, "_heights"):
            return
        outcome, record, form, fa = check.outcome, check.outcome.record, check.form, self.bridge.lang == "fa"
        self.band, self.ink = list(LOOKS[outcome.verdict].band), list(LOOKS[outcome.verdict].ink)
        self.ids.title.raw = self.t("approval.title", case_id=check.case_id)
        self.ids.verdict.raw = self.t(f"verdict.{outcome.verdict.value}")
        if record is not None:
            self.ids.name.raw = self.t("field.name", first=record.first_name, last=record.last_name)
            self.ids.father.raw = " — ".join((self.t("field.father", father=record.father_name),
                                              self.t("field.birth_year", year=record.birth_date.year)))
        else:  # no registry record to compare with: what staff wrote on the case
            self.ids.name.raw = self.t("field.name", first=form.first_name, last=form.last_name)
            self.ids.father.raw = self.t("approval.case_name", father=form.father_name)
        self.ids.hint.raw = self._hint(check)
        head, head_here = check.needs_head, state.role is Role.HEAD
        pad = head and not head_here
        self._show(self.ids.side, pad, size_hint_x=self._side if pad else 0.001)
        self._show(self.ids.reason, head, height=self._heights["reason"] if head else 0)
        self._show(self.ids.presets, head, height=self._heights["presets"] if head else 0)
        self._show(self.ids.pin, pad, height=self._heights["pin"] if pad else 0)
        self._show(self.ids.keypad, pad)
        # While a notice says what to do (the head's PIN, a reason), the line saying why gives it its room.
        asked = state.notice is not None
        self.ids.head_needed.raw = self.t("approval.head_signed_in" if head_here else "approval.head_needed") \
            if head and not asked else ""
        self.ids.reason.hint_text = self.t("approval.reason")     # the box shapes it
        self.ids.pin.hint_text = shape_line(self.t("approval.pin"), fa)
        for reason in REASONS:
            self.ids[f"preset_{reason}"].raw = self.t(f"approval.reason.{reason}")
        in_reading_order(self.ids.presets, [self.ids[f"preset_{reason}"] for reason in REASONS], fa)
        self.ids.notice.raw = self.notice()
        self.ids.confirm.raw = self.t("approval.confirm_head" if head else "approval.confirm")
        self.ids.cancel.raw = self.t("verdict.cancel")
        self.ids.keypad.relabel(fa, self.t("ready.clear"), self.t("ready.back"))

    @staticmethod
    def _show(widget: Any, shown: bool, **layout: float) -> None:
        """Show a part, or fold it away: no room (as `layout` says), not drawn, no touches."""
        for name, value in layout.items():
            setattr(widget, name, value)
        widget.opacity, widget.disabled = (1, False) if shown else (0, True)

    def _hint(self, check: ApprovalCheck) -> str:
        outcome = check.outcome
        if check.supersedes:
            device, _, seq = check.supersedes.rpartition(":")
            return self.t("approval.supersedes", device=device, seq=int(seq))
        if outcome.verdict is Verdict.ALREADY_VOTED and outcome.previous is not None:
            return self.t("approval.fact.already_voted", at=ledger_time(outcome.previous.wall, self.bridge.lang),
                          device=outcome.previous.device)
        if outcome.verdict is Verdict.UNDERAGE and outcome.eligible_on is not None:
            day = format_fa(outcome.eligible_on) if self.bridge.lang == "fa" else format_en(outcome.eligible_on)
            return self.t("approval.fact.underage", day=day)
        if check.by_reference:
            return self.t("approval.by_reference")
        if outcome.verdict is Verdict.NOT_FOUND:
            return self.t("hint.eligible")  # the representative settled "not found": compare the person
        # The representative has ruled: the verdict's "do not record" is not the next step here; the
        # line under it says whether the branch head must confirm.
        return self.t("hint.eligible") if outcome.verdict is Verdict.ELIGIBLE else ""
