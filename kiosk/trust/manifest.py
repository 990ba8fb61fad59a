"""The package manifest: every file's hash and size and the build's number, signed by the election authority.

The build number rises with every package an authority builds, so a device can
refuse an older build of its election; the same hashes are re-checked at every
start of the app.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import assert_never

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.trust.canonical import canonical_json

FORMAT = 2   # 2: the build number (no election ran on format 1)
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_MANIFEST_BYTES = 1 << 20
_CHUNK = 1 << 20


class ManifestRefused(Exception):
    """A manifest that is malformed, unsigned, or does not match the files."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One covered file."""

    sha256: str
    size: int


class Change(Enum):
    """How an installed file differs from what the authority signed."""

    MISSING = "missing"
    RESIZED = "resized"
    ALTERED = "altered"
    UNSIGNED = "unsigned"   # the manifest itself no longer verifies


@dataclass(frozen=True, slots=True)
class Difference:
    """The first file that is not as signed, and how."""

    name: str
    change: Change

    def message(self) -> str:
        """One line for a technician's tool (no personal data: file names only)."""
        match self.change:
            case Change.MISSING:
                return f"package file missing: {self.name}"
            case Change.RESIZED:
                return f"package file truncated or grown: {self.name}"
            case Change.ALTERED:
                return f"package file altered: {self.name}"
            case Change.UNSIGNED:
                return f"{self.name} does not verify against the authority"
            case _ as unreachable:
                assert_never(unreachable)


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the authority signed: the election, the build's number and the files of the package."""

    election_id: str
    created: str
    files: dict[str, FileEntry]
    build: int

    def to_bytes(self) -> bytes:
        """The exact bytes that are signed."""
        return canonical_json({
            "format": FORMAT, "election": self.election_id, "created": self.created, "build": self.build,
            "files": {n: {"sha256": e.sha256, "size": e.size} for n, e in sorted(self.files.items())},
        })


def hash_file(path: Path) -> FileEntry:
    """SHA-256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def build(root: Path, names: list[str], election_id: str, created: str, number: int) -> Manifest:
    """Hash the named files under `root` into the manifest of build `number`."""
    if number < 1:
        raise ValueError("build numbers start at 1")
    return Manifest(election_id, created, {n: hash_file(root / n) for n in names}, number)


def sign(manifest: Manifest, key: ed25519.Ed25519PrivateKey) -> bytes:
    """The authority's signature over the manifest bytes."""
    return key.sign(manifest.to_bytes())


def load_verified(data: bytes, signature: bytes, authority_public: ed25519.Ed25519PublicKey) -> Manifest:
    """Check the signature first, then decode strictly."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestRefused("manifest too large")
    try:
        authority_public.verify(signature, data)
    except InvalidSignature as exc:
        raise ManifestRefused("manifest signature does not verify against the authority") from exc
    try:
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise ManifestRefused(f"manifest format {raw.get('format')!r} is not this version's ({FORMAT}): "
                                  "rebuild the package")
        number = raw["build"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError("build")
        files = {}
        for name, entry in raw["files"].items():
            _check_name(name)
            if not (isinstance(entry["sha256"], str) and isinstance(entry["size"], int)):
                raise ValueError("entry")
            files[name] = FileEntry(entry["sha256"], entry["size"])
        return Manifest(str(raw["election"]), str(raw["created"]), files, number)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestRefused("manifest is malformed") from exc


def _check_name(name: object) -> None:
    """Only plain relative paths: a signed manifest still must not point outside the package."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
        raise ValueError("file name")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError("file name")


def first_difference(root: Path, manifest: Manifest, names: Iterable[str] | None = None) -> Difference | None:
    """The first of `names` (default: every listed file) that is missing, resized or altered under `root`."""
    for name in sorted(manifest.files if names is None else names):
        entry, path = manifest.files[name], root / name
        try:
            if not path.is_file():
                return Difference(name, Change.MISSING)
            if path.stat().st_size != entry.size:
                return Difference(name, Change.RESIZED)
            if hash_file(path).sha256 != entry.sha256:
                return Difference(name, Change.ALTERED)
        except OSError:
            return Difference(name, Change.MISSING)   # unreadable now is as good as gone
    return None


def check_files(root: Path, manifest: Manifest) -> None:
    """Every listed file exists with its size and hash; ManifestRefused names the first that does not."""
    difference = first_difference(root, manifest)
    if difference is not None:
        raise ManifestRefused(difference.message())


def listed_hash(data: bytes, name: str) -> str | None:
    """The hash `data` (a manifest, NOT verified) lists for `name`: only to say which file broke a signature."""
    try:
        entry = json.loads(data)["files"][name]["sha256"]
    except (ValueError, KeyError, TypeError):
        return None
    return entry if isinstance(entry, str) else None
