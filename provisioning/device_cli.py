"""The `kiosk-provision` command: a technician initialises a device and installs its package."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from kiosk.logbook import configure
from kiosk.state import SIGNING_KEY, Installed, StateRefused
from kiosk.core.staff import Role, check_staff_name, normalise_pin
from kiosk.trust import certs
from provisioning import closing_cli, selftest, unlock_cli
from provisioning.device import InstallRefused, init_device, install
from provisioning.device_folder import is_device_folder
from provisioning.status import device_status
from provisioning.update import update


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-provision", description="Technician's device tools")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the device keys and its enrollment request")
    init.add_argument("--state", type=Path, required=True, help="the device's state folder")
    inst = sub.add_parser("install", help="verify and install a signed election package")
    inst.add_argument("--state", type=Path, required=True)
    inst.add_argument("--package", type=Path, required=True)
    inst.add_argument("--cert", type=Path, required=True, help="this device's certificate from the authority")
    inst.add_argument("--authority", type=Path, required=True, help="the authority certificate (authority.crt)")
    upd = sub.add_parser("update", help="add a revocation list or device certificates from a USB stick "
                                        "(the app may be running: it applies them within seconds)")
    upd.add_argument("--state", type=Path, required=True)
    upd.add_argument("files", type=Path, nargs="+", help="revocations.json and/or device certificates (.crt/.pem)")
    staff = sub.add_parser("staff", help="set a staff PIN (the branch head's at provisioning); PIN read from stdin")
    staff.add_argument("--state", type=Path, required=True)
    staff.add_argument("--account", required=True, help="short id, e.g. head")
    staff.add_argument("--name", required=True, help="the name shown on the sign-in screen")
    staff.add_argument("--role", choices=[r.value for r in Role], default=Role.HEAD.value)
    status = sub.add_parser("status", help="identity, election, package, ledger counts and clock, as JSON")
    status.add_argument("--state", type=Path, required=True)
    selftest.add_arguments(sub.add_parser("selftest", help="check the reader, a test card, scanner, printer, "
                                                           "storage, clock and package; exit 1 if any fails"))
    closing_cli.add_parsers(sub)
    unlock_cli.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kiosk-provision`; exit 0 on success, 1 on a refusal, 2 on bad usage."""
    previous = os.umask(0o077)   # keys, registry, ledger, logs: nothing this tool writes is for other users
    try:
        return _main(_parser().parse_args(argv))
    finally:
        os.umask(previous)       # for callers in the same process (tests); a command-line run ends here anyway


def _main(args: argparse.Namespace) -> int:
    state: Path | None = getattr(args, "state", None)
    # The audit log only in a device's own folder: a refused init or wipe writes nothing into another one.
    configure(state if state is not None and is_device_folder(state) else None)
    try:
        match args.command:
            case "init":
                csr = init_device(args.state)
                device_id = certs.device_id_for(csr.public_key())  # type: ignore[arg-type]
                print(f"device {device_id} initialised; enrollment request: {args.state / 'device.csr'}")
            case "staff":
                return _set_staff_pin(args)
            case "update":
                return _update(args)
            case "selftest":
                return selftest.selftest_main(args)
            case "export":
                return closing_cli.run_export(args)
            case "wipe":
                return closing_cli.run_wipe(args)
            case "unlock":
                return unlock_cli.run_unlock(args)
            case "lock":
                return unlock_cli.run_lock(args)
            case "status":
                print(json.dumps(device_status(args.state), ensure_ascii=False, indent=1))
            case "install":
                installed = install(args.state, args.package, args.cert, args.authority)
                print(f"installed election {installed.config.id} for device {installed.claims.device_id} "
                      f"({installed.claims.role.value}, branch {', '.join(installed.claims.branches)})")
    except InstallRefused as exc:
        print(f"kiosk-provision: refused: {exc}", file=sys.stderr)
        return 1
    except StateRefused as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:   # a full, read-only or failing disk: say which file, never a traceback
        print(f"kiosk-provision: {args.command} failed: {_where(exc, state)}: {exc.strerror or exc} "
              "(free space on the disk, or check that it is writable)", file=sys.stderr)
        return 1
    return 0


def _where(exc: OSError, state: Path | None) -> str:
    """The file an error names, or its folder when it is a temporary file nobody asked for."""
    if not exc.filename:
        return str(state)
    path = Path(str(exc.filename))
    return str(path.parent) if path.name.startswith(".") and path.name.endswith(".tmp") else str(path)


def _update(args: argparse.Namespace) -> int:
    result = update(Installed.open(args.state), list(args.files))
    for line in result.lines:
        if result.refused:
            print(f"kiosk-provision: {line}", file=sys.stderr)
        else:
            print(line)
    return 1 if result.refused else 0


def _set_staff_pin(args: argparse.Namespace) -> int:
    """Read the PIN from the terminal (hidden) or from stdin: never from the command line, where ps shows it."""
    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not (args.state / SIGNING_KEY).exists():
        print("kiosk-provision: refused: device is not initialised (run kiosk-provision init)", file=sys.stderr)
        return 1
    try:
        normalise_pin(pin)   # a PIN or a name that cannot be one is refused first, whatever else is missing
        check_staff_name(args.name)
        installed = Installed.open(args.state)
    except ValueError as exc:
        print(f"kiosk-provision: refused: {exc}", file=sys.stderr)
        return 1
    except StateRefused as exc:
        print(f"kiosk-provision: refused: {exc} (the PIN is sealed to the installed package's data key: "
              "install the election package first)", file=sys.stderr)
        return 1
    try:
        installed.staff_book().set_pin(args.account, args.name, Role(args.role), pin)
    except ValueError as exc:
        print(f"kiosk-provision: refused: {exc}", file=sys.stderr)
        return 1
    print(f"PIN set for {args.account} ({args.role})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
