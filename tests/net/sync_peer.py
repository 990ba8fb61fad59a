"""One kiosk's branch sync as a process: `python tests/net/sync_peer.py STATE [ADDRESS]`.

Prints "ready", waits for "go" on stdin (the partition heals), then serves, advertises and browses on
ADDRESS (default 127.0.0.1; "all" for every interface, as inside a test's network namespace) until stdin
closes. The bench and the partition tests count events in its ledger file from outside.
"""
from __future__ import annotations

import sys
from pathlib import Path

from kiosk.net.channel import listen_host
from kiosk.net.sync import BranchSync
from kiosk.state import Installed

if __name__ == "__main__":
    state = Path(sys.argv[1])
    address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    lan = None if address == "all" else [address]
    sync = BranchSync(Installed.open(state), lan=lan, host=listen_host(lan))
    print("ready", flush=True)
    if sys.stdin.readline().strip() == "go":
        sync.start()
        print("started", flush=True)
        sys.stdin.read()
        sync.close()
