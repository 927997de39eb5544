#!/usr/bin/python3
"""Plugin integration: one authenticated client floods the broker with
signed messages from made-up senders; lookups stay bounded per client and
another client's cold sender still gets through.

Real parts: knotd serving a signed fake root (each made-up name is answered
with a secure NXDOMAIN), /usr/sbin/mosquitto with the built plugin, paho
clients with DANE-checked certificates, messages signed by `dance sign`.

The flooder ("flooder") signs messages as hundreds of distinct names under
the allowed domain that do not exist. With sender_lookups_per_client RATE 1,
BURST 20, the plugin may start at most 20 + 1 per second of lookups for it;
the rest are refused as rate_limited (no DNS query). Meanwhile a legitimate
client ("gateway") publishes a message of a cold sender whose TLSA record
exists: it is verified. Reconnecting under a new client id does not give the
flooder a fresh budget (budgets follow the authenticated identity).
"""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import (Bed, Broker, MqttClient, PluginTestCase,  # noqa: E402
                            ident, sign_message)
from plugin_fixture import sys_value as fixture_sys_value  # noqa: E402
from plugin_fixture import wait_sys as fixture_wait_sys  # noqa: E402

ORG = "acme.example"
WAIT = 30
RATE, BURST = 1, 20
FLOOD = 200             # made-up sender names in the first wave
SECOND = 30             # and after reconnecting

WD = None
TB = None
PKI = None
BED = None


def setUpModule():
    global WD, TB, PKI, BED
    BED = Bed("flood", ("flooder", "gateway", "backend"), negative_ttl=300)
    WD, TB, PKI = BED.dir, BED.tb, BED.pki


def tearDownModule():
    if BED is not None:
        BED.close()


def client_files(label):
    return PKI.files(label)


def sign(key, name, payload, topic):
    """A signed message as `dance sign` makes it (iat and topic bound)."""
    return sign_message(key, name, payload, topic)


class FloodTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        d = os.path.join(WD, cls.__name__)
        os.makedirs(d)
        opts = {
            "resolver": TB.upstream,
            "trust_anchor": TB.trust_anchor,
            "allowed_domains": ORG,
            "cafile": PKI.ca,
            "connect_budget_ms": "5000",
            "revalidate_interval": "0",
            "stats_interval": "1",
            "verify_topics": "sensors/#",
            "rejected_prefix": "rejected/",
            "sender_lookups_per_client": "%d/%d" % (RATE, BURST),
        }
        cls.broker = Broker(d, PKI, opts, extra_conf="max_queued_messages 100000").start()
        cls.broker.wait_log("dance: message flood bounds: verify_queue_size=10000 "
                            "verify_queue_bytes=67108864 sender_lookups_per_client=1/20")
        # The legitimate sender: a real identity whose key is in DNS, not
        # yet looked up by anyone (cold).
        cls.legit_name = ident("legit")
        cls.legit_cert, cls.legit_key = PKI.device(cls.legit_name)
        TB.set_records(cls.legit_name, "TLSA", [PKI.tlsa(cls.legit_cert, 3, 1, 0)], ttl=300)
        TB.publish()
        cls.flood_key = client_files("flooder")[1]
        # Signed in advance: the flood itself should be as fast as MQTT.
        cls.wave1 = [("sensors/f/%d" % i, ident("ghost%d" % i)) for i in range(FLOOD)]
        cls.wave2 = [("sensors/f2/%d" % i, ident("phantom%d" % i)) for i in range(SECOND)]
        cls.signed = {t: sign(cls.flood_key, n, "x", t) for t, n in cls.wave1 + cls.wave2}

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def client(self, label, subscribe=(), client_id=None):
        cert, key = client_files(label)
        c = MqttClient(self.broker, cert, key, subscribe, label=label, client_id=client_id,
                       timeout=WAIT)
        self.addCleanup(c.close)
        return c

    def sys(self, tail):
        return fixture_sys_value(self.broker, *client_files("backend"), tail)

    def wait_sys(self, tail, pred):
        return fixture_wait_sys(self.broker, *client_files("backend"), tail, pred, WAIT)

    @staticmethod
    def reason(m):
        return json.loads(m["payload"])["reason"]

    def test_flood_is_bounded_and_a_cold_sender_gets_through(self):
        sub = self.client("backend", ["verified/#", "rejected/#"])
        flooder = self.client("flooder", client_id="flooder-1")
        gateway = self.client("gateway")
        # The counters are published every stats_interval: let the three
        # clients' own CONNECT lookups reach them before taking the base.
        time.sleep(2.5)
        lookups0 = self.sys("messages/lookups")
        queries0 = self.sys("dns/queries")

        # Wave 1, with the legitimate cold sender's message in the middle.
        legit_topic = "sensors/legit/temp"
        legit_msg = sign(self.legit_key, self.legit_name, '{"temp":20}', legit_topic)
        start = time.monotonic()
        half = threading.Event()

        def flood():
            for i, (topic, _) in enumerate(self.wave1):
                flooder.publish(topic, self.signed[topic], qos=0)
                if i == FLOOD // 2:
                    half.set()
            flooder.publish("sensors/f/end", b"not a jws", qos=1)     # flush

        t = threading.Thread(target=flood)
        t.start()
        self.assertTrue(half.wait(WAIT))
        gateway.publish(legit_topic, legit_msg, qos=1)
        t.join(WAIT)
        self.assertFalse(t.is_alive())

        # The legitimate sender is verified (its client has its own budget).
        copy = sub.wait(lambda m: m["topic"] == "verified/" + legit_topic)[0]
        self.assertEqual(copy["payload"], legit_msg)
        self.assertEqual(copy["props"]["dance-sender"], [self.legit_name])

        # Every flood message gets a verdict: no_record for those looked up,
        # rate_limited for the rest.
        flood_topics = set("rejected/" + t for t, _ in self.wave1)
        verdicts = sub.wait(lambda m: m["topic"] in flood_topics, count=FLOOD)
        elapsed = time.monotonic() - start
        reasons = [self.reason(m) for m in verdicts]
        limited = reasons.count("rate_limited")
        looked_up = reasons.count("no_record")
        self.assertEqual(limited + looked_up, FLOOD, sorted(set(reasons)))
        # At most the burst plus the rate over the time it took (+1 for the
        # refill granularity) cost a lookup.
        bound = BURST + RATE * int(elapsed + 1) + 1
        self.assertLessEqual(looked_up, bound)
        self.assertGreaterEqual(looked_up, BURST)       # the burst was usable
        self.assertGreaterEqual(limited, FLOOD - bound)
        sample = next(m for m in verdicts if self.reason(m) == "rate_limited")
        detail = json.loads(sample["payload"])["detail"]
        self.assertIn("identity flooder._device.acme.example", detail)
        self.assertIn("plugin_opt_sender_lookups_per_client 1/20", detail)
        self.assertFalse(sub.matching(lambda m: m["topic"].startswith("verified/sensors/f/")))

        # The counters agree: lookups = flood lookups + the legitimate one;
        # refusals counted by reason.
        self.assertEqual(self.wait_sys("messages/lookups",
                                       lambda v: v >= lookups0 + looked_up + 1),
                         lookups0 + looked_up + 1)
        self.assertEqual(self.wait_sys("messages/refused/rate_limited",
                                       lambda v: v >= limited), limited)
        self.assertLessEqual(self.sys("dns/queries") - queries0, looked_up + 1)
        self.assertIn("reason=rate_limited", self.broker.log())

        # Reconnecting under another client id does not refill the budget:
        # the identity is what is charged. A fresh budget would allow BURST.
        flooder.close()
        again = self.client("flooder", client_id="flooder-2")
        start2 = time.monotonic()
        for topic, _ in self.wave2:
            again.publish(topic, self.signed[topic], qos=0)
        again.publish("sensors/f2/end", b"not a jws", qos=1)
        topics2 = set("rejected/" + t for t, _ in self.wave2)
        verdicts2 = sub.wait(lambda m: m["topic"] in topics2, count=SECOND)
        since = time.monotonic() - start
        reasons2 = [self.reason(m) for m in verdicts2]
        self.assertEqual(reasons2.count("rate_limited") + reasons2.count("no_record"),
                         SECOND)
        # Only what refilled since wave 1 began (the whole budget is spent).
        self.assertLessEqual(looked_up + reasons2.count("no_record"),
                             BURST + RATE * int(since + 1) + 1)
        self.assertLess(reasons2.count("no_record"), BURST,
                        "took %.1f s" % (time.monotonic() - start2))


if __name__ == "__main__":
    unittest.main()
