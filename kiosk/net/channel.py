"""Mutual TLS 1.3 between the devices of one election, carrying length-prefixed frames.

Each frame is a 4-byte big-endian length (1..MAX_FRAME) and the payload. Right
after the handshake the server sends one empty frame (four zero bytes) once it
has accepted the client, so `connect` returns only when both sides have checked
each other; `receive` never sees it.

OpenSSL checks the chain to the election authority but not the clock (a Pi has
no real-time clock); `certs.verify_device` then judges validity on the election
day, and the policy checks role, branches and a pinned fingerprint.

A server keeps peers still in their handshake apart from verified ones. The
handshake, our checks and the acceptance frame finish within HANDSHAKE_TIMEOUT;
one source address holds at most MAX_HANDSHAKES_PER_ADDRESS handshakes and
MAX_PER_ADDRESS connections; when all MAX_HANDSHAKES slots are taken, a
newcomer from a less busy address takes the oldest slot of the busiest one. So
no number of silent or trickling TCP connections keeps a device on another
address out. Refusals are tallied per address and reason (logbook.Tally). A
verified peer that sends nothing for IDLE_TIMEOUT is dropped, on either side.
"""
from __future__ import annotations

import math
import os
import select
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk.logbook import TALLY_SECONDS, Event, Tally, log
from kiosk.state import Installed, load_signing_key
from kiosk.trust import certs
from kiosk.trust.roster import Roster, RosterSource

MAX_FRAME = 64 * 1024
HANDSHAKE_TIMEOUT = 5.0      # TLS handshake + our checks + the acceptance frame; ~20 ms on a LAN
SEND_TIMEOUT = 10.0
# Every long-lived link sends well within this in both directions: branch sync a Want each second,
# the courier a Status every 5 s, the console a Beacon every 2 s; a sender stuck for SEND_TIMEOUT
# closes its own side first. A peer that says nothing for this long is gone or up to no good.
IDLE_TIMEOUT = 30.0
MAX_CONNECTIONS = 64             # everything a server holds at once, verified or not
MAX_HANDSHAKES = 32              # of those, still in their handshake
# A real device needs one or two; the tests and benches run ten devices on 127.0.0.1.
MAX_HANDSHAKES_PER_ADDRESS = 8
MAX_PER_ADDRESS = 16

_HEADER = 4
_ACCEPTED = bytes(_HEADER)
_CHUNK = MAX_FRAME + _HEADER
# X509_V_FLAG_NO_CHECK_TIME: Python's ssl has no name for it; OpenSSL 1.1+ honours it.
_NO_CHECK_TIME = 0x200000
# Verify codes that mean "not signed by the authority we trust" (unknown issuer, bad signature, self-signed).
_UNTRUSTED = frozenset({2, 7, 18, 19, 20, 21})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """This device's certificate and key, and the election authority it trusts."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    authority_pem: bytes
    claims: certs.DeviceClaims

    @classmethod
    def from_installed(cls, installed: Installed) -> TlsIdentity:
        """The identity of a provisioned device, from its state folder and installed package."""
        key_pem = load_signing_key(installed.state).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return cls(certs.cert_pem(installed.device_cert), key_pem, certs.cert_pem(installed.authority_cert),
                   installed.claims)

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of our certificate, as zeroconf TXT records quote it."""
        return certs.fingerprint(certs.load_certificate(self.cert_pem))


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """Who may be on the other end.

    With a roster, the peer must be an enrolled, unrevoked device presenting the
    very certificate the roster holds; with `device`, it must be that device (the
    one we meant to dial: an advert gives only an address).
    """

    role: certs.Role
    branches: frozenset[str]
    fingerprint: str | None = None
    roster: Roster | RosterSource | None = None
    device: str | None = None

    def check(self, peer: certs.DeviceClaims, cert: x509.Certificate) -> str | None:
        """The reason to refuse this verified peer, or None to accept it."""
        if peer.role is not self.role:
            return f"peer role is {peer.role.value}, expected {self.role.value}"
        if not self.branches.intersection(peer.branches):
            return "peer serves none of our branches"
        if self.device is not None and peer.device_id != self.device:
            return "peer is not the device we dialled"
        if self.fingerprint is not None and certs.fingerprint(cert) != self.fingerprint.lower():
            return "peer certificate does not match the expected fingerprint"
        if self.roster is not None:
            return self.roster.refusal(peer.device_id, certs.fingerprint(cert))
        return None


