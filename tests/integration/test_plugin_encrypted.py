#!/usr/bin/python3
"""Plugin integration: encrypted messages (JWE) on verified topics.

The broker cannot read a JWE, so it cannot verify one. With
plugin_opt_encrypted refuse (the default) a JWE published on a
verify_topics topic, as a PUBLISH, a retained message or a will, is not
delivered: refused as "encrypted" (log line, $SYS counter, diagnostic).
With pass it is delivered untouched on its own topic and never appears
under verified/. A JWE under forwarded_prefix is refused in both modes,
and one coming over the broker's own bridge (no ACL check there) is refused
in MESSAGE. A JWS whose payload is a JWE (encrypt-then-sign, `dance sign
--cty JWE`) is verified and copied under verified/ still encrypted, and
the recipient decrypts it.

Real parts: knotd serving a signed fake root, /usr/sbin/mosquitto with the
built plugin, paho-mqtt clients with DANE-checked certificates, JWEs made
by `dance encrypt --cert` (the backend's certificate), signed messages by
`dance sign`.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import (DANCE, Bed, Broker, MqttClient, OwnBridgeMixin,  # noqa: E402
                            PluginTestCase, bound_client_id, close_all, ident,
                            kill_when_up, sign_message)
from plugin_fixture import sys_value as fixture_sys_value  # noqa: E402
from plugin_fixture import wait_sys as fixture_wait_sys  # noqa: E402

ORG = "acme.example"
WAIT = 20               # bound for anything to arrive on a loaded CI box
QUIET = 1.5             # how long "nothing arrives" is watched for

BED = None
S1_KEY = None

# A child that connects with a will and waits to be killed (SIGKILL: no
# DISCONNECT, so the broker sends the will).
WILL_CHILD = r"""
import ssl, sys
import paho.mqtt.client as mqtt
port, ca, cert, key, cid, topic, payload_file, retain = sys.argv[1:9]
with open(payload_file, "rb") as f:
    payload = f.read()
