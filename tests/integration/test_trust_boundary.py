#!/usr/bin/python3
"""Plugin integration: the trust boundary, tried as an attacker with an
ordinary DANE-authenticated client and the plugin's default options.

The promise: a backend subscribed to verified/# trusts the device, not the
broker and not the other clients. Each test tries one path into the
reserved trees (or around the plugin's authentication) and asserts that a
subscriber on verified/# and rejected/# - connected before, and one
connected after to catch retained messages - receives nothing forged, with
a positive control that a valid message still arrives exactly once.

Real parts: knotd serving a signed fake root, /usr/sbin/mosquitto with the
built plugin, paho-mqtt clients, raw MQTT over TLS where paho will not send
what an attacker would (a QoS 2 PUBLISH resent with DUP), clients killed
with SIGKILL so that their wills are sent, a second plain broker bridged
in, and a stand-in second plugin that admits clients without BASIC_AUTH.
"""

import os
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import OwnBridgeMixin, close_all, kill_when_up  # noqa: E402
from plugin_fixture import (BUILD_DIR, DANCE, Bed, Broker, MqttClient,  # noqa: E402
                            PluginTestCase, bound_client_id, ident, run, sign_message)
from plugin_fixture import sys_value as fixture_sys_value  # noqa: E402
from plugin_fixture import wait_sys as fixture_wait_sys  # noqa: E402
import rawmqtt  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

ORG = "acme.example"
WAIT = 20
QUIET = 2.0     # how long "nothing arrives" is watched for

WD = None
TB = None
PKI = None
BED = None


def setUpModule():
    global WD, TB, PKI, BED
    # 3 1 1 for CONNECT, 3 1 0 so that messages signed by the key verify
    BED = Bed("trust", ("attacker", "backend", "victim", "sensor"),
              records=((3, 1, 1), (3, 1, 0)), negative_ttl=2)
    WD, TB, PKI = BED.dir, BED.tb, BED.pki
    # a CA-issued certificate with no TLSA record anywhere
    PKI.device(ident("unlisted"))


def tearDownModule():
    if BED is not None:
        BED.close()


def files(label):
    return PKI.files(label)


def base_options():
    return {
        "resolver": TB.upstream,
        "trust_anchor": TB.trust_anchor,
        "allowed_domains": ORG,
        "cafile": PKI.ca,
        "connect_budget_ms": "5000",
        "revalidate_interval": "0",
        "stats_interval": "1",
        "verify_topics": "devices/#",
        "rejected_prefix": "rejected/",
    }


def sign(label, payload, topic):
    """A message signed by label's key with iat and, when given, topic."""
    return sign_message(files(label)[1], ident(label), payload, topic)


# A child that connects with a will and waits to be killed: SIGKILL drops
# the connection without DISCONNECT, so the broker sends the will.
WILL_CHILD = r"""
import ssl, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
port, ca, cert, key, cid, topic, retain, delay = sys.argv[1:9]
c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
c.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
wp = Properties(PacketTypes.WILLMESSAGE)
wp.UserProperty = [("dance-sender", "victim._device.acme.example"),
                   ("dance-alg", "ES256")]
if int(delay):
    wp.WillDelayInterval = int(delay)
c.will_set(topic, b"forged will", qos=1, retain=retain == "1", properties=wp)
cp = Properties(PacketTypes.CONNECT)
cp.SessionExpiryInterval = int(delay) + 5 if int(delay) else 0
c.on_connect = lambda *a: print("up", flush=True)
c.connect("127.0.0.1", int(port), keepalive=60, clean_start=True, properties=cp)
c.loop_forever()
"""


class RawMqtt:
    """MQTT v5 over TLS by hand, for packets paho will not send (a QoS 2
    PUBLISH resent with DUP before PUBREL)."""

    def __init__(self, port, cert, key, client_id):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(PKI.ca)
        ctx.load_cert_chain(cert, key)
        ctx.check_hostname = False
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.s = ctx.wrap_socket(raw)
        self.s.sendall(rawmqtt.connect_v5(client_id))
        kind, body = self.read()
        if kind != 0x20 or body[1] != 0:
            raise AssertionError("CONNACK %r" % body)

    def send(self, first, body):
        self.s.sendall(rawmqtt.packet(first, body))

    def read(self):
        kind, body = rawmqtt.read_packet(self.s)
        if kind is None:
            raise AssertionError("connection closed")
        return kind, body

    def publish(self, topic, payload, qos, mid, dup=False, retain=False):
        t = topic.encode()
        body = struct.pack("!H", len(t)) + t
        if qos:
            body += struct.pack("!H", mid)
        body += b"\x00" + payload                       # no properties
        self.send(0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0), body)

    def close(self):
        try:
            self.send(0xE0, b"\x00\x00")
        finally:
            self.s.close()


