"""`./dev demo`: the whole data path in a terminal, with the real commands a newcomer would type.

Makes a synthetic extract, an election authority, two kiosks of one branch and
a representative's console, the signed package, installs it, and checks people
of every kind in and out. Everything lives under .dev/demo and is made anew on
each run. With a display it ends by starting the console and both kiosk apps
side by side, all on loopback.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from drivers.card.minting import DEMO_CARD_PIN, CardAuthority
from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.core.national_code import check_digit
from kiosk.state import Installed
from kiosk.store import unlock_memory

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".dev" / "demo"
BIN = Path(sys.executable).parent
ELECTION = """\
id = "demo-1405"
name = "انتخابات نمایشی"
date = "{day}"
min_age = 18
constituency = "تهران"
card_trust_anchors = ["nid-ca.pem"]

[[branches]]
code = "1001"
name = "دبستان فردوسی"
"""


def run(*args: str, check: bool = True) -> str:
    """Show a command as a user would type it, run it, show what it printed."""
    shown = [Path(a).name if i == 0 else a for i, a in enumerate(args)]
    print(f"\n$ {shlex.join(shown)}", flush=True)
    done = subprocess.run(args, cwd=DEMO, capture_output=True, text=True)
    output = (done.stdout + done.stderr).rstrip()
    if output:
        print(output)
    if check and done.returncode != 0:
        raise SystemExit(f"demo step failed with exit code {done.returncode}")
    return done.stdout


def pick_people(voters_csv: Path) -> dict[str, str]:
    """A code of each kind from the synthetic extract (the real verdicts come from `kiosk check`).

    Two eligible people: the first is checked in during the walkthrough and so
    becomes the app's "already voted" card.
    """
    wanted = ["eligible", "already voted", "underage", "deceased", "suspended"]
    found: dict[str, str] = {}
    with open(voters_csv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            kind = {"deceased": "deceased", "suspended": "suspended"}.get(row["status"])
            if kind is None:
                year = int(row["birth_date"][:4].translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")))
                kind = "underage" if year > 1390 else "eligible" if year < 1380 else ""
            if kind == "eligible" and "eligible" in found:
                kind = "already voted"
            if kind in wanted and kind not in found:
                found[kind] = row["national_code"]
            if len(found) == len(wanted):
                break
    # The walkthrough checks in found["already voted"]; the app's "eligible" card stays fresh.
    return {kind: found[kind] for kind in wanted if kind in found}


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    # The election is today in Tehran, so the app shows no "not the election day" warning and the
    # self-test's clock check passes.
    day = str(JalaliDate.from_gregorian(dt.datetime.now(TEHRAN).date()))
    (DEMO / "election.toml").write_text(ELECTION.format(day=day), encoding="utf-8")
    authority, provision, kiosk = str(BIN / "kiosk-authority"), str(BIN / "kiosk-provision"), str(BIN / "kiosk")
    print("The election authority makes a synthetic registry extract and its election root:")
    print("(a province-sized extract of 1,500,000 synthetic voters: about half a minute on a PC)")
    run(authority, "synth", "--voters", "1500000", "--seed", "7", "--election-date", day,
        "--out", "voters.csv")
    run(authority, "init", "--dir", "AUTH", "--election", "election.toml")
    print("\nA technician initialises two kiosks of one branch and the representative's console;\n"
          "the authority enrolls them:")
    run(provision, "init", "--state", "STATE")
    run(authority, "enroll", "--dir", "AUTH", "--csr", "STATE/device.csr", "--role", "kiosk",
        "--branch", "1001", "--out", "kiosk.crt")
    run(provision, "init", "--state", "STATE2")
    run(authority, "enroll", "--dir", "AUTH", "--csr", "STATE2/device.csr", "--role", "kiosk",
        "--branch", "1001", "--out", "kiosk2.crt")
    run(provision, "init", "--state", "REP")
    run(authority, "enroll", "--dir", "AUTH", "--csr", "REP/device.csr", "--role", "rep",
        "--branch", "1001", "--out", "rep.crt")
    enroll_head_with_card(authority)
    print("\nThe authority builds and signs the election package; the technician installs it on both:")
    run(authority, "package", "--dir", "AUTH", "--election", "election.toml", "--voters", "voters.csv",
        "--out", "PKG")
    run(provision, "install", "--state", "STATE", "--package", "PKG", "--cert", "kiosk.crt",
        "--authority", "AUTH/authority.crt")
    run(provision, "install", "--state", "STATE2", "--package", "PKG", "--cert", "kiosk2.crt",
        "--authority", "AUTH/authority.crt")
    run(provision, "install", "--state", "REP", "--package", "PKG", "--cert", "rep.crt",
        "--authority", "AUTH/authority.crt")
    unlock_for_the_day(provision)
    print("\nStaff check people (the codes come from the synthetic extract):")
    people = pick_people(DEMO / "voters.csv")
    for kind in ("already voted", "underage", "deceased", "suspended"):
        run(kiosk, "check", "--state", "STATE", people[kind])
    run(kiosk, "check", "--state", "STATE", "1234567890")
    eligible = people["already voted"]  # eligible now; checked in below, so "already voted" in the app
    persian = eligible.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    print("\nAn eligible voter is checked in (typed in Persian digits), then cannot be checked in twice:")
    out = run(kiosk, "checkin", "--state", "STATE", f"{persian[:3]}-{persian[3:9]}-{persian[9]}")
    run(kiosk, "checkin", "--state", "STATE", eligible, check=False)
    print("\nThe branch head undoes it with a reason (kept as its own ledger entry):")
    seq = json.loads(out)["recorded"]["seq"]
    run(kiosk, "undo", "--state", "STATE", "--seq", str(seq), "--reason", "wrong person")
    run(kiosk, "checkin", "--state", "STATE", eligible)
    print("\nThe ledger's chain and signatures are verified:")
    run(kiosk, "ledger", "verify", "--state", "STATE")
    print("\nA tampered package is refused before anything is installed:")
    registry = DEMO / "PKG" / "registry.sqlite"
    data = bytearray(registry.read_bytes())
    data[len(data) // 2] ^= 0x01
    registry.write_bytes(bytes(data))
    run(provision, "install", "--state", "STATE", "--package", "PKG", "--cert", "kiosk.crt",
        "--authority", "AUTH/authority.crt", check=False)
    print("\nThe technician's bench tool on the fake devices (drop --simulate on real hardware):")
    run(kiosk, "hw", "--simulate", "read-card", "--profile", "iran-nid")
    run(kiosk, "hw", "--simulate", "scan")
    run(kiosk, "hw", "--simulate", "print-test", "--png", "receipts")
    print("\nThe technician's self-test of the device (fake devices here; the card is skipped: none inserted):")
    run(provision, "selftest", "--state", "STATE", "--simulate", "--card-wait", "0.5", check=False)
    print("\nAt close of polls each device exports a signed bundle, encrypted to the authority, and shows its\n"
          "summary; the authority collects the bundles (the apps below still run afterwards: nothing is wiped):")
    run(provision, "export", "--state", "STATE", "--out", "USB", "--simulate")
    run(provision, "export", "--state", "STATE2", "--out", "USB")
    run(provision, "export", "--state", "REP", "--out", "USB")
    run(authority, "collect", "--dir", "AUTH", "--voters", "voters.csv", "USB")
    print("\nThe technician would now wipe each device (refused until a verified export covers everything):\n"
          "$ kiosk-provision wipe --state STATE")
    start_app(provision, kiosk, people)


def enroll_head_with_card(authority: str) -> None:
    """A throwaway national-card authority the election trusts, and the branch head enrolled with a virtual card."""
    cards = CardAuthority("Demo National ID CA")
    (DEMO / "nid-ca.pem").write_bytes(cards.pem())
    first_nine = "001" + "990001"
    code = first_nine + str(check_digit(first_nine))   # synthetic: the head is not a voter of the extract
    head = cards.issue(code)
    folder = DEMO / "demo-cards"
    folder.mkdir()
    (folder / "head.der").write_bytes(head.certificate)
    (folder / "head.key").write_bytes(head.key_pem())
    (folder / "head.key").chmod(0o600)
    print("\nThe authority enrolls the branch head by national code, with the certificate read from the head's\n"
          "card (a virtual card here), so that card can unlock the branch's kiosks; the code goes on stdin:")
    print("$ kiosk-authority official add --dir AUTH --account head-1001 --role head --branch 1001 "
          "--national-code - --card demo-cards/head.der", flush=True)
    subprocess.run([authority, "official", "add", "--dir", "AUTH", "--account", "head-1001", "--role", "head",
                    "--branch", "1001", "--national-code", "-", "--card", "demo-cards/head.der"],
                   cwd=DEMO, input=code + "\n", text=True, check=True)


def unlock_for_the_day(provision: str) -> None:
    """Start of day: each device unlocked with its line of the branch's recovery sheet (the sealed envelope)."""
    if not os.environ.get(unlock_memory.ENV):
        # The unit's /run/kiosk needs root; the demo remembers its unlocks in its own RAM folder.
        shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        os.environ[unlock_memory.ENV] = str(shm / f"kiosk-demo-{os.getuid()}")
    sheet = DEMO / "AUTH" / "recovery-sheets" / "demo-1405-1001.txt"
    print("\nA fresh install opens no registry: each device is locked until the day's unlock. Here the\n"
          f"technician types each device's code from the branch's sealed-envelope sheet ({sheet.name}):")
    codes = {line.rsplit(":", 1)[0].split()[-1]: line.rsplit(":", 1)[1].strip()
             for line in sheet.read_text("utf-8").splitlines() if " / " in line and ":" in line}
    for state in ("STATE", "STATE2", "REP"):
        device = Installed.open(DEMO / state).claims.device_id[:8]
        print(f"\n$ kiosk-provision unlock --state {state}    (code: {codes[device]})", flush=True)
        subprocess.run([provision, "unlock", "--state", state], cwd=DEMO, input=codes[device] + "\n", text=True,
                       check=True)


