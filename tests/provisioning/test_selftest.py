"""`kiosk-provision selftest`: each item passes, fails with its reason, or is skipped, and no card data shows."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.card.fake import FakeCardReader
from drivers.card.minting import CardAuthority
from drivers.card.pcsc import PcscReader
from drivers.card.reader import ReaderStatus
from drivers.card.virtual import Misbehaviour, VirtualCard
from drivers.hardware import HardwareSettings
from drivers.printer import FakePrinter, SerialEscposPrinter
from drivers.scanner import SerialScanner
from disks import read_only
from helpers import PEOPLE, World, write_csv, write_election
from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.state import Installed
from kiosk.trust import manifest
from leaks import no_leftover_threads_or_processes  # noqa: F401  (an autouse fixture)
from provisioning import selftest
from provisioning.authority import Authority, load_election_toml
from provisioning.device_cli import _parser as provision_parser
from provisioning.selftest import Check, Outcome, check_printer, check_reader, check_scanner, \
    run_selftest, selftest_main

# The real-stack fixtures live with the driver tests; pytest itself puts that folder on sys.path
# when it collects them, and the module names there do not clash with anything here.
sys.path.insert(0, str(Path(__file__).parents[1] / "drivers"))
from test_card_pcsc import READER, Card, _wait, pcscd  # noqa: E402, F401  (pcscd is a fixture)
from test_printer import PtyPrinter, pty_printer  # noqa: E402, F401  (pty_printer is a fixture)

CARD_CODE = PEOPLE["eligible"].code
SIMULATED = HardwareSettings(simulate=True)
NO_WAIT = 0.2  # seconds to wait for a card that is not coming


# -- a provisioned kiosk whose clock can be right ------------------------------------------------

@pytest.fixture
def card_ca() -> CardAuthority:
    return CardAuthority()


@pytest.fixture
def installed(tmp_path: Path, card_ca: CardAuthority) -> Installed:
    """A kiosk of an election ten days ahead, trusting `card_ca`'s cards.

    The shared `world` election is on a fixed day that may already lie more
    than 30 days behind the package build (which happens now), where no clock
    passes: so this election's day follows the real date.
    """
    return _provisioned(tmp_path, card_ca, days_ahead=10)


def _provisioned(tmp_path: Path, card_ca: CardAuthority, days_ahead: int) -> Installed:
    day = JalaliDate.from_gregorian(dt.datetime.now(TEHRAN).date() + dt.timedelta(days=days_ahead))
    election = write_election(tmp_path / "config", day=str(day))
    (election.parent / "nid-ca.pem").write_bytes(card_ca.pem())
    toml = election.read_text("utf-8").replace("[[branches]]", 'card_trust_anchors = ["nid-ca.pem"]\n\n[[branches]]', 1)
    election.write_text(toml, "utf-8")
    authority = Authority.init(tmp_path / "AUTH", load_election_toml(election))
    voters = write_csv(tmp_path / "voters.csv", [p.row() for p in PEOPLE.values()])
    return World(tmp_path, authority, election, voters).installed("kiosk1")


def _tehran(day: JalaliDate, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day.to_gregorian(), dt.time(hour, minute), TEHRAN)


def _built(installed: Installed) -> dt.datetime:
    return dt.datetime.fromisoformat(json.loads((installed.package_dir / manifest.MANIFEST).read_bytes())["created"])


def _good_time(installed: Installed) -> dt.datetime:
    """An hour after the build: a right clock, some days before the election."""
    return _built(installed) + dt.timedelta(hours=1)


def _by_item(checks: list[Check]) -> dict[str, Check]:
    assert [c.item for c in checks] == ["reader", "card", "scanner", "printer", "storage", "clock", "package"]
    return {c.item: c for c in checks}


# -- fake devices the run opens -------------------------------------------------------------------

def _card_reader(monkeypatch: pytest.MonkeyPatch, card: VirtualCard | None = None,
                 plugged: bool = True) -> FakeCardReader:
    """The fake reader the self-test will open, with `card` inserted."""
    reader = FakeCardReader(plugged=plugged)
    if card is not None:
        reader.insert_card(card)
    monkeypatch.setattr(selftest, "open_card_reader", lambda settings: reader)
    return reader


def _printer(monkeypatch: pytest.MonkeyPatch) -> FakePrinter:
    printer = FakePrinter()
    monkeypatch.setattr(selftest, "open_printer", lambda settings: printer)
    return printer


def _no_leak(text: str) -> None:
    """Neither the test card's code (any digit script) nor a name from the registry or the certificate."""
    persian = CARD_CODE.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert CARD_CODE not in text and persian not in text
    assert "card holder" not in text
    for person in PEOPLE.values():
        assert person.code not in text
        assert person.first not in text and person.last not in text


