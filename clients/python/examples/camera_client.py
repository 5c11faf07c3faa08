#!/usr/bin/env python3
"""A vision host driving mosaicd over the framed protocol.

    # spawn `mosaicd stdio` as a child (stdin/stdout carry the frames):
    python3 camera_client.py --image photo.png --camera 2 --out results --tile 3_4_2 \\
        -- node /path/to/mosaicd/bin/mosaicd.js stdio --tiles-dir /tmp/tiles

    # or talk to a running daemon over TCP:
    python3 camera_client.py --connect 127.0.0.1:12345 --image photo.png --out results

Sends the image, prints class_name / score per result and writes each result
PNG, then renders a tile and writes it too. A spawned child is asked to shut
down at the end and its exit code is printed.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mosaicd_client import FramedClient, TileClient, png_size  # noqa: E402


def main() -> int:
    argv = sys.argv[1:]
    spawn = []
    if "--" in argv:
        i = argv.index("--")
        argv, spawn = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", help="HOST:PORT of a running daemon")
    ap.add_argument("--image")
    ap.add_argument("--camera", type=int, default=0)
    ap.add_argument("--model")
    ap.add_argument("--out", default=".")
    ap.add_argument("--tile", default="3_4_2")
    a = ap.parse_args(argv)
    if not a.connect and not spawn:
        ap.error("give --connect HOST:PORT or -- PROGRAM ARGS...")
    os.makedirs(a.out, exist_ok=True)

    if a.connect:
        host, _, port = a.connect.rpartition(":")
        # The daemon may still be starting: wait until it answers (bounded).
        if not TileClient(host, int(port)).wait_until_ready(30):
            print(f"mosaicd is not answering on {a.connect}", file=sys.stderr)
            return 2
        client = FramedClient.connect(host, int(port))
        print(f"connected to {a.connect}", flush=True)
    else:
        # stdout of the child is the protocol; its log lines go to our stderr.
        client = FramedClient.spawn(spawn, stderr=lambda line: print(f"[mosaicd] {line}", file=sys.stderr, flush=True))
        print(f"spawned {spawn[0]}", flush=True)

    with client:
        pong = client.ping()
        print(f"ping: success={pong.success} request_id={pong.request_id}", flush=True)

        if a.image:
            with open(a.image, "rb") as f:
                r = client.process(f.read(), camera=a.camera, model=a.model, request_id="img-1")
            if r.success:
                print(f"process: {len(r.results)} results (request_id {r.request_id})", flush=True)
                for res in r.results:
                    path = os.path.join(a.out, f"result_{res.result_index}.png")
                    if res.png is not None:
                        with open(path, "wb") as f:
                            f.write(res.png)
                    print(f"result {res.result_index}: class_name={res.class_name} score={res.score:.3f} "
                          f"image={res.image_width}x{res.image_height} {res.image_mode} -> {path}", flush=True)
            else:
                print(f"process failed: {r.error.code} {r.error.message}", flush=True)

        t = client.render(a.tile)
        if not (t.success and len(t.results) == 1 and t.results[0].png):
            print(f"render failed: {t.error}", flush=True)
            return 1
        path = os.path.join(a.out, f"{a.tile}.png")
        with open(path, "wb") as f:
            f.write(t.results[0].png)
        w, h = png_size(t.results[0].png) or (0, 0)
        print(f"render {a.tile}: {w}x{h} {len(t.results[0].png)} bytes -> {path}", flush=True)

        if client.child is not None:
            bye = client.shutdown()
            print(f"shutdown: success={bye.success}", flush=True)
            print(f"child exit code: {client.wait(30)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