# What a server accepts: a PeerPolicy, or a callable giving a refusal reason (None to accept).
Policy = Callable[[certs.DeviceClaims], str | None] | PeerPolicy


class ChannelError(Exception):
    """Root of the channel's errors."""


class PeerRefused(ChannelError):
    """The peer failed the handshake or our checks; the message is a one-line reason."""


class ChannelClosed(ChannelError):
    """The connection is gone: closed by either side, reset, or never established."""


class FrameRefused(ChannelError):
    """The peer sent a frame length outside 1..MAX_FRAME; the channel is closed."""


class Channel:
    """A verified connection to one peer: whole frames in and out, safe to use from several threads."""

    def __init__(self, sock: ssl.SSLSocket, peer: certs.DeviceClaims, peer_cert: x509.Certificate,
                 peer_address: str, idle_timeout: float | None = None) -> None:
        self.peer = peer
        self.peer_cert = peer_cert
        self.peer_address = peer_address
        self._sock = sock
        self._buffer = bytearray()
        # RLocks: a failing send or receive closes the channel while holding its own lock.
        self._send_lock = threading.RLock()
        self._recv_lock = threading.RLock()
        # OpenSSL forbids concurrent calls on one connection; every (non-blocking) SSL call holds this.
        self._io_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        self._announced = False
        # None: IDLE_TIMEOUT as it is now; math.inf: wait for the peer forever.
        self._idle = IDLE_TIMEOUT if idle_timeout is None else idle_timeout
        self._heard = time.monotonic()  # when bytes last arrived: the idle bound counts from here

    def send(self, payload: bytes) -> None:
        """Send one payload of 1..MAX_FRAME bytes; ChannelClosed if the connection is gone."""
        if not 0 < len(payload) <= MAX_FRAME:
            raise ValueError(f"payload must be 1..{MAX_FRAME} bytes, not {len(payload)}")
        self._write(len(payload).to_bytes(_HEADER, "big") + payload)

    def receive(self, timeout: float | None = None) -> bytes | None:
        """The next payload, or None if none is complete within `timeout` seconds (bytes read are kept).

        ChannelClosed, and the channel closed, once the peer has sent nothing at all for the idle bound.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._recv_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return None
        try:
            while (frame := self._take_frame()) is None:
                silent_at = self._heard + self._idle if math.isfinite(self._idle) else None
                if silent_at is None or (deadline is not None and deadline < silent_at):
                    if not self._fill(deadline):
                        return None
                elif not self._fill(silent_at):
                    self._close(f"silent for {self._idle:g} s")
                    raise ChannelClosed(f"peer sent nothing for {self._idle:g} s")
            return frame
        finally:
            self._recv_lock.release()

    def close(self) -> None:
        """Close the connection; safe to call more than once and from any thread."""
        self._close("closed by this device")

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _take_frame(self) -> bytes | None:
        if len(self._buffer) < _HEADER:
            return None
        length = int.from_bytes(self._buffer[:_HEADER], "big")
        if not 0 < length <= MAX_FRAME:
            log(Event.MESSAGE_REFUSED, reason=f"frame length {length} outside 1..{MAX_FRAME}",
                peer=self.peer.device_id, address=self.peer_address)
            self._close("frame refused")
            raise FrameRefused(f"frame length {length} is outside 1..{MAX_FRAME}")
        if len(self._buffer) < _HEADER + length:
            return None
        frame = bytes(self._buffer[_HEADER:_HEADER + length])
        del self._buffer[:_HEADER + length]
        return frame

    def _fill(self, deadline: float | None) -> bool:
        """Read more bytes into the buffer; False if `deadline` passes first."""
        chunk = self._ssl_call(partial(self._sock.recv, _CHUNK), deadline)
        if chunk is None:
            return False
        if not chunk:
            self._close("peer closed the connection")
            raise ChannelClosed("peer closed the connection" + (" mid-frame" if self._buffer else ""))
        self._buffer += chunk
        self._heard = time.monotonic()
        return True

    def _write(self, data: bytes, deadline: float | None = None) -> None:
        deadline = time.monotonic() + SEND_TIMEOUT if deadline is None else deadline
        with self._send_lock:
            view = memoryview(data)
            while view:
                # A retried SSL write must offer the same bytes again: `view` advances only on success.
                sent = self._ssl_call(partial(self._sock.send, view), deadline)
                if sent is None:
                    self._close("peer stopped reading")
                    raise ChannelClosed("peer stopped reading")
                view = view[sent:]

    def _ssl_call(self, call: Callable[[], _T], deadline: float | None) -> _T | None:
        """One non-blocking SSL call, retried when the socket is ready as OpenSSL asks; None past `deadline`."""
        while True:
            try:
                with self._io_lock:
                    self._check_open()
                    return call()
            except ssl.SSLWantReadError:
                # OpenSSL wants to read only when it holds no decrypted bytes, so waiting on the socket is safe.
                writable = False
            except ssl.SSLWantWriteError:
                writable = True
            except (OSError, ValueError) as exc:
                self._close("connection lost")
                raise ChannelClosed("connection lost") from exc
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            _wait(self._sock, writable, remaining)

    def _check_open(self) -> None:
        if self._closed:
            raise ChannelClosed("channel is closed")

    def _await_accepted(self, deadline: float) -> None:
        """Client side: wait for the server's empty frame that says it accepted us."""
        reason = "peer does not speak this protocol"
        try:
            while len(self._buffer) < _HEADER:
                if not self._fill(deadline):
                    reason = "TLS handshake failed: peer did not accept us in time"
                    break
        except ChannelClosed as exc:
            cause = exc.__cause__  # a TLS alert here means the server's OpenSSL refused our certificate
            reason = (f"TLS handshake failed: {_describe(cause)}" if isinstance(cause, ssl.SSLError)
                      else "peer closed the connection before accepting us")
        if self._buffer[:_HEADER] != _ACCEPTED:
            self._close("refused")
            raise PeerRefused(reason)
        del self._buffer[:_HEADER]

    def _announce(self) -> None:
        self._announced = True
        log(Event.PEER_CONNECTED, peer=self.peer.device_id, role=self.peer.role.value, address=self.peer_address)

    def _close(self, reason: str) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
        # Shutting down wakes any thread waiting on the socket; the descriptor is closed only once
        # no thread can be waiting on it any more (both locks held), so it cannot be reused under one.
        _shutdown(self._sock)
        with self._recv_lock, self._send_lock, self._io_lock:
            self._sock.close()
        if self._announced:
            log(Event.PEER_DISCONNECTED, peer=self.peer.device_id, address=self.peer_address, reason=reason)


