"""`./dev bench [--nation]`: the data-path figures of DESIGN.md, on synthetic extracts.

Province: 1,500,000 voters through the real CLI path (synth → package → install),
then lookups, check-ins, and the TinyDB baseline on 200,000 of the same voters.
Nation (--nation): the lookup figures at 62,000,000 voters (long: tens of minutes,
~25 GB of disk under .dev/bench).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from tinydb import Query

from kiosk.core.jalali import parse_jalali
from kiosk.core.outcome import CheckedIn
from kiosk.desk import Desk
from kiosk.state import Installed
from kiosk.store.documents import open_documents
from kiosk.trust.certs import Role, cert_pem
from provisioning.authority import Authority, load_election_toml
from provisioning.device import init_device, install
from provisioning.package import build_package
from provisioning.synth import write_extract
from tests.helpers import write_election

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".dev" / "bench"
ELECTION_DAY = "1405/03/01"


def emit(name: str, value: float, unit: str, target: str = "") -> None:
    """One figure, one JSON line, flushed so long runs show progress."""
    record: dict[str, object] = {"name": name, "value": round(value, 3), "unit": unit}
    if target:
        record["target"] = target
    print(json.dumps(record), flush=True)


def extract(voters: int, seed: int) -> Path:
    """A synthetic extract, made once per size and seed and kept under .dev/bench."""
    path = WORK / f"voters-{voters}-{seed}.csv"
    if not path.exists():
        day = parse_jalali(ELECTION_DAY)
        assert day is not None
        started = time.perf_counter()
        write_extract(path, voters, seed, day)
        emit(f"synth_{voters}_rate", voters / (time.perf_counter() - started), "voters/s")
    return path


def provision(voters_csv: Path, label: str) -> tuple[Installed, float]:
    """Authority, one kiosk, the package and its install; returns the device and the build rate."""
    base = WORK / label
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    config = load_election_toml(write_election(base, "bench-1405", ELECTION_DAY))
    authority = Authority.init(base / "AUTH", config)
    csr = init_device(base / "STATE")
    cert = authority.enroll(csr.public_bytes(serialization.Encoding.PEM), Role.KIOSK, ("1001",))
    (base / "kiosk.crt").write_bytes(cert_pem(cert))
    started = time.perf_counter()
    result = build_package(authority, config, base, voters_csv, base / "PKG")
    elapsed = time.perf_counter() - started
    assert result.package is not None, result.figures
    started = time.perf_counter()
    installed = install(base / "STATE", base / "PKG", base / "kiosk.crt", base / "AUTH" / "authority.crt")
    emit(f"{label}_install", time.perf_counter() - started, "s")
    shutil.rmtree(base / "PKG")  # the installed copy is what is served; keep the disk use down
    return installed, result.figures.voters / elapsed


def sample_codes(voters_csv: Path, count: int, seed: int) -> list[str]:
    """Codes spread over the extract (read by seeking, so a 6 GB file costs little)."""
    rng = random.Random(seed)
    size = voters_csv.stat().st_size
    codes = []
    with open(voters_csv, "rb") as f:
        while len(codes) < count:
            f.seek(rng.randrange(64, size - 200))
            f.readline()
            line = f.readline().decode("utf-8", "replace")
            if line[:1].isdigit():
                codes.append(line.split(",", 1)[0])
    return codes


_PROBE = """
import json, sys, time
from pathlib import Path
from kiosk.state import Installed
from kiosk.store.documents import open_documents
from kiosk.trust.certs import Role, cert_pem
from kiosk.store.registry import Registry
state, codes = Path(sys.argv[1]), Path(sys.argv[2]).read_text().split()
def peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
t0 = time.perf_counter()
installed = Installed.open(state)
registry = installed.open_registry()
first = registry.lookup(codes[0])
open_ms = (time.perf_counter() - t0) * 1000
assert first is not None
times = []
for c in codes * 3:
    t = time.perf_counter_ns()
    registry.lookup(c)
    times.append(time.perf_counter_ns() - t)
