"""Close of polls: kiosks and a console export their bundles, the authority collects and totals them.

Bundles are real (signed by each device, encrypted to the authority); the
tampered ones are made the way an attacker or a broken device would: a
flipped byte, an entry removed and the bundle re-signed with the device's
own key, a bundle of another authority.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import PEOPLE, World, make_world
from kiosk.core.cases import CaseForm, CaseReason, Decision, Ruling
from kiosk.rep.book import CaseBook
from kiosk.rep.service import CASE_BOOK
from kiosk.state import EXPORTS, LEDGER, Installed, load_signing_key
from kiosk.store.replica import Replica
from kiosk.trust import bundle, certs
from provisioning.authority_cli import main as authority_main
from provisioning.collect import Report, collect, report_lines
from provisioning.device import install
from provisioning.device_cli import main as provision_main
from provisioning.export import ExportRefused, export

ELIGIBLE, BIRTHDAY = PEOPLE["eligible"].code, PEOPLE["birthday_today"].code


@dataclass
class Branches:
    """Three kiosks (two in 1001, one in 1002) and a console, all from one package."""

    world: World
    kiosks: dict[str, Installed]
    console: Installed
    usb: Path

    def check_in(self, name: str, code: str) -> None:
        installed = self.kiosks[name]
        ledger, registry = installed.open_ledger(), installed.open_registry()
        try:
            ledger.check_in(registry.voter_key(code))
        finally:
            ledger.close()
            registry.close()

    def export_all(self) -> dict[str, Path]:
        return {name: export(i.state, self.usb).path for name, i in [*self.kiosks.items(), ("rep", self.console)]}

    def collect(self, *paths: Path, voters: bool = True) -> Report:
        return collect(self.world.authority, list(paths), self.world.voters if voters else None)


@pytest.fixture
def branches(world: World, tmp_path: Path) -> Branches:
    made = {name: world.device(name, branches=(branch,))
            for name, branch in (("k1", "1001"), ("k2", "1001"), ("k3", "1002"))}
    rep = world.device("rep", certs.Role.REP, ("1001", "1002"))
    package = world.package()
    authority_crt = world.authority.folder / "authority.crt"
    kiosks = {name: world.unlock(install(state, package, cert, authority_crt)) for name, (state, cert) in made.items()}
    console = world.unlock(install(rep[0], package, rep[1], authority_crt))
    return Branches(world, kiosks, console, tmp_path / "usb")


def opened_content(world: World, path: Path) -> dict[str, object]:
    opened = bundle.open_bundle(path.read_bytes(), world.authority.export_key())
    content: dict[str, object] = json.loads(opened.content)
    return content


def resealed(world: World, installed: Installed, original: Path, content: dict[str, object], name: str) -> Path:
    """The bundle re-made from altered content, signed with the device's own key: a device lying about its ledger."""
    header = bundle.read_header(original.read_bytes())[0]
    data = bundle.seal(election=header.election, device=header.device, role=header.role, branches=header.branches,
                       created=header.created, content=json.dumps(content).encode(),
                       device_key=load_signing_key(installed.state),
                       recipient=world.authority.export_key().public_key())
    path = original.with_name(name)
    path.write_bytes(data)
    return path


def test_round_trip_totals_branches_and_names_the_voter_checked_in_at_two_branches(branches: Branches) -> None:
    branches.check_in("k1", ELIGIBLE)
    branches.check_in("k1", BIRTHDAY)
    branches.check_in("k3", ELIGIBLE)          # the planted cross-branch double check-in
    installed = branches.kiosks["k2"]
    ledger = installed.open_ledger()
    outbox = installed.open_outbox(ledger)
    case = outbox.raise_case(CaseForm("نرگس", "کاظمی", "جواد", None, "", "", CaseReason.NO_CODE))
    outbox.record_decision(Decision(case.case_id, installed.claims.device_id, Ruling.REJECT, "", "",
                                    "not this branch", "2026-11-25T08:00:00+00:00", "rep"), b"s" * 64, b"")
    ledger.close()
    book = CaseBook(branches.console.state / CASE_BOOK, branches.console.data_keys())
    book.receive(installed.claims.device_id, "1001", case.case_id, case.created, case.form)
    book.decide(case.case_id, Decision(case.case_id, installed.claims.device_id, Ruling.REJECT, "", "",
                                       "not this branch", "2026-11-25T08:00:00+00:00", "rep"), b"s" * 64)
    book.close()

    report = branches.collect(*branches.export_all().values())

    assert not report.refused and len(report.bundles) == 4
    assert report.branches["1001"].check_ins == 2 and report.branches["1002"].check_ins == 1
    assert report.branches["1001"].escalations == {"rejected": 1}
    assert report.console_cases == {"rejected": 1}
    assert sum(report.branches["1001"].by_hour.values()) == 2
    [double] = report.cross_branch
    assert (double.code, double.name) == (ELIGIBLE, "علی رضایی")
    assert {c.branch for c in double.check_ins} == {"1001", "1002"}
    assert report.same_branch_doubles == 0 and not report.missing