c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
c.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
c.will_set(topic, payload, qos=1, retain=retain == "1")
c.on_connect = lambda *a: print("up", flush=True)
c.connect("127.0.0.1", int(port), keepalive=60, clean_start=True)
c.loop_forever()
"""


def setUpModule():
    global BED, S1_KEY
    # gateway publishes (and, in the forwarding test, forwards); backend
    # subscribes and is the JWEs' recipient; s1 signs messages.
    BED = Bed("encrypted", ("gateway", "backend"), default_ttl=300, negative_ttl=30)
    cert, S1_KEY = BED.pki.device(ident("s1"))
    BED.tb.set_records(ident("s1"), "TLSA", [BED.pki.tlsa(cert, 3, 1, 0)])
    BED.tb.publish()


def tearDownModule():
    if BED is not None:
        BED.close()


def encrypt(plaintext, json_form=False):
    """A JWE to the backend's key (its certificate: no DNS needed)."""
    argv = [DANCE, "encrypt", "--cert", BED.pki.files("backend")[0],
            "--to", ident("backend")]
    if json_form:
        argv.append("--json")
    p = subprocess.run(argv, input=plaintext.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("dance encrypt failed: %s" % p.stderr.decode())
    return p.stdout.strip()


def signed(payload, topic):
    return sign_message(S1_KEY, ident("s1"), payload, topic)


def signed_jwe(jwe, topic):
    """Encrypt-then-sign: s1 signs the JWE, cty JWE."""
    p = subprocess.run([DANCE, "sign", "--key", S1_KEY, "--name", ident("s1"),
                        "--topic", topic, "--cty", "JWE"], input=jwe,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("dance sign failed: %s" % p.stderr.decode())
    return p.stdout.strip()


class EncryptedCase(PluginTestCase):
    """A broker verifying sensors/#, with diagnostics under rejected/ and the
    gateway as a forwarder; options merged over these."""

    options = {}
    extra_conf = ""

    @classmethod
    def setUpClass(cls):
        d = os.path.join(BED.dir, cls.__name__)
        os.makedirs(d)
        opts = {
            "resolver": BED.tb.upstream,
            "trust_anchor": BED.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": BED.pki.ca,
            "connect_budget_ms": "5000",
            "revalidate_interval": "0",
            "stats_interval": "1",
            "verify_topics": "sensors/#",
            "rejected_prefix": "rejected/",
            "forwarders": ident("gateway"),
        }
        opts.update(cls.options)
        cls.broker = Broker(d, BED.pki, opts,
                            extra_conf="max_queued_messages 1000\n" + cls.extra_conf).start()
        cls.broker.wait_log("dance: message verification ready")
        cls.clients = []
        cls.gw = cls.client("gateway")
        cls.sub = cls.client("backend", ["sensors/#", "verified/#", "rejected/#"])

    @classmethod
    def tearDownClass(cls):
        try:
            close_all(cls.clients)
        finally:
            cls.broker.stop()

    @classmethod
    def client(cls, label, subscribe=(), **kw):
        cert, key = BED.pki.files(label)
        c = MqttClient(cls.broker, cert, key, subscribe, label=label, timeout=WAIT, **kw)
        cls.clients.append(c)
        return c

    def sys_value(self, tail):
        return fixture_sys_value(self.broker, *BED.pki.files("backend"), tail)

    def wait_sys(self, tail, pred):
        return fixture_wait_sys(self.broker, *BED.pki.files("backend"), tail, pred, WAIT)

    def fence(self, topic):
        """Publish a signed message on topic and wait for its verified copy:
        whatever the gateway published before it has been through the
        broker by then (one publisher, one sender: in order). Returns the
        signed message."""
        msg = signed("fence %f" % time.monotonic(), topic)
        self.gw.publish(topic, msg, qos=1)
        self.sub.wait(lambda m: m["topic"] == "verified/" + topic and m["payload"] == msg)
        return msg

    def payloads(self, topic):
        return [m["payload"] for m in self.sub.on(topic)]

    def diagnostic(self, topic):
        got = self.sub.wait(lambda m: m["topic"] == "rejected/" + topic)
        return json.loads(got[-1]["payload"])

    def will(self, topic, payload, retain=False):
        """Connect a client with this will and kill it."""
        cert, key = BED.pki.files("gateway")
        path = os.path.join(self.broker.dir, "will-%d" % time.monotonic_ns())
        with open(path, "wb") as f:
            f.write(payload)
        cid = bound_client_id("will", cert)
        up = kill_when_up([sys.executable, "-c", WILL_CHILD, str(self.broker.port),
                           BED.pki.ca, cert, key, cid, topic, path,
                           "1" if retain else "0"], timeout=WAIT)
        self.assertEqual(up, "up", "the will client did not connect")


class RefuseTest(EncryptedCase):
    """plugin_opt_encrypted unset: refuse."""

    options = {"max_payload": "4096"}

    def test_startup_line_says_refuse(self):
        self.assertIn("encrypted=refuse", self.broker.log())
        self.assertNotIn("warning: plugin_opt_encrypted pass", self.broker.log())

    def test_compact_jwe_refused_not_delivered(self):
        start = self.sys_value("messages/refused/encrypted")
        jwe = encrypt("secret reading")
        self.assertEqual(jwe.count(b"."), 4)
        # QoS 1 over MQTT v5: the PUBACK says "not authorized"; paho still
        # counts the publish as acknowledged
        self.gw.publish("sensors/enc/compact", jwe, qos=1)
        d = self.diagnostic("sensors/enc/compact")
        self.assertEqual(d["reason"], "encrypted")
        self.assertEqual(d["reason_code"], 28)      # DANCE_ENCRYPTED
        self.assertIsNone(d["sender"])
        self.assertIn("encrypted (JWE)", d["detail"])
        self.assertEqual(d["format"], "jwe")
        self.broker.wait_log('message refused topic="sensors/enc/compact" sender=- '
                             'format=jwe reason=encrypted: the message is encrypted (JWE), which the '
                             'broker cannot verify: not delivered (plugin_opt_encrypted '
                             'refuse); to have it verified, sign the JWE (dance sign --cty '
                             'JWE); to deliver such messages unverified, set '
                             'plugin_opt_encrypted pass\n')
        self.assertGreaterEqual(
            self.wait_sys("messages/refused/encrypted", lambda v: v >= start + 1),
            start + 1)
        fence = self.fence("sensors/enc/compact")
        self.assertEqual(self.payloads("sensors/enc/compact"), [fence])
        self.assertEqual(self.payloads("verified/sensors/enc/compact"), [fence])

    def test_json_jwe_refused(self):
        jwe = encrypt("secret reading", json_form=True)
        self.assertIn(b'"ciphertext"', jwe)
        self.gw.publish("sensors/enc/json", jwe, qos=0)
        self.assertEqual(self.diagnostic("sensors/enc/json")["reason"], "encrypted")
        fence = self.fence("sensors/enc/json")
        self.assertEqual(self.payloads("sensors/enc/json"), [fence])
        self.assertEqual(self.payloads("verified/sensors/enc/json"), [fence])

    def test_oversize_compact_jwe_refused_as_encrypted(self):
        # over max_payload a compact JWE is still told apart (a byte scan)
        jwe = encrypt("x" * 6000)
        self.assertGreater(len(jwe), 4096)
        self.gw.publish("sensors/enc/big", jwe, qos=1)
        self.assertEqual(self.diagnostic("sensors/enc/big")["reason"], "encrypted")
        fence = self.fence("sensors/enc/big")
        self.assertEqual(self.payloads("sensors/enc/big"), [fence])

    def test_retained_jwe_not_stored(self):
        self.gw.publish("sensors/enc/retained", encrypt("kept?"), qos=1, retain=True)
        self.assertEqual(self.diagnostic("sensors/enc/retained")["reason"], "encrypted")
        late = self.client("backend", ["sensors/enc/retained"])
        time.sleep(QUIET)
        self.assertEqual(late.on("sensors/enc/retained"), [])

    def test_will_with_jwe_not_sent(self):
        start = self.sys_value("messages/refused/encrypted")
        self.will("sensors/enc/will", encrypt("last words"), retain=True)
        self.assertEqual(self.diagnostic("sensors/enc/will")["reason"], "encrypted")
        self.assertGreaterEqual(
            self.wait_sys("messages/refused/encrypted", lambda v: v >= start + 1),
            start + 1)
        time.sleep(QUIET)
        self.assertEqual(self.sub.on("sensors/enc/will"), [])
        late = self.client("backend", ["sensors/enc/will"])
        time.sleep(QUIET)
        self.assertEqual(late.on("sensors/enc/will"), [])

    def test_encrypt_then_sign_verified_still_encrypted(self):
        """A JWS whose payload is a JWE is verified like any signed message:
        the copy under verified/ is the same JWS, its content still
        encrypted; the backend verifies the sender against DNS and decrypts
        with its own key."""
        topic = "sensors/enc/signed"
        msg = signed_jwe(encrypt('{"temp": 23.5}'), topic)
        self.gw.publish(topic, msg, qos=1)
        copy = self.sub.wait(lambda m: m["topic"] == "verified/" + topic)[0]
        self.assertEqual(copy["payload"], msg)
        self.assertEqual(copy["props"]["dance-sender"], [ident("s1")])
        self.assertNotIn(b"23.5", copy["payload"])
        self.assertEqual(self.payloads(topic), [msg])
        self.assertEqual(self.payloads("rejected/" + topic), [])
        p = subprocess.run([DANCE, "verify", "--resolver", BED.tb.upstream,
                            "--trust-anchor", BED.tb.trust_anchor, "--topic", topic,
                            "--decrypt-key", BED.pki.files("backend")[1]],
                           input=copy["payload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout, b'{"temp": 23.5}')
        self.assertIn("verified: sender %s" % ident("s1"), p.stderr.decode())
        self.assertIn("decrypted: alg ECDH-ES, enc A256GCM, recipient %s" % ident("backend"),
                      p.stderr.decode())

    def test_signed_will_still_sent(self):
        # control: the refusal is about JWEs, not wills
        msg = signed("last words, signed", "sensors/enc/signed-will")
        self.will("sensors/enc/signed-will", msg)
        got = self.sub.wait(lambda m: m["topic"] == "sensors/enc/signed-will")
        self.assertEqual(got[0]["payload"], msg)

    def test_forwarded_jwe_refused(self):
        self.gw.publish("forwarded/sensors/enc/fwd", encrypt("via an edge"), qos=1)
        d = self.diagnostic("sensors/enc/fwd")
        self.assertEqual(d["reason"], "encrypted")
        self.assertTrue(d["forwarded"])
        self.broker.wait_log('forwarded message refused topic="sensors/enc/fwd" '
                             'sender=- format=jwe reason=encrypted')
        fence = self.fence("sensors/enc/fwd")
        self.assertEqual(self.payloads("verified/sensors/enc/fwd"), [fence])
        self.assertEqual(self.payloads("sensors/enc/fwd"), [fence])
        self.assertEqual(self.payloads("forwarded/sensors/enc/fwd"), [])


class PassTest(EncryptedCase):
    """plugin_opt_encrypted pass."""

    options = {"encrypted": "pass"}

    def test_startup_warns(self):
        self.assertIn("encrypted=pass", self.broker.log())
        self.assertIn("dance: warning: plugin_opt_encrypted pass: encrypted messages "
                      "(JWE) on verify_topics are delivered on their own topics "
                      "unverified (never under verified/)", self.broker.log())

    def test_jwe_delivered_untouched_never_verified(self):
        time.sleep(QUIET)       # the counters of earlier tests are published
        verified = self.sys_value("messages/verified")
        passed = self.sys_value("messages/encrypted_passed")
        refused = self.sys_value("messages/refused/encrypted")
        for topic, jwe, retain in (("sensors/pass/compact", encrypt("r1"), False),
                                   ("sensors/pass/json", encrypt("r2", True), True)):
            with self.subTest(topic=topic):
                self.gw.publish(topic, jwe, qos=1, retain=retain)
                got = self.sub.wait(lambda m, t=topic: m["topic"] == t)
                self.assertEqual(got[0]["payload"], jwe)
                self.assertEqual(got[0]["props"], {})
                fence = self.fence(topic)
                self.assertEqual(self.payloads(topic), [jwe, fence])
                self.assertEqual(self.payloads("verified/" + topic), [fence])
                self.assertEqual(self.payloads("rejected/" + topic), [])
        self.assertGreaterEqual(
            self.wait_sys("messages/encrypted_passed", lambda v: v >= passed + 2),
            passed + 2)
        # two fences verified, the JWEs not counted as verified
        self.assertEqual(self.wait_sys("messages/verified", lambda v: v >= verified + 2),
                         verified + 2)
        self.assertEqual(self.sys_value("messages/refused/encrypted"), refused)
        # the retained one is kept on its own topic only
        late = self.client("backend", ["sensors/pass/json", "verified/sensors/pass/json"],
                           retain_as_published=False)
        got = late.wait(lambda m: m["topic"] == "sensors/pass/json")
        self.assertTrue(b'"ciphertext"' in got[0]["payload"])
        time.sleep(QUIET)
        self.assertEqual(late.on("verified/sensors/pass/json"), [])

    def test_forwarded_jwe_still_refused(self):
        self.gw.publish("forwarded/sensors/pass/fwd", encrypt("via an edge"), qos=1)
        d = self.diagnostic("sensors/pass/fwd")
        self.assertEqual(d["reason"], "encrypted")
        self.assertTrue(d["forwarded"])
        fence = self.fence("sensors/pass/fwd")
        self.assertEqual(self.payloads("verified/sensors/pass/fwd"), [fence])
        self.assertEqual(self.payloads("sensors/pass/fwd"), [fence])


class BridgeTest(OwnBridgeMixin, EncryptedCase):
    """The broker's own outgoing bridge to a plain broker: Mosquitto asks no
    ACL check for what it brings in, so the MESSAGE callback refuses a JWE
    there (refuse, the default)."""

    bridge_topics = ("sensors/bridged/#",)

    @classmethod
    def remote_parent(cls):
        return BED.dir

    def test_bridged_jwe_refused_signed_one_verified(self):
        self.broker.wait_log("Connecting bridge")
        topic = "sensors/bridged/1"
        msg = signed("over the bridge", topic).decode()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:      # the bridge may take a moment
            self.remote.publish(topic, msg)
            if self.sub.on("verified/" + topic):
                break
            time.sleep(0.5)
        self.assertTrue(self.sub.on("verified/" + topic), "nothing came over the bridge")
        start = self.sys_value("messages/refused/encrypted")
        self.remote.publish(topic, encrypt("bridged secret").decode(), retain=True)
        # (copies of the signed message the loop sent twice are refused as
        # replay: wait for the encrypted one's diagnostic among them)
        self.sub.wait(lambda m: m["topic"] == "rejected/" + topic
                      and json.loads(m["payload"])["reason"] == "encrypted")
        self.broker.wait_log('message refused topic="%s" sender=- format=jwe '
                             'reason=encrypted' % topic)
        self.assertGreaterEqual(
            self.wait_sys("messages/refused/encrypted", lambda v: v >= start + 1), start + 1)
        time.sleep(QUIET)
        self.assertFalse([m for m in self.sub.on(topic) if m["payload"].count(b".") == 4])
        late = self.client("backend", [topic])
        time.sleep(QUIET)
        self.assertFalse([m for m in late.on(topic) if m["payload"].count(b".") == 4])


if __name__ == "__main__":
    unittest.main()
