"""Building the signed election package from the civil-registry extract.

The build streams the CSV once, checks every row, seals accepted rows into
the registry, and only at the end decides: any rejected row fails the build
(nothing is left behind) unless the authority asked to skip invalid rows.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.core.election import ElectionConfig
from kiosk.core.eligibility import Verdict, registry_verdict
from kiosk.store.atomic import fsync_dir, write_atomic
from kiosk.store.registry import RecordSealer, RegistryKeys, RegistryWriter, encode_record
from kiosk.trust import certs, envelope, manifest
from provisioning.authority import Authority, AuthorityRefused
from provisioning.voters_csv import RowProblem, Rejected, check_header, check_row

REGISTRY = "registry.sqlite"
ELECTION = "election.json"
AUTHORITY_CERT = "authority.crt"
ANCHORS = "anchors"
ENVELOPES = "envelopes"
_CHUNK = 50_000
_MAX_FIELD = 1024
# Category of an accepted row, kept per code so a duplicate found later can be taken back out.
_ELIGIBLE, _UNDERAGE, _DECEASED, _SUSPENDED = range(4)


@dataclass(slots=True)
class Figures:
    """What the election HQ reports upward after a build."""

    voters: int = 0
    eligible: int = 0
    underage: int = 0
    deceased: int = 0
    suspended: int = 0
    rejected: int = 0

    def count(self, category: int, delta: int) -> None:
        """Add `delta` to the voters total and to one category."""
        self.voters += delta
        name = ("eligible", "underage", "deceased", "suspended")[category]
        setattr(self, name, getattr(self, name) + delta)


@dataclass(slots=True)
class BuildResult:
    """The outcome of a build: figures, rejected lines, and where things were written."""

    figures: Figures
    rejects: list[Rejected] = field(default_factory=list)
    package: Path | None = None
    report: Path | None = None
    rejects_file: Path | None = None


def build_package(authority: Authority, config: ElectionConfig, config_dir: Path,
                  voters_csv: Path, out: Path, skip_invalid: bool = False) -> BuildResult:
    """Build a package at `out`; on a refused build nothing exists at `out` afterwards."""
    if config.id != authority.config.id:
        raise AuthorityRefused(f"election {config.id!r} is not this authority's election {authority.config.id!r}")
    if out.exists():
        raise AuthorityRefused(f"{out} already exists; choose a new package folder")
    anchors = _load_anchors(config, config_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        registry_key = os.urandom(32)
        result = _build_registry(staging / REGISTRY, registry_key, config, voters_csv)
        if result.rejects:
            result.report, result.rejects_file = _write_report(authority, voters_csv, result, skip_invalid)
            if not skip_invalid:
                shutil.rmtree(staging)
                return result
        _write_package_files(staging, authority, config, anchors, registry_key)
        authority.keep_registry_key(registry_key)
        os.rename(staging, out)
        fsync_dir(out.parent)
        result.package = out
        return result
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _load_anchors(config: ElectionConfig, config_dir: Path) -> dict[str, bytes]:
    anchors = {}
    for name in config.card_trust_anchors:
        path = config_dir / name
        try:
            pem = path.read_bytes()
            certs.load_certificate(pem)
        except (OSError, certs.CertificateRefused) as exc:
            raise AuthorityRefused(f"card trust anchor {name}: not a readable PEM certificate") from exc
        anchors[Path(name).name] = pem
    return anchors


def _rows(voters_csv: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every data row; the header is checked here."""
    csv.field_size_limit(_MAX_FIELD)
    try:
        f = open(voters_csv, encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise AuthorityRefused(f"voter extract cannot be read: {voters_csv}") from exc
    with f:
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader, [])
            if not check_header(header):
                raise AuthorityRefused("voter extract header must be: national_code,first_name,"
                                       "last_name,father_name,birth_date,gender,status")
            for fields in reader:
                yield reader.line_num, fields
        except csv.Error as exc:
            raise AuthorityRefused(f"voter extract line {reader.line_num + 1}: unreadable CSV ({exc})") from exc


_CATEGORY = {Verdict.ELIGIBLE: _ELIGIBLE, Verdict.UNDERAGE: _UNDERAGE,
             Verdict.DECEASED: _DECEASED, Verdict.SUSPENDED: _SUSPENDED}


