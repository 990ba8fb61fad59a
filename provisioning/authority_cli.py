"""The `kiosk-authority` command: election root, device enrollment and revocation, package build, synthetic extracts."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import time
from pathlib import Path

from kiosk.core.jalali import TEHRAN, parse_jalali
from kiosk.store.atomic import write_atomic
from kiosk.logbook import configure
from kiosk.store.registry import RegistryError, read_meta
from kiosk.trust import bundle, certs, manifest, revocation
from provisioning.authority import Authority, AuthorityRefused, load_election_toml
from provisioning.extract_input import ENCODINGS
from provisioning.envelopes import add_envelope, envelope_name
from provisioning.recovery_sheet import write_sheets
from provisioning.package import (DEFAULT_MAX_REJECTED, BuildResult, add_roster_entry, build_package,
                                  remove_stale_builds, share_text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-authority", description="Election authority tools")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the election root key and certificate")
    init.add_argument("--dir", type=Path, required=True, help="the authority folder (keep it offline)")
    init.add_argument("--election", type=Path, required=True, help="election TOML")
    enroll = sub.add_parser("enroll", help="issue a device certificate and add the device to the roster")
    enroll.add_argument("--dir", type=Path, required=True)
    enroll.add_argument("--csr", type=Path, required=True, help="the device's device.csr")
    enroll.add_argument("--role", choices=[r.value for r in certs.Role], required=True)
    enroll.add_argument("--branch", action="append", required=True, help="branch code (repeat for a rep)")
    enroll.add_argument("--out", type=Path, required=True, help="where to write the certificate")
    package = sub.add_parser("package", help="build the signed election package")
    package.add_argument("--dir", type=Path, required=True)
    package.add_argument("--election", type=Path, required=True)
    package.add_argument("--voters", type=Path, required=True, help="civil-registry extract (CSV)")
    package.add_argument("--out", type=Path, required=True, help="package folder to create")
    package.add_argument("--skip-invalid", action="store_true",
                         help="build even with rejected rows (they go to the authority's reports folder), "
                              "as long as they are no more than --max-rejected of the rows")
    package.add_argument("--max-rejected", type=_share, default=DEFAULT_MAX_REJECTED, metavar="SHARE",
                         help="the largest share of rejected rows a build may skip with --skip-invalid: "
                              "a percentage such as 1%% or a fraction such as 0.01 (default 1%%); "
                              "a build with no voters is refused whatever this says")
    package.add_argument("--pad-codes", action="store_true",
                         help="give 8- and 9-digit national codes their leading zeros back (an extract whose "
                              "zeros a spreadsheet dropped); without it those rows are refused, since a code "
                              "that lost a digit can pass the checksum as another person's; padded codes are "
                              "counted in the figures")
    package.add_argument("--encoding", choices=ENCODINGS, default=None,
                         help="the extract's encoding when it is not UTF-8: cp1256 (Windows-1256) or utf-16; "
                              "without it a file in another encoding is refused with the way to convert it")
    seal = sub.add_parser("seal", help="add envelopes for devices enrolled after a package was built")
    seal.add_argument("--dir", type=Path, required=True)
    seal.add_argument("--package", type=Path, required=True)
    revoke = sub.add_parser("revoke", help="shut a lost or stolen device out: sign a new revocation list")
    revoke.add_argument("--dir", type=Path, required=True)
    revoke.add_argument("--device", required=True, help="the device id (16 hex digits)")
    revoke.add_argument("--from", dest="revoked_from", metavar="ISO-TIME",
                        help="revoked from this time (ISO 8601; without a zone: Tehran time); default now")
    revoke.add_argument("--out", type=Path, required=True,
                        help="where to write the signed list (for a USB stick: kiosk-provision update)")
    collect = sub.add_parser("collect", help="verify the devices' close-of-polls bundles and total the election")
    collect.add_argument("--dir", type=Path, required=True)
    collect.add_argument("--voters", type=Path, help="the registry extract, to name people checked in twice")
    collect.add_argument("bundles", type=Path, nargs="+", help="bundle files, or folders holding them")
    _official_parser(sub)
    synth = sub.add_parser("synth", help="write a synthetic registry extract for tests and demos")
    synth.add_argument("--voters", type=int, required=True)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--election-date", default="1405/03/01", help="Jalali YYYY/MM/DD")
    synth.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kiosk-authority`; exit 0 on success, 1 on a refusal, 2 on bad usage."""
    # Keys, reports and packages are the authority's alone: nothing this command writes is for others to read.
    os.umask(0o077)
    args = _parser().parse_args(argv)
    configure()
    try:
        match args.command:
            case "init":
                authority = Authority.init(args.dir, load_election_toml(args.election))
                print(f"authority for election {authority.config.id} created; certificate: {args.dir / 'authority.crt'}")
                print(f"fingerprint {certs.fingerprint(authority.cert)}")
            case "enroll":
                _enroll(args)
            case "package":
                return _package(args)
            case "seal":
                _seal(args.dir, args.package)
            case "revoke":
                return _revoke(args)
            case "synth":
                return _synth(args)
            case "collect":
                return _collect(args)
            case "official":
                return _official(args)
    except AuthorityRefused as exc:
        print(f"kiosk-authority: {exc}", file=sys.stderr)
        return 1
    return 0


