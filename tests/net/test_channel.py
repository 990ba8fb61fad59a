"""The mutual-TLS channel: who may connect, frames intact, and a server that bad clients cannot stop."""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from helpers import World, make_world, write_csv, write_election, PEOPLE
from kiosk.net import channel as channel_module
from kiosk.net.channel import (MAX_FRAME, Channel, ChannelClosed, ChannelError, FrameRefused, PeerPolicy,
                               PeerRefused, Server, TlsIdentity, connect)
from kiosk.state import Installed
from kiosk.trust import certs
from provisioning.authority import Authority, load_election_toml
from provisioning.device import install

HOST = "127.0.0.1"
KIOSKS = PeerPolicy(certs.Role.KIOSK, frozenset({"1001"}))
REPS = PeerPolicy(certs.Role.REP, frozenset({"1001"}))
NOT_ACCEPTED = "peer closed the connection before accepting us"
NOT_OUR_AUTHORITY = "TLS handshake failed: peer certificate is not from our election authority"
DEADLINE = 30.0  # "does not hang" on a loaded machine; how fast it is belongs in ./dev bench


def rep_installed(world: World, name: str = "rep1", branches: tuple[str, ...] = ("1001",)) -> Installed:
    """A representative's console with the package installed (as World.installed does for a kiosk)."""
    state, cert = world.device(name, certs.Role.REP, branches)
    return install(state, world.package(f"PKG-{name}"), cert, world.authority.folder / "authority.crt")


def kiosk_of(world: World, name: str = "kiosk1") -> TlsIdentity:
    return TlsIdentity.from_installed(world.installed(name))


def rep_of(world: World, name: str = "rep1", branches: tuple[str, ...] = ("1001",)) -> TlsIdentity:
    return TlsIdentity.from_installed(rep_installed(world, name, branches))


