#!/usr/bin/env python3
"""lossproxy.py — a UDP proxy that loses datagrams, in a process of its own.

    lossproxy.py --to IP:PORT --loss P [--listen IP:PORT] [--seed S] [--max-s S]

Everything that reaches the listening socket is forwarded to --to from a
second socket, and everything that comes back to that socket goes to the
last address heard on the listening side: one client, one server. Each
datagram is dropped with probability P, drawn per datagram and direction
from a generator seeded with S, so a run can be repeated. It prints
"listening IP:PORT" once it is up and, when it ends (SIGTERM, SIGINT or
--max-s), one line per direction: "c2s N dropped D" and "s2c N dropped D".

Unlike the in-process fault injector (drivers/faults), the two endpoints
see only a lossy path: the peer is alive and answers every datagram that
reaches it. This is how a user's proxy or a lossy fabric looks to tern.
"""
import argparse
import random
import select
import signal
import socket
import sys
import time


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=addr, default=("127.0.0.1", 0))
    ap.add_argument("--to", type=addr, required=True)
    ap.add_argument("--loss", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-s", type=float, default=900.0)
    o = ap.parse_args()
    if not 0.0 <= o.loss < 1.0:
        ap.error("--loss must be in [0, 1)")

    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(o.listen)
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind((o.listen[0], 0))
    rng = random.Random(o.seed)
    count = {"c2s": [0, 0], "s2c": [0, 0]}
    client = None
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))

    host, port = front.getsockname()
    print(f"listening {host}:{port}", flush=True)
    end = time.monotonic() + o.max_s
    while not stop and time.monotonic() < end:
        try:
            ready, _, _ = select.select([front, back], [], [], 0.1)
        except InterruptedError:
            continue
        for s in ready:
            data, src = s.recvfrom(65535)
            if s is front:
                client, way, out, dst = src, "c2s", back, o.to
            else:
                way, out, dst = "s2c", front, client
            count[way][0] += 1
            if rng.random() < o.loss:
                count[way][1] += 1
            elif dst is not None:
                out.sendto(data, dst)
    for way in ("c2s", "s2c"):
        print(f"{way} {count[way][0]} dropped {count[way][1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