def test_a_kiosk_whose_bundle_is_missing_is_counted_from_the_events_its_peer_synced(branches: Branches) -> None:
    branches.check_in("k1", ELIGIBLE)
    branches.check_in("k1", BIRTHDAY)
    k1, k2 = branches.kiosks["k1"], branches.kiosks["k2"]
    source, sink = k1.open_ledger(), k2.open_ledger()
    replica = Replica(sink, k2.authority_cert, certs.cert_pem(k2.device_cert), k2.claims.branches)
    assert replica.store(k1.claims.device_id, certs.cert_pem(k1.device_cert),
                         list(source.events(k1.claims.device_id))).new == 2
    source.close()
    sink.close()
    paths = branches.export_all()

    report = branches.collect(paths["k2"], paths["k3"])

    assert report.branches["1001"].check_ins == 2
    assert report.missing == [(k1.claims.device_id, ("1001",))]
    assert any("whose own bundle is missing" in note for note in report.notes)


def test_a_flipped_byte_anywhere_is_refused(branches: Branches) -> None:
    branches.check_in("k1", ELIGIBLE)
    good = branches.export_all()["k1"]
    data = good.read_bytes()
    for at, expected in ((len(data) - 40, "does not decrypt"), (len(bundle.MAGIC) + 30, "bundle")):
        bad = good.with_name(f"flipped-{at}.kexport")
        bad.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
        report = branches.collect(bad)
        assert not report.bundles and expected in report.refused[0].reason
        assert report.branches == {}


def test_an_entry_removed_and_re_signed_by_the_device_is_refused(branches: Branches) -> None:
    for code in (ELIGIBLE, BIRTHDAY, PEOPLE["one_day_short"].code):
        branches.check_in("k1", code)
    good = branches.export_all()["k1"]
    content = opened_content(branches.world, good)
    events = content["events"]
    assert isinstance(events, list)

    middle = resealed(branches.world, branches.kiosks["k1"], good, {**content, "events": events[:1] + events[2:]},
                      "middle.kexport")
    tail = resealed(branches.world, branches.kiosks["k1"], good, {**content, "events": events[:2]}, "tail.kexport")
    report = branches.collect(middle, tail)

    assert [r.reason for r in report.refused] == [
        f"ledger of {branches.kiosks['k1'].claims.device_id}: gap in the ledger: expected entry 2, found 3",
        f"ledger of {branches.kiosks['k1'].claims.device_id} ends at entry 2, but the device signed a head at entry 3"]
    assert report.branches == {}


def test_a_bundle_of_another_authority_is_refused_whatever_its_election_id(branches: Branches, tmp_path: Path) -> None:
    same_id = make_world(tmp_path / "forged")                           # same election id, other keys
    other_id = make_world(tmp_path / "other", election_id="other-1405")
    paths = []
    for world in (same_id, other_id):
        installed = world.installed("stranger")
        paths.append(export(installed.state, branches.usb).path)

    report = branches.collect(*paths)

    assert [r.reason for r in report.refused] == [
        "bundle does not decrypt: altered, cut short, or not encrypted to this authority",
        "bundle is for election other-1405, not test-1405"]