def echo(channel: Channel) -> None:
    """A handler that sends every frame back until the peer goes away."""
    while (frame := channel.receive()) is not None:
        channel.send(frame)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers for a test and close them after it (before the thread-leak check)."""
    servers: list[Server] = []

    def start(identity: TlsIdentity, policy: object, on_channel: Callable[[Channel], None] = echo,
              **options: float) -> Server:
        options.setdefault("refusal_interval", 0.1)  # tallied refusals are logged soon enough to be read here
        server = Server(identity, policy, on_channel, HOST, **options)  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> Callable[[str], list[dict[str, object]]]:
    """Logged events of one id, as dicts."""
    caplog.set_level(logging.INFO, logger="kiosk")

    def of(event_id: str) -> list[dict[str, object]]:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kiosk"]
        return [line for line in lines if line["event"] == event_id]

    return of


def server_refusals(events: Callable[[str], list[dict[str, object]]], server: Server,
                    count: int = 1) -> list[str]:
    """Reasons the server logged for refusing peers (it logs on its own threads: wait for them).

    A tallied line stands for `count` refusals and names the last one's reason.
    """
    deadline = time.monotonic() + DEADLINE
    while True:
        reasons = [str(e["reason"]) for e in events("N100") if e["address"] != f"{HOST}:{server.port}"
                   for _ in range(int(str(e.get("count", 1))))]
        if len(reasons) >= count or time.monotonic() > deadline:
            return reasons
        time.sleep(0.01)


def refused(identity: TlsIdentity, server: Server, policy: PeerPolicy = REPS) -> str:
    with pytest.raises(PeerRefused) as caught:
        connect(HOST, server.port, identity, policy, timeout=3)
    return str(caught.value)


# --- frames ---------------------------------------------------------------------------------------

def test_kiosk_and_rep_see_each_other_and_frames_round_trip(world: World, serve: Callable[..., Server],
                                                           events: Callable[[str], list[dict[str, object]]]) -> None:
    kiosk, rep = kiosk_of(world), rep_of(world)
    seen: queue.Queue[Channel] = queue.Queue()

    def handler(channel: Channel) -> None:
        seen.put(channel)
        echo(channel)

    server = serve(rep, KIOSKS, handler)
    pinned = PeerPolicy(certs.Role.REP, frozenset({"1001", "1002"}), fingerprint=rep.fingerprint)
    with connect(HOST, server.port, kiosk, pinned) as channel:
        assert channel.peer == rep.claims and channel.peer.role is certs.Role.REP
        assert certs.fingerprint(channel.peer_cert) == rep.fingerprint
        assert channel.peer_address == f"{HOST}:{server.port}"
        assert seen.get(timeout=2).peer == kiosk.claims

        biggest = os.urandom(MAX_FRAME)
        for payload in (b"x", b'{"v": 1}', biggest):
            channel.send(payload)
            assert channel.receive(timeout=2) == payload

        burst = [i.to_bytes(2, "big") * (1 + i % 50) for i in range(300)]
        for payload in burst:
            channel.send(payload)
        assert [channel.receive(timeout=2) for _ in burst] == burst

    connected = events("N102")
    assert {e["peer"] for e in connected} >= {kiosk.claims.device_id, rep.claims.device_id}


def test_frames_from_several_threads_do_not_interleave(world: World, serve: Callable[..., Server]) -> None:
    server = serve(rep_of(world), KIOSKS)
    with connect(HOST, server.port, kiosk_of(world), REPS) as channel:
        def sender(n: int) -> None:
            for i in range(50):
                channel.send(bytes([n]) * (1000 + 997 * i))

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        frames = [channel.receive(timeout=5) for _ in range(200)]
        for thread in threads:
            thread.join()
    for n in range(4):
        mine = [f for f in frames if f and f[0] == n]
        assert [len(f) for f in mine] == [1000 + 997 * i for i in range(50)]
        assert all(f == bytes([n]) * len(f) for f in mine)


def test_receive_timeout_keeps_a_partial_frame(world: World, serve: Callable[..., Server]) -> None:
    go_on = threading.Event()
    payload = os.urandom(5000)

    def halves(channel: Channel) -> None:
        frame = len(payload).to_bytes(4, "big") + payload
        channel._write(frame[:2500])  # half a frame, written raw, then a pause
        go_on.wait(5)
        channel._write(frame[2500:])
        channel.send(b"next")
        while channel.receive() is not None:
            pass

    server = serve(rep_of(world), KIOSKS, halves)
    with connect(HOST, server.port, kiosk_of(world), REPS) as channel:
        time.sleep(0.1)  # let the first half arrive
        assert channel.receive(timeout=0.1) is None
        assert channel.receive(timeout=0) is None
        go_on.set()
        assert channel.receive(timeout=2) == payload
        assert channel.receive(timeout=2) == b"next"
        assert channel.receive(timeout=0.05) is None


@pytest.mark.parametrize("length", [MAX_FRAME + 1, 0, 2**32 - 1])
def test_bad_length_prefix_is_refused_and_closes(world: World, serve: Callable[..., Server], length: int,
                                                 events: Callable[[str], list[dict[str, object]]]) -> None:
    outcome: queue.Queue[BaseException | bytes | None] = queue.Queue()

    def handler(channel: Channel) -> None:
        try:
            outcome.put(channel.receive(timeout=3))
        except ChannelError as exc:
            outcome.put(exc)

    server = serve(rep_of(world), KIOSKS, handler)
    with connect(HOST, server.port, kiosk_of(world), REPS) as channel:
        channel._write(length.to_bytes(4, "big") + b"junk")  # raw: send() would refuse it
        assert isinstance(outcome.get(timeout=3), FrameRefused)
        with pytest.raises(ChannelClosed):
            channel.receive(timeout=3)
    assert any("outside" in str(e["reason"]) for e in events("N101"))


def test_partial_frame_at_eof_is_channel_closed(world: World, serve: Callable[..., Server]) -> None:
    def truncated(channel: Channel) -> None:
        channel._write((100).to_bytes(4, "big") + b"only some")

    server = serve(rep_of(world), KIOSKS, truncated)
    with connect(HOST, server.port, kiosk_of(world), REPS) as channel:
        with pytest.raises(ChannelClosed, match="mid-frame"):
            channel.receive(timeout=3)
        with pytest.raises(ChannelClosed):
            channel.send(b"after")


def test_send_refuses_empty_and_oversize_payloads(world: World, serve: Callable[..., Server]) -> None:
    server = serve(rep_of(world), KIOSKS)
    with connect(HOST, server.port, kiosk_of(world), REPS) as channel:
        for payload in (b"", bytes(MAX_FRAME + 1)):
            with pytest.raises(ValueError):
                channel.send(payload)
        channel.send(b"still fine")
        assert channel.receive(timeout=2) == b"still fine"


# --- who may connect ------------------------------------------------------------------------------

def test_peer_of_another_election_is_refused_on_both_sides(world: World, tmp_path: Path,
                                                           serve: Callable[..., Server],
                                                           events: Callable[[str], list[dict[str, object]]]) -> None:
    other = make_world(tmp_path / "other", election_id="other-1405")
    server = serve(rep_of(world), KIOSKS)
    assert refused(kiosk_of(other), server) == NOT_OUR_AUTHORITY
    assert server_refusals(events, server) == ["TLS handshake failed: peer refused us (tlsv1 alert unknown ca)"]

    other_server = serve(rep_of(other), KIOSKS)
    assert refused(kiosk_of(world, "kiosk2"), other_server) == NOT_OUR_AUTHORITY


def test_foreign_authority_for_the_same_election_id_is_refused(world: World, tmp_path: Path,
                                                               serve: Callable[..., Server],
                                                               events: Callable[[str], list[dict[str, object]]]) -> None:
    # Same election file, same authority name: only the key differs.
    forger = Authority.init(tmp_path / "FORGED", load_election_toml(world.election))
    forged = World(tmp_path / "forged", forger, world.election, world.voters)
    server = serve(rep_of(world), KIOSKS)
    assert refused(kiosk_of(forged), server) == NOT_OUR_AUTHORITY
    assert server_refusals(events, server)[0].startswith("TLS handshake failed: peer refused us")

    # A forged client that trusts our authority: our server's OpenSSL refuses it, and the client hears why.
    sly = kiosk_of(forged, "kiosk3")
    sly = TlsIdentity(sly.cert_pem, sly.key_pem, certs.cert_pem(world.authority.cert), sly.claims)
    assert refused(sly, server).startswith("TLS handshake failed: peer refused us (")
    assert server_refusals(events, server, count=2)[1] == NOT_OUR_AUTHORITY

    forged_server = serve(rep_of(forged), KIOSKS)
    assert refused(kiosk_of(world, "kiosk2"), forged_server) == NOT_OUR_AUTHORITY


def test_kiosk_server_refuses_a_rep_client(world: World, serve: Callable[..., Server],
                                           events: Callable[[str], list[dict[str, object]]]) -> None:
    sync = serve(kiosk_of(world), KIOSKS)  # a kiosk's branch-sync service takes only kiosks
    assert refused(rep_of(world), sync, KIOSKS) == NOT_ACCEPTED
    assert server_refusals(events, sync) == ["peer role is rep, expected kiosk"]


def test_client_expecting_a_rep_refuses_a_kiosk_server(world: World, serve: Callable[..., Server]) -> None:
    impostor = serve(kiosk_of(world, "kiosk2"), KIOSKS)
    assert refused(kiosk_of(world), impostor, REPS) == "peer role is kiosk, expected rep"


def test_branch_mismatch_is_refused_on_both_sides(world: World, serve: Callable[..., Server],
                                                  events: Callable[[str], list[dict[str, object]]]) -> None:
    kiosk, rep_1002 = kiosk_of(world), rep_of(world, "rep2", ("1002",))
    server = serve(rep_1002, PeerPolicy(certs.Role.KIOSK, frozenset({"1002"})))
    assert refused(kiosk, server, PeerPolicy(certs.Role.REP, frozenset({"1001", "1002"}))) == NOT_ACCEPTED
    assert server_refusals(events, server) == ["peer serves none of our branches"]

    lenient = serve(rep_1002, lambda claims: None)  # a callable policy that accepts anyone verified
    assert refused(kiosk, lenient, REPS) == "peer serves none of our branches"


def test_callable_policy_reason_is_used(world: World, serve: Callable[..., Server],
                                        events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), lambda claims: "roster does not list this kiosk")
    assert refused(kiosk_of(world), server) == NOT_ACCEPTED
    assert server_refusals(events, server) == ["roster does not list this kiosk"]


def test_fingerprint_mismatch_is_refused(world: World, serve: Callable[..., Server]) -> None:
    kiosk, rep = kiosk_of(world), rep_of(world)
    server = serve(rep, KIOSKS)
    pinned = PeerPolicy(certs.Role.REP, frozenset({"1001"}), fingerprint=kiosk.fingerprint)
    assert refused(kiosk, server, pinned) == "peer certificate does not match the expected fingerprint"


def identity_with_validity(world: World, role: certs.Role, start: dt.datetime, end: dt.datetime) -> TlsIdentity:
    """A device certificate signed by the real authority whose validity is [start, end]."""
    key = ed25519.Ed25519PrivateKey.generate()
    csr = certs.make_request(key, x25519.X25519PrivateKey.generate())
    good = certs.issue_device(world.authority.key, world.authority.cert, csr, role, ("1001",))
    builder = (x509.CertificateBuilder().subject_name(good.subject).issuer_name(good.issuer)
               .public_key(good.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end))
    for extension in good.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    cert = builder.sign(world.authority.key, None)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return TlsIdentity(certs.cert_pem(cert), key_pem, certs.cert_pem(world.authority.cert),
                       certs.verify_device(good, world.authority.cert))


ELECTION_DAY = dt.datetime(2026, 5, 22, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("start, end", [
    (ELECTION_DAY - dt.timedelta(days=300), ELECTION_DAY - dt.timedelta(days=1)),  # expired before the day
    (ELECTION_DAY + dt.timedelta(days=1), ELECTION_DAY + dt.timedelta(days=300)),  # not yet valid on the day
], ids=["expired", "not-yet-valid"])
def test_certificate_not_valid_on_election_day_is_refused(world: World, serve: Callable[..., Server],
                                                          events: Callable[[str], list[dict[str, object]]],
                                                          start: dt.datetime, end: dt.datetime) -> None:
    reason = "peer certificate is not valid on the election day"
    server = serve(rep_of(world), KIOSKS)
    assert refused(identity_with_validity(world, certs.Role.KIOSK, start, end), server) == NOT_ACCEPTED
    assert server_refusals(events, server) == [reason]

    bad_rep = serve(identity_with_validity(world, certs.Role.REP, start, end), KIOSKS)
    assert refused(kiosk_of(world), bad_rep) == reason


# --- a clock that is wrong -----------------------------------------------------------------------

def far_world(root: Path) -> World:
    """An election in 1420 (2041): its certificates do not cover today's real date."""
    election = write_election(root / "config", "future-1420", day="1420/03/01")
    authority = Authority.init(root / "AUTH", load_election_toml(election))
    voters = write_csv(root / "voters.csv", [p.row() for p in PEOPLE.values()])
    return World(root, authority, election, voters)