class BoundaryCase(PluginTestCase):
    """One broker with the plugin at its default options (plus test bed
    settings) for the class; a watcher on verified/# and rejected/#."""

    extra_conf = "max_queued_messages 100000"
    options = {}

    @classmethod
    def setUpClass(cls):
        d = os.path.join(WD, cls.__name__)
        os.makedirs(d)
        opts = base_options()
        opts.update(cls.options)
        cls.broker = Broker(d, PKI, opts, extra_conf=cls.extra_conf).start()
        cls.broker.wait_log("dance: DANE client authentication ready")
        cls.clients = []
        cls.watch = cls.client("backend", ["verified/#", "verified", "rejected/#",
                                           "rejected", "devices/#", "bridged/#"])

    @classmethod
    def tearDownClass(cls):
        try:
            close_all(cls.clients)
        finally:
            cls.broker.stop()

    @classmethod
    def client(cls, label, subscribe=(), **kw):
        cert, key = files(label)
        c = MqttClient(cls.broker, cert, key, subscribe, label=label, timeout=WAIT, **kw)
        cls.clients.append(c)
        return c

    def reserved(self, c):
        return c.matching(lambda m: m["topic"].split("/")[0] in ("verified", "rejected"))

    def assert_nothing_reserved(self, marker, late=True):
        """No message carrying marker under the reserved trees, live or
        (with late) retained for a subscriber that comes later."""
        time.sleep(QUIET)
        marker = marker.encode()
        got = [m for m in self.reserved(self.watch) if marker in m["payload"]]
        self.assertEqual(got, [], "forged message reached a reserved tree")
        if late:
            later = self.client("backend", ["verified/#", "verified", "rejected/#",
                                             "rejected"])
            time.sleep(1.0)
            got = [m for m in self.reserved(later) if marker in m["payload"]]
            later.close()
            self.assertEqual(got, [], "forged message retained in a reserved tree")

    def sys(self, tail):
        return fixture_sys_value(self.broker, *files("backend"), tail)

    def wait_sys(self, tail, pred):
        return fixture_wait_sys(self.broker, *files("backend"), tail, pred, timeout=WAIT)

    def kill_with_will(self, topic, retain=False, delay=0, label="attacker",
                       client_id="will"):
        cert, key = files(label)
        cid = bound_client_id(client_id, cert)
        up = kill_when_up([sys.executable, "-c", WILL_CHILD, str(self.broker.port),
                           PKI.ca, cert, key, cid, topic, "1" if retain else "0",
                           str(delay)], timeout=WAIT)
        self.assertEqual(up, "up", "the will client did not connect")


