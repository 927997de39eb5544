#!/usr/bin/python3
"""Plugin integration: TLS 1.3 session resumption, as a device that keeps its
TLS session between connects uses it.

Mosquitto 2.0.11 issues TLS 1.3 session tickets with its default listener
settings (no SSL_OP_NO_TICKET, a session id context "mosquitto-<port>"), so
a device that kept the ticket of its last connection resumes on the next
one: an abbreviated handshake without certificates, the broker taking the
client certificate from the ticket. These tests pin down what the plugin
decides on such a connection:

  * it still sees the client certificate, and admits the device with the
    same identity (Mosquitto's username, the plugin's log line with the
    same record), for DANE-EE and for DANE-TA records (the chain is not in
    the ticket, and the plugin never needed it);
  * DANE is decided against the records in DNS now, not those at the first
    handshake: a device whose TLSA record was deleted is refused on its
    resumed session just as on a full handshake;
  * a cold device refused as `pending` gets in on a resumed retry, the
    refused connection's ticket being good for it;
  * a certificate that expired after the session's first handshake is
    refused on the resumed session (the ticket brings it unchecked; a full
    handshake would fail in TLS).

Real parts: knotd serving a signed fake root behind a DNS proxy that holds
back the cold device's TLSA answer, /usr/sbin/mosquitto with the built
plugin, and a client made of Python's ssl module (TLS 1.3, session=) and a
minimal MQTT v5 CONNECT, so that the test sees session_reused.
"""

import datetime
import os
import re
import subprocess
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsproxy import DnsProxy  # noqa: E402
from plugin_fixture import (Bed, Broker, PluginTestCase, bound_client_id,  # noqa: E402
                            ident, run, wait_sys)
import rawmqtt  # noqa: E402

ORG = "acme.example"
WAIT = 20
COLD_DELAY = 1.5        # seconds the cold device's TLSA answer is held back

BED = None
GONE_RECORD = None
# examples/mosquitto-openssl.cnf: stateful TLS 1.3 resumption for the broker
STATEFUL_CNF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                            "examples", "mosquitto-openssl.cnf")


def setUpModule():
    global BED, GONE_RECORD
    BED = Bed("resume", ("dev1", "backend", "cold1"), records=((3, 1, 1),))
    pki, tb = BED.pki, BED.tb
    # revoked during the test: a 1 s TTL so the deletion shows at once
    cert, _ = pki.device(ident("gone"))
    GONE_RECORD = pki.tlsa(cert, 3, 1, 1)
    tb.set_records(ident("gone"), "TLSA", [GONE_RECORD], ttl=1)
    # DANE-TA: the record names the CA, which the device does not send
    pki.device(ident("ta1"))
    tb.set_records(ident("ta1"), "TLSA", [pki.tlsa(pki.ca, 2, 0, 1)])
    # a key whose 3 1 1 record stays; the test gives it a short-lived
    # certificate (short_lived_cert)
    cert, _ = pki.device(ident("expiring"))
    tb.set_records(ident("expiring"), "TLSA", [pki.tlsa(cert, 3, 1, 1)])
    tb.publish()


def short_lived_cert(label, seconds):
    """A certificate for label's key from the test CA, valid from a minute
    ago until `seconds` from now (openssl ca: `openssl x509` in OpenSSL 3.0
    takes only whole days). Returns (cert path, notAfter as epoch)."""
    pki = BED.pki
    _, key = pki.files(label)
    d = pki.path("shortca-%s" % label)
    os.makedirs(d, exist_ok=True)
    conf, ext = os.path.join(d, "ca.cnf"), os.path.join(d, "ext.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = short\n[short]\n"
                "database = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\n"
                "default_md = sha256\npolicy = any\nunique_subject = no\n"
                "[any]\ncommonName = supplied\n" % (d, d, d))
    with open(ext, "w") as f:
        f.write("subjectAltName = DNS:%s\nextendedKeyUsage = clientAuth\n"
                "keyUsage = critical,digitalSignature\n" % ident(label))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("%X\n" % (int(time.time() * 1000) & 0xFFFFFFFF | 0x10000000))
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    end = now + datetime.timedelta(seconds=seconds)
    fmt = "%y%m%d%H%M%SZ"
    csr, cert = os.path.join(d, "dev.csr"), os.path.join(d, "dev.pem")
    run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=%s" % label])
    run(["openssl", "ca", "-batch", "-config", conf, "-cert", pki.ca, "-keyfile",
         pki.ca_key, "-in", csr, "-out", cert, "-notext", "-extfile", ext,
         "-startdate", (now - datetime.timedelta(minutes=1)).strftime(fmt),
         "-enddate", end.strftime(fmt)])
    return cert, end.timestamp()


