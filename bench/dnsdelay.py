#!/usr/bin/python3
"""dnsdelay.py - a DNS proxy on 127.0.0.1 that delays every answer.

Used by the cold-storm figure to put a slow
DNS server in front of the test bed's knotd without touching knotd itself
(its query counters keep working):

    dnsdelay.py --upstream 127.0.0.1@PORT --delay-ms 50 [--port N]

Listens on one port for UDP and TCP (a free one unless --port), prints
"ready <port>" on stdout once listening, and runs until killed. Every query
is forwarded to the upstream at once; its answer is held for --delay-ms
before it goes back, so concurrent queries overlap as they would at a slow
server, and the delay adds to every round trip (the DNSSEC chain's DS and
DNSKEY queries included).

The proxy is tests/integration/dnsproxy.py in its delay mode (one thread
per query, each UDP query upstream from a socket of its own); it runs in a
process of its own so that the benchmark's own Python does not share an
interpreter lock with it.
"""

import argparse
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
from dnsproxy import DnsProxy  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="DNS proxy that delays every answer")
    ap.add_argument("--upstream", required=True, help="IP@PORT of the real server")
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    host, _, port = args.upstream.partition("@")
    try:
        proxy = DnsProxy(int(port or 53), mode="delay", delay=args.delay_ms / 1000.0,
                         upstream_host=host, port=args.port)
    except OSError as e:
        raise SystemExit("dnsdelay: %s" % e)
    sys.stdout.write("ready %d\n" % proxy.port)
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