class ReservedTreesTest(BoundaryCase):

    def test_positive_control_one_verified_copy(self):
        gw = self.client("attacker")
        topic = "devices/%s/reading" % ident("sensor")
        msg = sign("sensor", "control-1", topic)
        gw.publish(topic, msg, qos=1)
        got = self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["props"].get("dance-sender"), [ident("sensor")])
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)

    def test_publish_into_reserved_trees_any_qos_retained(self):
        gw = self.client("attacker")
        start = self.sys("reserved/denied/publish")
        topics = ["verified/devices/x", "rejected/devices/x", "verified", "rejected",
                  "verified/", "verified//x"]
        for t in topics:
            for qos in (0, 1, 2):
                gw.publish(t, b"forged-pub %s %d" % (t.encode(), qos), qos=qos,
                           retain=True, must=False)
        self.assert_nothing_reserved("forged-pub")
        self.assertGreaterEqual(
            self.wait_sys("reserved/denied/publish", lambda v: v >= start + 18), start + 18)

    def test_qos1_and_qos2_publish_are_told_not_authorized(self):
        cert, key = files("attacker")
        raw = RawMqtt(self.broker.port, cert, key, bound_client_id("nack", cert))
        try:
            raw.publish("verified", b"forged-nack", qos=1, mid=3)
            kind, body = raw.read()
            self.assertEqual((kind, body[:2], body[2]), (0x40, b"\x00\x03", 0x87))
            raw.publish("verified/devices/x", b"forged-nack", qos=2, mid=4)
            kind, body = raw.read()
            self.assertEqual((kind, body[:2], body[2]), (0x50, b"\x00\x04", 0x87))
        finally:
            raw.close()

    def test_wills_are_refused_on_every_path(self):
        start = self.sys("reserved/denied/will")
        # unexpected disconnect, retained and not, both trees and bare levels
        cases = [("verified/devices/%s/reading" % ident("victim"), True),
                 ("verified/devices/x", False), ("rejected/devices/x", True),
                 ("verified", True), ("rejected", False)]
        for i, (t, retain) in enumerate(cases):
            self.kill_with_will(t, retain=retain, client_id="will-%d" % i)
        # a delayed will (sent 1 s after the drop)
        self.kill_with_will("verified/devices/delayed", retain=True, delay=1,
                            client_id="will-delay")
        time.sleep(2.5)
        self.assert_nothing_reserved("forged will")
        self.assertGreaterEqual(
            self.wait_sys("reserved/denied/will", lambda v: v >= start + 6), start + 6)

    def test_will_at_session_takeover(self):
        # The same device connects again with the same client id: Mosquitto
        # sends the old connection's will at the takeover.
        start = self.sys("reserved/denied/will")
        cert, key = files("attacker")
        cid = bound_client_id("takeover-will", cert)
        old = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        old.tls_set(ca_certs=PKI.ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
        old.will_set("verified/devices/takeover", b"forged will takeover", qos=1, retain=True)
        old.connect("127.0.0.1", self.broker.port, clean_start=True)
        old.loop_start()
        time.sleep(1)
        new = self.client("attacker", client_id="takeover-will")
        old.loop_stop()
        new.close()
        self.assert_nothing_reserved("forged will takeover")
        self.assertGreaterEqual(
            self.wait_sys("reserved/denied/will", lambda v: v >= start + 1), start + 1)

    def test_will_on_normal_topic_still_sent(self):
        # control: wills outside the reserved trees are not affected
        self.kill_with_will("devices/%s/status" % ident("attacker"), client_id="will-ok")
        got = self.watch.wait(lambda m: m["payload"] == b"forged will")
        self.assertEqual(got[0]["topic"], "devices/%s/status" % ident("attacker"))


class OneCopyTest(BoundaryCase):

    def test_qos2_resend_with_dup_gives_one_copy(self):
        cert, key = files("attacker")
        topic = "devices/%s/q2" % ident("sensor")
        msg = sign("sensor", "qos2-once", topic)
        raw = RawMqtt(self.broker.port, cert, key, bound_client_id("raw-q2", cert))
        try:
            raw.publish(topic, msg, qos=2, mid=7)
            raw.publish(topic, msg, qos=2, mid=7, dup=True)
            kinds = [raw.read()[0], raw.read()[0]]
            self.assertEqual(kinds, [0x50, 0x50])               # two PUBRECs
            raw.send(0x62, struct.pack("!H", 7))                 # PUBREL
            self.assertEqual(raw.read()[0], 0x70)                # PUBCOMP
        finally:
            raw.close()
        self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)

    def test_qos1_dup_and_replay_give_one_copy(self):
        gw = self.client("attacker")
        topic = "devices/%s/q1" % ident("sensor")
        msg = sign("sensor", "qos1-once", topic)
        cert, key = files("attacker")
        raw = RawMqtt(self.broker.port, cert, key, bound_client_id("raw-q1", cert))
        try:
            raw.publish(topic, msg, qos=1, mid=9)
            raw.publish(topic, msg, qos=1, mid=9, dup=True)
            raw.read()
            raw.read()
        finally:
            raw.close()
        gw.publish(topic, msg, qos=0)               # a later replay
        gw.publish(topic, msg, qos=1)
        self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)

    def test_captured_message_on_another_topic_is_refused(self):
        gw = self.client("attacker")
        topic = "devices/%s/a" % ident("sensor")
        other = "devices/%s/b" % ident("sensor")
        unbound = "devices/%s/c" % ident("sensor")
        gw.publish(other, sign("sensor", "moved", topic), qos=1)
        # without a topic header a message would fit any topic: refused by default
        gw.publish(unbound, sign("sensor", "no topic header", None), qos=1)
        for t in (other, unbound):
            d = self.watch.wait(lambda m, t=t: m["topic"] == "rejected/" + t)[0]
            self.assertIn(b"topic_mismatch", d["payload"])
        time.sleep(QUIET)
        self.assertEqual(self.watch.on("verified/" + other), [])
        self.assertEqual(self.watch.on("verified/" + unbound), [])

    def test_token_published_as_message_is_refused(self):
        gw = self.client("attacker")
        cert, key = files("sensor")
        token = run([DANCE, "token", "--key", key, "--name", ident("sensor"),
                     "--aud", "broker.acme.example"]).strip().encode()
        topic = "devices/%s/token" % ident("sensor")
        gw.publish(topic, token, qos=1)
        self.watch.wait(lambda m: m["topic"] == "rejected/" + topic)
        time.sleep(QUIET)
        self.assertEqual(self.watch.on("verified/" + topic), [])