def tearDownModule():
    if BED is not None:
        BED.close()


class Attempt:
    """One connection: the CONNACK reason code (None: no CONNACK), whether
    the TLS session was resumed, and the session to resume next time."""

    def __init__(self, rc, reused, session, props):
        self.rc = rc
        self.reused = reused
        self.session = session
        self.props = props

    def __repr__(self):
        return "Attempt(rc=%r, reused=%r, props=%r)" % (self.rc, self.reused, self.props)


class Device:
    """A device with one TLS context (a session resumes only in the context
    that made it) and a minimal MQTT v5 client over it."""

    def __init__(self, label, cert=None):
        self.label = label
        self.identity = ident(label)
        self.cert, self.key = BED.pki.files(label)
        self.cert = cert or self.cert
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_verify_locations(BED.pki.ca)
        self.ctx.load_cert_chain(self.cert, self.key)
        self.client_id = bound_client_id("resume", self.cert)

    @staticmethod
    def _props(body):
        """CONNACK properties as {id: raw bytes}; the reason string (0x1F)
        decoded."""
        n, i = rawmqtt.decode_varint(body, 2)
        props, end = {}, i + n
        while i < end:
            pid = body[i]
            i += 1
            if pid == 0x1F:         # UTF-8 string: the reason string
                ln = struct.unpack("!H", body[i:i + 2])[0]
                props[pid] = body[i + 2:i + 2 + ln].decode()
                i += 2 + ln
            else:                   # not needed here: keep the rest raw
                props[pid] = body[i:end]
                break
        return props

    def connect(self, port, session=None):
        """CONNECT (resuming session when given), read the CONNACK, say
        DISCONNECT when accepted. The session returned is read after the
        CONNACK, by when the broker's NewSessionTicket has arrived."""
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            s = self.ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        except (ssl.SSLError, OSError):
            raw.close()
            return Attempt(None, False, None, {})
        try:
            try:
                s.sendall(rawmqtt.connect_v5(self.client_id))
                kind, ack = rawmqtt.read_packet(s)
            except (ssl.SSLError, OSError):     # the broker's TLS said no
                kind = None
            if kind != 0x20:
                return Attempt(None, s.session_reused, s.session, {})
            att = Attempt(ack[1], s.session_reused, s.session, self._props(ack))
            if ack[1] == 0:
                s.sendall(b"\xE0\x00")
            try:        # close_notify, as a device library does
                s.unwrap()
            except (ssl.SSLError, OSError):
                pass
            return att
        finally:
            s.close()