def listen_host(lan: list[str] | None) -> str:
    """Where a server listens: the one interface address it is pinned to, or every address."""
    return lan[0] if lan and len(lan) == 1 else "0.0.0.0"


def connect(host: str, port: int, identity: TlsIdentity, policy: PeerPolicy, timeout: float = 5.0,
            idle_timeout: float | None = None) -> Channel:
    """Open a verified channel to a peer; PeerRefused (logged) if either side refuses.

    `idle_timeout` (default IDLE_TIMEOUT): the channel closes if the peer then sends nothing for that long.
    """
    address = f"{host}:{port}"
    deadline = time.monotonic() + timeout
    context = _context(identity, server_side=False)
    try:
        sock = context.wrap_socket(socket.create_connection((host, port), timeout=timeout),
                                   server_side=False, do_handshake_on_connect=False)
        sock.setblocking(False)
    except OSError as exc:
        raise ChannelClosed(f"cannot reach {address}: {_describe(exc)}") from exc
    try:
        channel = _verified(sock, identity, policy, address, deadline, idle_timeout)
        channel._await_accepted(deadline)
    except PeerRefused as exc:
        sock.close()
        log(Event.PEER_REFUSED, reason=str(exc), address=address)
        raise
    channel._announce()
    return channel


@dataclass
class _Connection:
    sock: ssl.SSLSocket
    host: str
    address: str
    started: float
    channel: Channel | None = None   # set once the peer is verified and told so
    evicted: bool = False            # its handshake slot went to a newcomer from a less busy address
    done: bool = False

    @property
    def live(self) -> bool:
        """Counted against the limits."""
        return not (self.done or self.evicted)