def test_a_device_signing_malformed_content_is_refused_never_crashes_the_collection(branches: Branches) -> None:
    branches.check_in("k1", ELIGIBLE)
    installed = branches.kiosks["k1"]
    ledger = installed.open_ledger()
    outbox = installed.open_outbox(ledger)
    outbox.raise_case(CaseForm("نرگس", "کاظمی", "جواد", None, "", "", CaseReason.NO_CODE))
    ledger.close()
    good = branches.export_all()["k1"]
    content = opened_content(branches.world, good)
    bad_values: list[object] = [None, 7, "x", [], {}, [None], [[1, 2]], [{"status": 1}],
                                [{"status": "decided", "decision": {"ruling": ["approve"], "national_code": 5}}],
                                [{"status": "decided", "decision": "approve"}], {"seq": "1", "hash": 3}]
    made = 0
    for field in sorted(content):
        if field == "device_cert":
            continue
        for n, value in enumerate(bad_values):
            path = resealed(branches.world, installed, good, {**content, field: value}, f"bad-{field}-{n}.kexport")
            report = branches.collect(path)                 # must not raise
            made += 1
            assert len(report.refused) + len(report.bundles) == 1
            if report.refused:
                assert report.refused[0].reason and not report.branches
    assert made > 100
    assert branches.collect(good).bundles                  # the untouched bundle still collects


def test_a_device_whose_ledger_lost_a_row_does_not_export(branches: Branches) -> None:
    for code in (ELIGIBLE, BIRTHDAY):
        branches.check_in("k1", code)
    state = branches.kiosks["k1"].state
    db = sqlite3.connect(state / LEDGER)
    db.execute("DELETE FROM events WHERE seq = 1")
    db.commit()
    db.close()
    with pytest.raises(ExportRefused, match="gap in the ledger: expected entry 1, found 2"):
        export(state, branches.usb)
    assert not list(branches.usb.glob("*.kexport"))


def test_an_export_whose_summary_cannot_be_written_takes_back_its_bundle_and_nothing_else(
        branches: Branches) -> None:
    branches.check_in("k1", ELIGIBLE)
    state, device = branches.kiosks["k1"].state, branches.kiosks["k1"].claims.device_id
    earlier = export(state, branches.usb, now=dt.datetime(2026, 5, 22, 6, 0, tzinfo=dt.timezone.utc))
    branches.check_in("k1", BIRTHDAY)
    # 07:00 UTC is 10:30 in Tehran: where this export's summary goes, a folder of that name already stands.
    blocked = branches.usb / f"test-1405-1001-{device}-20260522T103000.summary.txt"
    blocked.mkdir()
    with pytest.raises(ExportRefused) as refused:
        export(state, branches.usb, now=dt.datetime(2026, 5, 22, 7, 0, tzinfo=dt.timezone.utc))
    assert sorted(p.name for p in branches.usb.iterdir()) == sorted(
        [earlier.path.name, earlier.path.name.replace(bundle.SUFFIX, ".summary.txt"), blocked.name])
    assert str(refused.value) == f"cannot write to {branches.usb}: Is a directory; nothing was left on it; " \
                                 "use another stick"
    assert json.loads((state / EXPORTS).read_text())["file"] == earlier.path.name   # wipe still sees the old one


