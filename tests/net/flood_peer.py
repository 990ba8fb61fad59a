"""An attacker on the branch LAN without a certificate: TCP connections that stay silent or trickle garbage.

  flood_peer.py HOST PORT SOURCES SILENT TRICKLE
SOURCES is a comma-separated list of local addresses to connect from (127.0.0.2,...). From each it keeps
SILENT connections that send nothing and TRICKLE that send one garbage byte every 0.2 s, and opens a new
one whenever the server hangs up on one. Prints "ready" once the first are open; when stdin ends it closes
everything and prints how many connections it opened.
"""
from __future__ import annotations

import errno
import os
import selectors
import socket
import sys
import time

TRICKLE_SECONDS = 0.2
ROUND_SECONDS = 0.05   # reopen what the server hung up on at most this often: a flood, not a busy loop


def _open(source: str, host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    code = sock.connect_ex((host, port))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(code, os.strerror(code))
    return sock


def main(host: str, port: int, sources: list[str], silent: int, trickle: int) -> None:
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    held: dict[socket.socket, tuple[str, bool]] = {}   # socket -> (source, trickles)
    opened, next_trickle, ready = 0, 0.0, False
    while True:
        for source in sources:
            mine = [t for s, t in held.values() if s == source]
            for trickles in [False] * (silent - mine.count(False)) + [True] * (trickle - mine.count(True)):
                try:
                    sock = _open(source, host, port)
                except OSError:
                    continue
                held[sock] = (source, trickles)
                selector.register(sock, selectors.EVENT_READ, "peer")
                opened += 1
        if not ready:
            print("ready", flush=True)
            ready = True
        if time.monotonic() >= next_trickle:
            for sock, (_, trickles) in held.items():
                if trickles:
                    try:
                        sock.send(b"\x16")
                    except OSError:
                        pass   # not connected yet, or hung up: the read below finds out
            next_trickle = time.monotonic() + TRICKLE_SECONDS
        for key, _ in selector.select(ROUND_SECONDS):
            if key.data == "stdin":
                if not sys.stdin.readline():
                    for sock in held:
                        sock.close()
                    print(opened, flush=True)
                    return
                continue
            peer = key.fileobj
            assert isinstance(peer, socket.socket)
            sock = peer
            try:
                gone = not sock.recv(4096)
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                selector.unregister(sock)
                del held[sock]
                sock.close()
        time.sleep(ROUND_SECONDS)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4]), int(sys.argv[5]))
