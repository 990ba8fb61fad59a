"""This kiosk's cases for the representative, newest first, each with its status and what staff can do next."""
from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout

from kiosk.core.cases import Case, CaseStatus, Ruling
from kiosk.ui import colours
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.confirm import ask
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import BidiButton, BidiLabel


class CasesScreen(View):
    """An approved case offers "record"; an undecided one offers "withdraw" (the person left)."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("cases")
        super().__init__(bridge, name="cases", **kwargs)

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("cases.title")
        self.ids.back.raw = self.t("verdict.cancel")
        self.ids.notice.raw = self.notice()
        rows = self.ids.rows
        rows.clear_widgets()
        cases = state.cases if state is not None else ()
        if not cases:
            rows.add_widget(BidiLabel(raw=self.t("cases.none")))
        for case in reversed(cases):
            rows.add_widget(self._row(case, highlight=case.case_id == state.last_case))

    def status_text(self, case: Case) -> str:
        """What the case's status means for staff, in the screen's language."""
        decision = case.decision
        if case.status is CaseStatus.DECIDED and decision is not None:
            if decision.ruling is Ruling.APPROVE and case.check_in:
                return self.t("cases.status.checked_in")
            return self.t(f"cases.status.{decision.ruling.value}", reason=decision.reason)
        return self.t(f"cases.status.{case.status.value}")

    def _row(self, case: Case, highlight: bool) -> BoxLayout:
        row = BoxLayout(orientation="horizontal", size_hint_y=None, spacing=6)
        label = BidiLabel(raw=self.t("cases.row", case_id=case.case_id, first=case.form.first_name,
                                     last=case.form.last_name, status=self.status_text(case)), font_size="17sp")
        if highlight:
            label.color = (0.05, 0.4, 0.15, 1)
        action = self._action(case)
        # The button sits at the line's end: on the left in Persian, on the right in English.
        parts = [label] if action is None else [action, label] if self.bridge.lang == "fa" else [label, action]
        for part in parts:
            row.add_widget(part)
        label.bind(height=lambda _w, h: setattr(row, "height", max(h, 52)))
        row.height = max(label.height, 52)
        return row

    def _action(self, case: Case) -> BidiButton | None:
        flow = self.bridge.flow
        decision = case.decision
        if decision is not None and decision.ruling is Ruling.APPROVE and not case.check_in:
            button = BidiButton(raw=self.t("cases.check_in"), size_hint_x=None, width=150, height=52,
                                font_size="17sp", background_color=colours.SUCCESS)
            button.bind(on_release=lambda _b: flow.check_in_case(case.case_id))
            button.case_id = case.case_id
            return button
        if case.status in (CaseStatus.WAITING, CaseStatus.DELIVERED):
            button = BidiButton(raw=self.t("cases.withdraw"), size_hint_x=None, width=170, height=52,
                                font_size="16sp", background_color=colours.ERROR)
            question = self.t("confirm.withdraw", case_id=case.case_id, first=case.form.first_name,
                              last=case.form.last_name)
            button.bind(on_release=lambda _b: ask(self, question, self.t("cases.withdraw"),
                                                  lambda: flow.withdraw_case(case.case_id)))
            button.case_id = case.case_id
            return button
        return None