def test_the_commands_show_the_summary_print_it_and_exit_by_outcome(branches: Branches,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    branches.check_in("k1", ELIGIBLE)
    branches.check_in("k3", ELIGIBLE)
    state = branches.kiosks["k1"].state
    assert provision_main(["export", "--state", str(state), "--out", str(branches.usb), "--simulate"]) == 0
    shown = capsys.readouterr().out
    assert "مشارکت ثبت‌شده: ۱" in shown and "Check-ins recorded: 1" in shown and "summary printed: printed" in shown
    assert ELIGIBLE not in shown and "رضایی" not in shown
    summary = next(branches.usb.glob("*.summary.txt")).read_text("utf-8")
    assert "Check-ins recorded: 1" in summary and ELIGIBLE not in summary
    monkeypatch.setenv("TERM", "linux")             # the Pi's text console cannot draw Persian
    assert provision_main(["export", "--state", str(state), "--out", str(branches.usb.parent / "tty")]) == 0
    on_tty = capsys.readouterr().out
    assert "Check-ins recorded: 1" in on_tty and "مشارکت" not in on_tty
    # The device's audit log travels in the next bundle: it holds the first export's line, with no personal data.
    audit = opened_content(branches.world, export(state, branches.usb.parent / "again").path)["audit"]
    assert isinstance(audit, list) and any('"D110"' in line for line in audit)
    assert not any(ELIGIBLE in line for line in audit)
    assert provision_main(["export", "--state", str(branches.kiosks["k3"].state), "--out", str(branches.usb)]) == 0

    folder = str(branches.world.authority.folder)
    assert authority_main(["collect", "--dir", folder, "--voters", str(branches.world.voters),
                           str(branches.usb)]) == 0
    out = capsys.readouterr().out
    assert "checked in at more than one branch: 1" in out and ELIGIBLE in out
    saved = sorted((branches.world.authority.folder / "reports").glob("collect-*.json"))[-1]
    assert saved.stat().st_mode & 0o077 == 0

    bad = branches.usb / "zz-garbage.kexport"
    bad.write_bytes(b"not a bundle")
    assert authority_main(["collect", "--dir", folder, str(branches.usb)]) == 1
    assert "REFUSED  zz-garbage.kexport: not an export bundle" in capsys.readouterr().out


# -- issue 12: collection applies the same rules as the devices ----------------------------------

def _sync(branches: Branches, source: str, sink: str) -> None:
    """`sink` stores `source`'s events as branch sync would."""
    a, b = branches.kiosks[source], branches.kiosks[sink]
    src, dst = a.open_ledger(), b.open_ledger()
    try:
        replica = Replica(dst, b.authority_cert, certs.cert_pem(b.device_cert), b.claims.branches,
                          roster=b.roster())
        assert replica.store(a.claims.device_id, certs.cert_pem(a.device_cert),
                             list(src.events(a.claims.device_id))).new > 0
    finally:
        src.close()
        dst.close()


def test_an_undo_of_another_kiosks_check_in_counts_for_nothing_and_is_named(branches: Branches) -> None:
    from kiosk.store.ledger import Kind
    branches.check_in("k1", ELIGIBLE)
    _sync(branches, "k1", "k2")
    k1, k2 = branches.kiosks["k1"], branches.kiosks["k2"]
    rogue = k2.open_ledger()
    voter = next(e.voter for e in rogue.events(k1.claims.device_id))
    with rogue.transaction():   # k2's own code undoes k1's check-in, signed with k2's key
        rogue.append(Kind.UNDO, voter, f"{k1.claims.device_id}:1", "rogue")
    rogue.close()

    report = branches.collect(*branches.export_all().values())

    assert not report.refused
    assert report.branches["1001"].check_ins == 1 and report.branches["1001"].undone == 0
    [(device, seq, target, why)] = report.foreign_undos
    assert (device, seq, target) == (k2.claims.device_id, 1, f"{k1.claims.device_id}:1")
    from provisioning.collect import report_lines
    assert any(line.startswith("undos that count for nothing: 1") for line in report_lines(report))


def test_a_kiosk_that_rewrote_an_entry_its_peer_holds_is_named_with_both_versions(branches: Branches) -> None:
    for code in (ELIGIBLE, BIRTHDAY, PEOPLE["one_day_short"].code):
        branches.check_in("k1", code)
    _sync(branches, "k1", "k2")
    k1 = branches.kiosks["k1"]
    db = sqlite3.connect(k1.state / LEDGER)     # k1 rewrites its history from entry 2 and signs it again
    with db:
        db.execute("DELETE FROM events WHERE device = ? AND seq >= 2", (k1.claims.device_id,))
    db.close()
    branches.check_in("k1", PEOPLE["suspended"].code)

    report = branches.collect(*branches.export_all().values())

    assert not report.refused                    # k1's rewritten chain verifies by itself
    [equivocation] = report.equivocations
    assert (equivocation.device, equivocation.seq) == (k1.claims.device_id, 2)
    assert equivocation.first_hash != equivocation.second_hash
    k2 = branches.kiosks["k2"].claims.device_id
    sources = sorted([equivocation.first, equivocation.second], key=lambda s: "copy held by" in s)
    assert k1.claims.device_id in sources[0] and "copy held by" not in sources[0]   # k1's own bundle
    assert sources[1].endswith(f"(copy held by {k2})")                            # and k2's copy of it


def test_a_revoked_kiosks_entries_from_its_revocation_time_are_not_counted(branches: Branches) -> None:
    import datetime as dt
    import time
    branches.check_in("k1", ELIGIBLE)
    branches.check_in("k1", BIRTHDAY)
    time.sleep(0.01)
    branches.world.authority.revoke(branches.kiosks["k1"].claims.device_id, dt.datetime.now(dt.timezone.utc))
    time.sleep(0.01)
    branches.check_in("k1", PEOPLE["one_day_short"].code)   # the thief's check-in

    report = branches.collect(*branches.export_all().values())

    assert report.branches["1001"].check_ins == 2
    assert report.revoked == [(branches.kiosks["k1"].claims.device_id, 1)]


def test_a_deeply_nested_bundle_is_one_refusal_and_the_others_are_collected(branches: Branches) -> None:
    branches.check_in("k1", ELIGIBLE)
    paths = branches.export_all()
    k3 = branches.kiosks["k3"]
    header = bundle.read_header(paths["k3"].read_bytes())[0]
    for depth, name in ((200_000, "nested.kexport"), (17, "seventeen.kexport")):
        crafted = bundle.seal(election=header.election, device=header.device, role=header.role,
                              branches=header.branches, created=header.created,
                              content=b"[" * depth + b"]" * depth, device_key=load_signing_key(k3.state),
                              recipient=branches.world.authority.export_key().public_key())
        (paths["k3"].parent / name).write_bytes(crafted)
    content = opened_content(branches.world, paths["k3"])
    content["head"] = []                                  # a shape no device writes, signed by the device
    odd = resealed(branches.world, k3, paths["k3"], content, "odd.kexport")

    report = branches.collect(paths["k3"].parent / "nested.kexport", paths["k3"].parent / "seventeen.kexport",
                              odd, *paths.values())

    assert sorted(r.file for r in report.refused) == ["nested.kexport", "odd.kexport", "seventeen.kexport"]
    assert all("nests deeper" in r.reason for r in report.refused if r.file != "odd.kexport")
    assert len(report.bundles) == 4 and report.branches["1001"].check_ins == 1


def test_collection_checks_each_decision_as_the_kiosk_did(world: World, tmp_path: Path) -> None:
    """A decision signed by the console and on the representative's card passes; one a kiosk kept without the
    console's signature, or without the card's once the representative has a card enrolled, is named."""
    from drivers.card.profiles import PROFILES
    from drivers.card.virtual import VirtualCard
    from drivers.card.fake import FakeCardReader
    from drivers.card import holder
    from cryptography.hazmat.primitives.asymmetric import ec
    from kiosk.official_card import CardEndorser
    from kiosk.trust.decisions import sign_decision
    from helpers import code
    cards = world.trust_cards()
    rep_card = cards.issue(code(902))
    world.official("rep-1", "rep", code(902), rep_card)
    kiosk, console = world.installed("k1"), world.console("rep1")
    reader = FakeCardReader()
    reader.insert_card(VirtualCard.of("test", rep_card.certificate, key=rep_card.key, pin="4821"))
    holder.select_application(reader.transmit, PROFILES["test"])
    assert holder.verify_pin(reader.transmit, PROFILES["test"], "4821") == holder.PinAccepted()
    endorser = CardEndorser(reader.transmit, PROFILES["test"], rep_card.certificate)
    ledger = kiosk.open_ledger()
    outbox = kiosk.open_outbox(ledger)
    election, rep = kiosk.config.id, console.claims.device_id
    good, unsigned_card, forged, forged_card = (
        outbox.raise_case(CaseForm("نرگس", "کاظمی", "جواد", None, "", "", CaseReason.NO_CODE)) for _ in range(4))
    thief = VirtualCard.of("test", rep_card.certificate, key=ec.generate_private_key(ec.SECP256R1()), pin="4821")
    copied = FakeCardReader()   # the representative's certificate on a card with another key
    copied.insert_card(thief)
    holder.select_application(copied.transmit, PROFILES["test"])
    assert holder.verify_pin(copied.transmit, PROFILES["test"], "4821") == holder.PinAccepted()
    forger = CardEndorser(copied.transmit, PROFILES["test"], rep_card.certificate)
    for case, card, signature in ((good, endorser, True), (unsigned_card, None, True), (forged, endorser, False),
                                  (forged_card, forger, True)):
        decision = Decision(case.case_id, kiosk.claims.device_id, Ruling.REJECT, "", "", "not this branch",
                            "2026-11-25T08:00:00+00:00", rep)
        console_signature = sign_decision(decision, election, load_signing_key(console.state)) if signature \
            else bytes(64)
        outbox.record_decision(decision, console_signature, b"", card=card.endorse(decision, election)
                               if card else None)
    ledger.close()
    usb = tmp_path / "usb"
    report = collect(world.authority, [export(kiosk.state, usb).path], world.voters)
    assert sorted(report.decisions_refused) == sorted([
        (unsigned_card.case_id, "not signed on the representative's card"),
        (forged.case_id, "the console's signature does not verify"),
        (forged_card.case_id, "the card signature does not verify")])
    assert "decisions whose signatures do not hold: 3" in report_lines(report)