WINDOW = (800, 480)   # the appliance's 7" panel
GAP = 16


def window_places(count: int) -> list[dict[str, str]]:
    """Kivy settings (KCFG_GRAPHICS_*) that tile `count` app windows two by row, side by side, none over another."""
    width, height = WINDOW
    return [{"KCFG_GRAPHICS_POSITION": "custom", "KCFG_GRAPHICS_LEFT": str((n % 2) * (width + GAP)),
             "KCFG_GRAPHICS_TOP": str((n // 2) * (height + 2 * GAP)),
             "KCFG_GRAPHICS_WIDTH": str(width), "KCFG_GRAPHICS_HEIGHT": str(height)} for n in range(count)]


def start_app(provision: str, kiosk: str, people: dict[str, str]) -> None:
    """Give the branch head and the representative PINs, then open the console and the kiosk app, if there is a display."""
    print("\nThe technician sets the branch head's PIN (135790 in this demo) and the representative's (246802):")
    for state, account, name, pin in (("STATE", "head", "رئیس شعبه", "135790"), ("STATE2", "head", "رئیس شعبه", "135790"),
                                      ("REP", "rep", "نماینده فرماندار", "246802")):
        print(f"$ kiosk-provision staff --state {state} --account {account} --name '{name}'")
        subprocess.run([provision, "staff", "--state", state, "--account", account, "--name", name],
                       cwd=DEMO, input=f"{pin}\n", text=True, check=True)
    (DEMO / "demo-codes.json").write_text(json.dumps(people), encoding="utf-8")
    print("\nThe kiosks are locked again, as after a power cut: their apps open on the locked screen. Unlock the\n"
          f"first with the head's card (the purple \"head's card\" button, card PIN {DEMO_CARD_PIN}), the second by\n"
          "asking the representative (confirm it on the console's Devices screen); nothing recorded is lost:")
    for state in ("STATE", "STATE2"):
        run(provision, "lock", "--state", state)
    # Both find each other by zeroconf; --lan keeps this demo on loopback, off the machine's real network.
    console = [str(BIN / "kiosk-rep"), "--state", "REP", "--lan", "127.0.0.1"]
    command = [kiosk, "app", "--state", "STATE", "--simulate", "--demo-codes", "demo-codes.json",
               "--demo-head-card", "demo-cards", "--lan", "127.0.0.1"]
    second = [kiosk, "app", "--state", "STATE2", "--simulate", "--demo-codes", "demo-codes.json",
              "--demo-head-card", "demo-cards", "--lan", "127.0.0.1"]
    print(f"\nEverything is under {DEMO} (receipt images in receipts/). Run ./dev demo again to start over.")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # The day's unlocks live in the demo's RAM folder: the apps of other terminals must look there too.
        memory = f"{unlock_memory.ENV}={shlex.quote(os.environ[unlock_memory.ENV])}"
        places = [" ".join(f"{k}={v}" for k, v in place.items()) for place in window_places(3)]
        print("\nNo display here, so the apps are not started. On a desktop, run in three terminals\n"
              "(the KCFG_GRAPHICS_* settings put the three windows side by side):\n"
              f"  cd {DEMO} && {memory} {places[0]} {shlex.join(console)}\n"
              f"  cd {DEMO} && {memory} {places[1]} {shlex.join(command)}\n"
              f"  cd {DEMO} && {memory} {places[2]} {shlex.join(second)}\n"
              "or see every screen with ./dev screenshots.")
        return
    print("\nStarting the representative's console (PIN 246802) and two kiosks of branch 1001 side by side\n"
          "(PIN 135790; the purple buttons insert fake cards). Check a voter in on one kiosk and insert the same\n"
          "card on the other: already voted. Refer someone, decide the case on the console. Closing the first\n"
          "kiosk's window ends the demo.")
    console_place, first_place, second_place = window_places(3)   # side by side, not on top of each other
    helpers = [subprocess.Popen(console, cwd=DEMO, env={**os.environ, **console_place}),
               subprocess.Popen(second, cwd=DEMO, env={**os.environ, **second_place})]
    try:
        subprocess.run(command, cwd=DEMO, check=False, env={**os.environ, **first_place})
    finally:
        for helper in helpers:
            helper.terminate()
        for helper in helpers:
            helper.wait(timeout=15)


if __name__ == "__main__":
    main()
