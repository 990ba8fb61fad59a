"""The console's case book keeps a disputed case's check-in and the undo it signed, across a restart."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.core.cases import CaseReason, Decision, Ruling, UndoAuthorization
from kiosk.rep.book import CaseBook, Signed
from kiosk.trust.sealed import Locked as SealLocked, SealRefused
from helpers import data_keys
from rep.fakes import form

KIOSK, REP = "ab12cd34ef567890", "7e57c0de00000001"


def test_a_disputed_approval_and_its_undo_survive_a_restart_and_are_sent_again(tmp_path: Path) -> None:
    keys = data_keys()
    book = CaseBook(tmp_path / "cases.json", keys)
    disputed = form(reason=CaseReason.DISPUTED, disputed="c0ffee0012345678:41")
    book.receive(KIOSK, "1001", "E-AB12CD-0001", "2026-05-22T08:30:00+00:00", disputed)
    book.receive(KIOSK, "1001", "E-AB12CD-0002", "2026-05-22T08:31:00+00:00", form())
    undo = UndoAuthorization("c0ffee0012345678:41", bytes(range(64)))
    approve = Decision("E-AB12CD-0001", KIOSK, Ruling.APPROVE, "0499370899", "", "", "2026-05-22T09:00:00+00:00", REP)
    refer = Decision("E-AB12CD-0002", KIOSK, Ruling.REFER, "", "", "", "2026-05-22T09:01:00+00:00", REP)
    book.decide(approve.case_id, approve, b"a" * 64, undo)
    book.decide(refer.case_id, refer, b"r" * 64)
    book.close()

    again = CaseBook(tmp_path / "cases.json", keys)
    case = again.case("E-AB12CD-0001")
    assert case is not None and case.form.disputed == "c0ffee0012345678:41"
    assert again.signed("E-AB12CD-0001") == Signed(approve, b"a" * 64, undo)
    assert again.signed("E-AB12CD-0002") == Signed(refer, b"r" * 64, None)
    assert sorted(again.undelivered(KIOSK), key=lambda s: s.decision.case_id) == [
        Signed(approve, b"a" * 64, undo), Signed(refer, b"r" * 64, None)]
    again.close()


def test_a_copied_case_book_holds_no_name_and_no_approved_code(tmp_path: Path) -> None:
    keys = data_keys()
    book = CaseBook(tmp_path / "cases.json", keys)
    book.receive(KIOSK, "1001", "E-AB12CD-0001", "2026-05-22T08:30:00+00:00", form("مریم", "رضایی", note="شناسنامه ۴۵۶"))
    approve = Decision("E-AB12CD-0001", KIOSK, Ruling.APPROVE, "0499370899", "", "", "2026-05-22T09:00:00+00:00", REP)
    book.decide(approve.case_id, approve, b"a" * 64)
    book.close()
    raw = (tmp_path / "cases.json").read_text("utf-8")
    for clear in ("مریم", "رضایی", "0499370899", "\\u0645\\u0631"):
        assert clear not in raw
    locked = CaseBook(tmp_path / "cases.json", keys.locked())
    with pytest.raises(SealLocked):
        locked.all_cases()
    locked.close()
    other = CaseBook(tmp_path / "cases.json", data_keys())   # another console's key
    with pytest.raises(SealRefused):
        other.case("E-AB12CD-0001")
    other.close()
    again = CaseBook(tmp_path / "cases.json", keys)
    case = again.case("E-AB12CD-0001")
    assert case is not None and case.form.first_name == "مریم" and case.decision == approve
    again.close()