def _enroll(args: argparse.Namespace) -> None:
    authority = Authority(args.dir)
    try:
        csr_pem = args.csr.read_bytes()
    except OSError as exc:
        raise AuthorityRefused(f"request cannot be read: {args.csr}") from exc
    cert = authority.enroll(csr_pem, certs.Role(args.role), tuple(args.branch))
    write_atomic(args.out, certs.cert_pem(cert))
    claims = certs.verify_device(cert, authority.cert)
    print(f"enrolled device {claims.device_id} as {claims.role.value} for branch {', '.join(claims.branches)}")


def _share(text: str) -> float:
    """--max-rejected: `1%` or `0.01`; a bare number must be a fraction below 1 (is `1` one percent or all?)."""
    t = text.strip()
    try:
        share = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        share = math.nan
    if not 0 <= share <= 1 or (not t.endswith("%") and share >= 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not a share: write a percentage such as 1% "
                                         "or a fraction such as 0.01")
    return share


def _package(args: argparse.Namespace) -> int:
    authority = Authority(args.dir)
    config = load_election_toml(args.election)
    for folder in remove_stale_builds(args.out):
        print(f"removed {folder.name}, left beside {args.out.name} by a build that was interrupted")
    started = time.perf_counter()
    result = build_package(authority, config, args.election.parent, args.voters, args.out, args.skip_invalid,
                           pad_codes=args.pad_codes, max_rejected=args.max_rejected, encoding=args.encoding)
    elapsed = time.perf_counter() - started
    _print_build(result, elapsed)
    return 0 if result.package is not None else 1


def _print_build(result: BuildResult, elapsed: float) -> None:
    f = result.figures
    if result.package is None:
        print(f"kiosk-authority: build refused: {result.refusal}", file=sys.stderr)
        for r in result.rejects[:20]:
            print(f"  line {r.line}: {r.reason}", file=sys.stderr)
        if len(result.rejects) > 20:
            print(f"  … and {len(result.rejects) - 20} more", file=sys.stderr)
        hint = "; use --skip-invalid to build without them" if result.skippable else ""
        print(f"  full report: {result.report}{hint}", file=sys.stderr)
        return
    built = json.loads((result.package / manifest.MANIFEST).read_bytes())
    print(f"package (build {built['build']}) written to {result.package} in {elapsed:.1f} s")
    if result.rejects:
        print(f"{f.rejected} rows skipped ({share_text(f.rejected / (f.voters + f.rejected))}); "
              f"report {result.report}, rejected rows {result.rejects_file}")
    if f.padded_codes:
        print(f"{_count(f.padded_codes, 'national code')} of 8 or 9 digits given leading zeros (--pad-codes)")
    if f.names_normalised:
        print(f"{_count(f.names_normalised, 'row')} had names normalised (Arabic ي ى ك as Persian ی ک, "
              "stray ZWNJs and spaces removed)")
    print(f.to_json())


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _seal(folder: Path, package: Path) -> None:
    """Give every enrolled device without an envelope one, for this package's registry key."""
    authority = Authority(folder)
    public = authority.key.public_key()
    try:
        signed = manifest.load_verified((package / manifest.MANIFEST).read_bytes(),
                                        (package / manifest.SIGNATURE).read_bytes(), public)
    except (OSError, manifest.ManifestRefused) as exc:
        raise AuthorityRefused(f"not a package of this authority: {exc}") from exc
    if signed.election_id != authority.config.id:
        raise AuthorityRefused("package is for another election")
    key_check = _key_check(package)
    registry_key = authority.registry_key(key_check)
    added = renewed = 0
    for device in authority.roster():
        if not (package / envelope_name(device.device_id)).exists():
            add_envelope(package, authority, device, registry_key)
            added += 1
        elif device.role is certs.Role.REP:
            # Made again: a console's envelope carries the share of every kiosk it may unlock.
            add_envelope(package, authority, device, registry_key)
            renewed += 1
        add_roster_entry(package, device.device_id, device.cert_pem)
    write_sheets(authority)
    print(f"{added} envelopes added" + (f", {renewed} console envelopes renewed" if renewed else ""))
    listed = authority.revocations()
    if listed.number:
        # Not in the manifest, like envelopes: it is signed on its own, and install keeps it only if newer.
        write_atomic(package / revocation.FILE, revocation.sign(listed, authority.key))
        print(f"revocation list {listed.number} added ({len(listed.revoked)} devices revoked)")


def _revoke(args: argparse.Namespace) -> int:
    authority = Authority(args.dir)
    if args.revoked_from is None:
        when = dt.datetime.now(dt.timezone.utc)
    else:
        try:
            when = dt.datetime.fromisoformat(args.revoked_from)
        except ValueError:
            print("kiosk-authority: --from must be an ISO 8601 time, e.g. 2026-05-22T09:30+03:30", file=sys.stderr)
            return 2
        if when.tzinfo is None:
            when = when.replace(tzinfo=TEHRAN)
    signed = authority.revoke(args.device.strip().lower(), when)
    write_atomic(args.out, signed)
    listed = authority.revocations()
    print(f"device {args.device.strip().lower()} revoked from {listed.revoked[args.device.strip().lower()]} "
          f"(revocation list {listed.number}); signed list written to {args.out}")
    print("give it to each device with kiosk-provision update (the console relays it to the kiosks it reaches)")
    return 0


