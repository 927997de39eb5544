#!/usr/bin/python3
"""Plugin integration: verified messages forwarded from an edge broker to a
hub broker and verified again there (plugin_opt_forwarders).

The promise: a backend on the hub's verified/ tree trusts the device, not
the edge broker. The edge bridges its verified/ tree to the hub's
forwarded/ tree (MQTT v5, mutual TLS with the edge's own certificate, the
edge authenticated by DANE like a device); the hub verifies every copy
against DNS again and publishes it under its own verified/ only if it
passes. Nothing under forwarded/ reaches a subscriber as is.

Real parts: knotd serving a signed fake root, two /usr/sbin/mosquitto
brokers with the built plugin (the edge's bridge is Mosquitto's own),
paho-mqtt clients, messages signed by the dance CLI, clients killed with
SIGKILL so that their wills are sent.
"""

import os
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import OwnBridgeMixin, close_all, kill_when_up  # noqa: E402
from plugin_fixture import (Bed, Broker, MqttClient, PluginTestCase,  # noqa: E402
                            bound_client_id, ident, sign_message, tamper, tamper_cose,
                            wait_sys)
import rawmqtt  # noqa: E402

ORG = "acme.example"
EDGE1 = "edge1._broker.%s" % ORG
EDGE2 = "edge2._broker.%s" % ORG
WAIT = 20
QUIET = 2.0     # how long "nothing arrives" is watched for

BED = None
EDGE_FILES = {}


def setUpModule():
    global BED
    # 3 1 1 for CONNECT, 3 1 0 so that messages signed by the key verify
    BED = Bed("federation", ("sensor", "backend", "attacker", "cold"),
              records=((3, 1, 1), (3, 1, 0)), negative_ttl=2)
    # the edges: identities of their own, TLSA published like a device's
    for name in (EDGE1, EDGE2):
        cert, key = BED.pki.device(name)
        EDGE_FILES[name] = (cert, key)
        BED.tb.set_records(name, "TLSA", [BED.pki.tlsa(cert, 3, 1, 1)])
    BED.tb.publish()


def tearDownModule():
    if BED is not None:
        BED.close()


def files(label):
    return BED.pki.files(label)


def options(**extra):
    o = {
        "resolver": BED.tb.upstream,
        "trust_anchor": BED.tb.trust_anchor,
        "allowed_domains": ORG,
        "cafile": BED.pki.ca,
        "connect_budget_ms": "5000",
        "revalidate_interval": "0",
        "stats_interval": "1",
        "verify_topics": "devices/#",
        "rejected_prefix": "rejected/",
    }
    o.update(extra)
    return o


def sign(label, payload, topic, cose=False):
    """A message signed by label's key with iat and topic (a COSE_Sign1
    with cose)."""
    return sign_message(files(label)[1], ident(label), payload, topic, cose=cose)


def bridge_conf(hub):
    """The edge's bridge to hub, as mosquitto-dance(5) shows it."""
    cert, key = EDGE_FILES[EDGE1]
    return ("connection hub\n"
            "address 127.0.0.1:%d\n"
            "bridge_protocol_version mqttv50\n"
            "bridge_cafile %s\n"
            "bridge_certfile %s\n"
            "bridge_keyfile %s\n"
            "remote_clientid %s\n"
            "cleansession false\n"
            "topic # out 1 verified/ forwarded/\n"
            % (hub.port, BED.pki.ca, cert, key, EDGE1))


# A child that connects with a will and waits to be killed: SIGKILL drops
# the connection without DISCONNECT, so the broker sends the will.
WILL_CHILD = r"""
import ssl, sys
import paho.mqtt.client as mqtt
port, ca, cert, key, cid, topic, payload, retain = sys.argv[1:9]
c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
c.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
c.will_set(topic, payload.encode(), qos=1, retain=retain == "1")
c.on_connect = lambda *a: print("up", flush=True)
c.connect("127.0.0.1", int(port), keepalive=60)
c.loop_forever()
"""


