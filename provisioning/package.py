"""Building the signed election package from the civil-registry extract.

The registry is built first (provisioning.registry_build), then the decision:
any rejected row fails the build and nothing is left behind, unless the
authority asked to skip invalid rows. Then the small files, the envelopes and
the signed manifest, all in a staging folder renamed into place at the end.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.core.election import ElectionConfig
from kiosk.logbook import Event, log
from kiosk.state import EXPORT_KEY
from kiosk.store.atomic import fsync_dir, write_atomic
from kiosk.store.registry import new_registry_key
from kiosk.trust import bundle, certs, envelope, manifest
from kiosk.trust.roster import ROSTER_DIR
from provisioning.authority import Authority, AuthorityRefused
from provisioning.registry_build import ExtractRefused, build_registry
from provisioning.voters_csv import Rejected

REGISTRY = "registry.sqlite"
ELECTION = "election.json"
AUTHORITY_CERT = "authority.crt"
ANCHORS = "anchors"
ENVELOPES = "envelopes"


@dataclass(slots=True)
class Figures:
    """What the election HQ reports upward after a build."""

    voters: int = 0
    eligible: int = 0
    underage: int = 0
    deceased: int = 0
    suspended: int = 0
    rejected: int = 0

    @classmethod
    def from_counts(cls, counts: list[int], rejected: int) -> Figures:
        """Figures from per-category counts in CATEGORIES order."""
        eligible, underage, deceased, suspended = counts
        return cls(sum(counts), eligible, underage, deceased, suspended, rejected)


@dataclass(slots=True)
class BuildResult:
    """The outcome of a build: figures, rejected lines, and where things were written."""

    figures: Figures
    rejects: list[Rejected] = field(default_factory=list)
    package: Path | None = None
    report: Path | None = None
    rejects_file: Path | None = None


def build_package(authority: Authority, config: ElectionConfig, config_dir: Path,
                  voters_csv: Path, out: Path, skip_invalid: bool = False,
                  workers: int | None = None) -> BuildResult:
    """Build a package at `out`; on a refused build nothing exists at `out` afterwards."""
    if config.id != authority.config.id:
        raise AuthorityRefused(f"election {config.id!r} is not this authority's election {authority.config.id!r}")
    if out.exists():
        raise AuthorityRefused(f"{out} already exists; choose a new package folder")
    anchors = _load_anchors(config, config_dir)
    log(Event.PACKAGE_BUILD_STARTED, election=config.id)
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        registry_key = new_registry_key(authority.index_secret())
        try:
            built = build_registry(voters_csv, staging / REGISTRY, registry_key, config.id, config.rules, workers)
        except ExtractRefused as exc:
            raise AuthorityRefused(str(exc)) from exc
        result = BuildResult(Figures.from_counts(built.counts, len(built.rejects)), built.rejects)
        if result.rejects:
            result.report, result.rejects_file = _write_report(authority, voters_csv, result, skip_invalid)
            if not skip_invalid:
                shutil.rmtree(staging)
                log(Event.PACKAGE_REFUSED, election=config.id, rejected=len(result.rejects))
                return result
        _write_package_files(staging, authority, config, anchors, registry_key)
        authority.keep_registry_key(registry_key)
        os.rename(staging, out)
        fsync_dir(out.parent)
        result.package = out
        f = result.figures
        log(Event.PACKAGE_BUILT, election=config.id, voters=f.voters, eligible=f.eligible,
            rejected=f.rejected, seconds=round(time.monotonic() - started, 1))
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
        if Path(name).name in anchors:
            raise AuthorityRefused(f"card trust anchors: two files are named {Path(name).name}")
        anchors[Path(name).name] = pem
    return anchors


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
    with open(voters_csv, "rb") as f:  # lines end at b"\n" only, as the build counted them
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
    (staging / ANCHORS).mkdir()
    for name, pem in anchors.items():
        write_atomic(staging / ANCHORS / name, pem)
        names.append(f"{ANCHORS}/{name}")
    (staging / ENVELOPES).mkdir()
    for device in authority.roster():
        names.append(add_envelope(staging, authority, device.device_id, device.unwrap_public, registry_key))
        names += add_roster_entry(staging, device.device_id, device.cert_pem)
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


def add_envelope(package: Path, authority: Authority, device_id: str, unwrap_public: bytes,
                 registry_key: bytes) -> str:
    """Seal the registry key for one device into the package; returns the file's name."""
    sealed = envelope.seal(registry_key, authority.config.id, device_id, unwrap_public, authority.key)
    name = f"{ENVELOPES}/{device_id}.json"
    write_atomic(package / name, sealed.to_bytes())
    return name
