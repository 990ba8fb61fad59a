"""Building the signed election package from the civil-registry extract.

The registry is built first (provisioning.registry_build), then the decision:
any rejected row fails the build and nothing is left behind, unless the
authority asked to skip invalid rows; more than a small share of rejected rows
(--max-rejected), or no voters at all, fails it whatever was asked. Then the
small files, the envelopes and the signed manifest, all in a staging folder
renamed into place at the end. A staging folder that a killed build left
behind carries a mark that no live build holds locked, and the next build of
the same package removes it.
"""
from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import math
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiosk.core.election import ElectionConfig
from kiosk.logbook import Event, log
from kiosk.state import EXPORT_KEY
from kiosk.store.atomic import fsync_dir, write_atomic
from kiosk.store.registry import new_registry_key
from kiosk.trust import bundle, certs, manifest
from kiosk.trust.roster import ROSTER_DIR
from provisioning.authority import Authority, AuthorityRefused
from provisioning.envelopes import ENVELOPES, add_envelope
from provisioning.recovery_sheet import write_sheets
from provisioning.officials import write_officials
from provisioning.extract_input import ExtractRefused, prepare_extract
from provisioning.registry_build import build_registry
from provisioning.voters_csv import Rejected

REGISTRY = "registry.sqlite"
ELECTION = "election.json"
AUTHORITY_CERT = "authority.crt"
ANCHORS = "anchors"
DEFAULT_MAX_REJECTED = 0.01
# Inside every staging folder while its build runs, locked (POSIX lock: the build process's own,
# not its workers'); removed just before the folder becomes the package.
STAGING_MARK = ".kiosk-authority-build"
_STAGING_SUFFIX = re.compile(r"[a-z0-9_]{8}")   # what tempfile.mkdtemp adds to our prefix
_LIVE: set[Path] = set()                        # this process's running builds (its own locks do not stop it)
# Peak disk use of a build beside its output, per byte of extract: the chunk tables and the
# registry exist side by side until the merge ends (measured: 3.3 at 300,000 voters).
_PEAK_PER_EXTRACT_BYTE = 3.5


@dataclass(slots=True)
class Figures:
    """What the election HQ reports upward after a build, and what the build repaired on the way."""

    voters: int = 0
    eligible: int = 0
    underage: int = 0
    deceased: int = 0
    suspended: int = 0
    rejected: int = 0
    padded_codes: int = 0       # codes of 8 or 9 digits given leading zeros (--pad-codes)
    names_normalised: int = 0   # rows whose names had Arabic letters, stray ZWNJs or spaces

    @classmethod
    def from_counts(cls, counts: list[int], rejected: int, padded: int = 0, normalised: int = 0) -> Figures:
        """Figures from per-category counts in CATEGORIES order."""
        eligible, underage, deceased, suspended = counts
        return cls(sum(counts), eligible, underage, deceased, suspended, rejected, padded, normalised)

    def to_json(self) -> str:
        """The figures as one JSON line, as the build prints and reports them."""
        return json.dumps(asdict(self))


@dataclass(slots=True)
class BuildResult:
    """The outcome of a build: figures, rejected lines, and where things were written.

    A refused build has no package and says why in `refusal`; `skippable` tells
    whether --skip-invalid would have built it.
    """

    figures: Figures
    rejects: list[Rejected] = field(default_factory=list)
    package: Path | None = None
    report: Path | None = None
    rejects_file: Path | None = None
    refusal: str | None = None
    skippable: bool = False
    stale_removed: list[Path] = field(default_factory=list)


def build_package(authority: Authority, config: ElectionConfig, config_dir: Path,
                  voters_csv: Path, out: Path, skip_invalid: bool = False,
                  workers: int | None = None, *, pad_codes: bool = False,
                  max_rejected: float = DEFAULT_MAX_REJECTED, encoding: str | None = None) -> BuildResult:
    """Build a package at `out`; on a refused or failed build nothing exists at `out` afterwards."""
    if config.id != authority.config.id:
        raise AuthorityRefused(f"election {config.id!r} is not this authority's election {authority.config.id!r}")
    if out.exists():
        raise AuthorityRefused(f"{out} already exists; choose a new package folder")
    anchors = _load_anchors(config, config_dir)
    authority.keep_card_anchors(anchors)   # collection checks the representatives' card signatures against them
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stale = remove_stale_builds(out)
        staging, mark = _new_staging(out)
    except OSError as exc:
        raise AuthorityRefused(_write_failure(exc, out, voters_csv)) from exc
    log(Event.PACKAGE_BUILD_STARTED, election=config.id)
    try:
        result = _build_in(staging, authority, config, anchors, voters_csv, out, skip_invalid, workers,
                           pad_codes, max_rejected, encoding)
        result.stale_removed = stale
        return result
    except (OSError, sqlite3.Error) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if not _disk_full(exc) and not isinstance(exc, OSError):
            raise
        raise AuthorityRefused(_write_failure(exc, out, voters_csv)) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _LIVE.discard(staging)
        os.close(mark)