# -- the whole run on simulated hardware ----------------------------------------------------------

def test_simulated_hardware_with_a_trusted_card_passes_every_item(installed: Installed, card_ca: CardAuthority,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _card_reader(monkeypatch, VirtualCard.of("iran-nid", card_ca.card_certificate(CARD_CODE)))
    printer = _printer(monkeypatch)
    checks = run_selftest(installed.state, SIMULATED, _good_time(installed))
    items = _by_item(checks)
    assert {c.item: c.outcome for c in checks} == dict.fromkeys(items, Outcome.PASS), checks
    assert items["reader"].detail == "Fake Reader 00 (simulated)"
    assert items["card"].detail.startswith("test card read and trusted (profile iran-nid")
    assert len(printer.printed) == 1 and printer.printed[0].width == printer.width_px
    assert "MB free" in items["storage"].detail and "fsync" in items["storage"].detail
    assert "not the election day" in items["clock"].detail
    assert list(installed.state.glob(".selftest-*")) == []  # the storage probe cleans up
    _no_leak(repr(checks))


def test_no_card_is_skipped_and_the_run_still_passes(installed: Installed, capsys: pytest.CaptureFixture[str]) -> None:
    args = _cli(installed.state, "--simulate", "--card-wait", str(NO_WAIT))
    assert selftest_main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:2] == ["SKIPPED", "card"] and "no test card in the reader" in out[1]
    assert out[-1] == "self-test passed"