class Server:
    """Accepts peers on host:port; each accepted, verified peer runs `on_channel(channel)` on a thread of its own.

    The handler owns the channel's loop and must return once the channel closes
    (its receive raises ChannelClosed, at the latest after the idle bound); when it
    returns, the server closes the channel. The limits are the module's constants.
    """

    def __init__(self, identity: TlsIdentity, policy: Policy, on_channel: Callable[[Channel], None],
                 host: str = "127.0.0.1", port: int = 0, *, handshake_timeout: float = HANDSHAKE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, max_handshakes: int = MAX_HANDSHAKES,
                 max_handshakes_per_address: int = MAX_HANDSHAKES_PER_ADDRESS,
                 max_per_address: int = MAX_PER_ADDRESS, idle_timeout: float | None = None,
                 refusal_interval: float = TALLY_SECONDS) -> None:
        self._identity = identity
        self._policy = policy
        self._on_channel = on_channel
        self._address = (host, port)
        self._handshake_timeout = handshake_timeout
        self._max_connections = max_connections
        self._max_handshakes = max_handshakes
        self._max_handshakes_per_address = max_handshakes_per_address
        self._max_per_address = max_per_address
        self._idle_timeout = idle_timeout
        self._refusals = Tally(Event.PEER_REFUSED, ("address", "reason"), refusal_interval)
        self._context = _context(identity, server_side=True)  # a bad identity fails here, not per peer
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, _Connection] = {}
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._accepting: threading.Thread | None = None
        self._port = 0
        self._closing = False
        self._closed = False

    def start(self) -> None:
        """Bind and start accepting peers."""
        if self._listener is not None or self._closing:
            raise RuntimeError("a server starts once and cannot restart after close")
        self._listener = socket.create_server(self._address, backlog=self._max_connections)
        self._listener.setblocking(False)  # woken by poll, which may also wake to write the tallies
        self._port = self._listener.getsockname()[1]
        self._wake = socket.socketpair()
        self._accepting = threading.Thread(target=self._accept_loop, name=f"tls-accept:{self._port}", daemon=True)
        self._accepting.start()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if not self._port:
            raise RuntimeError("the server is not started")
        return self._port

    def close(self) -> None:
        """Stop accepting, close every open channel and join every thread this server started."""
        with self._lock:
            if self._closed:
                return
            self._closing = self._closed = True
        if self._wake is not None and self._accepting is not None:
            self._wake[1].send(b"x")
            self._accepting.join()
        with self._lock:
            pending = dict(self._connections)
            channels = [c.channel for c in pending.values() if c.channel is not None]
            for connection in pending.values():
                if connection.channel is None:  # still in its handshake: wake it up
                    _shutdown(connection.sock)
        for channel in channels:
            channel._close("server closing")
        for thread in pending:
            if thread is not threading.current_thread():
                thread.join()
        for sock in (self._listener, *(self._wake or ())):
            if sock is not None:
                sock.close()
        self._refusals.flush(everything=True)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake is not None
        poller = select.poll()
        poller.register(self._listener, select.POLLIN)
        poller.register(self._wake[0], select.POLLIN)
        while True:
            due = self._refusals.flush()  # this thread writes the tallied refusals as they fall due
            ready = {fd for fd, _ in poller.poll(None if due is None else math.ceil(due * 1000) + 1)}
            if self._wake[0].fileno() in ready:
                return
            if self._listener.fileno() not in ready:
                continue
            try:
                raw, peer = self._listener.accept()
            except BlockingIOError:
                continue
            except OSError:  # a client that gave up, or out of descriptors: pause rather than spin
                time.sleep(0.1)
                continue
            self._admit(raw, peer[0], peer[1])

    def _admit(self, raw: socket.socket, host: str, port: int) -> None:
        address = f"{host}:{port}"
        with self._lock:
            for thread in [t for t in self._connections if not t.is_alive()]:
                thread.join()
                del self._connections[thread]
            closing = self._closing
            reason = "server closing" if closing else self._refusal_locked(host)
            if reason is None:
                try:
                    sock = self._context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
                    sock.setblocking(False)
                except OSError:
                    raw.close()
                    return
                connection = _Connection(sock, host, address, time.monotonic())
                thread = threading.Thread(target=self._serve, args=(connection,), name=f"tls-peer:{address}",
                                          daemon=True)
                self._connections[thread] = connection
                thread.start()
                return
        raw.close()
        if not closing:
            self._refusals.add((host, reason), reason=reason, address=address)

    def _refusal_locked(self, host: str) -> str | None:
        """Why a new connection from `host` is refused, or None; may take the slot of another's handshake."""
        live = [c for c in self._connections.values() if c.live]
        if len(live) >= self._max_connections:
            return "too many connections"
        if sum(c.host == host for c in live) >= self._max_per_address:
            return "too many connections from this address"
        shaking = [c for c in live if c.channel is None]
        mine = sum(c.host == host for c in shaking)
        if mine >= self._max_handshakes_per_address:
            return "too many handshakes from this address"
        if len(shaking) < self._max_handshakes:
            return None
        # Full: an address holding more slots than this one gives up its oldest, so many addresses
        # flooding together still leave every other address a slot. A real handshake takes milliseconds.
        per_host = Counter(c.host for c in shaking)
        most = max(per_host.values())
        if most <= mine:
            return "too many handshakes"
        victim = min((c for c in shaking if per_host[c.host] == most), key=lambda c: c.started)
        victim.evicted = True
        _shutdown(victim.sock)
        return None

    def _serve(self, connection: _Connection) -> None:
        """One peer: handshake, checks and our acceptance within the budget, then the handler; always closes."""
        deadline = time.monotonic() + self._handshake_timeout
        try:
            channel = _verified(connection.sock, self._identity, self._policy, connection.address, deadline,
                                self._idle_timeout)
            channel._write(_ACCEPTED, deadline)
        except ChannelError as exc:
            self._refuse(connection, str(exc) if isinstance(exc, PeerRefused)
                         else "TLS handshake failed: peer did not take our acceptance in time")
            return
        with self._lock:
            dropped = self._closing or connection.evicted
            if not dropped:
                connection.channel = channel
        reason = "handler finished"
        try:
            if not dropped:
                channel._announce()
                self._on_channel(channel)
        except ChannelError:
            pass  # the peer went away or misbehaved; the channel has logged how
        except Exception as exc:  # a handler bug must not take the server down
            reason = f"handler raised {type(exc).__name__}"
        finally:
            channel._close("server closing" if dropped else reason)
            with self._lock:
                connection.done = True

    def _refuse(self, connection: _Connection, reason: str) -> None:
        with self._lock:  # Server.close or an eviction may be shutting this socket down
            connection.sock.close()
            connection.done = True
            closing, evicted = self._closing, connection.evicted
        if evicted:
            reason = "handshake slots full: the busiest address gave up its oldest"
        if not closing:
            self._refusals.add((connection.host, reason), reason=reason, address=connection.address)