def _build_in(staging: Path, authority: Authority, config: ElectionConfig, anchors: dict[str, bytes],
              voters_csv: Path, out: Path, skip_invalid: bool, workers: int | None, pad_codes: bool,
              max_rejected: float, encoding: str | None) -> BuildResult:
    """The build proper, in its staging folder; renames it to `out` when it is a package."""
    started = time.monotonic()
    registry_key = new_registry_key(authority.index_secret())
    try:
        source = prepare_extract(voters_csv, encoding, staging)
        built = build_registry(source, staging / REGISTRY, registry_key, config.id, config.rules, workers,
                               pad_codes)
    except ExtractRefused as exc:
        shutil.rmtree(staging)
        log(Event.PACKAGE_REFUSED, election=config.id, rejected=0)
        raise AuthorityRefused(str(exc)) from exc
    result = BuildResult(Figures.from_counts(built.counts, len(built.rejects), built.padded, built.normalised),
                         built.rejects)
    result.refusal, result.skippable = _refusal(result, skip_invalid, max_rejected)
    if result.rejects:
        result.report, result.rejects_file = _write_report(authority, source, result)
    if source != voters_csv:
        source.unlink()   # the converted copy: personal data in clear, and not part of the package
    if result.refusal is not None:
        shutil.rmtree(staging)
        log(Event.PACKAGE_REFUSED, election=config.id, rejected=len(result.rejects))
        return result
    _write_package_files(staging, authority, config, anchors, registry_key)
    authority.keep_registry_key(registry_key)
    os.unlink(staging / STAGING_MARK)
    os.rename(staging, out)
    fsync_dir(out.parent)
    result.package = out
    f = result.figures
    log(Event.PACKAGE_BUILT, election=config.id, voters=f.voters, eligible=f.eligible, rejected=f.rejected,
        padded_codes=f.padded_codes, names_normalised=f.names_normalised,
        seconds=round(time.monotonic() - started, 1))
    return result


def _refusal(result: BuildResult, skip_invalid: bool, max_rejected: float) -> tuple[str | None, bool]:
    """Why this build is refused (None: it is built), and whether --skip-invalid would build it."""
    f, rejects = result.figures, result.rejects
    if not rejects:
        return None, False
    reason, most = Counter(r.problem for r in rejects).most_common(1)[0]
    common = f"most common reason: {reason.value} ({_rows(most)})"
    total = f.voters + f.rejected
    if f.voters == 0:
        return f"all {f.rejected} rows were rejected ({common}); an empty registry is never built", False
    if f.rejected > max_rejected * total:
        return (f"{f.rejected} of {total} rows were rejected ({share_text(f.rejected / total)}), more than "
                f"--max-rejected allows ({share_text(max_rejected)}), even with --skip-invalid; {common}"), False
    if not skip_invalid:
        return f"{_rows(f.rejected, 'rejected ')}; nothing was written", True
    return None, False


def _rows(n: int, kind: str = "") -> str:
    return f"{n} {kind}row" if n == 1 else f"{n} {kind}rows"