warm = sorted(times[len(codes):])
print(json.dumps({"open_ms": open_ms, "p50_us": warm[len(warm) // 2] / 1000,
                  "p99_us": warm[int(len(warm) * 0.99)] / 1000,
                  "rss_mb": peak_rss_mb()}))
"""


def lookup_figures(installed: Installed, codes: list[str], label: str) -> float:
    """Open-to-first-answer, warm p50/p99 and peak RSS, in a fresh process that only serves lookups."""
    codes_file = WORK / f"{label}-codes.txt"
    codes_file.write_text("\n".join(codes))
    out = subprocess.run([sys.executable, "-c", _PROBE, str(installed.state), str(codes_file)],
                         check=True, capture_output=True, text=True).stdout
    figures = json.loads(out)
    emit(f"{label}_open_to_first_answer", figures["open_ms"], "ms", "<= 100")
    emit(f"{label}_lookup_warm_p50", figures["p50_us"], "us")
    emit(f"{label}_lookup_warm_p99", figures["p99_us"], "us", "<= 1000")
    emit(f"{label}_lookup_process_peak_rss", figures["rss_mb"], "MB", "<= 150")
    return float(figures["p50_us"])


def check_in_figures(installed: Installed, codes: list[str], label: str) -> None:
    """Durable check-ins through the desk (lookup + ledger append + fsync'd commit)."""
    registry, ledger = installed.open_registry(), installed.open_ledger()
    desk = Desk(registry, ledger, installed.config.rules)
    times = []
    for c in codes:
        t = time.perf_counter_ns()
        result = desk.check_in(c)
        elapsed = time.perf_counter_ns() - t
        if isinstance(result, CheckedIn):
            times.append(elapsed)
    ledger.close()
    registry.close()
    times.sort()
    emit(f"{label}_checkin_durable_p50", times[len(times) // 2] / 1e6, "ms")
    emit(f"{label}_checkin_durable_p99", times[int(len(times) * 0.99)] / 1e6, "ms", "<= 5")
    emit(f"{label}_checkins_measured", len(times), "count")


def tinydb_baseline(voters_csv: Path, installed: Installed, codes: list[str]) -> None:
    """The same 200,000 voters in a plain TinyDB table: the baseline DESIGN.md compares against."""
    path = WORK / "tinydb-200k.json"
    path.unlink(missing_ok=True)
    with open(voters_csv, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        docs = [dict(row) for row in reader]
    started = time.perf_counter()
    with open_documents(path) as db:
        db.insert_multiple(docs)
    emit("tinydb_200k_bulk_load", time.perf_counter() - started, "s")
    with open_documents(path) as db:
        voter = Query()
        times = []
        for c in codes[:10]:
            t = time.perf_counter()
            assert db.search(voter.national_code == c)
            times.append(time.perf_counter() - t)
    times.sort()
    tiny_us = times[len(times) // 2] * 1e6
    emit("tinydb_200k_lookup_p50", tiny_us, "us")
    sqlite_us = lookup_figures(installed, codes, "registry_200k")
    emit("tinydb_over_registry_lookup_ratio", tiny_us / sqlite_us, "x")
    path.unlink()


def province() -> None:
    """The province-scale figures and the TinyDB baseline."""
    voters_csv = extract(1_500_000, 1405)
    installed, rate = provision(voters_csv, "province")
    emit("package_build_rate_1500k", rate, "voters/s", ">= 150000")
    codes = sample_codes(voters_csv, 20_000, 1)
    lookup_figures(installed, codes, "province_1500k")
    check_in_figures(installed, codes[:3000], "province_1500k")
    small_csv = extract(200_000, 1405)
    small, _ = provision(small_csv, "baseline_200k")
    tinydb_baseline(small_csv, small, sample_codes(small_csv, 2_000, 2))


def ui() -> None:
    """The app under Xvfb: start to first frame, and a fake card inserted to its verdict on screen."""
    if shutil.which("xvfb-run") is None:
        emit("ui_skipped_no_xvfb", 1, "flag")
        return
    from tests.ui.screenshots import drive
    report = drive("fa", WORK / "ui-shots")
    first_frame = float(str(report["build_to_first_frame_s"])) * 1000
    sign_in = float(str(report["sign_in_to_ready_ms"]))
    emit("app_start_to_sign_in_screen", first_frame, "ms")
    emit("app_sign_in_to_ready", sign_in, "ms")
    emit("app_start_to_ready_without_typing", first_frame + sign_in, "ms")
    emit("card_inserted_to_verdict_on_screen", float(str(report["card_to_verdict_ms"])), "ms", "<= 300")


def escalations() -> None:
    """The representative's link on loopback: console found, case delivered, 10 kiosks × 50 cases."""
    from tests.bench.discovery_bench import found_after_start_seconds
    from tests.bench.escalation_bench import console_process_to_link_seconds, delivery_latencies_ms, many_kiosks
    found = sorted(found_after_start_seconds(5))
    emit("console_advert_found_median", found[len(found) // 2], "s")
    emit("console_advert_found_max", found[-1], "s")
    linked = sorted(console_process_to_link_seconds(3))
    emit("console_process_start_to_kiosk_linked_median", linked[len(linked) // 2], "s")
    emit("console_process_start_to_kiosk_linked_max", linked[-1], "s", "<= 3")
    times = sorted(delivery_latencies_ms(300))
    emit("case_delivered_p50", times[len(times) // 2], "ms")
    emit("case_delivered_p99", times[int(len(times) * 0.99)], "ms", "<= 50")
    cases, distinct, seconds = many_kiosks(10, 50)
    emit("cases_10_kiosks_x_50_in_console_book", cases, "cases", "== 500")
    emit("cases_10_kiosks_x_50_distinct", distinct, "cases", "== 500")
    emit("cases_10_kiosks_x_50_all_delivered", seconds, "s")


def branch_sync() -> None:
    """Several kiosks of one branch: a check-in seen on another kiosk, and convergence after a partition."""
    from tests.bench.sync_bench import converge_after_partition, seen_elsewhere_ms
    times = sorted(seen_elsewhere_ms(200))
    emit("checkin_seen_on_other_kiosk_p50", times[len(times) // 2], "ms")
    emit("checkin_seen_on_other_kiosk_p99", times[int(len(times) * 0.99)], "ms", "<= 1000")
    started = os.times()
    seconds, counts = converge_after_partition(10, 3000)
    used = os.times()
    emit("branch_10x3000_converged_after_heal", seconds, "s", "<= 3")
    emit("branch_10x3000_kiosks_holding_all_30000", sum(1 for c in counts if c == 30000), "kiosks", "== 10")
    emit("branch_10x3000_cpu_all_kiosks", (used.children_user - started.children_user)
         + (used.children_system - started.children_system), "s")


def closing() -> None:
    """Close of polls: a branch day (5 kiosks x 3,000 check-ins, synced) exported and collected."""
    from tests.bench.closing_bench import export_and_collect
    figures = export_and_collect(5, 3000)
    emit("export_branch_day_kiosk_mean", figures["export_mean_s"], "s")
    emit("export_branch_day_kiosk_max", figures["export_max_s"], "s")
    emit("export_branch_day_bundle_size", figures["bundle_mb"], "MB")
    emit("collect_5_bundles_branch_day", figures["collect_s"], "s")
    emit("collect_5_bundles_check_ins_counted", figures["check_ins"], "check-ins", "== 15000")


def officials_cards() -> None:
    """An official's card through real pcscd + vpcd (sign-in, unlock to Ready), and the unlock through the console."""
    from tests.bench.card_bench import sign_in_and_unlock_seconds
    figures = sign_in_and_unlock_seconds()
    emit("card_sign_in_pcscd_mean", figures["sign_in_mean_s"], "s", "<= 1.5")
    emit("card_sign_in_pcscd_max", figures["sign_in_max_s"], "s", "<= 1.5")
    emit("card_unlock_to_ready_pcscd_mean", figures["unlock_mean_s"], "s", "<= 1.5")
    emit("card_unlock_to_ready_pcscd_max", figures["unlock_max_s"], "s", "<= 1.5")
    from tests.bench.console_unlock_bench import console_unlock_seconds
    console = console_unlock_seconds()
    emit("console_unlock_to_ready_mean", console["mean_s"], "s", "<= 1")
    emit("console_unlock_to_ready_max", console["max_s"], "s", "<= 1")


def nation() -> None:
    """Lookup figures at 62 million voters."""
    voters_csv = extract(62_000_000, 1405)
    installed, rate = provision(voters_csv, "nation")
    emit("package_build_rate_62m", rate, "voters/s", ">= 150000")
    lookup_figures(installed, sample_codes(voters_csv, 20_000, 3), "nation_62m")


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench")
    parser.add_argument("--nation", action="store_true", help="also measure at 62,000,000 voters")
    parser.add_argument("--only-nation", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["province", "ui", "escalations", "sync", "closing", "cards"], help="run one part only")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    emit("cpu_count", os.cpu_count() or 0, "cores")
    if args.only:
        {"province": province, "ui": ui, "escalations": escalations, "sync": branch_sync,
         "closing": closing, "cards": officials_cards}[args.only]()
        return
    if not args.only_nation:
        province()
        ui()
        escalations()
        branch_sync()
        closing()
        officials_cards()
    if args.nation or args.only_nation:
        nation()


if __name__ == "__main__":
    main()
