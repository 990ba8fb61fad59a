"""One case: the form staff filled, large, and the decision: national code, reference, reason, three rulings."""
from __future__ import annotations

from typing import Any

from kiosk.core.cases import DecisionProblem, Ruling, check_decision
from kiosk.core.text_limits import MAX_REASON, MAX_REFERENCE
from kiosk.core.jalali import format_en, format_fa
from kiosk.core.national_code import ascii_digits_only
from kiosk.core.console_flow import ConsoleNotice, minutes_waiting
from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import ConsoleView
from kiosk.ui.confirm import ask
from kiosk.ui.limits import limit_box

# Each problem is shown on the label of the box it is about.
_BOXES = {"code": (DecisionProblem.CODE, DecisionProblem.CODE_OR_REFERENCE),
          "reference": (DecisionProblem.REFERENCE,), "reason": (DecisionProblem.REASON,)}
_LIMITS = {"code": 10, "reference": MAX_REFERENCE}
_DARK, _RED = (0.08, 0.08, 0.1, 1), (0.7, 0.1, 0.1, 1)


class ConsoleCaseScreen(ConsoleView):
    """The keypad types into the code box, or into the reference box once that is touched."""

    def __init__(self, bridge: ConsoleBridge, **kwargs: Any) -> None:
        super().__init__(bridge, "case", **kwargs)
        self._keypad_to("code")
        for box in _LIMITS:
            self.ids[box].bind(focus=lambda _w, focused, box=box: self._keypad_to(box) if focused else None)
            limit_box(self.ids[box], _LIMITS[box])
        limit_box(self.ids.reason, MAX_REASON)      # the decide message carries at most this much, on one line

    def _keypad_to(self, box: str) -> None:
        self.ids.keypad.target, self.ids.keypad.max_length = self.ids[box], _LIMITS[box]

    def decide(self, ruling: str) -> None:
        """A complete decision is confirmed in words first (it is signed and sent, and cannot be taken back);
        an incomplete one goes straight to the core, whose answer marks the boxes to fill."""
        typed = (self.ids.code.text.strip(), self.ids.reference.text.strip(), self.ids.reason.text.strip())
        case = self.bridge.state.selected

        def send() -> None:
            self.bridge.flow.decide(Ruling(ruling), *typed)
        if case is None or check_decision(Ruling(ruling), *typed):
            send()
            return
        ask(self, self.t(f"console.confirm.{ruling}", case_id=case.case_id, first=case.form.first_name,
                         last=case.form.last_name), self.t(f"console.decision.{ruling}"), send,
            danger=ruling != "approve")

    def on_leave(self, *_: Any) -> None:
        """The next case starts with empty boxes, and nothing typed stays behind a lock."""
        for box in ("code", "reference", "reason"):
            self.ids[box].text = ""
        self._keypad_to("code")

    def render(self) -> None:
        state = self.bridge.state
        case = state.selected
        if case is None:
            return
        form = case.form
        self.ids.title.raw = self.t("console.case.title", case_id=case.case_id,
                                    reason=self.t(f"console.reason.{form.reason.value}"),
                                    branch=self.digits(case.branch),
                                    waiting=self.t("console.queue.waiting", minutes=minutes_waiting(case, self.now())))
        self.ids.name.raw = self.t("console.case.name", first=form.first_name, last=form.last_name)
        self.ids.father.raw = self.t("console.case.father", father=form.father_name)
        born = form.birth_date
        date = (format_fa(born) if self.fa else format_en(born)) if born else self.t("console.case.not_given")
        self.ids.born.raw = self.t("console.case.birth_date", date=date)
        number = ascii_digits_only(form.birth_certificate.strip())
        self.ids.certificate.raw = self.t("console.case.birth_certificate",
                                          number=self.digits(number) if number else self.t("console.case.not_given"))
        self.ids.note.raw = self.t("console.case.note", note=form.note) if form.note.strip() else ""
        device, _, seq = form.disputed.rpartition(":")
        # Approving a disputed "already voted" undoes exactly this check-in: the representative sees which.
        self.ids.disputed.raw = self.t("console.case.disputed", device=device, seq=int(seq)) if form.disputed else ""
        for box, problems in _BOXES.items():
            label, field = self.ids[f"{box}_label"], self.t(f"console.decision.{box}")
            found = [p for p in state.problems if p in problems]
            label.raw = self.t("console.decision.field_problem", field=field,
                               problem=self.t(f"console.problem.{found[0].value}")) if found else field
            label.color = _RED if found else _DARK
        # An incomplete decision is said by the red labels of its boxes; other notices need words.
        incomplete = state.notice is ConsoleNotice.DECISION_INCOMPLETE
        self.ids.notice.raw = "" if incomplete else self.notice()
        for ruling in Ruling:
            self.ids[ruling.value].raw = self.t(f"console.decision.{ruling.value}")
        self.ids.back.raw = self.t("console.back")
        self.ids.keypad.relabel(self.fa, self.t("console.keypad.clear"), self.t("console.keypad.back"))
        self.arrange(self.ids.body, [self.ids.person, self.ids.decision, self.ids.keypad])
        self.arrange(self.ids.buttons, [self.ids.approve, self.ids.reject, self.ids.refer, self.ids.back])
