#!/usr/bin/python3
"""Plugin integration: the DNS server goes down.

A client whose answer is cached still connects (decisions from a warm
cache never touch the network); a cold lookup is refused within the
connect budget while the broker keeps serving others; the failure is
remembered briefly; once the server is back, the client gets in.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import Bed, Broker, PluginTestCase, connect, ident  # noqa: E402


class DnsDownTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "dnsdown", default_ttl=300, negative_ttl=30)
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        pki = cls.pki
        cls.warm = pki.device(ident("warm"))
        cls.cold = pki.device(ident("cold"))
        cls.tb.set_records(ident("warm"), "TLSA", [pki.tlsa(cls.warm[0], 3, 1, 1)])
        cls.tb.set_records(ident("cold"), "TLSA", [pki.tlsa(cls.cold[0], 3, 1, 1)])
        cls.tb.publish()
        cls.broker = Broker(cls.wd, pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": "acme.example",
            "cafile": pki.ca,
            "connect_budget_ms": "300",
            "lookup_timeout_ms": "1500",
            "failure_ttl": "3",
            "revalidate_interval": "0",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def line(self, needle, start):
        text = self.broker.wait_log(needle, start=start)
        return [l for l in text.splitlines() if needle in l][0]

    def test_server_down(self):
        # Warm the cache for one device while DNS works.
        res = connect(self.broker, *self.warm)
        self.assertTrue(res.accepted, res)

        self.tb.stop_server()
        try:
            # Cold lookup: refused within the budget, not after the lookup
            # timeout (a loose bound: the point is that the broker thread
            # did not wait for DNS).
            start = self.broker.log_size()
            t0 = time.monotonic()
            res = connect(self.broker, *self.cold)
            elapsed = time.monotonic() - t0
            self.assertEqual(res.outcome, "refused", res)
            line = self.line("dance: refused identity=%s " % ident("cold"), start)
            self.assertRegex(line, r"reason=(pending|lookup_failure) ")
            if "reason=pending" in line:
                # the whole budget (the log gives the time actually
                # waited, a ms or two over it), far from lookup_timeout_ms
                m = re.search(r"still pending after (\d+) ms", line)
                self.assertIsNotNone(m, line)
                self.assertGreaterEqual(int(m.group(1)), 290, line)
                self.assertLess(int(m.group(1)), 1000, line)
            self.assertLess(elapsed, 10.0)

            # Meanwhile the broker serves others: the warm device connects
            # from the cache.
            res = connect(self.broker, *self.warm)
            self.assertTrue(res.accepted, res)

            # Once the background lookup has failed, the retry is refused
            # from the remembered failure.
            self.broker.wait_log("dance: TLSA lookup for %s: failure" % ident("cold"),
                                 start=start, timeout=20)
            start = self.broker.log_size()
            res = connect(self.broker, *self.cold)
            self.assertEqual(res.outcome, "refused", res)
            line = self.line("dance: refused identity=%s " % ident("cold"), start)
            self.assertIn("reason=lookup_failure ", line)
        finally:
            self.tb.start_server()

        # Server back, failure forgotten after failure_ttl: accepted.
        deadline = time.monotonic() + 30
        while True:
            res = connect(self.broker, *self.cold)
            if res.accepted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertTrue(res.accepted, res)
        self.assertIsNone(self.broker.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