class ClientIdTest(BoundaryCase):

    def test_device_cannot_take_over_another_devices_session(self):
        victim = self.client("victim", client_id=ident("victim"))
        cert, key = files("attacker")
        from plugin_fixture import connect
        res = connect(self.broker, cert, key, client_id=ident("victim"), bind=False)
        self.assertFalse(res.accepted, res)
        self.broker.wait_log("reason=client_id")
        time.sleep(1)
        self.assertFalse(victim.disconnected.is_set(), "the victim was disconnected")
        # and a suffix of another identity is no better
        res = connect(self.broker, cert, key, client_id=ident("victim") + "/x", bind=False)
        self.assertFalse(res.accepted, res)


class BypassTest(PluginTestCase):
    """A second plugin that admits clients by MQTT v5 extended
    authentication makes Mosquitto skip BASIC_AUTH: the DANE plugin must
    notice such a client at its first action and disconnect it."""

    broker = None

    @classmethod
    def setUpClass(cls):
        d = os.path.join(WD, cls.__name__)
        os.makedirs(d)
        extauth = os.path.join(BUILD_DIR, "tests", "dance_test_extauth.so")
        # With a plugin after it the DANE plugin defers ACLs outside its
        # trees; the stand-in checks none, so an acl_file decides them.
        acl = os.path.join(d, "acl")
        with open(acl, "w") as f:
            f.write("pattern readwrite #\npattern read $SYS/#\n")
        os.chmod(acl, 0o644)
        cls.broker = Broker(d, PKI, base_options(),
                            extra_conf="acl_file %s\nplugin %s" % (acl, extauth)).start()
        cls.broker.wait_log("dance: DANE client authentication ready")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_client_admitted_elsewhere_is_disconnected(self):
        cert, key = files("unlisted")       # CA-issued, no TLSA record
        c = mqtt.Client(client_id="sneaky", protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=PKI.ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
        props = Properties(PacketTypes.CONNECT)
        props.AuthenticationMethod = "bypass-test"
        state = {}
        c.on_connect = lambda cl, u, f, rc, p=None: state.setdefault("rc", rc)
        c.on_disconnect = lambda cl, u, rc, p=None: state.setdefault("disc", rc)
        start = self.broker.log_size()
        c.connect("127.0.0.1", self.broker.port, properties=props)
        c.loop_start()
        try:
            deadline = time.monotonic() + WAIT
            while "rc" not in state and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(getattr(state.get("rc"), "value", state.get("rc")), 0,
                             "the stand-in plugin did not admit the client")
            c.subscribe("#")
            c.publish("verified/devices/sneaky", b"forged bypass", qos=1)
            while "disc" not in state and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("disc", state, "the bypassing client stayed connected")
        finally:
            c.loop_stop()
        self.broker.wait_log("without having passed the DANE plugin's authentication",
                             start=start)
        backend = files("backend")
        self.assertGreaterEqual(fixture_sys_value(self.broker, *backend, "auth/bypass"), 1)


class BridgeTest(OwnBridgeMixin, BoundaryCase):
    """The broker's own outgoing bridge to a plain broker: its messages are
    not a bypass, and it cannot import anything into the reserved trees."""

    @classmethod
    def remote_parent(cls):
        return WD

    def remote_pub(self, topic, payload, retain=False):
        self.remote.publish(topic, payload, retain)

    def test_bridge_cannot_write_reserved_trees_and_is_no_bypass(self):
        self.broker.wait_log("Connecting bridge")
        start = self.broker.log_size()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:      # the bridge may take a moment
            self.remote_pub("bridged/ok", "bridged-ok")
            if self.watch.matching(lambda m: m["payload"] == b"bridged-ok"):
                break
            time.sleep(0.5)
        self.assertTrue(self.watch.matching(lambda m: m["topic"] == "bridged/ok"),
                        "nothing came over the bridge")
        for t in ("verified/devices/bridged", "rejected/x", "verified"):
            self.remote_pub(t, "forged bridge", retain=True)
        self.assert_nothing_reserved("forged bridge")
        self.assertNotIn("without having passed", self.broker.log()[start:])
        self.assertGreaterEqual(self.wait_sys("reserved/denied/bridge", lambda v: v >= 3), 3)


class ConfigurationTest(PluginTestCase):
    """Settings that would let clients skip DANE or write into the reserved
    trees stop the broker at start, with the line to change."""

    brokers = []

    def brokers_to_show(self):
        return self.brokers[-1:]

    def start_expect_refusal(self, extra, needle, files_=None, as_mosquitto=False):
        d = tempfile.mkdtemp(prefix="conf-", dir=WD)
        os.chmod(d, 0o755)
        for name, (text, mode) in (files_ or {}).items():
            path = os.path.join(d, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
        b = Broker(d, PKI, base_options(), extra_conf=extra.replace("@DIR@", d))
        self.brokers.append(b)
        if as_mosquitto:
            # Debian's service: started as root, Mosquitto drops to its user
            # before loading plugins.
            b.write_conf()
            with open(b.conf) as f:
                text = f.read().replace("user root\n", "user mosquitto\n")
            with open(b.conf, "w") as f:
                f.write(text)
            b.write_conf = lambda: None
            os.chmod(d, 0o777)
        b.start(wait=False)
        self.addCleanup(b.stop)         # a broker that kept running is stopped
        rc = b.wait_exit()
        self.assertIsNotNone(rc, "the broker kept running")
        self.assertNotEqual(rc, 0)
        self.assertIn(needle, b.all_output())

    def test_bypassing_spellings_in_the_main_file(self):
        for key in ("use_identity_as_username", "use_subject_as_username"):
            for value in ("true", "1"):
                with self.subTest(key=key, value=value):
                    self.start_expect_refusal("%s %s" % (key, value),
                                              "sets %s true" % key)

    def test_bypassing_spellings_in_include_dir(self):
        for key in ("use_identity_as_username", "use_subject_as_username"):
            for value in ("true", "1"):
                with self.subTest(key=key, value=value):
                    self.start_expect_refusal(
                        "include_dir @DIR@/conf.d", "sets %s true" % key,
                        {"conf.d/tls.conf": ("%s %s\n" % (key, value), 0o644)})

    @unittest.skipUnless(os.geteuid() == 0, "needs root (as Debian's service)")
    def test_root_only_include_file_stops_the_broker(self):
        for key in ("use_identity_as_username", "use_subject_as_username"):
            for value in ("true", "1"):
                with self.subTest(key=key, value=value):
                    self.start_expect_refusal(
                        "include_dir @DIR@/conf.d", "cannot check the broker configuration",
                        {"conf.d/secret.conf": ("%s %s\n" % (key, value), 0o600)},
                        as_mosquitto=True)

    def test_plugin_loaded_before_ours(self):
        dynsec = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
        extauth = os.path.join(BUILD_DIR, "tests", "dance_test_extauth.so")
        # another plugin line just above ours
        d = tempfile.mkdtemp(prefix="conf-", dir=WD)
        os.chmod(d, 0o755)
        b = Broker(d, PKI, base_options())
        self.brokers.append(b)
        b.write_conf()
        with open(b.conf) as f:
            text = f.read()
        other = extauth if os.path.exists(extauth) else dynsec
        text = text.replace("plugin ", "plugin %s\nplugin " % other, 1)
        with open(b.conf, "w") as f:
            f.write(text)
        b.write_conf = lambda: None
        b.start(wait=False)
        self.addCleanup(b.stop)
        rc = b.wait_exit()
        self.assertIsNotNone(rc, "the broker kept running")
        self.assertIn("before this plugin", b.all_output())

    def test_acl_file_cannot_open_the_reserved_trees(self):
        d = tempfile.mkdtemp(prefix="acl-", dir=WD)
        os.chmod(d, 0o755)
        acl = os.path.join(d, "acl")
        with open(acl, "w") as f:
            f.write("pattern readwrite #\npattern write verified/#\n"
                    "user %s\ntopic write verified/#\ntopic write verified\n" % ident("attacker"))
        os.chmod(acl, 0o644)
        b = Broker(d, PKI, base_options(), extra_conf="acl_file %s" % acl).start()
        self.brokers.append(b)
        try:
            b.wait_log("dance: DANE client authentication ready")
            cert, key = files("backend")
            watch = MqttClient(b, cert, key, ["verified/#", "devices/#"], label="w",
                               timeout=WAIT)
            acert, akey = files("attacker")
            atk = MqttClient(b, acert, akey, label="a", timeout=WAIT)
            atk.publish("verified/devices/x", b"forged acl", qos=1, must=False)
            atk.publish("devices/%s/ok" % ident("attacker"), b"acl-ok", qos=1)
            watch.wait(lambda m: m["payload"] == b"acl-ok")     # acl_file still decides
            time.sleep(QUIET)
            self.assertEqual(watch.matching(lambda m: m["payload"] == b"forged acl"), [])
            atk.close()
            watch.close()
        finally:
            b.stop()


if __name__ == "__main__":
    unittest.main()
