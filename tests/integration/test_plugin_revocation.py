#!/usr/bin/python3
"""Plugin integration: revocation by DNS, reload, client-id takeover.

Short TTLs (2 s) and a 1 s revalidation interval, one test bed and one
broker for the file. Removing, changing or breaking (bogus) a TLSA record
refuses new connections once the cached answer expires and disconnects the
connected device within revalidate_interval + TTL; restoring it lets the
device back in. SIGHUP flushes the cache and re-checks connected devices.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import Bed, Broker, PluginTestCase, connect, ident  # noqa: E402

TTL = 2
INTERVAL = 1
BOUND = INTERVAL + TTL + 10     # generous slack for a loaded CI machine


class RevocationTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "revocation", default_ttl=TTL, negative_ttl=TTL)
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        pki = cls.pki
        cls.dev = {}
        for label in ("revoked", "bystander", "changed", "bogus", "takeover", "reload"):
            cert, key = pki.device(ident(label))
            cls.dev[label] = (cert, key)
            cls.tb.set_records(ident(label), "TLSA", [cls.tlsa(label)],
                               ttl=300 if label == "reload" else None)
        cls.tb.publish()
        cls.broker = Broker(cls.wd, pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": "acme.example",
            "cafile": pki.ca,
            "connect_budget_ms": "5000",
            "revalidate_interval": str(INTERVAL),
            "negative_ttl": str(TTL),
            "failure_ttl": "1",
            "stats_interval": "1",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    @classmethod
    def tlsa(cls, label):
        return cls.pki.tlsa(cls.dev[label][0], 3, 1, 1)

    def session(self, label, client_id):
        s = connect(self.broker, *self.dev[label], client_id=client_id, keep=True)
        self.assertTrue(s.result.accepted, s.result)
        self.addCleanup(s.close)
        return s

    def wait_outcome(self, label, accepted, timeout):
        """Retry connecting until the broker accepts (or refuses); return
        the last result."""
        deadline = time.monotonic() + timeout
        while True:
            res = connect(self.broker, *self.dev[label])
            if res.accepted == accepted or time.monotonic() > deadline:
                return res
            time.sleep(0.3)

    def revoke_and_check(self, label, change, reason):
        start = self.broker.log_size()
        s = self.session(label, "dev-" + label)
        change()
        self.assertTrue(s.disconnected.wait(BOUND),
                        "%s still connected %ss after its record changed" % (label, BOUND))
        line = [l for l in self.broker.wait_log("dance: revoked identity=%s " % ident(label),
                                                start=start).splitlines()
                if "dance: revoked identity=%s " % ident(label) in l][0]
        self.assertIn("reason=%s " % reason, line)
        res = self.wait_outcome(label, accepted=False, timeout=BOUND)
        self.assertEqual(res.outcome, "refused", res)

    def test_removed_record_revokes_and_restore_readmits(self):
        bystander = self.session("bystander", "dev-bystander")

        def remove():
            self.tb.remove_records(ident("revoked"), "TLSA")
            self.tb.publish()
        self.revoke_and_check("revoked", remove, "no_record")
        # Only the revoked device was disconnected.
        self.assertFalse(bystander.disconnected.is_set())

        self.tb.set_records(ident("revoked"), "TLSA", [self.tlsa("revoked")])
        self.tb.publish()
        res = self.wait_outcome("revoked", accepted=True, timeout=BOUND)
        self.assertTrue(res.accepted, res)
        self.assertFalse(bystander.disconnected.is_set())

    def test_changed_record_revokes(self):
        def change():
            self.tb.set_records(ident("changed"), "TLSA", ["3 1 1 " + "cd" * 32])
            self.tb.publish()
        self.revoke_and_check("changed", change, "no_match")

    def test_bogus_record_revokes(self):
        def tamper():
            self.tb.tamper_signature(ident("bogus"), "TLSA")
        self.revoke_and_check("bogus", tamper, "bogus")

    def test_takeover_keeps_the_new_connection_revocable(self):
        # Same client id twice: Mosquitto authenticates the newcomer, then
        # disconnects the old connection. The plugin must still know the
        # newcomer, so that revoking the record disconnects it.
        start = self.broker.log_size()
        old = self.session("takeover", "shared-id")
        new = self.session("takeover", "shared-id")
        self.assertTrue(old.disconnected.wait(10))
        self.broker.wait_log("Client %s/shared-id already connected, closing old connection" % ident("takeover"),
                             start=start)
        self.assertFalse(new.disconnected.is_set())
        self.tb.remove_records(ident("takeover"), "TLSA")
        self.tb.publish()
        self.assertTrue(new.disconnected.wait(BOUND),
                        "the new connection was not revoked")
        self.broker.wait_log("dance: revoked identity=%s " % ident("takeover"), start=start)

    def test_reload_flushes_cache_and_keeps_serving(self):
        # The record's TTL is 300 s: without the flush a removal would go
        # unnoticed for minutes.
        s = self.session("reload", "dev-reload")
        start = self.broker.log_size()
        self.broker.reload()
        self.broker.wait_log("dance: reload: TLSA cache flushed", start=start)
        time.sleep(INTERVAL + 1)
        self.assertFalse(s.disconnected.is_set(), "reload disconnected a valid device")
        res = connect(self.broker, *self.dev["reload"])
        self.assertTrue(res.accepted, res)

        self.tb.remove_records(ident("reload"), "TLSA")
        self.tb.publish()
        start = self.broker.log_size()
        self.broker.reload()
        self.assertTrue(s.disconnected.wait(BOUND),
                        "reload did not re-check the device against DNS")
        self.broker.wait_log("dance: revoked identity=%s " % ident("reload"), start=start)


if __name__ == "__main__":
    unittest.main(verbosity=2)