def _build_registry(path: Path, registry_key: bytes, config: ElectionConfig, voters_csv: Path) -> BuildResult:
    keys = RegistryKeys.derive(registry_key)
    sealer = RecordSealer(keys)
    writer = RegistryWriter(path, keys, config.id)
    figures = Figures()
    rejects: list[Rejected] = []
    # code -> first line * 4 + category: enough to take a duplicate's first row back out.
    seen: dict[int, int] = {}
    duplicated: set[int] = set()
    rules = config.rules
    chunk: list[tuple[bytes, bytes]] = []
    for line, fields in _rows(voters_csv):
        checked = check_row(fields, config.day)
        if isinstance(checked, RowProblem):
            rejects.append(Rejected(line, checked))
            continue
        code, record = checked
        number = int(code)
        if number in seen:
            rejects.append(Rejected(line, RowProblem.DUPLICATE_CODE))
            duplicated.add(number)
            continue
        category = _CATEGORY[registry_verdict(record, rules)]
        seen[number] = line * 4 + category
        figures.count(category, 1)
        index = keys.index_of(code)
        chunk.append((index, sealer.seal(index, encode_record(record))))
        if len(chunk) >= _CHUNK:
            chunk.sort()
            writer.add(chunk)
            chunk = []
    chunk.sort()
    writer.add(chunk)
    for number in duplicated:
        first = seen[number]
        rejects.append(Rejected(first // 4, RowProblem.DUPLICATE_CODE))
        figures.count(first % 4, -1)
    writer.remove(keys.index_of(f"{n:010d}") for n in duplicated)
    writer.close(figures.voters)
    rejects.sort(key=lambda r: r.line)
    figures.rejected = len(rejects)
    return BuildResult(figures, rejects)


def _write_report(authority: Authority, voters_csv: Path, result: BuildResult,
                  skip_invalid: bool) -> tuple[Path, Path]:
    """Report (line, reason) and the rejected rows themselves, in the authority's folder only."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    folder = authority.reports_dir()
    report = folder / f"build-{stamp}-report.txt"
    lines = [f"line {r.line}: {r.problem.value}" for r in result.rejects]
    verdict = "built with rejected rows skipped" if skip_invalid else "build refused"
    write_atomic(report, ("\n".join([verdict, *lines]) + "\n").encode(), mode=0o600)
    wanted = {r.line: r.problem for r in result.rejects}
    rejects_file = folder / f"build-{stamp}-rejects.csv"
    with open(voters_csv, encoding="utf-8-sig", errors="replace", newline="") as f:
        raw = [f"{n},{wanted[n].name},{text.rstrip(chr(13) + chr(10))}"
               for n, text in enumerate(f, start=1) if n in wanted]
    write_atomic(rejects_file, ("line,reason,row\n" + "\n".join(raw) + "\n").encode(), mode=0o600)
    return report, rejects_file


def _write_package_files(staging: Path, authority: Authority, config: ElectionConfig,
                         anchors: dict[str, bytes], registry_key: bytes) -> None:
    names = [REGISTRY]
    write_atomic(staging / ELECTION, json.dumps(config.to_mapping(), ensure_ascii=False, indent=1).encode())
    write_atomic(staging / AUTHORITY_CERT, certs.cert_pem(authority.cert))
    names += [ELECTION, AUTHORITY_CERT]
    (staging / ANCHORS).mkdir()
    for name, pem in anchors.items():
        write_atomic(staging / ANCHORS / name, pem)
        names.append(f"{ANCHORS}/{name}")
    (staging / ENVELOPES).mkdir()
    for device in authority.roster():
        names.append(add_envelope(staging, authority, device.device_id, device.unwrap_public, registry_key))
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    signed = manifest.build(staging, names, config.id, created)
    write_atomic(staging / manifest.MANIFEST, signed.to_bytes())
    write_atomic(staging / manifest.SIGNATURE, manifest.sign(signed, authority.key))


def add_envelope(package: Path, authority: Authority, device_id: str, unwrap_public: bytes,
                 registry_key: bytes) -> str:
    """Seal the registry key for one device into the package; returns the file's name."""
    sealed = envelope.seal(registry_key, authority.config.id, device_id, unwrap_public, authority.key)
    name = f"{ENVELOPES}/{device_id}.json"
    write_atomic(package / name, sealed.to_bytes())
    return name
