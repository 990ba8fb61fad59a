"""A second thought before an irreversible action: what will happen, in words, and two clear answers.

Staff read «انصراف» as "Cancel" and withdrew cases with one tap; the console approved at once. Every
action that cannot be taken back asks here first; the answer that does it says what it does
(«پس گرفتن پرونده»), never just "OK", and the other goes back with nothing changed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk.ui import colours
from kiosk.ui.widgets import BidiButton, BidiLabel, in_reading_order


class Confirm(ModalView):  # type: ignore[misc]
    """The question over the screen; `do` runs only on the first answer."""

    def __init__(self, question: str, do_words: str, back_words: str, do: Callable[[], None], rtl: bool,
                 danger: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("size_hint", (0.86, None))
        kwargs.setdefault("auto_dismiss", False)
        kwargs.setdefault("background_color", (0, 0, 0, 0.55))
        super().__init__(**kwargs)
        box = BoxLayout(orientation="vertical", padding=dp(14), spacing=dp(12), size_hint_y=None)
        box.bind(minimum_height=box.setter("height"))
        self.question = BidiLabel(raw=question, font_size="19sp", color=colours.WHITE)
        self.do_button = BidiButton(raw=do_words, height=dp(60),
                                    background_color=colours.ERROR if danger else colours.SUCCESS)
        self.back_button = BidiButton(raw=back_words, height=dp(60), background_color=colours.NEUTRAL)
        self.do_button.bind(on_release=lambda _b: self._answer(do))
        self.back_button.bind(on_release=lambda _b: self._answer(None))
        answers = BoxLayout(spacing=dp(10), size_hint_y=None, height=dp(60))
        in_reading_order(answers, (self.do_button, self.back_button), rtl)
        box.add_widget(self.question)
        box.add_widget(answers)
        self.add_widget(box)
        box.bind(height=lambda _b, h: setattr(self, "height", h))
        self.height = box.height

    def _answer(self, do: Callable[[], None] | None) -> None:
        self.dismiss()
        if do is not None:
            do()


def ask(view: Any, question: str, do_words: str, do: Callable[[], None], danger: bool = True) -> Confirm:
    """Ask on `view` (a BoundView: its language and catalogue) before `do`; "back" changes nothing."""
    confirm = Confirm(question, do_words, view.t("confirm.back"), do, view.bridge.lang == "fa", danger)
    confirm.open()
    return confirm