class ResumptionTest(PluginTestCase):
    """The broker with OpenSSL's defaults: stateless TLS 1.3 tickets (the
    session, client certificate included, travels in the ticket)."""
    broker_env = {}
    stateful = False

    @classmethod
    def setUpClass(cls):
        cls.dns = DnsProxy(BED.tb.port, mode="delay", delay=COLD_DELAY, match="cold")
        cls.addClassCleanup(cls.dns.close)
        d = os.path.join(BED.dir, "broker-" + cls.__name__)
        os.makedirs(d)
        cls.broker = Broker(d, BED.pki, {
            "resolver": cls.dns.address,
            "trust_anchor": BED.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": BED.pki.ca,
            # long enough for a cold lookup on a loaded machine, shorter than
            # the held-back answer of the cold device (COLD_DELAY)
            "connect_budget_ms": "1000",
            "lookup_timeout_ms": "10000",
            "negative_ttl": "1",
            "revalidate_interval": "0",
            "stats_interval": "1",
        }, env=cls.broker_env).start()
        cls.broker.wait_log("dance: DANE client authentication ready")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def ticket_size(self):
        """Bytes of the session ticket the broker gives dev1, read with
        openssl s_client and sess_id (Python's ssl does not show it)."""
        cert, key = BED.pki.files("dev1")
        sess = os.path.join(BED.dir, "sess-%s.pem" % type(self).__name__)
        # stdin stays open a moment so the tickets (sent after the
        # handshake) arrive before s_client closes
        with subprocess.Popen(["openssl", "s_client", "-connect",
                               "127.0.0.1:%d" % self.broker.port, "-cert", cert,
                               "-key", key, "-CAfile", BED.pki.ca, "-sess_out", sess],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) as p:
            time.sleep(1.0)
            p.stdin.close()
            p.wait(timeout=WAIT)
        text = run(["openssl", "sess_id", "-in", sess, "-text", "-noout"])
        size, inside = 0, False
        for line in text.splitlines():
            if "TLS session ticket:" in line:
                inside = True
                continue
            m = re.match(r"^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})", line)
            if inside and m:
                size += len(re.findall(r"[0-9a-f]{2}", m.group(1)))
            elif inside:
                break
        return size

    def test_ticket_carries_the_session_only_when_stateless(self):
        size = self.ticket_size()
        if self.stateful:
            self.assertGreater(size, 0)
            self.assertLess(size, 200, "a stateful ticket is a reference, not the session")
        else:
            self.assertGreater(size, 400, "a stateless ticket carries the certificate")

    def wait_sys(self, tail, pred):
        return wait_sys(self.broker, *BED.pki.files("backend"), tail, pred, timeout=WAIT)

    def decision(self, dev, start, verdict):
        """The plugin's log line for dev's decision after log offset start."""
        needle = "dance: %s identity=%s " % (verdict, dev.identity)
        text = self.broker.wait_log(needle, start=start)
        return next(line for line in text.splitlines() if needle in line)

    def admitted_as(self, dev, start):
        """Mosquitto's own line for the connection names the username."""
        self.broker.wait_log("as %s (p5, c1, k60, u'%s')" % (dev.client_id, dev.identity),
                             start=start)

    def test_resumed_session_is_admitted_with_the_same_identity(self):
        dev = Device("dev1")
        mark = self.broker.log_size()
        full = dev.connect(self.broker.port)
        self.assertEqual(full.rc, 0, full)
        self.assertFalse(full.reused)
        self.assertIsNotNone(full.session, "no TLS session to keep")
        self.assertTrue(full.session.has_ticket, "the broker sent no session ticket")
        first = self.decision(dev, mark, "accepted")
        self.admitted_as(dev, mark)

        mark = self.broker.log_size()
        again = dev.connect(self.broker.port, session=full.session)
        self.assertTrue(again.reused, "the broker did not resume the TLS session")
        self.assertEqual(again.rc, 0, again)
        second = self.decision(dev, mark, "accepted")
        self.admitted_as(dev, mark)
        # the same decision: same record, same reason (client ids and
        # addresses aside)
        self.assertEqual(first.split(" record=", 1)[1], second.split(" record=", 1)[1])

    def test_dane_ta_needs_no_chain_from_the_ticket(self):
        dev = Device("ta1")
        mark = self.broker.log_size()
        full = dev.connect(self.broker.port)
        self.assertEqual(full.rc, 0, full)
        self.assertIn('record="2 0 1 ', self.decision(dev, mark, "accepted"))
        mark = self.broker.log_size()
        again = dev.connect(self.broker.port, session=full.session)
        self.assertTrue(again.reused, again)
        self.assertEqual(again.rc, 0, again)
        self.assertIn('record="2 0 1 ', self.decision(dev, mark, "accepted"))
        self.admitted_as(dev, mark)

    def test_deleted_record_refuses_the_resumed_session_too(self):
        dev = Device("gone")
        # published again: each class deletes it once
        BED.tb.set_records(dev.identity, "TLSA", [GONE_RECORD], ttl=1)
        BED.tb.publish()
        time.sleep(1.5)                 # a negative answer cached earlier expires
        mark = self.broker.log_size()
        full = dev.connect(self.broker.port)
        self.assertEqual(full.rc, 0, full)
        self.decision(dev, mark, "accepted")

        BED.tb.remove_records(dev.identity, "TLSA")
        BED.tb.publish()
        # A full handshake is the reference: wait until it is refused (the
        # cached answer lives 1 s).
        deadline = time.monotonic() + WAIT
        while True:
            mark = self.broker.log_size()
            ref = Device("gone").connect(self.broker.port)
            if ref.rc != 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(ref.rc, 0x87, ref)                 # not authorized
        self.assertIn("reason=no_record", self.decision(dev, mark, "refused"))

        mark = self.broker.log_size()
        resumed = dev.connect(self.broker.port, session=full.session)
        self.assertTrue(resumed.reused, resumed)
        self.assertEqual(resumed.rc, 0x87, resumed)
        self.assertIn("reason=no_record", self.decision(dev, mark, "refused"))

    def test_cold_device_refused_pending_gets_in_on_a_resumed_retry(self):
        dev = Device("cold1")
        released = len(self.dns.released)
        mark = self.broker.log_size()
        first = dev.connect(self.broker.port)
        self.assertEqual(first.rc, 0x87, first)             # not authorized
        line = self.decision(dev, mark, "refused")
        self.assertIn("reason=pending", line)
        # Mosquitto 2.0.11 sends the CONNACK without a reason string, so the
        # log line says what the device should do.
        self.assertIn("retry", line)
        self.assertNotIn(0x1F, first.props)
        self.assertIsNotNone(first.session, "a refused connection left no session")

        # The device retries after about a second, resuming the session of
        # its refused attempt (and of each further refused one).
        session, attempts = first.session, []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            time.sleep(1.0)
            mark = self.broker.log_size()
            att = dev.connect(self.broker.port, session=session)
            attempts.append(att)
            self.assertTrue(att.reused, attempts)
            if att.rc == 0:
                break
            session = att.session
        self.assertEqual(attempts[-1].rc, 0, attempts)
        self.decision(dev, mark, "accepted")
        self.admitted_as(dev, mark)
        self.assertGreater(len(self.dns.released), released, "the lookup was never held")

    def test_certificate_expired_since_the_first_handshake_is_refused(self):
        cert, not_after = short_lived_cert("expiring", 6)
        dev = Device("expiring", cert)
        mark = self.broker.log_size()
        full = dev.connect(self.broker.port)
        self.assertEqual(full.rc, 0, full)
        self.decision(dev, mark, "accepted")
        time.sleep(max(0.0, not_after - time.time()) + 1.5)
        # A full handshake now fails in Mosquitto's own certificate check ...
        self.assertIsNone(Device("expiring", cert).connect(self.broker.port).rc)
        # ... and the resumed session, which brings the certificate without
        # that check, is refused by the plugin.
        mark = self.broker.log_size()
        resumed = dev.connect(self.broker.port, session=full.session)
        self.assertTrue(resumed.reused, resumed)
        self.assertEqual(resumed.rc, 0x87, resumed)
        self.assertIn("reason=certificate_expired", self.decision(dev, mark, "refused"))
        self.assertGreaterEqual(self.wait_sys("auth/refused/certificate_expired",
                                              lambda v: v >= 1), 1)


class StatefulResumptionTest(ResumptionTest):
    """The same decisions with the broker configured as doc/operations.md
    recommends for reconnect storms (examples/mosquitto-openssl.cnf):
    stateful tickets, the session kept in the broker's memory."""
    broker_env = {"OPENSSL_CONF": os.path.abspath(STATEFUL_CNF)}
    stateful = True


if __name__ == "__main__":
    unittest.main(verbosity=2)
