"""A virtual card process for pcscd's vpcd reader: `python -m drivers.card.vpcd_card ...`.

vpcd (Debian's vsmartcard-vpcd) listens on 127.0.0.1:35963 for reader 0. A
card "is inserted" while this process is connected. Wire format: a 2-byte
big-endian length, then the payload; a 1-byte payload is a control message
(0 power off, 1 power on, 2 reset, 4 send the ATR), anything longer is a
command APDU answered with a response APDU.
"""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.card.virtual import PIN_TRIES, Misbehaviour, VirtualCard

_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4


def _recv_exact(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def serve(card: VirtualCard, host: str, port: int) -> int:
    """Be the card in vpcd's reader until vpcd hangs up or the card is "pulled"."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.settimeout(None)
        print("inserted", flush=True)
        while True:
            head = _recv_exact(sock, 2)
            if head is None:
                return 0
            payload = _recv_exact(sock, int.from_bytes(head, "big"))
            if payload is None:
                return 0
            if len(payload) == 1:
                if payload[0] == _GET_ATR:
                    _send(sock, card.atr)
                elif payload[0] in (_POWER_OFF, _POWER_ON, _RESET):
                    card.reset()
                continue
            if card.pulled():
                return 0  # the card left the reader in the middle of a read
            _send(sock, card.respond(payload))


def main(argv: list[str] | None = None) -> int:
    """Command line for tests and technicians."""
    parser = argparse.ArgumentParser(prog="vpcd_card", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=35963)
    parser.add_argument("--profile", choices=["iran-nid", "test"], default="test")
    parser.add_argument("--cert", type=Path, required=True, help="DER certificate the card holds")
    parser.add_argument("--key", type=Path, help="PEM P-256 key of the holder (without it the card cannot sign)")
    parser.add_argument("--pin", default="1234", help="the card's PIN (a test card's, never a real one)")
    parser.add_argument("--tries", type=int, default=PIN_TRIES, help="PIN tries left (0: a blocked card)")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--wrong-status", type=lambda s: int(s, 16))
    parser.add_argument("--truncate", type=int)
    parser.add_argument("--pull-after-reads", type=int)
    args = parser.parse_args(argv)
    misbehave = Misbehaviour(delay=args.delay, wrong_status=args.wrong_status,
                             truncate_certificate=args.truncate, pull_after_reads=args.pull_after_reads)
    try:
        key = None
        if args.key is not None:
            loaded = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                print("vpcd_card: --key is not an EC key", file=sys.stderr)
                return 2
            key = loaded
        card = VirtualCard.of(args.profile, args.cert.read_bytes(), misbehave, key, args.pin, args.tries)
        return serve(card, args.host, args.port)
    except OSError as exc:
        print(f"vpcd_card: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
