#!/usr/bin/python3
"""Plugin integration: signed messages (JWS and COSE_Sign1) verified by the
broker.

One DNSSEC test bed for the file (short TTLs), one broker per class.
Real parts: knotd serving a signed fake root, /usr/sbin/mosquitto with the
built plugin, paho-mqtt (MQTT v5, to see user properties) and
mosquitto_pub/mosquitto_sub clients, messages signed by `dance sign` (and,
for headers `dance sign` will not make, by python3-jwcrypto), end-to-end
re-verification by `dance verify`.

Publishers and subscribers connect with their own DANE-checked client
certificates ("gateway", "backend"); the message senders are other DNS
identities whose TLSA records hold their signing keys.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import close_all  # noqa: E402
from plugin_fixture import cid_args  # noqa: E402
from plugin_fixture import (DANCE, Bed, Broker, MqttClient, PluginTestCase,  # noqa: E402
                            ident, run, tamper, tamper_cose)
from plugin_fixture import sys_value as fixture_sys_value  # noqa: E402
from plugin_fixture import wait_sys as fixture_wait_sys  # noqa: E402
from dnsproxy import DnsProxy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORG = "acme.example"
TTL = 2                 # seconds: revocation tests wait for it
WAIT = 20               # generous bound for anything to arrive on a loaded CI box

WD = None
TB = None
PKI = None
BED = None


def setUpModule():
    global WD, TB, PKI, BED
    # MQTT clients: connect with DANE-checked certificates.
    BED = Bed("messages", ("gateway", "backend"), default_ttl=TTL, negative_ttl=TTL)
    WD, TB, PKI = BED.dir, BED.tb, BED.pki


def tearDownModule():
    if BED is not None:
        BED.close()


def client_files(label):
    return PKI.files(label)


class Sender:
    """A DNS identity that signs messages; its key is in its TLSA records."""

    def __init__(self, label, record="310", zone=ORG, publish=True, ttl=None, keytype=None):
        self.name = ident(label, zone)
        if keytype is None:
            self.cert, self.key = PKI.device(self.name)
        else:
            stem = PKI.path(label)
            self.key, self.cert = stem + ".key", stem + ".pem"
            run([DANCE, "keygen", "--type", keytype, "--out", self.key])
            run([DANCE, "cert", "--key", self.key, "--name", self.name, "--ca", PKI.ca,
                 "--ca-key", PKI.ca_key, "--out", self.cert])
        # 3 1 0 and 3 0 0 hold the key itself; a digest needs x5c.
        self.x5c = record not in ("310", "300")
        rdata = PKI.tlsa(self.cert, 3, int(record[1]), int(record[2]))
        self.rdata = rdata
        if publish:
            TB.set_records(self.name, "TLSA", [rdata], ttl=ttl)

    def sign(self, payload, topic=None, iat=True, jti=False, json_form=False, cose=False,
             name=None):
        """`dance sign`: iat by default (as the tool does), topic when given
        (the broker's default strict profile requires both). cose: a
        COSE_Sign1 (binary, as written); name: kid other than self.name."""
        argv = [DANCE, "sign", "--key", self.key, "--name", name or self.name]
        if self.x5c:
            argv += ["--x5c", self.cert]
        if topic is not None:
            argv += ["--topic", topic]
        if not iat:
            argv.append("--no-iat")
        if jti:
            argv.append("--jti")
        if json_form:
            argv.append("--json")
        if cose:
            argv.append("--cose")
        p = subprocess.run(argv, input=payload.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("dance sign failed: %s" % p.stderr.decode())
        return p.stdout if cose else p.stdout.strip()

    def sign_jwcrypto(self, payload, **header):
        """A compact JWS with exactly this protected header (plus alg and
        kid), made by an independent implementation."""
        from jwcrypto import jwk, jws
        with open(self.key, "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        h = {"alg": "ES256", "kid": self.name}
        h.update(header)
        s = jws.JWS(payload.encode())
        s.add_signature(key, None, protected=json.dumps(h))
        return s.serialize(compact=True).encode()


def Client(broker, label, subscribe=(), retain_as_published=True):
    """An MQTT v5 client with label's DANE-checked certificate (the
    fixture's MqttClient)."""
    cert, key = client_files(label)
    return MqttClient(broker, cert, key, subscribe, label=label,
                      retain_as_published=retain_as_published, timeout=WAIT)


def sys_value(broker, tail):
    return fixture_sys_value(broker, *client_files("backend"), tail)


def wait_sys(broker, tail, pred, timeout=WAIT):
    return fixture_wait_sys(broker, *client_files("backend"), tail, pred, timeout)


class MessageBrokerCase(PluginTestCase):
    """Starts a broker with the plugin and message verification for the
    class; options merged over BASE."""

    options = {}
    resolver = None
    # with a label: one Sender (cls.s), a gateway publishing (cls.gw) and a
    # backend on verified/# and rejected/# (cls.sub)
    sender = None

    @classmethod
    def setUpClass(cls):
        d = os.path.join(WD, cls.__name__)
        os.makedirs(d)
        opts = {
            "resolver": cls.resolver or TB.upstream,
            "trust_anchor": TB.trust_anchor,
            "allowed_domains": ORG,
            "cafile": PKI.ca,
            "connect_budget_ms": "5000",
            "revalidate_interval": "0",
            "negative_ttl": str(TTL),
            "failure_ttl": "1",
            "stats_interval": "1",
            "verify_topics": "sensors/#, gw/+/data",
            "rejected_prefix": "rejected/",
        }
        opts.update(cls.options)
        # Bursts must not meet Mosquitto's own per-subscriber queue limit
        # (max_queued_messages, default 1000), which drops silently. Not 0
        # (unlimited): Mosquitto 2.0.11 then disconnects every client whose
        # publish is denied.
        cls.broker = Broker(d, PKI, opts, extra_conf="max_queued_messages 100000").start()
        cls.broker.wait_log("dance: message verification ready")
        cls.clients = []
        if cls.sender is not None:
            cls.s = Sender(cls.sender)
            TB.publish()
            cls.gw = cls.client("gateway")
            cls.sub = cls.client("backend", ["verified/#", "rejected/#"])

    @classmethod
    def tearDownClass(cls):
        try:
            close_all(cls.clients)
        finally:
            cls.broker.stop()

    @classmethod
    def client(cls, label, subscribe=(), **kw):
        c = Client(cls.broker, label, subscribe, **kw)
        cls.clients.append(c)
        return c

    def drained(self, topic):
        """With a sender: a fresh message of cls.s (whose messages come out
        in order) has come through, so everything before it was decided."""
        marker = self.s.sign("marker %f" % time.time(), topic=topic + "/marker")
        self.gw.publish(topic + "/marker", marker)
        self.sub.wait(lambda m: m["topic"] == "verified/" + topic + "/marker"
                      and m["payload"] == marker)


class VerifiedCopyTest(MessageBrokerCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s1 = Sender("s1")
        cls.sx5c = Sender("sx5c", record="311")
        cls.proto = Sender("proto", record="300", keytype="rsa2048")
        cls.cold = Sender("cold")
        cls.revoked = Sender("revoked")
        cls.order = [Sender("order%d" % i) for i in range(10)]
        cls.outside = Sender("outside", zone="other.example", publish=False)
        cls.bogus = Sender("bogus")
        cls.unknown = Sender("unknown", publish=False)
        TB.publish()
        TB.tamper_signature(cls.bogus.name, "TLSA")
        cls.gw = cls.client("gateway")
        cls.sub = cls.client("backend", ["verified/#", "sensors/#", "rejected/#", "other/#"])

    def roundtrip(self, sender, topic, payload, qos=1, retain=False, **sign):
        sign.setdefault("topic", topic)
        msg = sender.sign(payload, **sign)
        self.gw.publish(topic, msg, qos=qos, retain=retain)
        return msg

    def test_verified_copy_has_properties_qos_and_payload(self):
        msg = self.roundtrip(self.s1, "sensors/s1/temp", '{"temp":21.5}', qos=1)
        copy = self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/temp")[0]
        self.assertEqual(copy["payload"], msg)
        self.assertEqual(copy["qos"], 1)
        self.assertFalse(copy["retain"])
        self.assertEqual(copy["props"], {"dance-sender": [self.s1.name],
                                         "dance-alg": ["ES256"],
                                         "dance-key": ["tlsa 3 1 0"]})
        # The original went on untouched.
        orig = self.sub.wait(lambda m: m["topic"] == "sensors/s1/temp")[0]
        self.assertEqual(orig["payload"], msg)
        self.assertEqual(orig["props"], {})

    def test_qos0_and_retained_copy(self):
        msg = self.roundtrip(self.s1, "sensors/s1/state", "on", qos=0, retain=True)
        live = self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/state")[0]
        self.assertEqual(live["qos"], 0)
        self.assertTrue(live["retain"])     # retain-as-published subscription
        # A later subscriber gets the copy as the retained message.
        late = self.client("backend", ["verified/sensors/s1/state"],
                           retain_as_published=False)
        got = late.wait(lambda m: m["topic"] == "verified/sensors/s1/state")[0]
        self.assertTrue(got["retain"])
        self.assertEqual(got["payload"], msg)
        self.assertEqual(got["props"]["dance-sender"], [self.s1.name])

    def test_x5c_with_digest_record(self):
        msg = self.roundtrip(self.sx5c, "gw/g1/data", "x5c reading")
        copy = self.sub.wait(lambda m: m["topic"] == "verified/gw/g1/data")[0]
        self.assertEqual(copy["payload"], msg)
        self.assertEqual(copy["props"]["dance-key"], ["x5c+tlsa 3 1 1"])
        self.assertEqual(copy["props"]["dance-sender"], [self.sx5c.name])

    def test_flattened_json_form(self):
        msg = self.roundtrip(self.s1, "sensors/s1/json", "flattened", json_form=True)
        self.assertTrue(msg.startswith(b"{"))
        copy = self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/json")[0]
        self.assertEqual(copy["payload"], msg)

    def test_prototype_format_rs256_x5u_full_certificate(self):
        # What existing DANCE MQTT prototypes emit: flattened JSON, RS256,
        # x5u = DNS URI, the whole certificate in a 3 0 0 record.
        msg = self.roundtrip(self.proto, "gw/proto/data", "prototype", json_form=True)
        prot = json.loads(msg)["protected"]
        header = json.loads(base64.urlsafe_b64decode(prot + "=" * (-len(prot) % 4)))
        self.assertEqual(header["alg"], "RS256")
        self.assertTrue(header["x5u"].startswith("dns:"), header)
        copy = self.sub.wait(lambda m: m["topic"] == "verified/gw/proto/data")[0]
        self.assertEqual(copy["payload"], msg)
        self.assertEqual(copy["props"], {"dance-sender": [self.proto.name],
                                         "dance-alg": ["RS256"],
                                         "dance-key": ["tlsa 3 0 0"]})

    def test_tampered_message_is_diagnosed_never_verified(self):
        good = self.s1.sign("genuine", topic="sensors/s1/forged")
        self.gw.publish("sensors/s1/forged", tamper(good))
        diag = self.sub.wait(lambda m: m["topic"] == "rejected/sensors/s1/forged")[0]
        d = json.loads(diag["payload"])
        self.assertEqual(d["topic"], "sensors/s1/forged")
        self.assertEqual(d["sender"], self.s1.name)
        self.assertEqual(d["reason"], "bad_signature")
        self.assertEqual(d["reason_code"], 17)      # DANCE_BAD_SIGNATURE
        self.assertEqual(d["alg"], "ES256")
        self.assertIn("signature", d["detail"])
        self.assertEqual(diag["qos"], 0)
        self.assertFalse(diag["retain"])
        # The same sender's next (genuine) message is verified; per-sender
        # order means the forged one would have come first.
        self.gw.publish("sensors/s1/forged", good)
        copies = self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/forged")
        self.assertEqual([c["payload"] for c in copies], [good])
        # The original topic carried both, untouched.
        self.assertEqual(len(self.sub.wait(lambda m: m["topic"] == "sensors/s1/forged",
                                           count=2)), 2)

    def test_not_a_jws_is_refused_and_delivered(self):
        self.gw.publish("sensors/plain", b"21.5")
        d = json.loads(self.sub.wait(lambda m: m["topic"] == "rejected/sensors/plain")[0]
                       ["payload"])
        self.assertEqual(d["reason"], "malformed")
        self.assertEqual(d["reason_code"], 1)
        self.assertIsNone(d["sender"])
        self.assertEqual(self.sub.on("sensors/plain")[0]["payload"], b"21.5")
        # An empty retained message (clearing the topic's retained message)
        # is not a JWS either: refused, but passed on.
        self.gw.publish("sensors/plain", b"", retain=True)
        got = self.sub.wait(lambda m: m["topic"] == "rejected/sensors/plain", count=2)
        self.assertIn("empty", json.loads(got[1]["payload"])["detail"])
        self.sub.wait(lambda m: m["topic"] == "sensors/plain" and m["payload"] == b"")

    def test_other_topics_pass_untouched(self):
        msg = self.s1.sign("not verified here")
        self.gw.publish("other/topic", msg)
        self.sub.wait(lambda m: m["topic"] == "other/topic")
        # A marker through the verified path proves the pipeline drained.
        self.roundtrip(self.s1, "sensors/s1/marker-other", "m")
        self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/marker-other")
        self.assertEqual(self.sub.on("verified/other/topic"), [])
        self.assertEqual(self.sub.on("rejected/other/topic"), [])

    def test_outside_allowed_domains_makes_no_query(self):
        before = TB.query_count()
        self.roundtrip(self.outside, "sensors/outside", "hello")
        d = json.loads(self.sub.wait(lambda m: m["topic"] == "rejected/sensors/outside")[0]
                       ["payload"])
        self.assertEqual(d["reason"], "outside_allowed_domains")
        self.assertEqual(d["sender"], self.outside.name)
        self.assertEqual(TB.query_count(), before)

    def test_bogus_and_unknown_senders_are_refused(self):
        self.roundtrip(self.bogus, "sensors/bogus", "b")
        self.roundtrip(self.unknown, "sensors/unknown", "u")
        for topic, reason, sender in (("sensors/bogus", "bogus", self.bogus.name),
                                      ("sensors/unknown", "no_record", self.unknown.name)):
            d = json.loads(self.sub.wait(lambda m, t=topic: m["topic"] == "rejected/" + t)[0]
                           ["payload"])
            self.assertEqual((d["reason"], d["sender"]), (reason, sender))
            self.assertEqual(self.sub.on("verified/" + topic), [])

    def test_cold_key_first_message_is_verified(self):
        # Nothing has looked this sender up yet: the verify thread parks
        # the message while a DNS worker fetches the records.
        msgs = [self.cold.sign("cold %d" % i, topic="sensors/cold") for i in range(3)]
        for m in msgs:
            self.gw.publish("sensors/cold", m)
        copies = self.sub.wait(lambda m: m["topic"] == "verified/sensors/cold", count=3)
        self.assertEqual([c["payload"] for c in copies], msgs)

    def test_per_sender_order_in_a_burst(self):
        # A QoS 1 stream of 1000 messages from 10 senders (none of them
        # looked up before, so each sender's first messages wait for its
        # DNS answer), published without waiting for each PUBACK: every
        # verified copy arrives, each sender's in order. Signed with
        # jwcrypto (an independent implementation, and fast enough here).
        per = 100
        sub = self.client("backend", ["verified/sensors/burst/#"])
        def topic(s):
            return "sensors/burst/" + s.name.split(".")[0]
        now = int(time.time())
        signed = {s.name: [s.sign_jwcrypto("%s #%d" % (s.name, i), iat=now, topic=topic(s))
                           for i in range(per)]
                  for s in self.order}
        pending = []
        for i in range(per):
            for s in self.order:
                pending.append(self.gw.c.publish(topic(s), signed[s.name][i], qos=1))
        for info in pending:
            info.wait_for_publish(WAIT)
            self.assertTrue(info.is_published())
        for s in self.order:
            topic = "verified/sensors/burst/" + s.name.split(".")[0]
            copies = sub.wait(lambda m, t=topic: m["topic"] == t, count=per, timeout=45)
            self.assertEqual([c["payload"] for c in copies], signed[s.name])
            self.assertTrue(all(c["qos"] == 1 for c in copies))

    def test_revoked_sender_is_refused_after_ttl(self):
        self.roundtrip(self.revoked, "sensors/rev", "before")
        self.sub.wait(lambda m: m["topic"] == "verified/sensors/rev")
        TB.remove_records(self.revoked.name, "TLSA")
        TB.publish()
        time.sleep(TTL + 1)
        self.roundtrip(self.revoked, "sensors/rev", "after")
        d = json.loads(self.sub.wait(lambda m: m["topic"] == "rejected/sensors/rev")[0]
                       ["payload"])
        self.assertEqual(d["reason"], "no_record")
        self.assertEqual(d["sender"], self.revoked.name)
        self.assertEqual(len(self.sub.on("verified/sensors/rev")), 1)

    def test_subscriber_reverifies_end_to_end(self):
        self.roundtrip(self.s1, "sensors/s1/e2e", "end to end")
        copy = self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/e2e")[0]
        p = subprocess.run([DANCE, "verify", "--resolver", TB.upstream,
                            "--trust-anchor", TB.trust_anchor, "--allowed-domains", ORG,
                            "--topic", "sensors/s1/e2e"],
                           input=copy["payload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"end to end")
        self.assertIn(("sender %s," % copy["props"]["dance-sender"][0]).encode(), p.stderr)

    def test_clients_cannot_publish_under_the_reserved_prefixes(self):
        start = self.broker.log_size()
        forged = self.s1.sign("forged verified")
        self.gw.publish("verified/sensors/s1/direct", forged, qos=0)
        self.gw.publish("verified/sensors/s1/direct", forged, qos=1)
        self.gw.publish("verified/sensors/s1/direct", forged, qos=1, retain=True)
        self.gw.publish("rejected/sensors/s1/direct", b"{}", qos=1)
        # mosquitto_pub (MQTT v5, QoS 1) is told "not authorized".
        cert, key = client_files("gateway")
        p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port),
                            "--cafile", PKI.ca, "--cert", cert, "--key", key, "-V", "5",
                            *cid_args(cert), "-q", "1", "-r", "-t", "verified/sensors/s1/direct",
                            "-m", "forged"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertIn("not authorized", p.stdout.lower())
        # A verified message after them: the pipeline and the broker have
        # handled everything before it.
        self.roundtrip(self.s1, "sensors/s1/after-direct", "m")
        self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/after-direct")
        self.assertEqual(self.sub.on("verified/sensors/s1/direct"), [])
        self.assertEqual(self.sub.on("rejected/sensors/s1/direct"), [])
        # Nothing retained there either, and the publisher is still connected.
        late = self.client("backend", ["verified/sensors/s1/direct"])
        self.roundtrip(self.s1, "sensors/s1/after-direct2", "m")
        self.sub.wait(lambda m: m["topic"] == "verified/sensors/s1/after-direct2")
        time.sleep(0.5)
        self.assertEqual(late.on("verified/sensors/s1/direct"), [])
        self.assertFalse(self.gw.disconnected.is_set())
        self.assertEqual(self.broker.log()[start:].count("dance: denied PUBLISH to "
                                                         "\"verified/sensors/s1/direct\""), 4)
        self.assertGreaterEqual(wait_sys(self.broker, "messages/denied", lambda v: v >= 5), 5)

    def test_sys_counters(self):
        self.roundtrip(self.s1, "sensors/s1/count", "c")
        self.gw.publish("sensors/s1/count", tamper(self.s1.sign("x", topic="sensors/s1/count")))
        self.sub.wait(lambda m: m["topic"] == "rejected/sensors/s1/count")
        self.assertGreaterEqual(wait_sys(self.broker, "messages/verified", lambda v: v >= 1), 1)
        self.assertGreaterEqual(wait_sys(self.broker, "messages/refused/bad_signature",
                                         lambda v: v >= 1), 1)
        self.assertEqual(sys_value(self.broker, "messages/dropped"), 0)
        self.assertEqual(wait_sys(self.broker, "messages/queued", lambda v: v == 0), 0)
        # Every refusal reason has a counter.
        self.assertEqual(sys_value(self.broker, "messages/refused/replay"), 0)


class OneCopyTest(MessageBrokerCase):
    """Default options (the strict profile): one signed message gives one
    verified copy, however often it is published; a message must carry iat
    and the topic it is published on."""

    sender = "once"

    def test_startup_line_shows_the_strict_defaults(self):
        self.assertIn("message_profile=strict require_iat=true max_skew=300 "
                      "replay_window=600 replay_cache_size=100000 require_jti=false "
                      "require_topic_binding=true",
                      self.broker.log())
        self.assertNotIn("message_profile compat", self.broker.log())

    def test_same_message_twice_gives_one_copy(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                t = "sensors/once/q%d" % qos
                msg = self.s.sign("reading at qos %d" % qos, topic=t)
                self.gw.publish(t, msg, qos=qos)
                self.gw.publish(t, msg, qos=qos)
                diag = self.sub.wait(lambda m, t=t: m["topic"] == "rejected/" + t)[0]
                d = json.loads(diag["payload"])
                self.assertEqual((d["reason"], d["sender"]), ("replay", self.s.name))
                self.assertIn("copy of a message", d["detail"])
                self.drained(t)
                copies = self.sub.on("verified/" + t)
                self.assertEqual([c["payload"] for c in copies], [msg])
                self.assertEqual(copies[0]["qos"], min(qos, 1))     # subscribed at QoS 1
                self.assertEqual(len(self.sub.on("rejected/" + t)), 1)

    def test_reencoded_copy_is_still_a_copy(self):
        # The same signed message in flattened JSON form, with an
        # unprotected header added: what was signed is the same.
        t = "sensors/once/reencoded"
        msg = self.s.sign("reencoded", topic=t)
        self.gw.publish(t, msg)
        self.sub.wait(lambda m: m["topic"] == "verified/" + t)
        head, payload, sig = msg.decode().split(".")
        flat = json.dumps({"header": {"note": "new"}, "protected": head,
                           "payload": payload, "signature": sig}).encode()
        self.gw.publish(t, flat)
        d = json.loads(self.sub.wait(lambda m: m["topic"] == "rejected/" + t)[0]["payload"])
        self.assertEqual(d["reason"], "replay")
        self.drained(t)
        self.assertEqual(len(self.sub.on("verified/" + t)), 1)

    def test_iat_and_topic_are_required(self):
        t = "sensors/once/defaults"
        self.gw.publish(t, self.s.sign("no topic"))
        self.gw.publish(t, self.s.sign("no iat", topic=t, iat=False))
        self.gw.publish(t, self.s.sign("elsewhere", topic="sensors/once/other"))
        got = self.sub.wait(lambda m: m["topic"] == "rejected/" + t, count=3)
        self.assertEqual(sorted(json.loads(g["payload"])["reason"] for g in got),
                         ["stale", "topic_mismatch", "topic_mismatch"])
        self.drained(t)
        self.assertEqual(self.sub.on("verified/" + t), [])


class CoseMessagesTest(MessageBrokerCase):
    """COSE_Sign1 messages on verify_topics next to JWS ones, with the
    default (strict) profile: iat, topic binding and the replay window."""

    sender = "cose"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = Sender("coseother")     # another sender, another key
        cls.mixed = Sender("cosemixed")     # not looked up before its test
        TB.publish()
        cls.raw = cls.client("backend", ["sensors/cose/#"])

    def verified(self, topic):
        return self.sub.on("verified/" + topic)

    def diagnostic(self, topic, count=1):
        got = self.sub.wait(lambda m: m["topic"] == "rejected/" + topic, count=count)
        return json.loads(got[count - 1]["payload"])

    def test_cose_verified_with_the_jws_properties(self):
        t = "sensors/cose/temp"
        msg = self.s.sign("temp=21.5", topic=t, cose=True)
        self.assertEqual(msg[0], 0xd2)          # tag 18: binary, not text
        self.gw.publish(t, msg, qos=1)
        copy = self.sub.wait(lambda m: m["topic"] == "verified/" + t)[0]
        self.assertEqual(copy["payload"], msg)
        self.assertEqual(copy["qos"], 1)
        self.assertFalse(copy["retain"])
        self.assertEqual(copy["props"], {"dance-sender": [self.s.name],
                                         "dance-alg": ["ES256"],
                                         "dance-key": ["tlsa 3 1 0"]})
        self.broker.wait_log('dance: message verified topic="%s" sender=%s format=cose '
                             'alg=ES256 key="tlsa 3 1 0"' % (t, self.s.name))
        # the original went on untouched, and a subscriber verifies the
        # copy end to end with the same library
        p = subprocess.run([DANCE, "verify", "--resolver", TB.upstream,
                            "--trust-anchor", TB.trust_anchor, "--allowed-domains", ORG,
                            "--topic", t], input=copy["payload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"temp=21.5")
        self.assertGreaterEqual(wait_sys(self.broker, "messages/verified", lambda v: v >= 1),
                                1)

    def test_mixed_formats_from_one_sender_keep_their_order(self):
        # A sender nothing has looked up yet: its first messages wait for
        # the DNS answer, JWS and COSE alike, and all come out in order.
        t = "sensors/cose/mixed"
        msgs = [self.mixed.sign("reading %d" % i, topic=t, cose=i % 2 == 1)
                for i in range(20)]
        pending = [self.gw.c.publish(t, m, qos=1) for m in msgs]
        for info in pending:
            info.wait_for_publish(WAIT)
            self.assertTrue(info.is_published())
        copies = self.sub.wait(lambda m: m["topic"] == "verified/" + t, count=20)
        self.assertEqual([c["payload"] for c in copies], msgs)
        self.assertEqual({c["props"]["dance-sender"][0] for c in copies}, {self.mixed.name})

    def test_tampered_cose_refused_with_its_reason(self):
        t = "sensors/cose/forged"
        good = self.s.sign("genuine", topic=t, cose=True)
        before = sys_value(self.broker, "messages/refused/bad_signature")
        # per-message log lines are capped per second (20): start a fresh
        # second after the other tests' bursts
        time.sleep(1.1)
        start = self.broker.log_size()
        self.gw.publish(t, tamper_cose(good, b"genuine"))
        d = self.diagnostic(t)
        self.assertEqual((d["reason"], d["sender"], d["alg"], d["format"]),
                         ("bad_signature", self.s.name, "ES256", "cose"))
        self.assertIn("signature", d["detail"])
        self.broker.wait_log('dance: message refused topic="%s" sender=%s format=cose '
                             'reason=bad_signature: ' % (t, self.s.name), start=start)
        self.assertGreaterEqual(wait_sys(self.broker, "messages/refused/bad_signature",
                                         lambda v: v >= before + 1), before + 1)
        # broken CBOR is malformed, refused on the spot, named as COSE
        self.gw.publish(t, good[:-3])
        d = self.diagnostic(t, count=2)
        self.assertEqual((d["reason"], d["format"]), ("malformed", "cose"))
        # the genuine one after them is the only verified copy
        self.gw.publish(t, good)
        copies = self.sub.wait(lambda m: m["topic"] == "verified/" + t)
        self.drained(t)
        self.assertEqual([c["payload"] for c in self.verified(t)], [good])
        self.assertEqual(len(copies), 1)
        # the original topic carried all three as published
        self.assertEqual([m["payload"] for m in self.raw.on(t)],
                         [tamper_cose(good, b"genuine"), good[:-3], good])

    def test_replayed_cose_refused(self):
        t = "sensors/cose/replay"
        msg = self.s.sign("once", topic=t, cose=True)
        self.gw.publish(t, msg)
        self.sub.wait(lambda m: m["topic"] == "verified/" + t)
        self.gw.publish(t, msg)
        d = self.diagnostic(t)
        self.assertEqual((d["reason"], d["sender"], d["format"]),
                         ("replay", self.s.name, "cose"))
        # the untagged form of the same message (without the one-byte tag
        # 18) signs the same Sig_structure: still a copy
        self.assertEqual(msg[0], 0xd2)
        self.gw.publish(t, msg[1:])
        self.assertEqual(self.diagnostic(t, count=2)["reason"], "replay")
        self.drained(t)
        self.assertEqual(len(self.verified(t)), 1)

    def test_kid_naming_another_sender_refused(self):
        # signed with this sender's key, kid naming another sender: the key
        # from the named sender's TLSA records does not verify it
        t = "sensors/cose/impostor"
        self.gw.publish(t, self.s.sign("impostor", topic=t, cose=True, name=self.other.name))
        d = self.diagnostic(t)
        self.assertEqual((d["reason"], d["sender"], d["format"]),
                         ("bad_signature", self.other.name, "cose"))
        # a kid outside the allowed domains: refused before any DNS query
        before = TB.query_count()
        self.gw.publish(t, self.s.sign("outside", topic=t, cose=True,
                                       name="dev._device.other.example"))
        d = self.diagnostic(t, count=2)
        self.assertEqual((d["reason"], d["sender"]),
                         ("outside_allowed_domains", "dev._device.other.example"))
        self.assertEqual(TB.query_count(), before)
        self.drained(t)
        self.assertEqual(self.verified(t), [])


def cose_js_modules():
    """The node_modules directory holding npm's cose-js
    (DANCE_COSE_JS_MODULES, as for test_cose_interop.py), or None."""
    mods = os.environ.get("DANCE_COSE_JS_MODULES")
    if not mods or shutil.which("node") is None:
        return None
    return mods if os.path.isdir(os.path.join(mods, "cose-js")) else None


@unittest.skipIf(cose_js_modules() is None,
                 "cose-js not installed (set DANCE_COSE_JS_MODULES and install node)")
class CoseJsTest(MessageBrokerCase):
    """npm's cose-js (an independent implementation) signs, the broker
    verifies against the DNSSEC test bed. cose-js writes registered header
    parameters only (alg, kid): no CWT claims, so no iat and no topic, and
    this broker runs the compat profile."""

    options = {"message_profile": "compat"}
    sender = "cosejs"

    def cose_js_sign(self, payload):
        p = subprocess.run(["node", os.path.join(HERE, "cose_js_interop.js"), "sign", "ES256",
                            self.s.key, self.s.name], input=payload, capture_output=True,
                           env=dict(os.environ, NODE_PATH=cose_js_modules()), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout

    def test_cose_js_message_verified_through_the_broker(self):
        t = "sensors/cosejs/temp"
        msg = self.cose_js_sign(b"temp=19.5")
        self.gw.publish(t, msg)
        copy = self.sub.wait(lambda m: m["topic"] == "verified/" + t)[0]
        self.assertEqual(copy["payload"], msg)
        self.assertEqual(copy["props"], {"dance-sender": [self.s.name],
                                         "dance-alg": ["ES256"],
                                         "dance-key": ["tlsa 3 1 0"]})
        self.gw.publish(t, tamper_cose(msg, b"temp=19.5"))
        d = json.loads(self.sub.wait(lambda m: m["topic"] == "rejected/" + t)[0]["payload"])
        self.assertEqual((d["reason"], d["format"]), ("bad_signature", "cose"))
        self.assertEqual(len(self.sub.on("verified/" + t)), 1)


class CompatProfileTest(MessageBrokerCase):
    """message_profile compat: prototype-style messages (no iat, no topic)
    verify, a warning says what stays open, and with a replay window a copy
    is still caught without a jti."""

    options = {"message_profile": "compat", "replay_window": "600"}

    sender = "compat"

    def test_warning_at_start(self):
        log = self.broker.log()
        self.assertIn("dance: WARNING: plugin_opt_message_profile compat", log)
        self.assertIn("messages without iat are accepted", log)
        self.assertIn("verifies on any topic", log)
        self.assertIn("message_profile=compat require_iat=false", log)

    def test_unbound_message_verifies_once(self):
        t = "sensors/compat/plain"
        msg = self.s.sign("prototype", iat=False, json_form=True)
        self.gw.publish(t, msg)
        self.gw.publish(t, msg)
        copy = self.sub.wait(lambda m: m["topic"] == "verified/" + t)[0]
        self.assertEqual(copy["payload"], msg)
        d = json.loads(self.sub.wait(lambda m: m["topic"] == "rejected/" + t)[0]["payload"])
        self.assertEqual(d["reason"], "replay")
        # a signed topic is still checked when present
        self.gw.publish(t, self.s.sign("bound", topic="sensors/compat/other", iat=False))
        got = self.sub.wait(lambda m: m["topic"] == "rejected/" + t, count=2)
        self.assertEqual(json.loads(got[1]["payload"])["reason"], "topic_mismatch")
        self.assertEqual(len(self.sub.on("verified/" + t)), 1)


class PolicyTest(MessageBrokerCase):
    """iat, jti replay cache and topic binding required."""

    options = {
        "require_iat": "true",
        "max_skew": "60",
        "replay_window": "600",
        "require_jti": "true",
        "require_topic_binding": "true",
    }

    sender = "policy"

    def reason(self, topic, msg):
        self.gw.publish(topic, msg)
        got = self.sub.wait(lambda m: m["topic"] in ("verified/" + topic, "rejected/" + topic))
        self.assertEqual(len(got), 1, got)
        got = got[0]
        with self.sub.cond:
            self.sub.messages.remove(got)
        if got["topic"].startswith("verified/"):
            return "verified"
        return json.loads(got["payload"])["reason"]

    def test_all_policies_met(self):
        t = "sensors/policy/ok"
        self.assertEqual(self.reason(t, self.s.sign("ok", topic=t, iat=True, jti=True)),
                         "verified")

    def test_missing_or_old_iat(self):
        t = "sensors/policy/iat"
        self.assertEqual(self.reason(t, self.s.sign("x", topic=t, iat=False, jti=True)),
                         "stale")
        old = self.s.sign_jwcrypto("old", iat=int(time.time()) - 3600, jti="old-1", topic=t)
        self.assertEqual(self.reason(t, old), "stale")
        future = self.s.sign_jwcrypto("f", iat=int(time.time()) + 3600, jti="fut-1", topic=t)
        self.assertEqual(self.reason(t, future), "stale")
        fresh = self.s.sign_jwcrypto("f", iat=int(time.time()), jti="fresh-1", topic=t)
        self.assertEqual(self.reason(t, fresh), "verified")

    def test_topic_binding(self):
        t = "sensors/policy/topic"
        self.assertEqual(self.reason(t, self.s.sign("x", iat=True, jti=True)),
                         "topic_mismatch")
        self.assertEqual(self.reason(t, self.s.sign("x", topic="sensors/elsewhere",
                                                    iat=True, jti=True)),
                         "topic_mismatch")

    def test_replay_refused(self):
        t = "sensors/policy/replay"
        msg = self.s.sign("once", topic=t, iat=True, jti=True)
        self.assertEqual(self.reason(t, msg), "verified")
        self.assertEqual(self.reason(t, msg), "replay")
        self.assertEqual(self.reason(t, self.s.sign("no jti", topic=t, iat=True)),
                         "replay")


class ReplayCacheSizeTest(MessageBrokerCase):
    """plugin_opt_replay_cache_size bounds the replay cache: past it the
    oldest messages are forgotten early, which is counted, logged with the
    option to raise, and reopens the replay of exactly those messages."""

    options = {"replay_cache_size": "1000"}

    sender = "fill"

    def test_full_cache_forgets_the_oldest_and_says_so(self):
        self.assertIn(" replay_window=600 replay_cache_size=1000 ", self.broker.log())
        t = "sensors/fill"
        now = int(time.time())
        # jwcrypto: 1,200 messages signed in about a second
        signed = [self.s.sign_jwcrypto("reading #%d" % i, iat=now, topic=t)
                  for i in range(1200)]
        pending = [self.gw.c.publish(t, m, qos=1) for m in signed]
        for info in pending:
            info.wait_for_publish(WAIT)
        copies = self.sub.wait(lambda m: m["topic"] == "verified/" + t, count=1200,
                               timeout=60)
        self.assertEqual([c["payload"] for c in copies], signed)
        wait_sys(self.broker, "messages/replay/evicted", lambda v: v == 200)
        self.assertEqual(sys_value(self.broker, "messages/replay/entries"), 1000)
        self.broker.wait_log("dance: warning: the message replay cache is full: ")
        self.assertIn("set plugin_opt_replay_cache_size (now 1000) to at least verified "
                      "messages per second x replay_window", self.broker.log())
        # the newest are still known; the oldest, forgotten, pass again
        self.gw.publish(t, signed[-1], qos=1)
        diag = self.sub.wait(lambda m: m["topic"] == "rejected/" + t)[0]
        self.assertEqual(json.loads(diag["payload"])["reason"], "replay")
        self.gw.publish(t, signed[0], qos=1)
        again = self.sub.wait(lambda m: m["topic"] == "verified/" + t, count=1201)
        self.assertEqual(again[-1]["payload"], signed[0])


class LogCapTest(MessageBrokerCase):
    """Per-message log lines are capped at 20 a second, but the debug line
    of each verified message has a cap of its own: a sender with a valid
    key publishing many good messages must not hide a refusal."""

    sender = "logcap"

    def test_refusal_logged_after_a_burst_of_verified_messages(self):
        t = "sensors/logcap"
        first = self.s.sign("warm", topic=t)
        self.gw.publish(t, first)       # the key is cached after this one
        self.sub.wait(lambda m: m["topic"] == "verified/" + t)
        good = [self.s.sign("reading #%d" % i, topic=t) for i in range(40)]
        forged = tamper(self.s.sign("forged", topic=t))
        time.sleep(1.1)                 # one fresh second for the whole burst
        start = self.broker.log_size()
        pending = [self.gw.c.publish(t, m, qos=1) for m in good + [forged]]
        for info in pending:
            info.wait_for_publish(WAIT)
        # the diagnostic (QoS 0) may overtake the copies (QoS 1, in flight)
        self.sub.wait(lambda m: m["topic"] == "rejected/" + t)
        self.assertEqual(len(self.sub.wait(lambda m: m["topic"] == "verified/" + t,
                                           count=41)), 41)
        self.broker.wait_log('dance: message refused topic="%s" sender=%s format=jws '
                             'reason=bad_signature: ' % (t, self.s.name), start=start)


class SlowDnsTest(MessageBrokerCase):
    """A sender whose DNS answer is slow holds up only its own messages:
    a warm sender on the same (single) verify thread goes on, and plain
    traffic through the broker too."""

    DELAY = 3.0
    options = {"verify_threads": "1", "lookup_timeout_ms": "10000"}

    @classmethod
    def setUpClass(cls):
        # answers for names with "slow" held back DELAY seconds, others at once
        cls.dns = DnsProxy(TB.port, mode="delay", delay=cls.DELAY, match="slow")
        cls.addClassCleanup(cls.dns.close)
        cls.resolver = cls.dns.address
        super().setUpClass()
        cls.warm = Sender("warm")
        cls.slow = Sender("slow")
        TB.publish()
        cls.gw = cls.client("gateway")
        cls.sub = cls.client("backend", ["verified/#", "plain/#"])

    def test_slow_sender_does_not_hold_up_others(self):
        self.gw.publish("sensors/warm", self.warm.sign("warm-up", topic="sensors/warm"))
        self.sub.wait(lambda m: m["topic"] == "verified/sensors/warm")
        delayed = self.dns.delayed

        slow_msg = self.slow.sign("slow one", topic="sensors/slow")
        self.gw.publish("sensors/slow", slow_msg)
        warm_msgs = [self.warm.sign("warm %d" % i, topic="sensors/warm") for i in range(5)]
        for m in warm_msgs:
            self.gw.publish("sensors/warm", m)
        self.gw.publish("plain/ping", b"ping")
        # The warm sender's messages and the plain round trip all arrive
        # while the slow answer is still held back...
        self.sub.wait(lambda m: m["topic"] == "verified/sensors/warm", count=6)
        self.sub.wait(lambda m: m["topic"] == "plain/ping")
        self.assertEqual(self.sub.on("verified/sensors/slow"), [])
        self.assertGreater(self.dns.delayed, delayed, "the slow lookup never started")
        # ... and the slow sender's message is verified once it comes.
        copy = self.sub.wait(lambda m: m["topic"] == "verified/sensors/slow")[0]
        self.assertEqual(copy["payload"], slow_msg)


if __name__ == "__main__":
    unittest.main(verbosity=2)