def test_validity_is_judged_on_the_election_day_not_the_clock(tmp_path: Path, serve: Callable[..., Server]) -> None:
    world = far_world(tmp_path)
    kiosk, rep = kiosk_of(world), rep_of(world)
    assert world.authority.cert.not_valid_before_utc > dt.datetime.now(dt.timezone.utc)
    server = serve(rep, KIOSKS)
    with connect(HOST, server.port, kiosk, REPS) as channel:
        channel.send(b"ping")
        assert channel.receive(timeout=2) == b"ping"


def test_without_no_check_time_openssl_would_refuse_that_peer(tmp_path: Path, serve: Callable[..., Server],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    world = far_world(tmp_path)
    kiosk, rep = kiosk_of(world), rep_of(world)
    monkeypatch.setattr(channel_module, "_NO_CHECK_TIME", 0)
    server = serve(rep, KIOSKS)
    assert refused(kiosk, server) == "TLS handshake failed: peer certificate refused: certificate is not yet valid"


# --- a server that bad clients cannot stop --------------------------------------------------------

def good_client_works(kiosk: TlsIdentity, server: Server) -> None:
    with connect(HOST, server.port, kiosk, REPS) as channel:
        channel.send(b"hello")
        assert channel.receive(timeout=2) == b"hello"


def test_garbage_client_does_not_hurt_the_server(world: World, serve: Callable[..., Server],
                                                 events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS)
    for junk in (b"GET / HTTP/1.0\r\n\r\n", b"\x16\x03\x01\x00\x05hello", os.urandom(3000), b""):
        with socket.create_connection((HOST, server.port), timeout=3) as raw:
            # The server answers with an alert at most, then hangs up; hanging up on unread bytes
            # resets the connection, which may reach us at any of these calls.
            try:
                raw.sendall(junk)
                raw.shutdown(socket.SHUT_WR)
                while raw.recv(4096):
                    pass
            except TimeoutError:
                pytest.fail("the server did not hang up")
            except OSError:  # reset, broken pipe, "not connected": all mean it hung up
                pass
    reasons = server_refusals(events, server, count=4)
    assert len(reasons) == 4 and all(str(r).startswith("TLS handshake failed") for r in reasons)
    good_client_works(kiosk_of(world), server)


def test_silent_client_is_dropped_after_the_handshake_timeout(world: World, serve: Callable[..., Server],
                                                              events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS, handshake_timeout=0.3)
    with socket.create_connection((HOST, server.port), timeout=DEADLINE) as silent:
        started = time.monotonic()
        good_client_works(kiosk_of(world), server)  # served while the silent one waits
        assert silent.recv(1) == b""  # then the server hangs up on it (a TimeoutError here: it never did)
        assert time.monotonic() - started > 0.2  # not at once: it was given its handshake time
    assert server_refusals(events, server) == ["TLS handshake failed: timed out"]


def test_connections_beyond_the_bound_are_refused(world: World, serve: Callable[..., Server],
                                                  events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS, max_connections=2)
    silent = [socket.create_connection((HOST, server.port), timeout=3) for _ in range(2)]
    try:
        time.sleep(0.1)  # both admitted and waiting in their handshakes
        with socket.create_connection((HOST, server.port), timeout=3) as third:
            assert third.recv(1) == b""
        assert server_refusals(events, server) == ["too many connections"]
    finally:
        for sock in silent:
            sock.close()
    time.sleep(0.1)  # their threads notice the hang-up and end
    good_client_works(kiosk_of(world), server)


def silent_from(source: str, server: Server) -> socket.socket:
    """A TCP connection from another loopback address that sends nothing."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(3)
    sock.connect((HOST, server.port))
    return sock


def hung_up(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_one_address_gets_only_its_share_of_handshakes(world: World, serve: Callable[..., Server],
                                                       events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS, max_handshakes_per_address=2)
    silent = [silent_from("127.0.0.2", server) for _ in range(2)]
    try:
        time.sleep(0.1)
        with silent_from("127.0.0.2", server) as third:
            assert hung_up(third)                      # at once, not after the handshake budget
        good_client_works(kiosk_of(world), server)     # another address is served meanwhile
        assert "too many handshakes from this address" in server_refusals(events, server)
    finally:
        for sock in silent:
            sock.close()


def test_one_address_gets_only_its_share_of_connections(world: World, serve: Callable[..., Server],
                                                        events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS, max_per_address=2)
    first, second = (connect(HOST, server.port, kiosk_of(world, f"kiosk{n}"), REPS) for n in (1, 2))
    with first, second:
        time.sleep(0.1)
        assert refused(kiosk_of(world, "kiosk3"), server, REPS).startswith("TLS handshake failed")
        assert server_refusals(events, server) == ["too many connections from this address"]
        with silent_from("127.0.0.2", server) as other:  # another address still gets in
            time.sleep(0.1)
            assert len(server_refusals(events, server)) == 1
            other.close()


def test_when_every_handshake_slot_is_taken_the_busiest_address_gives_one_up(
        world: World, serve: Callable[..., Server], events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS, max_handshakes=4)
    silent = []
    for source in ("127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"):
        silent.append(silent_from(source, server))
        time.sleep(0.05)   # admitted in this order
    try:
        with silent_from("127.0.0.3", server) as level:   # no address holds more than this one: refused
            assert hung_up(level)
        good_client_works(kiosk_of(world), server)        # takes the oldest slot of the busiest addresses
        assert hung_up(silent[0]) and not any(hung_up_yet(sock) for sock in silent[1:])
        reasons = server_refusals(events, server, count=2)
        assert "too many handshakes" in reasons
        assert "handshake slots full: the busiest address gave up its oldest" in reasons
    finally:
        for sock in silent:
            sock.close()


def hung_up_yet(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def disconnections(events: Callable[[str], list[dict[str, object]]], peer: str, reason: str,
                   count: int = 1) -> list[dict[str, object]]:
    """The N103 lines for `peer` that give `reason`, once at least `count` are in (or after the deadline)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        found = [e for e in events("N103") if e["peer"] == peer and e["reason"] == reason]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def test_a_verified_peer_that_stays_silent_is_dropped_after_the_idle_bound(
        world: World, serve: Callable[..., Server], events: Callable[[str], list[dict[str, object]]]) -> None:
    kiosk = kiosk_of(world)
    server = serve(rep_of(world), KIOSKS, idle_timeout=0.5)
    with connect(HOST, server.port, kiosk, REPS, idle_timeout=math.inf) as silent:  # this side would wait forever
        started = time.monotonic()
        with pytest.raises(ChannelClosed):
            silent.receive(timeout=DEADLINE)  # the server hangs up on it (None after the deadline: it never did)
        assert time.monotonic() - started > 0.4  # not before the idle bound
    time.sleep(0.2)
    assert len(disconnections(events, kiosk.claims.device_id, "silent for 0.5 s")) == 1  # logged once
    good_client_works(kiosk, server)  # and the server serves on


def test_a_client_drops_a_server_that_stays_silent(world: World, serve: Callable[..., Server],
                                                   events: Callable[[str], list[dict[str, object]]]) -> None:
    def mute(channel: Channel) -> None:  # reads, never answers
        while channel.receive() is not None:
            pass

    rep = rep_of(world)
    server = serve(rep, KIOSKS, mute, idle_timeout=math.inf)
    with connect(HOST, server.port, kiosk_of(world), REPS, idle_timeout=0.5) as channel:
        started = time.monotonic()
        with pytest.raises(ChannelClosed, match="sent nothing for 0.5 s"):
            channel.receive(timeout=DEADLINE)  # the idle bound ends the wait first
        assert time.monotonic() - started > 0.4  # not before the idle bound
    assert len(disconnections(events, rep.claims.device_id, "silent for 0.5 s")) == 1


def test_a_peer_that_keeps_talking_is_not_dropped(world: World, serve: Callable[..., Server],
                                                  events: Callable[[str], list[dict[str, object]]]) -> None:
    server = serve(rep_of(world), KIOSKS, idle_timeout=0.5)
    with connect(HOST, server.port, kiosk_of(world), REPS, idle_timeout=0.5) as channel:
        for n in range(8):  # 1.6 s: three idle bounds, with a frame each way every 0.2 s
            channel.send(n.to_bytes(2, "big"))
            assert channel.receive(timeout=2) == n.to_bytes(2, "big")
            time.sleep(0.2)
    assert not [e for e in events("N103") if str(e["reason"]).startswith("silent")]


def test_a_handler_that_raises_does_not_stop_the_server(world: World, serve: Callable[..., Server],
                                                        events: Callable[[str], list[dict[str, object]]]) -> None:
    def broken(channel: Channel) -> None:
        raise RuntimeError("bug")

    server = serve(rep_of(world), KIOSKS, broken)
    for name in ("kiosk1", "kiosk2"):
        with connect(HOST, server.port, kiosk_of(world, name), REPS) as channel:
            with pytest.raises(ChannelClosed):
                channel.receive(timeout=3)
    deadline = time.monotonic() + 3
    while sum(e["reason"] == "handler raised RuntimeError" for e in events("N103")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)


# --- closing --------------------------------------------------------------------------------------

def test_server_close_ends_open_channels_and_its_threads(world: World) -> None:
    # A handshake budget far past the deadline below: a close that waited it out would fail, however slow the machine.
    server = Server(rep_of(world), KIOSKS, echo, HOST, handshake_timeout=10 * DEADLINE)
    server.start()
    clients = [connect(HOST, server.port, kiosk_of(world, f"kiosk{i}"), REPS) for i in range(3)]
    with socket.create_connection((HOST, server.port), timeout=DEADLINE) as silent:  # one still in its handshake
        for client in clients:
            client.send(b"up")
            assert client.receive(timeout=DEADLINE) == b"up"
        closing = threading.Thread(target=server.close, name="server-close")
        closing.start()
        closing.join(DEADLINE)
        assert not closing.is_alive(), "close waited for the silent client's handshake"
        assert silent.recv(1) == b""
    for client in clients:
        with pytest.raises(ChannelClosed):
            client.receive(timeout=2)
        client.close()
    server.close()  # a second close is harmless
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, server.port), timeout=1).close()
    assert not [t for t in threading.enumerate() if t.name.startswith("tls-")]


