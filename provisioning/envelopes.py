"""Each device's envelope: its share and its secrets locked under the day key, sealed to its at-rest key.

A kiosk's secrets are the registry key; a console's are the other share of
every kiosk it may unlock (its branches, not revoked); both carry the key that
hashes officials' national codes. Made at build, and again by `seal` for
devices enrolled later (a console's envelope is remade then: it must learn the
new kiosk's share).
"""
from __future__ import annotations

from pathlib import Path

from kiosk.store.atomic import write_atomic
from kiosk.store.registry import RegistryKeys
from kiosk.trust import certs, daykeys, envelope
from kiosk.trust.officials import officials_key
from provisioning.authority import Authority, Enrolled

ENVELOPES = "envelopes"


def envelope_name(device_id: str) -> str:
    """Where a device's envelope sits in the package."""
    return f"{ENVELOPES}/{device_id}.json"


def device_secrets(authority: Authority, device: Enrolled, registry_key: bytes) -> daykeys.Secrets:
    """What the device's unlock yields, by its role."""
    officials = officials_key(authority.index_secret())
    if device.role is certs.Role.KIOSK:
        return daykeys.Secrets(registry_key, officials)
    revoked = authority.revocations().revoked
    shares = {k.device_id: authority.device_secrets(k.device_id).other_share for k in authority.roster()
              if k.role is certs.Role.KIOSK and k.device_id not in revoked and set(k.branches) & set(device.branches)}
    return daykeys.Secrets(None, officials, shares)


def add_envelope(package: Path, authority: Authority, device: Enrolled, registry_key: bytes) -> str:
    """Seal one device's envelope into the package; returns the file's name."""
    kept = authority.device_secrets(device.device_id)
    contents = daykeys.make_envelope(kept.share, kept.other_share, device_secrets(authority, device, registry_key),
                                     authority.config.id, device.device_id,
                                     RegistryKeys.derive(registry_key).index_check)
    sealed = envelope.seal(contents.to_bytes(), authority.config.id, device.device_id, device.unwrap_public,
                           authority.key)
    (package / ENVELOPES).mkdir(exist_ok=True)
    name = envelope_name(device.device_id)
    write_atomic(package / name, sealed.to_bytes())
    return name
