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
DNSKEY queries included). UDP queries are re-numbered on the way up so that
clients using the same ids never get each other's answers.

Only the standard library (asyncio); a few hundred queries per second is
far more than the benchmark sends.
"""

import argparse
import asyncio
import socket
import struct
import sys


class Upstream(asyncio.DatagramProtocol):
    """One UDP socket to the upstream; answers matched by our query id."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.proxy.upstream_answer(data)


class UdpFront(asyncio.DatagramProtocol):
    def __init__(self, loop, upstream_addr, delay):
        self.loop = loop
        self.upstream_addr = upstream_addr
        self.delay = delay
        self.transport = None
        self.up = None
        self.pending = {}       # our id -> (client addr, client id)
        self.next_id = 1

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) < 12 or self.up is None:
            return
        for _ in range(65536):
            qid = self.next_id
            self.next_id = (self.next_id + 1) & 0xffff
            if qid not in self.pending:
                break
        else:
            return              # 65536 queries in flight: drop
        self.pending[qid] = (addr, data[:2])
        self.up.transport.sendto(struct.pack("!H", qid) + data[2:], self.upstream_addr)
        # forget queries the upstream never answers
        self.loop.call_later(30, self.pending.pop, qid, None)

    def upstream_answer(self, data):
        if len(data) < 12:
            return
        qid = struct.unpack("!H", data[:2])[0]
        entry = self.pending.pop(qid, None)
        if entry is None:
            return
        addr, cid = entry
        self.loop.call_later(self.delay, self.transport.sendto, cid + data[2:], addr)


async def tcp_client(reader, writer, upstream, delay):
    try:
        while True:
            hdr = await reader.readexactly(2)
            query = await reader.readexactly(struct.unpack("!H", hdr)[0])
            ur, uw = await asyncio.open_connection(upstream[0], upstream[1])
            try:
                uw.write(hdr + query)
                await uw.drain()
                ahdr = await ur.readexactly(2)
                answer = await ur.readexactly(struct.unpack("!H", ahdr)[0])
            finally:
                uw.close()
            await asyncio.sleep(delay)
            writer.write(ahdr + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


def free_port():
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        t.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise SystemExit("dnsdelay: no free port")


async def main_async(args):
    loop = asyncio.get_running_loop()
    host, _, port = args.upstream.partition("@")
    upstream = (host, int(port or 53))
    delay = args.delay_ms / 1000.0
    listen = args.port or free_port()
    front = UdpFront(loop, upstream, delay)
    await loop.create_datagram_endpoint(lambda: front, local_addr=("127.0.0.1", listen))
    _, up = await loop.create_datagram_endpoint(lambda: Upstream(front),
                                                remote_addr=None, family=socket.AF_INET,
                                                local_addr=("127.0.0.1", 0))
    front.up = up
    await asyncio.start_server(lambda r, w: tcp_client(r, w, upstream, delay),
                               "127.0.0.1", listen)
    sys.stdout.write("ready %d\n" % listen)
    sys.stdout.flush()
    await asyncio.Event().wait()


def main():
    ap = argparse.ArgumentParser(description="DNS proxy that delays every answer")
    ap.add_argument("--upstream", required=True, help="IP@PORT of the real server")
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
