#!/usr/bin/python3
"""Plugin integration: the warm start (plugin_opt_identities_file).

A broker with the option admits devices and, at a clean shutdown, leaves
the names of the identities it admitted in the file. At the next start it
looks their TLSA records up before the devices come back. These tests pin
down that:

  * after a restart with DNS behind a slow proxy (every answer held back
    longer than connect_budget_ms), the devices of the file are accepted on
    their first try once the prefetch is done (no `pending` refusal in
    $SYS), while a device the file did not name is refused as pending,
    as every cold device is;
  * a device whose record was removed while the broker was down is
    refused after the restart (the prefetch cached the negative answer),
    and the file no longer names it;
  * the file holds nothing but the names (checked line by line) and has
    mode 0600;
  * names that are not DNS names or not under allowed_domains are skipped
    and logged, a corrupt or oversize file is logged and ignored (the
    broker starts), and a file the broker cannot read stops it.

Real parts: knotd serving a signed fake root, a DNS proxy in front of it
(delay mode), /usr/sbin/mosquitto with the built plugin, paho clients.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsproxy import DnsProxy  # noqa: E402
from plugin_fixture import (Bed, Broker, PluginTestCase, connect, ident,  # noqa: E402
                            sys_value, wait_sys)

ORG = "acme.example"
WAIT = 60
DEVICES = ("dev1", "dev2", "dev3")
SLOW = 1.0              # seconds each DNS answer is held back after the restart
BUDGET_MS = 300         # connect_budget_ms: shorter than one held-back answer

BED = None


def setUpModule():
    global BED
    BED = Bed("warm", DEVICES + ("gone", "newcomer", "backend"))


def tearDownModule():
    if BED is not None:
        BED.close()


class WarmStartTest(PluginTestCase):

    def setUp(self):
        self.dns = DnsProxy(BED.tb.port, mode="pass")
        self.addCleanup(self.dns.close)
        self.dir = os.path.join(BED.dir, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.file = os.path.join(self.dir, "identities")
        self.brokers = []

    def tearDown(self):
        for b in self.brokers:
            b.stop()

    def brokers_to_show(self):
        return self.brokers

    def start_broker(self, name, wait=True, **extra):
        d = os.path.join(self.dir, name)
        os.makedirs(d)
        opts = {
            "resolver": self.dns.address,
            "trust_anchor": BED.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": BED.pki.ca,
            "identities_file": self.file,
            "connect_budget_ms": str(BUDGET_MS),
            "lookup_timeout_ms": "20000",
            "revalidate_interval": "0",
            "stats_interval": "1",
        }
        opts.update(extra)
        b = Broker(d, BED.pki, opts)
        self.brokers.append(b)
        b.start(wait=wait)
        if wait:
            b.wait_log("dance: DANE client authentication ready")
        return b

    def connect(self, broker, label):
        return connect(broker, *BED.pki.files(label))

    def sys(self, broker, tail):
        return sys_value(broker, *BED.pki.files("backend"), tail)

    def wait_sys(self, broker, tail, pred):
        return wait_sys(broker, *BED.pki.files("backend"), tail, pred, timeout=WAIT)

    def write(self, text):
        with open(self.file, "w") as f:
            f.write(text)

    def read(self):
        with open(self.file) as f:
            return f.read()

    def test_restart_prefetches_and_admits_on_first_try(self):
        first = self.start_broker("first")
        first.wait_log("identities file %s created (first start" % self.file)
        for label in DEVICES + ("gone",):
            self.assertTrue(self.connect(first, label).accepted, label)
        # the $SYS reader is admitted too, so it is named in the file
        self.assertEqual(self.wait_sys(first, "identities/known", lambda v: v >= 5), 5)
        first.stop()

        # names only, the most recent first, and nobody else may read them
        self.assertEqual(os.stat(self.file).st_mode & 0o777, 0o600)
        lines = self.read().splitlines()
        self.assertEqual(lines[0], "dance-identities 1")
        self.assertEqual(lines[-1], "end 5")
        self.assertEqual(sorted(lines[1:-1]),
                         sorted(ident(x) for x in DEVICES + ("gone", "backend")))
        self.assertEqual(lines[1], ident("backend"))

        # revoked while the broker is down; DNS slow from now on
        BED.tb.remove_records(ident("gone"), "TLSA")
        BED.tb.publish()
        self.dns.set_mode("delay", delay=SLOW)

        second = self.start_broker("second")
        second.wait_log("dance: prefetching 5 identities from %s" % self.file)
        second.wait_log("dance: prefetch done", timeout=WAIT)
        # retained counters published every second: wait for the final ones
        self.assertEqual(self.sys(second, "prefetch/identities"), 5)
        self.assertEqual(self.wait_sys(second, "prefetch/pending", lambda v: v == 0), 0)
        self.assertEqual(self.wait_sys(second, "prefetch/secure", lambda v: v == 4), 4)
        self.assertEqual(self.wait_sys(second, "prefetch/negative", lambda v: v == 1), 1)
        self.assertEqual(self.sys(second, "prefetch/failed"), 0)

        for label in DEVICES:
            r = self.connect(second, label)
            self.assertTrue(r.accepted, "%s: %r" % (label, r))
        r = self.connect(second, "gone")
        self.assertFalse(r.accepted)
        second.wait_log("dance: refused identity=%s " % ident("gone"))
        self.assertIn("reason=no_record", next(
            line for line in second.log().splitlines()
            if "refused identity=%s " % ident("gone") in line))
        self.assertEqual(self.wait_sys(second, "auth/refused/no_record",
                                       lambda v: v >= 1), 1)
        # nobody named in the file was refused as pending ...
        self.assertEqual(self.sys(second, "auth/refused/pending"), 0)
        # ... while a device it did not name is, as any cold device is
        self.assertFalse(self.connect(second, "newcomer").accepted)
        self.assertEqual(self.wait_sys(second, "auth/refused/pending",
                                       lambda v: v >= 1), 1)
        second.stop()
        # the revoked device is no longer one to prefetch
        lines = self.read().splitlines()
        self.assertEqual(sorted(lines[1:-1]),
                         sorted(ident(x) for x in DEVICES + ("backend",)))
        self.assertEqual(lines[-1], "end 4")

    def test_bad_names_skipped_and_logged(self):
        self.write("dance-identities 1\n%s\nnot a name\nx._device.evil.example\n"
                   "%s\n%s\nend 5\n" % (ident("dev1"), ident("dev1"), ident("backend")))
        b = self.start_broker("skip")
        b.wait_log("skipped 1 lines that are not DNS names, 1 names not under "
                   "plugin_opt_allowed_domains, 1 duplicates")
        b.wait_log("dance: prefetching 2 identities from %s" % self.file)
        b.wait_log("dance: prefetch done", timeout=WAIT)
        self.assertEqual(self.sys(b, "prefetch/skipped"), 3)
        # written back at start without what was skipped
        self.assertEqual(self.read(), "dance-identities 1\n%s\n%s\nend 2\n"
                         % (ident("dev1"), ident("backend")))

    def test_corrupt_file_ignored(self):
        self.write("dance-identities 1\n%s\n" % ident("dev1"))     # no end line
        b = self.start_broker("corrupt")
        b.wait_log("dance: identities file ignored: %s: truncated (no end line)"
                   % self.file)
        self.assertNotIn("prefetching", b.log())
        self.assertTrue(self.connect(b, "dev1").accepted)

    def test_oversize_file_ignored(self):
        self.write("dance-identities 1\n" + "".join(
            "d%04d._device.%s\n" % (i, ORG) for i in range(100)) + "end 100\n")
        b = self.start_broker("oversize", cache_size="10")
        b.wait_log("dance: identities file ignored: %s is larger" % self.file)
        self.assertNotIn("prefetching", b.log())

    def test_unreadable_file_stops_the_broker(self):
        os.makedirs(self.file)          # a directory where the file should be
        b = self.start_broker("unreadable", wait=False)
        self.assertNotEqual(b.wait_exit(), 0)
        self.assertIn("refusing to start: plugin_opt_identities_file: cannot read %s: "
                      "it is a directory" % self.file, b.all_output())


if __name__ == "__main__":
    unittest.main()
