"""The whole provisioning flow through the real console commands, as a technician and the authority run it."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import write_election
from kiosk.core.national_code import to_ascii_digits

_REPO = Path(__file__).resolve().parents[2]
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _tool(name: str) -> str:
    for folder in (Path(sys.executable).parent, _REPO / ".venv" / "bin"):
        if (folder / name).is_file():
            return str(folder / name)
    pytest.skip(f"console script {name} is not installed")


def _run(cwd: Path, tool: str, *args: object, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command as the technician would, remembering the day's unlock in the flow's own memory folder."""
    env = {**os.environ, "KIOSK_UNLOCK_DIR": _UNLOCKS[cwd]}
    return subprocess.run([_tool(tool), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120,
                          input=stdin, env=env)


# Per flow (a module's fixture outlives each test's own folder): its memory of the day's unlock, in RAM.
_UNLOCKS: dict[Path, str] = {}


@dataclass
class Flow:
    """A provisioned kiosk made through the commands, and what the commands printed on the way."""

    root: Path
    rows: list[dict[str, str]]
    synth: dict[str, object]
    figures: dict[str, object]

    def codes(self) -> set[str]:
        return {r["national_code"] for r in self.rows}

    def row(self, born: str, status: str = "alive") -> dict[str, str]:
        return next(r for r in self.rows if r["birth_date"] == born and r["status"] == status)

    def run(self, tool: str, *args: object) -> subprocess.CompletedProcess[str]:
        return _run(self.root, tool, *args)

    def refused(self, tool: str, *args: object) -> str:
        """Run a command that must be refused: exit 1, one line on stderr, no national code in it."""
        done = self.run(tool, *args)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
        self.no_code_in(done.stderr)
        return done.stderr

    def no_code_in(self, text: str) -> None:
        leaked = [c for c in self.codes() if c in text or c.translate(_PERSIAN) in text]
        assert leaked == []


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    root = tmp_path_factory.mktemp("flow")
    _UNLOCKS[root] = tempfile.mkdtemp(prefix="flow-", dir=os.environ["KIOSK_UNLOCK_DIR"])
    write_election(root, "test-1405")

    def ok(tool: str, *args: object) -> str:
        done = _run(root, tool, *args)
        assert done.returncode == 0, (tool, args, done.stdout, done.stderr)
        assert done.stderr == ""
        return done.stdout

    synth = json.loads(ok("kiosk-authority", "synth", "--voters", 2000, "--seed", 3,
                          "--election-date", "1405/03/01", "--out", "voters.csv"))
    assert synth["voters"] == 2000
    assert "fingerprint" in ok("kiosk-authority", "init", "--dir", "AUTH", "--election", "test-1405.toml")
    assert "enrollment request" in ok("kiosk-provision", "init", "--state", "STATE")
    assert "as kiosk for branch 1001" in ok("kiosk-authority", "enroll", "--dir", "AUTH", "--csr", "STATE/device.csr",
                                            "--role", "kiosk", "--branch", 1001, "--out", "kiosk.crt")
    built = ok("kiosk-authority", "package", "--dir", "AUTH", "--election", "test-1405.toml",
               "--voters", "voters.csv", "--out", "PKG")
    figures = json.loads(built.splitlines()[-1])
    assert "installed election test-1405" in ok("kiosk-provision", "install", "--state", "STATE", "--package", "PKG",
                                               "--cert", "kiosk.crt", "--authority", "AUTH/authority.crt")
    sheet = (root / "AUTH" / "recovery-sheets" / "test-1405-1001.txt").read_text("utf-8")
    code = sheet.splitlines()[-1].split(":", 1)[1].strip()   # the kiosk's line, as the envelope's sheet prints it
    assert len(code.replace(" ", "")) == 20
    done = _run(root, "kiosk-provision", "unlock", "--state", "STATE", stdin=code + "\n")
    assert done.returncode == 0 and "unlocked until it restarts" in done.stdout, done.stderr
    with open(root / "voters.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return Flow(root, rows, synth, figures)


def test_the_package_figures_agree_with_the_synthetic_extract(flow: Flow) -> None:
    s, f = flow.synth, flow.figures
    assert f == {"voters": 2000, "eligible": s["eligible"], "underage": s["underage"],
                 "deceased": s["deceased"], "suspended": s["suspended"], "rejected": 0,
                 "padded_codes": 0, "names_normalised": 0}
    assert s["birthday_on_election_day"] == 1


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    out: dict[str, object] = json.loads(done.stdout)
    return out


def test_check_checkin_and_ledger_verify(flow: Flow) -> None:
    birthday, tomorrow = flow.row("1387/03/01"), flow.row("1387/03/02")
    dead = next(r for r in flow.rows if r["status"] == "deceased")
    persian = next(r for r in flow.rows if r["status"] == "alive" and not r["birth_date"].isascii()
                   and int(to_ascii_digits(r["birth_date"])[:4]) < 1380)

    seen = _json(flow.run("kiosk", "check", "--state", "STATE", birthday["national_code"]))
    assert seen["verdict"] == "eligible" and seen["birth_year"] == 1387
    assert (seen["first_name"], seen["last_name"], seen["father_name"]) == (
        birthday["first_name"], birthday["last_name"], birthday["father_name"])
    seen = _json(flow.run("kiosk", "check", "--state", "STATE", tomorrow["national_code"]))
    assert seen["verdict"] == "underage" and seen["eligible_on"] == "1405/03/02"
    assert _json(flow.run("kiosk", "check", "--state", "STATE", dead["national_code"]))["verdict"] == "deceased"
    typed = persian["national_code"].translate(_PERSIAN)
    assert _json(flow.run("kiosk", "check", "--state", "STATE", typed))["verdict"] == "eligible"

    done = flow.run("kiosk", "checkin", "--state", "STATE", birthday["national_code"])
    assert done.returncode == 0 and done.stderr == ""
    assert _json(done)["recorded"]["seq"] == 1  # type: ignore[index]
    again = flow.run("kiosk", "checkin", "--state", "STATE", birthday["national_code"])
    assert again.returncode == 1 and again.stderr == ""
    assert _json(again)["verdict"] == "already_voted" and _json(again)["checked_in"]["seq"] == 1  # type: ignore[index]
    refused = flow.run("kiosk", "checkin", "--state", "STATE", dead["national_code"])
    assert refused.returncode == 1 and _json(refused)["verdict"] == "deceased"

    verified = flow.run("kiosk", "ledger", "verify", "--state", "STATE")
    assert verified.returncode == 0, verified.stderr
    counts = _json(verified)
    assert (counts["ok"], counts["events"], counts["check_ins"], counts["undos"], counts["live_check_ins"]) == (
        True, 1, 1, 0, 1)


def test_garbage_typed_at_the_kiosk_is_an_invalid_code(flow: Flow) -> None:
    for garbage in ("abc", "12345", "1111111111"):
        done = flow.run("kiosk", "check", "--state", "STATE", garbage)
        assert done.returncode == 0 and _json(done)["verdict"] == "invalid_code", garbage


def test_refusals_are_one_line_without_personal_data(flow: Flow) -> None:
    assert "already holds an authority" in flow.refused(
        "kiosk-authority", "init", "--dir", "AUTH", "--election", "test-1405.toml")
    assert "branch not in this election: 9999" in flow.refused(
        "kiosk-authority", "enroll", "--dir", "AUTH", "--csr", "STATE/device.csr", "--role", "kiosk",
        "--branch", 9999, "--out", "other.crt")
    assert not (flow.root / "other.crt").exists()
    assert "already holds device keys" in flow.refused("kiosk-provision", "init", "--state", "STATE")
    code = flow.rows[0]["national_code"]
    assert "no election package is installed" in flow.refused("kiosk", "check", "--state", "NOWHERE", code)
    assert "undo refused: no such check-in" in flow.refused(
        "kiosk", "undo", "--state", "STATE", "--seq", 99, "--reason", "test")
    (flow.root / "garbage.crt").write_text("garbage")
    assert "device certificate is not a PEM certificate" in flow.refused(
        "kiosk-provision", "install", "--state", "STATE", "--package", "PKG", "--cert", "garbage.crt",
        "--authority", "AUTH/authority.crt")


def test_a_tampered_package_is_refused_by_the_command_and_the_kiosk_keeps_serving(flow: Flow) -> None:
    bad = flow.root / "PKG-TAMPERED"
    shutil.copytree(flow.root / "PKG", bad)
    registry = bad / "registry.sqlite"
    data = bytearray(registry.read_bytes())
    data[len(data) // 2] ^= 0x40
    registry.write_bytes(bytes(data))
    link = (flow.root / "STATE" / "current").readlink()
    err = flow.refused("kiosk-provision", "install", "--state", "STATE", "--package", bad.name,
                       "--cert", "kiosk.crt", "--authority", "AUTH/authority.crt")
    assert err == "kiosk-provision: refused: package file altered or truncated: registry.sqlite\n"
    assert (flow.root / "STATE" / "current").readlink() == link
    someone = flow.row("1387/03/02")
    assert _json(flow.run("kiosk", "check", "--state", "STATE", someone["national_code"]))["verdict"] == "underage"


def test_a_build_with_bad_rows_is_refused_with_line_numbers_and_no_personal_data(flow: Flow) -> None:
    first, second = flow.rows[0], flow.rows[1]
    bad_code = first["national_code"][:9] + str((int(first["national_code"][9]) + 1) % 10)
    extract = (flow.root / "voters.csv").read_text("utf-8")
    extra = [f"{second['national_code']},جواد,{second['last_name']},{second['father_name']},1360/01/01,male,alive",
             f"{bad_code},{first['first_name']},{first['last_name']},{first['father_name']},1360/01/01,male,alive"]
    (flow.root / "bad.csv").write_text(extract + "\n".join(extra) + "\n", encoding="utf-8")
    done = flow.run("kiosk-authority", "package", "--dir", "AUTH", "--election", "test-1405.toml",
                    "--voters", "bad.csv", "--out", "PKG-BAD")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == "kiosk-authority: build refused: 3 rejected rows; nothing was written"
    assert lines[1:4] == ["  line 3: national code appears more than once",
                          "  line 2002: national code appears more than once",
                          "  line 2003: invalid national code"]
    assert "--skip-invalid" in lines[4]
    flow.no_code_in(done.stderr + done.stdout)
    assert bad_code not in done.stderr
    assert "جواد" not in done.stderr
    assert not (flow.root / "PKG-BAD").exists()
    assert [p.name for p in flow.root.iterdir() if p.name.startswith(".PKG-BAD")] == []