def raw_publish_qos2_twice(port, cert, key, topic, payload, mid=9):
    """A QoS 2 PUBLISH and its resend with DUP before PUBREL, by hand (paho
    will not send that); returns the two PUBREC reason codes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(BED.pki.ca)
    ctx.load_cert_chain(cert, key)
    ctx.check_hostname = False
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
    try:
        s.sendall(rawmqtt.connect_v5(bound_client_id("raw-q2", cert)))
        kind, body = rawmqtt.read_packet(s)
        if kind != 0x20 or body[1] != 0:
            raise AssertionError("CONNACK %r" % (body,))
        t = topic.encode()
        body = struct.pack("!H", len(t)) + t + struct.pack("!H", mid) + b"\x00" + payload
        s.sendall(rawmqtt.packet(0x34, body))
        s.sendall(rawmqtt.packet(0x3C, body))                 # DUP
        codes = []
        for _ in range(2):
            kind, body = rawmqtt.read_packet(s)
            if kind != 0x50:
                raise AssertionError("expected PUBREC, got %r" % (kind,))
            codes.append(body[2] if len(body) > 2 else 0)
        s.sendall(rawmqtt.packet(0x62, struct.pack("!H", mid)))     # PUBREL
        rawmqtt.read_packet(s)
        s.sendall(rawmqtt.packet(0xE0, b"\x00\x00"))
        return codes
    finally:
        s.close()


class FederationCase(PluginTestCase):
    """A hub with forwarders edge1 and edge2, an edge bridged to it, a
    backend on the hub watching verified/, rejected/ and forwarded/, and a
    device on the edge."""

    hub_options = {}
    hub_extra = ""
    edge = None

    @classmethod
    def setUpClass(cls):
        base = os.path.join(BED.dir, cls.__name__)
        os.makedirs(os.path.join(base, "hub"))
        os.makedirs(os.path.join(base, "edge"))
        cls.clients = []
        opts = options(forwarders="%s,%s" % (EDGE1, EDGE2))
        opts.update(cls.hub_options)
        cls.hub = Broker(os.path.join(base, "hub"), BED.pki, opts,
                         extra_conf="max_queued_messages 100000\n" + cls.hub_extra)
        cls.broker = cls.hub
        cls.hub.start()
        cls.hub.wait_log("dance: forwarding ready")
        cls.edge = Broker(os.path.join(base, "edge"), BED.pki, options(),
                          extra_conf="max_queued_messages 100000\n" + bridge_conf(cls.hub))
        cls.edge.start()
        cls.edge.wait_log("dance: DANE client authentication ready")
        # the hub admitted the edge by DANE: the bridge is up
        cls.hub.wait_log("New client connected from 127.0.0.1", timeout=WAIT)
        cls.hub.wait_log("as %s (p5" % EDGE1, timeout=WAIT)
        cls.watch = cls.client(cls.hub, "backend",
                               ["verified/#", "rejected/#", "forwarded/#", "forwarded"])

    @classmethod
    def tearDownClass(cls):
        try:
            close_all(cls.clients)
        finally:
            try:
                if cls.edge is not None:
                    cls.edge.stop()
            finally:
                cls.hub.stop()

    def brokers_to_show(self):
        return [b for b in (self.hub, self.edge) if b is not None]

    @classmethod
    def client(cls, broker, label, subscribe=(), files_=None, **kw):
        cert, key = files_ or files(label)
        c = MqttClient(broker, cert, key, subscribe, label=label, timeout=WAIT, **kw)
        cls.clients.append(c)
        return c

    @classmethod
    def forwarder(cls, name, label):
        """A client on the hub with the forwarder identity name's
        certificate, as a second edge (or a compromised one) would be."""
        return cls.client(cls.hub, label, files_=EDGE_FILES[name])

    def hub_sys(self, tail, pred):
        return wait_sys(self.hub, *files("backend"), tail, pred)

    def on_watch(self, prefix, marker):
        marker = marker.encode()
        return self.watch.matching(lambda m: m["topic"].startswith(prefix)
                                   and marker in m["payload"])

    def assert_nothing_forwarded_as_is(self):
        got = self.watch.matching(lambda m: m["topic"].split("/")[0] == "forwarded")
        self.assertEqual(got, [], "a copy under forwarded/ reached a subscriber")

    def kill_with_will(self, cert, key, client_id, topic, payload, retain=False):
        up = kill_when_up([sys.executable, "-c", WILL_CHILD, str(self.hub.port),
                           BED.pki.ca, cert, key, bound_client_id(client_id, cert),
                           topic, payload, "1" if retain else "0"], timeout=WAIT)
        self.assertEqual(up, "up", "the will client did not connect")


class ForwardingTest(FederationCase):

    def test_device_on_edge_reaches_hub_backend_once(self):
        device = self.client(self.edge, "sensor")
        topic = "devices/%s/reading" % ident("sensor")
        msg = sign("sensor", "edge-to-hub-1", topic)
        device.publish(topic, msg, qos=1)
        got = self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        self.assertEqual(got[0]["payload"], msg)
        self.assertEqual(got[0]["props"].get("dance-sender"), [ident("sensor")])
        self.assertEqual(got[0]["props"].get("dance-alg"), ["ES256"])
        self.assertEqual(len(got[0]["props"].get("dance-key", [])), 1)
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)
        self.assert_nothing_forwarded_as_is()
        self.assertIn('forwarded message verified topic="%s"' % topic, self.hub.log())
        self.assertGreaterEqual(self.hub_sys("messages/forwarded/verified",
                                             lambda v: v >= 1), 1)
        # the hub admitted the edge's bridge by DANE, like a device
        self.assertIn('dance: accepted identity=%s client_id="%s"' % (EDGE1, EDGE1),
                      self.hub.log())
        self.assertIn("DANE-EE 3 1 1 matched", self.hub.log())
        # the edge's own outgoing bridge is no client that bypassed DANE
        self.assertNotIn("without having passed", self.edge.log())
        self.assertNotIn("without having passed", self.hub.log())

    def test_cose_message_verified_on_edge_and_again_on_hub(self):
        # binary COSE_Sign1 through the edge's verified/ tree, its bridge
        # and the hub's forwarded/ tree, verified at both ends
        device = self.client(self.edge, "sensor")
        edge_watch = self.client(self.edge, "backend", ["verified/#"])
        topic = "devices/%s/cose" % ident("sensor")
        msg = sign("sensor", "edge-to-hub-cose", topic, cose=True)
        device.publish(topic, msg, qos=1)
        self.assertEqual(edge_watch.wait(lambda m: m["topic"] == "verified/" + topic)[0]
                         ["payload"], msg)
        got = self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        self.assertEqual(got[0]["payload"], msg)
        self.assertEqual(got[0]["props"].get("dance-sender"), [ident("sensor")])
        self.hub.wait_log('forwarded message verified topic="%s" sender=%s format=cose'
                          % (topic, ident("sensor")))
        # a forwarder's altered COSE copy is refused by the hub
        fwd = self.forwarder(EDGE2, "cose-forger")
        forged = tamper_cose(sign("sensor", "cose-forged", topic + "2", cose=True),
                             b"cose-forged")
        fwd.publish("forwarded/%s2" % topic, forged, qos=1, must=False)
        diag = self.watch.wait(lambda m: m["topic"] == "rejected/%s2" % topic)[0]
        self.assertIn(b'"format":"cose","forwarded":true', diag["payload"])
        self.assertIn(b'"reason":"bad_signature"', diag["payload"])
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)
        self.assertEqual(self.watch.on("verified/%s2" % topic), [])
        self.assert_nothing_forwarded_as_is()

    def test_retained_device_message_retained_on_hub(self):
        # the edge's bridge subscribes with retain-as-published, so the
        # flag crosses; the hub's verified copy is retained, the forwarded
        # copy is not stored at all
        device = self.client(self.edge, "sensor")
        topic = "devices/%s/retained" % ident("sensor")
        msg = sign("sensor", "retained-1", topic)
        device.publish(topic, msg, qos=1, retain=True)
        self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        late = self.client(self.hub, "backend", ["verified/" + topic, "forwarded/#"])
        got = late.wait(lambda m: m["topic"] == "verified/" + topic)
        self.assertTrue(got[0]["retain"])
        self.assertEqual(got[0]["payload"], msg)
        time.sleep(1.0)
        self.assertEqual([m for m in late.messages if m["topic"].startswith("forwarded")],
                         [])

    def test_forged_copies_refused_and_forwarder_stays(self):
        fwd = self.forwarder(EDGE2, "forger")
        topic = "devices/%s/forged" % ident("sensor")
        good = sign("sensor", "forged-control", topic)
        before = self.hub_sys("messages/refused/bad_signature", lambda v: True)
        mismatch = self.hub_sys("messages/refused/topic_mismatch", lambda v: True)
        received = self.hub_sys("messages/forwarded/received", lambda v: True)
        start = self.hub.log_size()
        # altered payload; a valid copy moved to another topic; no JWS at all
        fwd.publish("forwarded/" + topic, tamper(good), qos=1, must=False)
        fwd.publish("forwarded/devices/%s/other" % ident("sensor"), good, qos=1,
                    must=False)
        fwd.publish("forwarded/" + topic, b"not a jws at all", qos=0)
        for bare in ("forwarded", "forwarded/"):            # no topic below
            fwd.publish(bare, good, qos=1, must=False)
        self.assertGreaterEqual(self.hub_sys("messages/refused/bad_signature",
                                             lambda v: v >= before + 1), before + 1)
        self.assertGreaterEqual(self.hub_sys("messages/refused/topic_mismatch",
                                             lambda v: v >= mismatch + 3), mismatch + 3)
        self.assertGreaterEqual(self.hub_sys("messages/forwarded/received",
                                             lambda v: v >= received + 5), received + 5)
        log = self.hub.wait_log("reason=malformed", start=start)
        self.assertIn('forwarded message refused topic="%s"' % topic, log)
        self.assertIn("reason=bad_signature", log)
        diag = self.watch.wait(lambda m: m["topic"] == "rejected/" + topic
                               and b'"forwarded":true' in m["payload"])
        self.assertTrue(diag)
        self.assertFalse(self.on_watch("verified/", "forged-control"))
        # a forwarder has no more right to the verified tree than anyone
        denied = self.hub_sys("reserved/denied/publish", lambda v: True)
        fwd.publish("verified/" + topic, good, qos=1, must=False)
        self.assertGreaterEqual(self.hub_sys("reserved/denied/publish",
                                             lambda v: v >= denied + 1), denied + 1)
        # one bad message does not cost the forwarder its connection
        time.sleep(1.0)
        self.assertFalse(fwd.disconnected.is_set(), "the forwarder was disconnected")
        fwd.publish("forwarded/" + topic, good, qos=1, must=False)
        got = self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        self.assertEqual(got[0]["payload"], good)
        self.assert_nothing_forwarded_as_is()

    def test_same_message_through_two_edges_delivered_once(self):
        device = self.client(self.edge, "sensor")
        second_edge = self.forwarder(EDGE2, "edge2")
        topic = "devices/%s/moved" % ident("sensor")
        msg = sign("sensor", "twice-1", topic)
        replays = self.hub_sys("messages/refused/replay", lambda v: True)
        device.publish(topic, msg, qos=1)                       # through edge1
        self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        second_edge.publish("forwarded/" + topic, msg, qos=1, must=False)
        self.assertGreaterEqual(self.hub_sys("messages/refused/replay",
                                             lambda v: v >= replays + 1), replays + 1)
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)

    def test_qos2_resend_by_forwarder_gives_one_copy(self):
        topic = "devices/%s/q2" % ident("sensor")
        msg = sign("sensor", "q2-fwd", topic)
        codes = raw_publish_qos2_twice(self.hub.port, *EDGE_FILES[EDGE2],
                                       "forwarded/" + topic, msg)
        self.assertEqual(codes, [0x87, 0x87])   # never stored as such
        self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        time.sleep(QUIET)
        self.assertEqual(len(self.watch.on("verified/" + topic)), 1)
        self.assert_nothing_forwarded_as_is()

    def test_qos2_resend_by_non_forwarder_denied(self):
        denied = self.hub_sys("reserved/denied/publish", lambda v: True)
        topic = "devices/%s/q2x" % ident("sensor")
        msg = sign("sensor", "q2-sneak", topic)
        codes = raw_publish_qos2_twice(self.hub.port, *files("attacker"),
                                       "forwarded/" + topic, msg)
        self.assertEqual(codes, [0x87, 0x87])
        self.assertGreaterEqual(self.hub_sys("reserved/denied/publish",
                                             lambda v: v >= denied + 2), denied + 2)
        time.sleep(QUIET)
        self.assertFalse(self.on_watch("verified/", "q2-sneak"))
        self.assert_nothing_forwarded_as_is()

    def test_non_forwarder_cannot_write_forwarded_tree(self):
        attacker = self.client(self.hub, "attacker")
        denied = self.hub_sys("reserved/denied/publish", lambda v: True)
        topic = "devices/%s/sneak" % ident("sensor")
        msg = sign("sensor", "sneak-1", topic)      # valid, but not theirs to forward
        for t in ("forwarded/" + topic, "forwarded"):
            for qos in (0, 1, 2):
                attacker.publish(t, msg, qos=qos, retain=True, must=False)
        self.assertGreaterEqual(self.hub_sys("reserved/denied/publish",
                                             lambda v: v >= denied + 6), denied + 6)
        time.sleep(QUIET)
        self.assertFalse(self.on_watch("verified/", "sneak-1") or
                         self.watch.matching(lambda m: m["payload"] == msg))
        self.assert_nothing_forwarded_as_is()
        # nothing was retained under forwarded/ either
        late = self.client(self.hub, "backend", ["forwarded/#", "forwarded"])
        time.sleep(1.0)
        self.assertEqual(late.messages, [])

    def test_wills_under_forwarded_tree_refused(self):
        wills = self.hub_sys("reserved/denied/will", lambda v: True)
        topic = "forwarded/devices/%s/will" % ident("sensor")
        msg = sign("sensor", "will-1", topic[len("forwarded/"):]).decode()
        # a non-forwarder, and a forwarder (its will would skip verification)
        self.kill_with_will(*files("attacker"), "will-a", topic, msg, retain=True)
        self.kill_with_will(*EDGE_FILES[EDGE2], "will-f", topic, msg, retain=True)
        self.assertGreaterEqual(self.hub_sys("reserved/denied/will",
                                             lambda v: v >= wills + 2), wills + 2)
        time.sleep(QUIET)
        self.assert_nothing_forwarded_as_is()
        self.assertFalse(self.on_watch("verified/", "will-1"))


class HubOwnBridgeTest(OwnBridgeMixin, FederationCase):
    """The hub's own outgoing bridge to a plain broker imports forwarded/:
    such copies have no DANE identity and are denied, never verified."""

    bridge_name = "plain"
    bridge_topics = ("forwarded/#", "bridged/#")
    bridge_conf_attr = "hub_extra"

    @classmethod
    def remote_parent(cls):
        return BED.dir

    def remote_pub(self, topic, payload):
        self.remote.publish(topic, payload)

    def test_copies_over_hubs_own_bridge_denied(self):
        watch = self.client(self.hub, "backend", ["bridged/#"])
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:      # the bridge may take a moment
            self.remote_pub("bridged/ok", "bridged-ok")
            if watch.matching(lambda m: m["payload"] == b"bridged-ok"):
                break
            time.sleep(0.5)
        self.assertTrue(watch.on("bridged/ok"), "nothing came over the bridge")
        denied = self.hub_sys("reserved/denied/bridge", lambda v: True)
        topic = "devices/%s/bridged" % ident("sensor")
        msg = sign("sensor", "over-own-bridge", topic).decode()
        self.remote_pub("forwarded/" + topic, msg)
        self.assertGreaterEqual(self.hub_sys("reserved/denied/bridge",
                                             lambda v: v >= denied + 1), denied + 1)
        time.sleep(QUIET)
        self.assertFalse(self.on_watch("verified/", "over-own-bridge"))
        self.assert_nothing_forwarded_as_is()
        self.assertNotIn("without having passed", self.hub.log())


class HubWithAclFileTest(FederationCase):
    """The hub has an acl_file that grants nobody forwarded/: the tree is
    the plugin's, so the forwarder's copies still reach verification."""

    @classmethod
    def setUpClass(cls):
        acl = os.path.join(BED.dir, "hub.acl")
        with open(acl, "w") as f:
            f.write("pattern read verified/#\npattern read rejected/#\n"
                    "pattern read $SYS/#\n")
        os.chmod(acl, 0o644)
        cls.hub_extra = "acl_file %s\n" % acl
        super().setUpClass()

    def test_forwarded_copy_verified_despite_acl_file(self):
        device = self.client(self.edge, "sensor")
        topic = "devices/%s/acl" % ident("sensor")
        msg = sign("sensor", "acl-1", topic)
        device.publish(topic, msg, qos=1)
        got = self.watch.wait(lambda m: m["topic"] == "verified/" + topic)
        self.assertEqual(got[0]["payload"], msg)
        self.assertIn("outside verified/ and rejected/ and forwarded/ are left to acl_file",
                      self.hub.log())


class HubWithoutDnsTest(FederationCase):
    """The hub's DNS goes away after the edge connected: forwarded copies
    of a sender the hub has not looked up wait for the lookup and are
    refused as lookup_failure; nothing is published unverified."""

    hub_options = {"lookup_timeout_ms": "1500", "failure_ttl": "3"}

    def test_forwarded_copy_refused_as_lookup_failure(self):
        fwd = self.forwarder(EDGE2, "fwd-nodns")
        topic = "devices/%s/nodns" % ident("cold")
        msg = sign("cold", "nodns-1", topic)
        failures = self.hub_sys("messages/refused/lookup_failure", lambda v: True)
        BED.tb.stop_server()
        try:
            fwd.publish("forwarded/" + topic, msg, qos=1, must=False)
            self.hub.wait_log('forwarded message refused topic="%s"' % topic,
                              timeout=WAIT)
        finally:
            BED.tb.start_server()
        self.assertIn("reason=lookup_failure", self.hub.log())
        self.assertGreaterEqual(self.hub_sys("messages/refused/lookup_failure",
                                             lambda v: v >= failures + 1), failures + 1)
        time.sleep(QUIET)
        self.assertFalse(self.on_watch("verified/", "nodns-1"))
        self.assert_nothing_forwarded_as_is()


if __name__ == "__main__":
    unittest.main()
