"""The package manifest: every file's hash and size, signed by the election authority."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.trust.canonical import canonical_json

FORMAT = 1
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


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the authority signed: the election and the files of the package."""

    election_id: str
    created: str
    files: dict[str, FileEntry]

    def to_bytes(self) -> bytes:
        """The exact bytes that are signed."""
        return canonical_json({
            "format": FORMAT, "election": self.election_id, "created": self.created,
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


def build(root: Path, names: list[str], election_id: str, created: str) -> Manifest:
    """Hash the named files under `root` into a manifest."""
    return Manifest(election_id, created, {n: hash_file(root / n) for n in names})


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
            raise ValueError("format")
        files = {}
        for name, entry in raw["files"].items():
            _check_name(name)
            if not (isinstance(entry["sha256"], str) and isinstance(entry["size"], int)):
                raise ValueError("entry")
            files[name] = FileEntry(entry["sha256"], entry["size"])
        return Manifest(str(raw["election"]), str(raw["created"]), files)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestRefused("manifest is malformed") from exc


def _check_name(name: object) -> None:
    """Only plain relative paths: a signed manifest still must not point outside the package."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
        raise ValueError("file name")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError("file name")


def check_files(root: Path, manifest: Manifest) -> None:
    """Every listed file exists with its size and hash; ManifestRefused names the first that does not."""
    for name, entry in sorted(manifest.files.items()):
        path = root / name
        if not path.is_file():
            raise ManifestRefused(f"package file missing: {name}")
        if path.stat().st_size != entry.size:
            raise ManifestRefused(f"package file truncated or grown: {name}")
        if hash_file(path).sha256 != entry.sha256:
            raise ManifestRefused(f"package file altered: {name}")