def _key_check(package: Path) -> str:
    try:
        return read_meta(package / "registry.sqlite")["key_check"]
    except (RegistryError, KeyError) as exc:
        raise AuthorityRefused("package registry cannot be read") from exc


def _collect(args: argparse.Namespace) -> int:
    from provisioning.collect import collect, report_json, report_lines
    authority = Authority(args.dir)
    if args.voters is not None and not args.voters.is_file():
        print(f"kiosk-authority: no registry extract at {args.voters}", file=sys.stderr)
        return 2
    files = sorted({f for p in args.bundles for f in (p.glob(f"*{bundle.SUFFIX}") if p.is_dir() else [p])})
    if not files:
        print("kiosk-authority: no bundles found", file=sys.stderr)
        return 1
    report = collect(authority, files, args.voters)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    saved = authority.reports_dir() / f"collect-{stamp}.json"
    write_atomic(saved, json.dumps(report_json(report), ensure_ascii=False, indent=1).encode(), mode=0o600)
    print("\n".join(report_lines(report)))
    print(f"report saved: {saved}")
    if not report.bundles and not report.refused:
        print("kiosk-authority: none of the files given is a bundle (*.kexport): nothing was collected",
              file=sys.stderr)
        return 1
    return 1 if report.refused else 0


def _official_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    official = sub.add_parser("official", help="enroll branch heads and representatives by national code")
    actions = official.add_subparsers(dest="official_command", required=True)
    add = actions.add_parser("add", help="enroll an official, or replace the one of this account")
    add.add_argument("--dir", type=Path, required=True)
    add.add_argument("--account", required=True, help="a short id: 1 to 32 of a-z, 0-9 and -")
    add.add_argument("--role", required=True, metavar="head|rep")
    add.add_argument("--branch", action="append", required=True, help="branch code (repeat for several)")
    add.add_argument("--national-code", required=True, metavar="-",
                     help="give - and type or pipe the code on standard input: never on the command line, "
                          "where shell history and ps would keep it")
    add.add_argument("--card", type=Path, metavar="CERT",
                     help="the certificate read from the official's card (DER or PEM): that card may then "
                          "unlock the devices of these branches (a head's the kiosks, a rep's the console)")
    remove = actions.add_parser("remove", help="take an official off the roster")
    remove.add_argument("--dir", type=Path, required=True)
    remove.add_argument("--account", required=True)
    listing = actions.add_parser("list", help="the officials enrolled (national codes masked)")
    listing.add_argument("--dir", type=Path, required=True)


def _official(args: argparse.Namespace) -> int:
    from provisioning.officials import add_official, load_officials, remove_official
    if args.official_command == "add" and args.national_code != "-":
        print("kiosk-authority: --national-code takes - and reads the code from standard input "
              "(a code on the command line stays in shell history)", file=sys.stderr)
        return 2
    authority = Authority(args.dir)
    match args.official_command:
        case "add":
            card = _read_card_certificate(args.card) if args.card is not None else None
            replaced = add_official(authority, args.account, args.role, args.branch, _read_code(), card)
            print(f"official {args.account} {'replaced' if replaced else 'added'}: {args.role} of branch "
                  f"{', '.join(dict.fromkeys(args.branch))}; the next package build carries it to the devices")
        case "remove":
            remove_official(authority, args.account)
            print(f"official {args.account} removed; the next package build carries it to the devices")
        case "list":
            kept = load_officials(authority)
            for o in kept:
                enrolled = "  card enrolled" if o.card_certificate is not None else ""
                print(f"{o.account}  {o.role.value}  {','.join(o.branches)}  {o.masked_code}{enrolled}")
            if not kept:
                print("no officials enrolled")
    return 0


def _read_card_certificate(path: Path) -> bytes:
    try:
        if path.stat().st_size > 64 * 1024:
            raise AuthorityRefused(f"{path} is too large to be a card certificate")
        return path.read_bytes()
    except OSError as exc:
        raise AuthorityRefused(f"card certificate cannot be read: {path}") from exc


def _read_code() -> str:
    """One line of standard input (a prompt that does not echo when it is a terminal)."""
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        import getpass
        return getpass.getpass("national code: ")
    return sys.stdin.readline(64)


def _synth(args: argparse.Namespace) -> int:
    from provisioning.synth import write_extract
    day = parse_jalali(args.election_date)
    if day is None:
        print("kiosk-authority: --election-date must be a Jalali YYYY/MM/DD date", file=sys.stderr)
        return 2
    if args.voters < 1:
        print("kiosk-authority: --voters must be at least 1", file=sys.stderr)
        return 2
    summary = write_extract(args.out, args.voters, args.seed, day)
    print(json.dumps({"out": str(args.out), **{k: getattr(summary, k) for k in summary.__dataclass_fields__}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