def test_close_releases_a_sender_blocked_by_a_peer_that_does_not_read(world: World,
                                                                      serve: Callable[..., Server]) -> None:
    stop = threading.Event()
    server = serve(rep_of(world), KIOSKS, lambda channel: stop.wait(10) and None)
    channel = connect(HOST, server.port, kiosk_of(world), REPS)
    outcome: queue.Queue[BaseException] = queue.Queue()

    def flood() -> None:
        try:
            while True:
                channel.send(bytes(MAX_FRAME))
        except ChannelClosed as exc:
            outcome.put(exc)

    sender = threading.Thread(target=flood)
    sender.start()
    time.sleep(0.3)  # long enough to fill the socket buffers
    assert sender.is_alive()
    channel.close()
    sender.join(3)
    assert not sender.is_alive() and isinstance(outcome.get_nowait(), ChannelClosed)
    channel.close()  # idempotent
    stop.set()


# --- the identity -------------------------------------------------------------------------------

def test_identity_keeps_its_key_out_of_repr(world: World) -> None:
    kiosk = kiosk_of(world)
    assert b"PRIVATE KEY" in kiosk.key_pem and "PRIVATE" not in repr(kiosk)


def test_mismatched_certificate_and_key_fail_at_once(world: World) -> None:
    kiosk, rep = kiosk_of(world), rep_of(world)
    wrong = TlsIdentity(kiosk.cert_pem, rep.key_pem, kiosk.authority_pem, kiosk.claims)
    with pytest.raises(ChannelError, match="unusable"):
        Server(wrong, KIOSKS, echo)