def _verified(sock: ssl.SSLSocket, identity: TlsIdentity, policy: Policy, address: str,
              deadline: float, idle_timeout: float | None = None) -> Channel:
    """Handshake and check the peer, or raise PeerRefused (the caller closes the socket)."""
    # Non-blocking with one deadline: a per-read timeout would let a client trickle bytes forever.
    while True:
        try:
            sock.do_handshake()
            break
        except ssl.SSLWantReadError:
            writable = False
        except ssl.SSLWantWriteError:
            writable = True
        except (OSError, ValueError) as exc:
            raise PeerRefused(f"TLS handshake failed: {_describe(exc)}") from exc
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not _wait(sock, writable, remaining):
            raise PeerRefused("TLS handshake failed: timed out")
    peer, cert = _judge(sock, identity, policy)
    return Channel(sock, peer, cert, address, idle_timeout)


def _judge(sock: ssl.SSLSocket, identity: TlsIdentity, policy: Policy) -> tuple[certs.DeviceClaims, x509.Certificate]:
    der = sock.getpeercert(binary_form=True)
    if not der:
        raise PeerRefused("peer sent no certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
        peer = certs.verify_device(cert, certs.load_certificate(identity.authority_pem))
    except ValueError as exc:
        raise PeerRefused("peer certificate is unreadable") from exc
    except certs.CertificateRefused as exc:
        text = str(exc)
        raise PeerRefused(f"peer {text}" if text.startswith("certificate") else f"peer refused: {text}") from exc
    if peer.election_id != identity.claims.election_id:
        raise PeerRefused("peer is for another election")
    reason = policy.check(peer, cert) if isinstance(policy, PeerPolicy) else policy(peer)
    if reason:
        raise PeerRefused(reason)
    return peer, cert


def _context(identity: TlsIdentity, server_side: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False  # identity comes from the certificate's claims, not from a host name
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= _NO_CHECK_TIME
    if server_side:
        context.num_tickets = 0  # no session resumption: every connection proves its certificate
    try:
        context.load_verify_locations(cadata=identity.authority_pem.decode("ascii"))
        _load_chain(context, identity.cert_pem.rstrip(b"\n") + b"\n" + identity.key_pem)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError; so is a missing memfd or /proc
        raise ChannelError(f"this device's TLS identity is unusable: {_describe(exc)}") from exc
    return context


def _load_chain(context: ssl.SSLContext, pem: bytes) -> None:
    """Give OpenSSL our certificate and key through an anonymous in-memory file.

    Python's ssl loads them only from a path; a memfd gives one without the key ever touching a disk.
    """
    fd = os.memfd_create("kiosk-tls", os.MFD_CLOEXEC)
    try:
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view):]
        context.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _wait(sock: socket.socket, writable: bool, timeout: float | None) -> bool:
    """Wait until `sock` is readable (or writable) or `timeout` passes; True if ready."""
    poller = select.poll()  # not select(): it fails on descriptors above 1023
    poller.register(sock, select.POLLOUT if writable else select.POLLIN)
    return bool(poller.poll(None if timeout is None else math.ceil(max(timeout, 0.0) * 1000)))


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _describe(exc: BaseException | None) -> str:
    """A short reason for a TLS or socket failure."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _UNTRUSTED:
            return "peer certificate is not from our election authority"
        return f"peer certificate refused: {exc.verify_message}"
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)):
        return "connection closed"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        text = exc.reason.lower().replace("_", " ")
        return f"peer refused us ({text})" if "alert" in text else text
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
