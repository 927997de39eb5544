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

UDP runs in one thread, an event loop: one upstream socket (query IDs
renumbered so answers find their client) and a heap of held answers. The
proxy stands for a DNS server on another machine, so it must cost the
machine under test little: a thread and a socket per query (as
tests/integration/dnsproxy.py does, where fault modes matter more than
speed) cost about 1 ms of CPU per query, which in a storm of 12,000 queries
took a core from the broker for seconds and made the figure measure the
proxy. TCP (rare: truncated answers) keeps a thread per connection.
Standard library only.
"""

import argparse
import heapq
import os
import selectors
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
from dnsproxy import DnsProxy  # noqa: E402

UPSTREAM_TIMEOUT_S = 10.0


class UdpDelay:
    """The UDP side: forward at once, answer after `delay` seconds."""

    def __init__(self, sock, upstream, delay):
        self.sock = sock
        self.upstream = upstream
        self.delay = delay
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.up.connect(upstream)
        self.sock.setblocking(False)
        self.up.setblocking(False)
        self.next_id = 0
        self.pending = {}   # upstream id -> (client id bytes, client addr, sent)
        self.held = []      # heap of (release time, seq, answer, client addr)
        self.seq = 0

    def _from_client(self):
        for _ in range(64):
            try:
                query, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            if len(query) < 12:
                continue
            # a free 16-bit ID for the upstream query
            for _ in range(65536):
                self.next_id = (self.next_id + 1) & 0xFFFF
                if self.next_id not in self.pending:
                    break
            else:
                continue
            qid = self.next_id
            self.pending[qid] = (query[:2], addr, time.monotonic())
            try:
                self.up.send(struct.pack("!H", qid) + query[2:])
            except OSError:
                del self.pending[qid]

    def _from_upstream(self):
        now = time.monotonic()
        for _ in range(64):
            try:
                answer = self.up.recv(65535)
            except BlockingIOError:
                return
            except OSError:
                continue
            if len(answer) < 12:
                continue
            entry = self.pending.pop(struct.unpack("!H", answer[:2])[0], None)
            if entry is None:
                continue
            cid, addr, _ = entry
            self.seq += 1
            heapq.heappush(self.held, (now + self.delay, self.seq, cid + answer[2:], addr))

    def _release(self):
        now = time.monotonic()
        while self.held and self.held[0][0] <= now:
            _, _, answer, addr = heapq.heappop(self.held)
            try:
                self.sock.sendto(answer, addr)
            except OSError:
                pass
        # queries the upstream never answered: forget them (the client times out)
        if self.pending and len(self.pending) > 1000:
            stale = [k for k, v in self.pending.items() if now - v[2] > UPSTREAM_TIMEOUT_S]
            for k in stale:
                del self.pending[k]

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, self._from_client)
        sel.register(self.up, selectors.EVENT_READ, self._from_upstream)
        while True:
            timeout = None
            if self.held:
                timeout = max(0.0, self.held[0][0] - time.monotonic())
            for key, _ in sel.select(timeout):
                key.data()
            self._release()


def serve_tcp(sock, upstream, delay):
    def one(conn):
        with conn:
            conn.settimeout(30)
            while True:
                try:
                    n = struct.unpack("!H", DnsProxy._recv_exact(conn, 2))[0]
                    query = DnsProxy._recv_exact(conn, n)
                    with socket.create_connection(upstream, timeout=UPSTREAM_TIMEOUT_S) as s:
                        s.sendall(struct.pack("!H", len(query)) + query)
                        m = struct.unpack("!H", DnsProxy._recv_exact(s, 2))[0]
                        answer = DnsProxy._recv_exact(s, m)
                    time.sleep(delay)
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
                except (OSError, ValueError, struct.error):
                    return
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=one, args=(conn,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description="DNS proxy that delays every answer")
    ap.add_argument("--upstream", required=True, help="IP@PORT of the real server")
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    host, _, port = args.upstream.partition("@")
    upstream = (host, int(port or 53))
    delay = args.delay_ms / 1000.0
    try:
        udp, tcp = DnsProxy._bind_pair(args.port)
    except OSError as e:
        raise SystemExit("dnsdelay: %s" % e)
    threading.Thread(target=serve_tcp, args=(tcp, upstream, delay), daemon=True).start()
    sys.stdout.write("ready %d\n" % udp.getsockname()[1])
    sys.stdout.flush()
    try:
        UdpDelay(udp, upstream, delay).run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