def test_a_card_from_another_authority_fails_and_the_command_exits_1(
        installed: Installed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    forger = CardAuthority("Test National ID CA")  # the anchor's name, another key
    _card_reader(monkeypatch, VirtualCard.of("iran-nid", forger.card_certificate(CARD_CODE)))
    assert selftest_main(_cli(installed.state, "--simulate")) == 1
    out = capsys.readouterr().out
    card = next(line for line in out.splitlines() if line.split()[1] == "card")
    assert card.startswith("FAIL") and "not trusted: signature does not verify against the trust anchor" in card
    assert out.splitlines()[-1] == "self-test FAILED: 1 item(s)"
    _no_leak(out)


@pytest.mark.parametrize("card, reason", [
    (VirtualCard.of("iran-nid", b"", Misbehaviour(wrong_status=0x6982)), "card answered status 6982"),
    (VirtualCard.of("test", b""), "select application"),  # a card of another layout
])
def test_an_unreadable_card_fails_with_the_reason(installed: Installed, card_ca: CardAuthority,
                                                 monkeypatch: pytest.MonkeyPatch, card: VirtualCard,
                                                 reason: str) -> None:
    card.certificate = card_ca.card_certificate(CARD_CODE)
    _card_reader(monkeypatch, card)
    item = _by_item(run_selftest(installed.state, SIMULATED, _good_time(installed)))["card"]
    assert item.outcome is Outcome.FAIL and item.detail.startswith("test card unreadable") and reason in item.detail
    _no_leak(item.detail)


def test_an_unplugged_reader_fails_and_no_card_is_waited_for(installed: Installed,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _card_reader(monkeypatch, plugged=False)
    items = _by_item(run_selftest(installed.state, SIMULATED, _good_time(installed), card_wait=30))
    assert (items["reader"].outcome, items["reader"].detail) == (Outcome.FAIL, "no card reader is connected")
    assert items["card"].outcome is Outcome.SKIPPED


def test_a_printer_out_of_paper_fails_and_prints_nothing(installed: Installed,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    printer = _printer(monkeypatch)
    printer.set_paper_out()
    item = _by_item(run_selftest(installed.state, SIMULATED, _good_time(installed), card_wait=NO_WAIT))["printer"]
    assert (item.outcome, item.detail) == (Outcome.FAIL, "not ready: out of paper")
    assert printer.printed == []


def test_a_missing_scanner_port_fails_with_the_reason_and_no_printer_is_skipped(
        installed: Installed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _card_reader(monkeypatch)
    port = tmp_path / "ttyNO-SCANNER"
    settings = HardwareSettings(scanner_port=str(port))
    items = _by_item(run_selftest(installed.state, settings, _good_time(installed), card_wait=NO_WAIT))
    assert items["scanner"].outcome is Outcome.FAIL
    assert items["scanner"].detail == f"{port}: no such device (unplugged, or the wrong port)"
    assert (items["printer"].outcome, items["printer"].detail) == (Outcome.SKIPPED, "no printer port configured")


# -- storage, clock, package --------------------------------------------------------------------

@contextlib.contextmanager
def _unwritable(folder: Path) -> Iterator[None]:
    """No new file can be made in `folder`: its mode for a user, a read-only bind mount for root (any file system)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    with read_only(folder):
        yield


def test_a_state_folder_that_cannot_be_written_fails_storage(installed: Installed) -> None:
    with _unwritable(installed.state):
        items = _by_item(run_selftest(installed.state, SIMULATED, _good_time(installed), card_wait=NO_WAIT))
    assert items["storage"].outcome is Outcome.FAIL
    assert items["storage"].detail.startswith(f"cannot write in {installed.state}: ")
    assert items["package"].outcome is Outcome.PASS  # one failing item does not stop the others


def test_too_little_free_space_fails_storage(installed: Installed) -> None:
    needed = 1 << 40  # a terabyte-sized megabyte count: no SD card has that free
    item = _by_item(run_selftest(installed.state, SIMULATED, _good_time(installed), card_wait=NO_WAIT,
                                 min_free_mb=needed))["storage"]
    assert item.outcome is Outcome.FAIL and item.detail.endswith(f"below the {needed} MB the ledger needs")


def _clock(installed: Installed, now: dt.datetime) -> Check:
    return _by_item(run_selftest(installed.state, SIMULATED, now, card_wait=NO_WAIT))["clock"]


def test_a_clock_before_the_package_was_built_fails(installed: Installed) -> None:
    item = _clock(installed, _built(installed) - dt.timedelta(days=1))
    assert item.outcome is Outcome.FAIL and "before the package was built" in item.detail


def test_on_the_election_day_the_clock_passes_and_says_so(installed: Installed) -> None:
    item = _clock(installed, _tehran(installed.config.day, 7, 30))
    assert (item.outcome, item.detail) == (Outcome.PASS, f"{installed.config.day} 07:30 Tehran: today is the election day")


def test_a_clock_long_past_the_election_day_fails(installed: Installed) -> None:
    late = _tehran(installed.config.day, 9) + dt.timedelta(days=31)
    item = _clock(installed, late)
    assert item.outcome is Outcome.FAIL and "31 days after the election day" in item.detail
    on_time = _clock(installed, late - dt.timedelta(days=1))
    assert on_time.outcome is Outcome.PASS and "30 days ago" in on_time.detail


def test_an_election_day_years_away_fails_the_clock(tmp_path: Path, card_ca: CardAuthority) -> None:
    """A clock (or an election date) three years off is wrong, not "in 1096 days"; one within a year passes."""
    far = _provisioned(tmp_path / "far", card_ca, days_ahead=3 * 365 + 1)
    item = _clock(far, _good_time(far))
    assert item.outcome is Outcome.FAIL
    assert f"about 3 years before the election day {far.config.day}: set the clock, or check the election's date" \
        in item.detail
    near = _provisioned(tmp_path / "near", card_ca, days_ahead=300)
    assert _clock(near, _good_time(near)).outcome is Outcome.PASS


def test_a_clock_years_past_the_election_day_says_years(installed: Installed) -> None:
    item = _clock(installed, _tehran(installed.config.day, 9) + dt.timedelta(days=5 * 365 + 2))
    assert item.outcome is Outcome.FAIL and "about 5 years after the election day" in item.detail


def test_a_tampered_package_file_fails_the_package_item(installed: Installed) -> None:
    registry = installed.package_dir / "registry.sqlite"
    data = bytearray(registry.read_bytes())
    data[-100] ^= 0x01
    registry.write_bytes(bytes(data))
    item = _by_item(run_selftest(installed.state, SIMULATED, _good_time(installed), card_wait=NO_WAIT))["package"]
    assert (item.outcome, item.detail) == (Outcome.FAIL, "package file altered: registry.sqlite: reinstall the package")


# -- real ports ----------------------------------------------------------------------------------

def test_a_scanner_on_a_real_serial_port_passes_without_a_scan() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    scanner = SerialScanner(port)
    try:
        assert check_scanner(scanner, port) == Check("scanner", Outcome.PASS, f"{port} opens")
    finally:
        scanner.close()
        os.close(master)
        os.close(slave)


def test_a_real_printer_prints_the_test_receipt(pty_printer: PtyPrinter) -> None:
    with SerialEscposPrinter(pty_printer.port, timeout=0.2) as printer:
        item = check_printer(printer, "DEV-1", dt.datetime.now(dt.timezone.utc))
    assert item.outcome is Outcome.PASS
    commands = pty_printer.wait_for("cut")
    assert any(not isinstance(c, tuple) for c in commands)  # a raster image went out before the cut


def test_a_printer_port_that_does_not_exist_is_offline(tmp_path: Path) -> None:
    with SerialEscposPrinter(str(tmp_path / "ttyNO-PRINTER"), timeout=0.2) as printer:
        item = check_printer(printer, "DEV-1", dt.datetime.now(dt.timezone.utc))
    assert item.outcome is Outcome.FAIL and "offline" in item.detail


# -- the real PC/SC stack ------------------------------------------------------------------------

def test_pcscd_down_is_a_clear_reader_failure(installed: Installed, tmp_path: Path) -> None:
    """The technician's command on a device whose pcscd is down: the reader fails, saying to start pcscd.

    libpcsclite finds pcscd at PCSCLITE_CSOCK_NAME; pointing it at a socket nobody serves is a
    machine without pcscd, whether or not this one runs its own (socket-activated on Debian).
    """
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    done = subprocess.run([sys.executable, "-m", "provisioning.device_cli", "selftest", "--state", str(installed.state),
                           "--card-wait", "0", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    items = {c["item"]: c for c in json.loads(done.stdout)["checks"]}
    assert items["reader"]["outcome"] == "fail"
    assert items["reader"]["detail"].startswith("PC/SC service unavailable") and "pcscd" in items["reader"]["detail"]
    assert items["card"] == {"item": "card", "outcome": "skipped", "detail": "no reader to read a card with"}


def test_a_reader_name_that_matches_nothing_fails_and_lists_the_readers(pcscd: None) -> None:
    reader = PcscReader(prefer="No Such Reader")
    try:
        item = check_reader(reader, "No Such Reader")
    finally:
        reader.close()
    assert item.outcome is Outcome.FAIL and READER in item.detail


@pytest.fixture
def vpcd_empty(pcscd: None) -> None:
    """vpcd's reader, with the card of an earlier test gone from pcscd's view too (a new card is then new)."""
    watcher = PcscReader(prefer=READER)
    try:
        _wait(watcher, ReaderStatus.NO_CARD)
    finally:
        watcher.close()


def test_a_trusted_card_through_pcscd_passes_reader_and_card(vpcd_empty: None, installed: Installed,
                                                            card_ca: CardAuthority, tmp_path: Path) -> None:
    card = Card(tmp_path, card_ca.card_certificate(CARD_CODE), profile="iran-nid")
    try:
        checks = run_selftest(installed.state, HardwareSettings(reader=READER), _good_time(installed), card_wait=10)
    finally:
        card.remove()
    items = _by_item(checks)
    assert (items["reader"].outcome, items["reader"].detail) == (Outcome.PASS, READER)
    assert items["card"].outcome is Outcome.PASS, items["card"]
    assert items["card"].detail.startswith("test card read and trusted (profile iran-nid")
    assert items["scanner"].outcome is items["printer"].outcome is Outcome.SKIPPED


def test_the_command_through_pcscd_shows_nothing_of_the_card(vpcd_empty: None, installed: Installed,
                                                             card_ca: CardAuthority, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    card = Card(tmp_path, card_ca.card_certificate(CARD_CODE), profile="iran-nid")
    try:
        code = selftest_main(_cli(installed.state, "--reader", READER, "--card-wait", "10", "--json"))
    finally:
        card.remove()
    out = capsys.readouterr().out
    report = json.loads(out)
    card_item = next(c for c in report["checks"] if c["item"] == "card")
    assert card_item["outcome"] == "pass" and (code, report["failed"]) == (0, 0), report
    _no_leak(out)


# -- the command ---------------------------------------------------------------------------------

def _cli(state: Path, *extra: str) -> argparse.Namespace:
    """The options as `kiosk-provision selftest` parses them."""
    return provision_parser().parse_args(["selftest", "--state", str(state), *extra])


def test_the_command_prints_aligned_lines_and_json_alike(installed: Installed, card_ca: CardAuthority,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _card_reader(monkeypatch, VirtualCard.of("iran-nid", card_ca.card_certificate(CARD_CODE)))
    assert selftest_main(_cli(installed.state, "--simulate")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "self-test passed" and len(lines) == 8
    assert lines[0] == "PASS     reader   Fake Reader 00 (simulated)"
    assert all(line[16:18] == "  " and line[18] != " " for line in lines[:-1])  # details start in one column
    assert selftest_main(_cli(installed.state, "--simulate", "--json")) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["failed"] == 0 and [c["outcome"] for c in report["checks"]] == ["pass"] * 7
    _no_leak(out)


def test_a_device_without_a_package_is_refused_in_one_line(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest_main(_cli(tmp_path / "nothing", "--simulate")) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == \
        "kiosk-provision: no election package is installed (run kiosk-provision install)\n"
