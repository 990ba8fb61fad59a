"""Each device's envelope: its share and its secrets locked under the day key, sealed to its at-rest key.

A kiosk's secrets are the registry key; a console's are the other share of
every kiosk it may unlock (its branches, not revoked); both carry the key that
hashes officials' national codes. Each enrolled card of the device's branches
(heads' for a kiosk, representatives' for a console) gets a slot that opens
the other share with that card's key. Made at build, and again by `seal` for
devices enrolled later (a console's envelope is remade then: it must learn the
new kiosk's share).
"""
from __future__ import annotations

from pathlib import Path

from kiosk.store.atomic import write_atomic
from kiosk.store.registry import RegistryKeys
from kiosk.trust import card_slots, certs, daykeys, envelope
from kiosk.trust.officials import OfficialRole, officials_key
from provisioning.authority import Authority, Enrolled
from provisioning.officials import load_officials

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


def card_slots_for(authority: Authority, device: Enrolled, other_share: bytes) -> tuple[card_slots.CardSlot, ...]:
    """A slot for each enrolled card that may unlock the device: its branches' heads (a kiosk), reps (a console)."""
    role = OfficialRole.HEAD if device.role is certs.Role.KIOSK else OfficialRole.REP
    slots = []
    for official in load_officials(authority):
        card = official.card()
        if card is not None and official.role is role and set(official.branches) & set(device.branches):
            slots.append(card_slots.make_slot(card, other_share, authority.config.id, device.device_id))
    return tuple(slots)


def add_envelope(package: Path, authority: Authority, device: Enrolled, registry_key: bytes) -> str:
    """Seal one device's envelope into the package; returns the file's name."""
    kept = authority.device_secrets(device.device_id)
    contents = daykeys.make_envelope(kept.share, kept.other_share, device_secrets(authority, device, registry_key),
                                     authority.config.id, device.device_id,
                                     RegistryKeys.derive(registry_key).index_check,
                                     card_slots_for(authority, device, kept.other_share))
    sealed = envelope.seal(contents.to_bytes(), authority.config.id, device.device_id, device.unwrap_public,
                           authority.key)
    (package / ENVELOPES).mkdir(exist_ok=True)
    name = envelope_name(device.device_id)
    write_atomic(package / name, sealed.to_bytes())
    return name
