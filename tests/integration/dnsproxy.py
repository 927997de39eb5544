#!/usr/bin/python3
"""dnsproxy - a DNS forwarder with switchable faults, for the fault-injection
and message tests (tests/integration/test_faults.py, test_plugin_messages.py)
and the benchmarks' slow DNS server (bench/dnsdelay.py).

It sits between the resolver under test and the test bed's knotd, on a free
loopback port, over UDP and TCP, and answers each query according to its
mode, which a test may change at any time:

    pass          forward, answer at once
    delay         forward, hold the answer back `delay` seconds (slowloris:
                  an authoritative server that answers, but late)
    jitter        forward, hold each answer back a random time between 0
                  and `delay` seconds, or (one query in eight) never answer:
                  answers to one lookup's queries arrive in any order and
                  some lookups end at the resolver's own deadline mid-chain
    servfail      do not forward; answer SERVFAIL at once
    drop          do not forward; never answer

Each query is handled on a thread of its own, so a held-back answer does not
hold up others. Counters: `queries` (received, every mode), `by_name`
(received, per lowercased query name), `by_type` (received, per query
type mnemonic: "TLSA", "DS", "DNSKEY", ... or "TYPE<n>"), `delayed` (received in delay mode,
counted on arrival), `held` (answers currently held back), and `released`
(monotonic times at which held-back answers were sent), so tests can order
events without timing assertions.
Standard library only.
"""

import random
import socket
import struct
import threading
import time


class DnsProxy:

    def __init__(self, upstream_port, mode="pass", delay=5.0, match=None,
                 upstream_host="127.0.0.1", port=0):
        """Forward to upstream_host:upstream_port; listen on port (0: a
        free one). mode, delay and match as for set_mode()."""
        self.upstream = (upstream_host, upstream_port)
        self.mode = mode
        self.match = match
        self.delay = delay
        self.lock = threading.Lock()
        self.queries = 0
        self.by_name = {}
        self.by_type = {}
        self.delayed = 0
        self.held = 0
        self.released = []
        self._closed = False
        self.udp, self.tcp = self._bind_pair(port)
        self.port = self.udp.getsockname()[1]
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    @staticmethod
    def _bind_pair(port=0):
        """A UDP and a TCP socket on the same port number (resolvers fall
        back to TCP on the port they were given); for a free port, the TCP
        port may be taken when the UDP one is not, so try a few."""
        for _ in range(1 if port else 50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # A resolver with hundreds of lookups in flight sends bursts
            # that overflow the default buffer, and a lost UDP query is a
            # timeout: take what the system allows (net.core.rmem_max).
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            udp.bind(("127.0.0.1", port))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
                tcp.listen(64)
                return udp, tcp
            except OSError:
                udp.close()
                tcp.close()
        raise OSError("dnsproxy: no port free for both UDP and TCP")

    @property
    def address(self):
        """What to give the plugin as plugin_opt_resolver."""
        return "127.0.0.1@%d" % self.port

    def set_mode(self, mode, delay=None, match=None):
        """Switch the fault; with match, only queries whose name contains
        match get it (the others are passed through)."""
        with self.lock:
            self.mode = mode
            self.match = match
            if delay is not None:
                self.delay = delay

    def query_count(self, name=None):
        """Queries received so far: all, or those for one name (any type)."""
        with self.lock:
            if name is None:
                return self.queries
            return self.by_name.get(name.lower().rstrip("."), 0)

    def type_counts(self):
        """A copy of the per-type counters: {"TLSA": n, "DS": n, ...}."""
        with self.lock:
            return dict(self.by_type)

    QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 16: "TXT", 28: "AAAA",
              43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3",
              52: "TLSA"}

    @classmethod
    def qtype(cls, query):
        """The query type's mnemonic ("TYPE<n>" for others, "?" when the
        question is cut short)."""
        i = 12
        while i < len(query) and query[i] != 0:
            i += 1 + query[i]
        if i + 3 > len(query):
            return "?"
        t = struct.unpack("!H", query[i + 1:i + 3])[0]
        return cls.QTYPES.get(t, "TYPE%d" % t)

    @staticmethod
    def qname(query):
        labels, i = [], 12
        while i < len(query) and query[i] != 0:
            n = query[i]
            labels.append(query[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        return ".".join(labels).lower()

    def close(self):
        self._closed = True
        for s in (self.udp, self.tcp):
            try:
                s.close()
            except OSError:
                pass

    # ------------------------------------------------------------ answers

    @staticmethod
    def servfail(query):
        """A SERVFAIL response to query: same id, opcode, RD and CD, the
        question echoed, no other records."""
        if len(query) < 12:
            return None
        i = 12
        while i < len(query) and query[i] != 0:
            i += 1 + query[i]
        end = i + 5                      # root label, QTYPE, QCLASS
        if end > len(query):
            return None
        flags1 = 0x80 | (query[2] & 0x79)       # QR, opcode, RD
        flags2 = 0x80 | (query[3] & 0x10) | 2    # RA, CD, RCODE SERVFAIL
        return (query[:2] + bytes([flags1, flags2]) + query[4:6]
                + b"\x00\x00\x00\x00\x00\x00" + query[12:end])

    def _forward(self, query, tcp):
        """The upstream's answer to query, or None."""
        try:
            if tcp:
                with socket.create_connection(self.upstream, timeout=10) as s:
                    s.sendall(struct.pack("!H", len(query)) + query)
                    n = struct.unpack("!H", self._recv_exact(s, 2))[0]
                    return self._recv_exact(s, n)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(10)
                s.sendto(query, self.upstream)
                return s.recvfrom(65535)[0]
        except (OSError, struct.error, ValueError):
            return None

    @staticmethod
    def _recv_exact(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise ValueError("connection closed")
            buf += chunk
        return buf

    def _answer(self, query, tcp):
        """The answer to send (None: none), after the mode's fault."""
        name, qtype = self.qname(query), self.qtype(query)
        with self.lock:
            self.queries += 1
            self.by_name[name] = self.by_name.get(name, 0) + 1
            self.by_type[qtype] = self.by_type.get(qtype, 0) + 1
            mode, delay = self.mode, self.delay
            if self.match is not None and self.match not in name:
                mode = "pass"
            if mode in ("delay", "jitter"):
                self.delayed += 1
            if mode == "jitter":
                if random.random() < 0.125:
                    return None
                delay = random.uniform(0.0, delay)
        if mode == "servfail":
            return self.servfail(query)
        if mode == "drop":
            return None
        reply = self._forward(query, tcp)
        if mode in ("delay", "jitter") and reply is not None:
            with self.lock:
                self.held += 1
            time.sleep(delay)
            with self.lock:
                self.held -= 1
                self.released.append(time.monotonic())
        return reply

    # ------------------------------------------------------------ servers

    def _serve_udp(self):
        while not self._closed:
            try:
                data, addr = self.udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(data, addr), daemon=True).start()

    def _udp_one(self, data, addr):
        reply = self._answer(data, tcp=False)
        if reply is not None and not self._closed:
            try:
                self.udp.sendto(reply, addr)
            except OSError:
                pass

    def _serve_tcp(self):
        while not self._closed:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn):
        with conn:
            conn.settimeout(30)
            while not self._closed:
                try:
                    n = struct.unpack("!H", self._recv_exact(conn, 2))[0]
                    query = self._recv_exact(conn, n)
                except (OSError, ValueError, struct.error):
                    return
                reply = self._answer(query, tcp=True)
                if reply is None:
                    continue
                try:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return
