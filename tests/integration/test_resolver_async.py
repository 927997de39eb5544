#!/usr/bin/python3
"""Integration tests of the asynchronous resolver (dance_resolver_async,
lib/resolver_async.c) against a real signed tree: many lookups in flight on
one event loop, with mixed outcomes, each answer delivered once to its
requester, the same outcomes and reasons as the synchronous lookup, the
in-flight bound, failover past a dead upstream with many lookups at once,
and stop with lookups in flight.

Real parts only: knotd serving zones signed at test time
(tests/testbed/dnstestbed.py), tests/integration/dnsproxy.py in front of it
to drop chosen queries (timeouts), and tests/integration/resolver_async_probe.c
driving the library.

Run: DANCE_BUILD_DIR=build DANCE_ASYNC_PROBE=build/tests/resolver_async_probe \
     /usr/bin/python3 tests/integration/test_resolver_async.py -v [TestClass]
(ctest registers each class as integration.resolver_async.<Class>.)
"""

import json
import os
import socket
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dnsproxy import DnsProxy  # noqa: E402
from plugin_fixture import Bed  # noqa: E402

BUILD = os.environ.get("DANCE_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
PROBE = os.environ.get("DANCE_ASYNC_PROBE",
                       os.path.join(BUILD, "tests", "resolver_async_probe"))

HEX1 = "0123456789ABCDEF" * 4
ORG = "acme.example"
SECURE = ["s%d._device.%s" % (i, ORG) for i in range(150)]
NXDOMAIN = ["nobody%d._device.%s" % (i, ORG) for i in range(60)]
BOGUS = "forged._device." + ORG
INSECURE = ["dev._device.unsigned.example", "nothing.unsigned.example"]
SLOW = ["slow%d._device.%s" % (i, ORG) for i in range(30)]
WILDCARD = "*.wild." + ORG


def dead_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class AsyncCase(unittest.TestCase):
    """One test bed and one dnsproxy in front of it for the class."""

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "resolver-async", pki=False)
        cls.tb = bed.tb
        for name in SECURE + [BOGUS]:
            cls.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        for name in SLOW:
            cls.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        cls.tb.set_records(INSECURE[0], "TLSA", ["3 1 1 " + HEX1])
        cls.tb.set_records(WILDCARD, "TLSA", ["3 1 1 " + HEX1])
        cls.tb.publish()
        cls.tb.tamper_signature(BOGUS, "TLSA")
        cls.proxy = DnsProxy(cls.tb.port)
        cls.addClassCleanup(cls.proxy.close)

    def setUp(self):
        self.proxy.set_mode("pass")
        self.addCleanup(self.proxy.set_mode, "pass")

    def probe(self, names, *args, upstream=None, timeout=1500, inflight=256):
        """Run resolver_async_probe on names; returns (answers, summary)."""
        argv = [PROBE, "--resolver", upstream or self.proxy.address,
                "--trust-anchor", self.tb.trust_anchor, "--timeout", str(timeout),
                "--inflight", str(inflight)] + list(args)
        p = subprocess.run(argv, input="\n".join(names) + "\n", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        for marker in ("Sanitizer", "runtime error:"):
            self.assertNotIn(marker, p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        summary = lines.pop()
        self.assertTrue(summary.get("done"), summary)
        self.assertEqual(len(lines), len(names))
        for i, (a, name) in enumerate(zip(lines, names)):
            self.assertEqual((a["id"], a["name"]), (i, name))
        return lines, summary

    def assertOnceEach(self, answers, summary, cancelled=False):
        """Every request answered exactly once, to the right requester."""
        self.assertEqual(summary["late_calls"], 0)
        self.assertEqual(summary["submit_failures"], 0)
        for a in answers:
            self.assertEqual(a["calls"], 1, a)
            self.assertFalse(a["wrong_owner"], a)
            self.assertEqual(a["cancelled"], cancelled, a)


class ManyInFlight(AsyncCase):
    """Hundreds of lookups at once with every kind of outcome."""

    def expected(self, name):
        if name in SECURE:
            return "secure"
        if name in NXDOMAIN:
            return "secure negative"
        if name == BOGUS:
            return "bogus"
        if name in INSECURE:
            return "insecure"
        return "failure"

    def test_mixed_outcomes_each_answered_once(self):
        self.proxy.set_mode("drop", match="slow")
        names = SECURE + NXDOMAIN + [BOGUS] * 30 + INSECURE * 15 + SLOW
        # a long timeout: the Python proxy answers a burst of this size
        # slowly, and a late answer would read as a timeout
        answers, summary = self.probe(names, timeout=5000)
        self.assertOnceEach(answers, summary)
        wrong = [(a["id"], a["name"], a["reason"]) for a in answers
                 if a["status"] != self.expected(a["name"])]
        self.assertEqual(wrong, [])
        for a in answers:
            if a["status"] == "secure":
                self.assertEqual((a["records"], a["ttl"], a["reason"]), (1, 300, ""), a)
            else:
                self.assertEqual(a["records"], 0, a)
                self.assertIn(a["name"], a["reason"])
        # the dropped lookups alone stay in flight for the whole timeout
        self.assertGreaterEqual(summary["max_inflight"], len(SLOW))
        self.assertLessEqual(summary["max_inflight"], 256)

    def test_same_outcomes_and_reasons_as_synchronous_lookup(self):
        self.proxy.set_mode("drop", match="slow")
        names = [SECURE[0], NXDOMAIN[0], BOGUS, INSECURE[0], INSECURE[1], SLOW[0],
                 "host.unsigned.example"]
        sync, _ = self.probe(names, "--sync")
        # the same names among many others in flight
        crowd = names + SECURE[1:100] + NXDOMAIN[1:40] + SLOW[1:10]
        answers, summary = self.probe(crowd)
        self.assertOnceEach(answers, summary)
        for s, a in zip(sync, answers):
            reasons = (a["reason"], s["reason"])
            if a["name"] in SLOW:
                # A dropped query ends at getdns' per-query timeout or at the
                # lookup's own deadline 150 ms later; on a loaded machine
                # (sanitizers, parallel tests) the loop may reach both at
                # once, and either reason is right: compare what they share.
                reasons = tuple(r.replace("no complete answer", "no answer") for r in reasons)
            self.assertEqual((a["status"], a["ttl"], a["records"], reasons[0]),
                             (s["status"], s["ttl"], s["records"], reasons[1]),
                             a["name"])

    def test_inflight_bound_and_fifo_queue(self):
        answers, summary = self.probe(SECURE[:60], inflight=4)
        self.assertOnceEach(answers, summary)
        self.assertEqual({a["status"] for a in answers}, {"secure"})
        self.assertLessEqual(summary["max_inflight"], 4)
        self.assertGreaterEqual(summary["max_inflight"], 1)


class ZoneKeys(AsyncCase):
    """A full lookup's validated zone keys make later lookups in the same
    zone one query each; every other outcome is still the full lookup's."""

    def delta(self, before):
        after = self.proxy.type_counts()
        return {t: after.get(t, 0) - before.get(t, 0) for t in after
                if after.get(t, 0) != before.get(t, 0)}

    def test_one_query_per_lookup_once_the_zone_is_known(self):
        names = SECURE[100:120]
        before = self.proxy.type_counts()
        answers, _ = self.probe(names, "--sync")
        counts = self.delta(before)
        for a in answers:
            self.assertEqual((a["status"], a["records"], a["ttl"], a["reason"]),
                             ("secure", 1, 300, ""), a)
        # the first lookup walks the chain (DS and DNSKEY up to the root);
        # the other 19 ask for their TLSA RRset alone
        self.assertEqual(counts.get("TLSA"), len(names), counts)
        self.assertLessEqual(counts.get("DNSKEY", 0), 3, counts)
        self.assertLessEqual(counts.get("DS", 0), 2, counts)
        self.assertGreaterEqual(counts.get("DNSKEY", 0), 1, counts)

    def test_other_outcomes_asked_again_the_full_way(self):
        # zone keys first, then each kind of answer they cannot prove
        names = [SECURE[120], BOGUS, NXDOMAIN[50], INSECURE[0], INSECURE[1], SECURE[121]]
        before = self.proxy.type_counts()
        known, _ = self.probe(names, "--sync")
        counts = self.delta(before)
        self.assertEqual([a["status"] for a in known],
                         ["secure", "bogus", "secure negative", "insecure", "insecure",
                          "secure"])
        # every one of them alone, on a resolver that knows no zone keys
        for name, a in zip(names, known):
            alone, _ = self.probe([name], "--sync")
            self.assertEqual((a["status"], a["ttl"], a["records"], a["reason"]),
                             (alone[0]["status"], alone[0]["ttl"], alone[0]["records"],
                              alone[0]["reason"]), name)
        # bogus and NXDOMAIN in the known zone were asked twice (one query,
        # then the full way); the unsigned zone has no kept keys
        self.assertEqual(counts.get("TLSA"), len(names) + 2, counts)

    def test_wildcard_answer_asked_again_the_full_way(self):
        # a wildcard expansion is proven only with the NSEC records that
        # say no closer name exists, which one query does not check
        names = [SECURE[130], "dev9.wild." + ORG]
        before = self.proxy.type_counts()
        answers, _ = self.probe(names, "--sync")
        counts = self.delta(before)
        self.assertEqual([(a["status"], a["records"]) for a in answers],
                         [("secure", 1), ("secure", 1)])
        self.assertEqual(counts.get("TLSA"), len(names) + 1, counts)


class ServerDown(AsyncCase):
    """No server: every lookup fails within the bound, as the synchronous
    lookup does."""

    def test_all_fail_like_synchronous(self):
        dead = "127.0.0.1@%d" % dead_udp_port()
        names = SECURE[:100]
        sync, _ = self.probe(names[:1], "--sync", upstream=dead, timeout=1000)
        answers, summary = self.probe(names, upstream=dead, timeout=1000)
        self.assertOnceEach(answers, summary)
        for a in answers:
            self.assertEqual(a["status"], "failure", a)
            self.assertIn(dead, a["reason"])
        self.assertEqual(answers[0]["reason"], sync[0]["reason"])


class Failover(AsyncCase):
    """One dead upstream in the list: lookups in flight together fail over
    to the live one as reliably as lookups one at a time."""

    def test_many_at_once_with_dead_first(self):
        dead = "127.0.0.1@%d" % dead_udp_port()
        names = SECURE[:50]
        upstream = "%s,%s" % (dead, self.proxy.address)
        answers, summary = self.probe(names, upstream=upstream, timeout=3000)
        self.assertOnceEach(answers, summary)
        bad = [(a["name"], a["reason"]) for a in answers if a["status"] != "secure"]
        self.assertEqual(bad, [])
        sync, _ = self.probe(names[:5], "--sync", upstream=upstream, timeout=3000)
        self.assertEqual({a["status"] for a in sync}, {"secure"})

    def test_many_at_once_with_dead_last(self):
        dead = "127.0.0.1@%d" % dead_udp_port()
        upstream = "%s,%s" % (self.proxy.address, dead)
        answers, summary = self.probe(SECURE[:50], upstream=upstream, timeout=3000)
        self.assertOnceEach(answers, summary)
        self.assertEqual({a["status"] for a in answers}, {"secure"})

    def test_all_dead_names_the_list(self):
        upstream = "127.0.0.1@%d,127.0.0.1@%d" % (dead_udp_port(), dead_udp_port())
        sync, _ = self.probe(SECURE[:1], "--sync", upstream=upstream, timeout=1000)
        answers, summary = self.probe(SECURE[:20], upstream=upstream, timeout=1000)
        self.assertOnceEach(answers, summary)
        for a in answers:
            self.assertEqual(a["status"], "failure", a)
            self.assertIn(upstream, a["reason"])
        self.assertEqual(answers[0]["reason"], sync[0]["reason"])


class Jitter(AsyncCase):
    """Answers late, in any order, or never: lookups end in getdns' own
    time, at our deadline in the middle of a DNSSEC chain, or with an
    answer; each request is still answered once, and only a complete
    validated chain reads as secure (ASan watches getdns' memory too)."""

    def test_each_answered_once_whatever_arrives_when(self):
        self.proxy.set_mode("jitter", delay=0.8)
        names = (SECURE[:100] + NXDOMAIN[:20]) * 3
        for _ in range(3):
            answers, summary = self.probe(names, timeout=1500, inflight=64)
            self.assertOnceEach(answers, summary)
            for a in answers:
                want = "secure" if a["name"] in SECURE else "secure negative"
                if a["status"] != want:
                    self.assertEqual(a["status"], "failure", a)
                    self.assertIn("failed:", a["reason"])


class Stop(AsyncCase):
    """Stop with lookups in flight and queued: every callback runs once,
    cancelled, before stop returns (and, under ASan, nothing leaks)."""

    def test_stop_cancels_in_flight_and_queued(self):
        self.proxy.set_mode("drop")
        names = SECURE[:120] + SLOW
        answers, summary = self.probe(names, "--stop-after-ms", "300",
                                      timeout=20000, inflight=100)
        self.assertOnceEach(answers, summary, cancelled=True)
        self.assertEqual(summary["max_inflight"], 100)
        for a in answers:
            self.assertEqual(a["status"], "failure", a)
            self.assertEqual(a["reason"], "TLSA lookup for %s failed: the query was "
                             "cancelled" % a["name"])


if __name__ == "__main__":
    unittest.main()