def share_text(share: float) -> str:
    """A share as a short percentage: 0.01 -> 1%, 0.0125 -> 1.25%."""
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _new_staging(out: Path) -> tuple[Path, int]:
    """A fresh staging folder beside `out`, and the descriptor that holds its mark locked."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        mark = os.open(staging / STAGING_MARK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.lockf(mark, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(mark, f"kiosk-authority build of {out.name}, process {os.getpid()}\n".encode())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _LIVE.add(staging)
    return staging, mark


def remove_stale_builds(out: Path) -> list[Path]:
    """Remove the staging folders that killed builds of `out` left beside it; returns the ones removed.

    Only folders named exactly as a build of `out` names them, real folders of our own
    (not links), holding a build's mark that no running build keeps locked. A folder
    someone else named that way has no mark and stays.
    """
    prefix = f".{out.name}.building-"
    try:
        candidates = [p for p in out.parent.iterdir()
                      if p.name.startswith(prefix) and _STAGING_SUFFIX.fullmatch(p.name[len(prefix):])]
    except OSError:
        return []
    removed = []
    for folder in candidates:
        if folder in _LIVE or _is_live_or_foreign(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


def _is_live_or_foreign(folder: Path) -> bool:
    """True unless `folder` is one of our staging folders whose build is no longer running."""
    try:
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return True
        fd = os.open(folder / STAGING_MARK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return True
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True   # locked: a build is running in it
    finally:
        os.close(fd)
    return False


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


def _write_failure(exc: BaseException, out: Path, voters_csv: Path) -> str:
    """One line for a write the disk refused: where, why, and what to do."""
    where = out.parent
    if isinstance(exc, OSError) and exc.filename:
        where = Path(os.fsdecode(exc.filename)).parent
        while not where.is_dir():   # a file in the staging folder, which is gone by now
            where = where.parent
    if _disk_full(exc):
        try:
            free = shutil.disk_usage(where).free
            needed = voters_csv.stat().st_size * _PEAK_PER_EXTRACT_BYTE
        except OSError:
            return f"disk full at {where}: free space there and run again; nothing was built"
        more = max(1, math.ceil((needed - free) / 1e6))
        return (f"disk full at {where}: the build needs about {math.ceil(needed / 1e6)} MB there; "
                f"free {more} MB and run again; nothing was built")
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return f"cannot write at {where}: the file system is read-only; choose a writable folder for --out"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"build failed at {where}: {reason}; nothing was built"


def _load_anchors(config: ElectionConfig, config_dir: Path) -> dict[str, bytes]:
    anchors = {}
    for name in config.card_trust_anchors:
        path = config_dir / name
        try:
            pem = path.read_bytes()
            certs.load_certificate(pem)
        except (OSError, certs.CertificateRefused) as exc:
            raise AuthorityRefused(f"card trust anchor {name}: not a readable PEM certificate") from exc
        if Path(name).name in anchors:
            raise AuthorityRefused(f"card trust anchors: two files are named {Path(name).name}")
        anchors[Path(name).name] = pem
    return anchors


def _write_report(authority: Authority, source: Path, result: BuildResult) -> tuple[Path, Path]:
    """Report (verdict, figures, line and reason) and the rejected rows themselves, in the authority's folder only."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    folder = authority.reports_dir()
    report = folder / f"build-{stamp}-report.txt"
    lines = [f"line {r.line}: {r.reason}" for r in result.rejects]
    verdict = "built with rejected rows skipped" if result.refusal is None else f"build refused: {result.refusal}"
    write_atomic(report, ("\n".join([verdict, result.figures.to_json(), *lines]) + "\n").encode(), mode=0o600)
    wanted = {r.line: r.problem for r in result.rejects}
    rejects_file = folder / f"build-{stamp}-rejects.csv"
    with open(source, "rb") as f:  # lines end at b"\n" only, as the build counted them
        raw = [f"{n},{wanted[n].name},{line.decode('utf-8', 'replace').rstrip(chr(13) + chr(10))}"
               for n, line in enumerate(f, start=1) if n in wanted]
    write_atomic(rejects_file, ("line,reason,row\n" + "\n".join(raw) + "\n").encode(), mode=0o600)
    return report, rejects_file


def _write_package_files(staging: Path, authority: Authority, config: ElectionConfig,
                         anchors: dict[str, bytes], registry_key: bytes) -> None:
    names = [REGISTRY]
    # In the package the anchors live under anchors/; the settings name them there.
    settings = {**config.to_mapping(), "card_trust_anchors": [f"{ANCHORS}/{n}" for n in anchors]}
    write_atomic(staging / ELECTION, json.dumps(settings, ensure_ascii=False, indent=1).encode())
    write_atomic(staging / AUTHORITY_CERT, certs.cert_pem(authority.cert))
    write_atomic(staging / EXPORT_KEY, bundle.recipient_pem(authority.export_key().public_key()))
    names += [ELECTION, AUTHORITY_CERT, EXPORT_KEY]
    names.append(write_officials(staging, authority))
    (staging / ANCHORS).mkdir()
    for name, pem in anchors.items():
        write_atomic(staging / ANCHORS / name, pem)
        names.append(f"{ANCHORS}/{name}")
    (staging / ENVELOPES).mkdir()
    for device in authority.roster():
        names.append(add_envelope(staging, authority, device, registry_key))
        names += add_roster_entry(staging, device.device_id, device.cert_pem)
    write_sheets(authority)
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    signed = manifest.build(staging, names, config.id, created, authority.next_build())
    write_atomic(staging / manifest.MANIFEST, signed.to_bytes())
    write_atomic(staging / manifest.SIGNATURE, manifest.sign(signed, authority.key))


def add_roster_entry(package: Path, device_id: str, cert_pem: bytes) -> list[str]:
    """The device's certificate under roster/: who it is, for every peer (signed by the authority itself).

    Returns the file's name (none for a device enrolled by a version that kept no certificate).
    """
    if not cert_pem:
        return []
    (package / ROSTER_DIR).mkdir(exist_ok=True)
    name = f"{ROSTER_DIR}/{device_id}.pem"
    write_atomic(package / name, cert_pem)
    return [name]
