#!/usr/bin/python3
"""Plugin integration: the other ways to configure it.

  * tlsa_owner _mqtt: the service form owner name _mqtt.<identity>
  * identity_source username: the MQTT username names the identity
  * fallback defer: clients without a certificate or outside
    allowed_domains go on to Mosquitto's password_file

One DNSSEC test bed for the file, one broker per mode.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import (Bed, Broker, PluginTestCase, connect, free_port,  # noqa: E402
                            ident)


class ModesBase(PluginTestCase):
    """Shared test bed and PKI for the mode classes of this file."""

    bed = None
    tb = None

    @classmethod
    def shared(cls):
        if ModesBase.bed is None:
            bed = ModesBase.bed = Bed("modes", default_ttl=300, negative_ttl=30)
            ModesBase.wd, ModesBase.tb, ModesBase.pki = bed.dir, bed.tb, bed.pki
        return ModesBase.tb, ModesBase.pki

    @classmethod
    def make_broker(cls, name, **options):
        tb, pki = cls.shared()
        d = os.path.join(ModesBase.wd, name)
        os.makedirs(d)
        extra = options.pop("extra_conf", "")
        opts = {"resolver": tb.upstream, "trust_anchor": tb.trust_anchor,
                "allowed_domains": "acme.example", "cafile": pki.ca,
                "connect_budget_ms": "5000", "revalidate_interval": "0"}
        opts.update(options)
        return Broker(d, pki, opts, extra_conf=extra)

    def attempt(self, cert, key, **kw):
        start = self.broker.log_size()
        return connect(self.broker, cert, key, **kw), start

    def line(self, needle, start):
        text = self.broker.wait_log(needle, start=start)
        return [l for l in text.splitlines() if needle in l][0]


class ServiceFormTest(ModesBase):

    @classmethod
    def setUpClass(cls):
        tb, pki = cls.shared()
        cls.svc1 = pki.device(ident("svc1"))
        cls.svc2 = pki.device(ident("svc2"))
        tb.set_records("_mqtt." + ident("svc1"), "TLSA", [pki.tlsa(cls.svc1[0], 3, 1, 1)])
        tb.set_records(ident("svc2"), "TLSA", [pki.tlsa(cls.svc2[0], 3, 1, 1)])
        tb.publish()
        cls.broker = cls.make_broker("service", tlsa_owner="_mqtt").start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_record_at_service_owner_accepted(self):
        res, start = self.attempt(*self.svc1)
        self.assertTrue(res.accepted, res)
        self.line("dance: accepted identity=%s " % ident("svc1"), start)

    def test_record_only_at_identity_refused(self):
        res, start = self.attempt(*self.svc2)
        self.assertEqual(res.outcome, "refused", res)
        line = self.line("dance: refused identity=%s " % ident("svc2"), start)
        self.assertIn("reason=no_record", line)
        self.assertIn("_mqtt." + ident("svc2"), line)


class UsernameSourceTest(ModesBase):

    @classmethod
    def setUpClass(cls):
        tb, pki = cls.shared()
        cls.u1 = pki.device(ident("user1"))
        cls.u2 = pki.device(ident("user2"))
        cls.hw = pki.device(ident("hw-serial-7"))       # cert name != identity
        cls.two = pki.device_openssl("usertwo", [ident("usertwo-a"), ident("usertwo-b")])
        tb.set_records(ident("user1"), "TLSA", [pki.tlsa(cls.u1[0], 3, 1, 1)])
        tb.set_records(ident("user2"), "TLSA", [pki.tlsa(cls.u2[0], 3, 1, 1)])
        tb.set_records(ident("alias7"), "TLSA", [pki.tlsa(cls.hw[0], 3, 1, 1)])
        tb.set_records(ident("ta-only"), "TLSA", [pki.tlsa(pki.ca, 2, 0, 1)])
        tb.set_records(ident("usertwo-b"), "TLSA", [pki.tlsa(pki.ca, 2, 0, 1)])
        tb.publish()
        cls.broker = cls.make_broker("username", identity_source="username").start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_username_names_the_identity(self):
        # Normalised: case folded, trailing dot dropped.
        res, start = self.attempt(*self.u1, username="User1._Device.ACME.example.")
        self.assertTrue(res.accepted, res)
        self.line("dance: accepted identity=%s " % ident("user1"), start)

    def test_dane_ee_needs_no_name_in_certificate(self):
        res, start = self.attempt(*self.hw, username=ident("alias7"))
        self.assertTrue(res.accepted, res)
        line = self.line("dance: accepted identity=%s " % ident("alias7"), start)
        self.assertIn('record="3 1 1 ', line)

    def test_username_naming_another_identity_refused(self):
        res, start = self.attempt(*self.u1, username=ident("user2"))
        self.assertEqual(res.outcome, "refused", res)
        line = self.line("dance: refused identity=%s " % ident("user2"), start)
        self.assertIn("reason=no_match", line)

    def test_dane_ta_needs_the_name_in_the_certificate(self):
        res, start = self.attempt(*self.u1, username=ident("ta-only"))
        self.assertEqual(res.outcome, "refused", res)
        line = self.line("dance: refused identity=%s " % ident("ta-only"), start)
        self.assertIn("reason=no_match", line)

    def test_username_selects_one_of_two_sans(self):
        res, start = self.attempt(*self.two, username=ident("usertwo-b"))
        self.assertTrue(res.accepted, res)
        line = self.line("dance: accepted identity=%s " % ident("usertwo-b"), start)
        self.assertIn('record="2 0 1 ', line)

    def test_missing_username_refused(self):
        res, start = self.attempt(*self.u1)
        self.assertEqual(res.outcome, "refused", res)
        line = self.line("dance: refused identity=- ", start)
        self.assertIn("reason=identity", line)
        self.assertIn("no MQTT username", line)

    def test_username_that_is_no_dns_name_refused(self):
        res, start = self.attempt(*self.u1, username="not a name!")
        self.assertEqual(res.outcome, "refused", res)
        line = self.line("dance: refused identity=- ", start)
        self.assertIn("is not a DNS name", line)


class FallbackDeferTest(ModesBase):

    @classmethod
    def setUpClass(cls):
        tb, pki = cls.shared()
        cls.inside = pki.device(ident("defer-norecord"))
        cls.outside = pki.device(ident("elsewhere", "other.example"))
        pw = os.path.join(ModesBase.wd, "passwords")
        subprocess.run(["mosquitto_passwd", "-c", "-b", pw, "alice", "secret"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["mosquitto_passwd", "-b", pw, ident("elsewhere", "other.example"),
                        "outside-pw"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["mosquitto_passwd", "-b", pw, "bob", "bobs"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(pw, 0o644)
        cls.plain_port = free_port()
        cls.broker = cls.make_broker(
            "defer", fallback="defer",
            extra_conf="password_file %s\nlistener %d 127.0.0.1" % (pw, cls.plain_port)).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_no_certificate_goes_to_password_file(self):
        res, start = self.attempt(None, None, username="alice", password="secret",
                                  port=self.plain_port)
        self.assertTrue(res.accepted, res)
        line = self.line("dance: deferred identity=- ", start)
        self.assertIn("reason=no_certificate", line)

    def test_no_certificate_wrong_password_refused(self):
        res, start = self.attempt(None, None, username="alice", password="wrong",
                                  port=self.plain_port)
        self.assertEqual(res.outcome, "refused", res)

    def test_outside_allowed_domains_deferred(self):
        name = ident("elsewhere", "other.example")
        before = ModesBase.tb.query_count()
        res, start = self.attempt(*self.outside, username=name, password="outside-pw")
        self.assertTrue(res.accepted, res)
        line = self.line("dance: deferred identity=%s " % name, start)
        self.assertIn("reason=outside_allowed_domains", line)
        self.assertEqual(ModesBase.tb.query_count(), before)

    def test_dane_refusal_is_final(self):
        # Inside allowed_domains without a record: refused even with a
        # valid password (defer is only for no certificate / outside).
        res, start = self.attempt(*self.inside, username="bob", password="bobs")
        self.assertEqual(res.outcome, "refused", res)
        line = self.line("dance: refused identity=%s " % ident("defer-norecord"), start)
        self.assertIn("reason=no_record", line)


def tearDownModule():
    if ModesBase.bed is not None:
        ModesBase.bed.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
