#!/usr/bin/env python3
"""A map system driving mosaicd over the line protocol.

    python3 map_client.py --port 12345 --callback-port 12346 [--no-stop] [TILE ...]

Starts its completion listener, tells the daemon what is on screen, asks for
a few tiles followed by the empty-line barrier, prints every notice as it
arrives, then sends ``stop`` and waits for ``done`` (which comes last).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mosaicd_client import CompletionListener, Notice, NoticeKind, TileClient  # noqa: E402


def print_notice(n: Notice) -> None:
    if n.kind is NoticeKind.TILE:
        print(f"notice tile {n.name}", flush=True)
    elif n.kind is NoticeKind.ERROR:
        print(f"notice error {n.name}: {n.reason}", flush=True)
    else:
        print("notice done", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=12345)
    ap.add_argument("--callback-port", type=int, default=None)
    ap.add_argument("--no-stop", action="store_true")
    ap.add_argument("tiles", nargs="*", default=["16_58001_25480", "16_58001_25481", "16_58002_25480"])
    a = ap.parse_args()
    callback_port = a.callback_port if a.callback_port is not None else a.port + 1

    # Listen first: a notice for a fast tile may arrive before request() returns.
    with CompletionListener(callback_port, a.host, on_notice=print_notice) as listener:
        client = TileClient(a.host, a.port)
        if not client.wait_until_ready(30):
            print(f"mosaicd is not answering on {a.host}:{a.port}", file=sys.stderr)
            return 2

        # What the map shows: these tiles jump ahead of everything else.
        z, x, y = (int(v) for v in a.tiles[0].replace("/", "_").split("_"))
        client.viewport(z, x, y, x + 1, y + 1)

        # The tiles and the barrier on one connection: returns when all are finished.
        client.request(a.tiles, barrier=True)
        print(f"barrier: {len(a.tiles)} tiles finished", flush=True)

        got = listener.wait_for(a.tiles, timeout=60)
        failed = sum(1 for n in got if n.kind is NoticeKind.ERROR)
        print(f"all notices: {len(got) - failed} rendered, {failed} failed", flush=True)

        if not a.no_stop:
            refusal = client.stop()
            if refusal.strip():
                print(f"stop refused: {refusal.strip()}", flush=True)
            listener.wait_for_done(timeout=60)
            print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
