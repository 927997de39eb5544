#!/usr/bin/python3
"""Plugin integration: who gets in at CONNECT (identity from the SAN).

One DNSSEC test bed and one broker for the file. Each case uses its own
identity, so cached answers of one case never decide another.
Real parts: knotd serving a signed fake root, /usr/sbin/mosquitto with the
built plugin, paho-mqtt / mosquitto_pub / mosquitto_sub clients,
certificates from the dance CLI (openssl for the odd ones).
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import bound_client_id  # noqa: E402
from plugin_fixture import Bed, Broker, PluginTestCase, connect, ident  # noqa: E402

ORG = "acme.example"


class AuthTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "auth", default_ttl=300, negative_ttl=30)
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        pki = cls.pki
        cls.dev = {}

        def device(label, zone=ORG, records=(), openssl_sans=None, days=30):
            name = ident(label, zone)
            if openssl_sans is not None:
                cert, key = pki.device_openssl(label, openssl_sans, days=days)
            else:
                cert, key = pki.device(name, days=days)
            rdata = []
            for usage, selector, mtype, of in records:
                rdata.append(pki.tlsa(pki.ca if of == "ca" else cert, usage, selector, mtype))
            if rdata:
                cls.tb.set_records(name, "TLSA", rdata)
            cls.dev[label] = (name, cert, key)

        device("ee311", records=[(3, 1, 1, "leaf")])
        device("ee301", records=[(3, 0, 1, "leaf")])
        device("ta201", records=[(2, 0, 1, "ca")])
        device("ta211", records=[(2, 1, 1, "ca")])
        device("pkix001", records=[(0, 0, 1, "ca")])
        device("pkix111", records=[(1, 1, 1, "leaf")])
        device("rollover", records=[(3, 1, 1, "leaf")])
        device("norecord")
        device("wrongdigest")
        cls.tb.set_records(ident("wrongdigest"), "TLSA", ["3 1 1 " + "ab" * 32])
        device("bogus", records=[(3, 1, 1, "leaf")])
        device("insecure", zone="unsigned.example", records=[(3, 1, 1, "leaf")])
        device("outside", zone="other.example")
        device("twosans", openssl_sans=[ident("twosans"), ident("twosans-b")])
        cls.tb.set_records(ident("twosans"), "TLSA", [pki.tlsa(pki.ca, 2, 0, 1)])
        cls.tb.set_records(ident("twosans-b"), "TLSA", [pki.tlsa(pki.ca, 2, 0, 1)])
        device("nosan", openssl_sans=[])
        device("expired", openssl_sans=[ident("expired")], days=-1)
        cls.tb.set_records(ident("expired"), "TLSA", [pki.tlsa(pki.ca, 2, 0, 1)])
        # A record set during a key rollover: an old key's record next to
        # the current one; the log must name the one that matched.
        other_cert, _ = pki.device(ident("rollover-old"))
        cls.tb.set_records(ident("rollover"), "TLSA",
                           [pki.tlsa(other_cert, 3, 1, 1),
                            pki.tlsa(cls.dev["rollover"][1], 3, 1, 1)])
        cls.tb.publish()
        cls.tb.tamper_signature(ident("bogus"), "TLSA")

        # ACLs by identity: the plugin makes the username the DNS name.
        acl = os.path.join(cls.wd, "acl")
        with open(acl, "w") as f:
            f.write("pattern readwrite devices/%u/#\npattern read $SYS/#\n")
        os.chmod(acl, 0o644)
        cls.broker = Broker(cls.wd, pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": "acme.example, unsigned.example",
            "cafile": pki.ca,
            "connect_budget_ms": "5000",     # cold lookups finish well within it
            "revalidate_interval": "0",
            "stats_interval": "1",
        }, extra_conf="acl_file %s" % acl).start()

    @classmethod
    def tearDownClass(cls):
        # Stop the broker with a DANE client still connected: Mosquitto
        # disconnects it during shutdown, around the plugin's cleanup
        # (a sanitizer run checks that path).
        name, cert, key = cls.dev["ee311"]
        s = connect(cls.broker, cert, key, client_id="at-shutdown", keep=True)
        try:
            cls.broker.stop()
        finally:
            s.close()

    # -- helpers --

    def attempt(self, label, **kw):
        name, cert, key = self.dev[label]
        start = self.broker.log_size()
        res = connect(self.broker, cert, key, **kw)
        return name, res, start

    def assert_accepted(self, label, record_prefix):
        name, res, start = self.attempt(label)
        self.assertTrue(res.accepted, "%s: %r" % (label, res))
        text = self.broker.wait_log("dance: accepted identity=%s " % name, start=start)
        self.assertIn('record="%s' % record_prefix, text)
        self.assertIn("address=127.0.0.1", text)

    def assert_refused(self, label, reason, logged_identity=None):
        name, res, start = self.attempt(label)
        self.assertEqual(res.outcome, "refused", "%s: %r" % (label, res))
        self.assertEqual(res.rc, 5)     # CONNACK "not authorised"
        needle = "dance: refused identity=%s " % (logged_identity or name)
        text = self.broker.wait_log(needle, start=start)
        line = [l for l in text.splitlines() if needle in l][0]
        self.assertIn("reason=%s " % reason, line)
        return line

    # -- accepted --

    def test_dane_ee_spki_sha256(self):
        self.assert_accepted("ee311", "3 1 1 ")

    def test_dane_ee_full_cert_sha256(self):
        self.assert_accepted("ee301", "3 0 1 ")

    def test_dane_ta_cert_naming_the_ca(self):
        self.assert_accepted("ta201", "2 0 1 ")

    def test_dane_ta_spki_naming_the_ca(self):
        self.assert_accepted("ta211", "2 1 1 ")

    def test_pkix_ta(self):
        self.assert_accepted("pkix001", "0 0 1 ")

    def test_pkix_ee(self):
        self.assert_accepted("pkix111", "1 1 1 ")

    def test_rollover_logs_the_record_that_matched(self):
        name, cert, key = self.dev["rollover"]
        current = self.pki.tlsa(cert, 3, 1, 1).split()[3]
        self.assert_accepted("rollover", "3 1 1 %s..." % current[:8])

    def test_username_becomes_the_identity(self):
        name, cert, key = self.dev["ee311"]
        start = self.broker.log_size()
        res = connect(self.broker, cert, key, client_id="sets-username",
                      username="ignored-with-san")
        self.assertTrue(res.accepted, res)
        self.broker.wait_log("as %s/sets-username (p2, c1, k30, u'%s')" % (name, name), start=start)

    def test_mosquitto_pub_client(self):
        name, cert, key = self.dev["ee301"]
        start = self.broker.log_size()
        p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port),
                            "--cafile", self.pki.ca, "--cert", cert, "--key", key,
                            "-i", bound_client_id("pub-cli", cert), "-t", "devices/%s/temp" % name, "-m", "21.5",
                            "-q", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.broker.wait_log("Received PUBLISH from %s/pub-cli" % name, start=start)

    def test_acl_pattern_uses_the_identity(self):
        name, cert, key = self.dev["ee311"]
        s = connect(self.broker, cert, key, client_id="acl-check", keep=True, subscribe="#")
        self.assertTrue(s.result.accepted, s.result)
        try:
            start = self.broker.log_size()
            time.sleep(0.3)                     # let the subscription land
            s.publish("devices/%s/temp" % name, "mine", qos=1)
            s.publish("devices/other._device.acme.example/temp", "theirs", qos=1)
            self.broker.wait_log("Denied PUBLISH from %s/acl-check" % name, start=start)
            deadline = time.monotonic() + 10
            while not s.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            self.assertEqual(s.messages, [("devices/%s/temp" % name, "mine")])
        finally:
            s.close()

    # -- refused --

    def test_no_record_secure_nxdomain(self):
        line = self.assert_refused("norecord", "no_record")
        self.assertIn("NXDOMAIN", line)

    def test_wrong_digest(self):
        self.assert_refused("wrongdigest", "no_match")

    def test_bogus_signature(self):
        self.assert_refused("bogus", "bogus")

    def test_unsigned_zone_is_insecure(self):
        self.assert_refused("insecure", "insecure")

    def test_outside_allowed_domains_makes_no_query(self):
        before = self.tb.query_count()
        line = self.assert_refused("outside", "outside_allowed_domains")
        self.assertIn("is not under plugin_opt_allowed_domains", line)
        time.sleep(0.5)
        self.assertEqual(self.tb.query_count(), before)

    def test_two_sans_without_selection(self):
        line = self.assert_refused("twosans", "identity", logged_identity="-")
        self.assertIn("2 dNSNames", line)
        self.assertIn("identity_source username", line)

    def test_no_dns_name_in_certificate(self):
        start = self.broker.log_size()
        _, cert, key = self.dev["nosan"]
        res = connect(self.broker, cert, key)
        self.assertEqual(res.outcome, "refused", res)
        text = self.broker.wait_log("dance: refused identity=- ", start=start)
        self.assertIn("reason=identity", text)

    def test_expired_certificate_with_dane_ta(self):
        # Mosquitto's own TLS verification (against the listener cafile)
        # rejects the expired certificate before the plugin is asked; the
        # point is that nothing lets it in.
        name, res, start = self.attempt("expired")
        self.assertFalse(res.accepted, res)
        time.sleep(0.5)
        self.assertNotIn("dance: accepted identity=%s" % name, self.broker.log()[start:])

    # -- metrics --

    def test_sys_counters(self):
        self.assert_refused("norecord", "no_record")
        self.assert_accepted("ee311", "3 1 1 ")
        name, cert, key = self.dev["ee311"]
        p = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.broker.port),
                            "--cafile", self.pki.ca, "--cert", cert, "--key", key,
                            "-i", bound_client_id("sys-reader", cert), "-t", "$SYS/broker/dance/#", "-v", "-W", "3"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        values = {}
        for line in p.stdout.splitlines():
            topic, _, value = line.partition(" ")
            if topic.startswith("$SYS/broker/dance/"):
                values[topic[len("$SYS/broker/dance/"):]] = value
        for t in ("auth/accepted", "auth/refused/no_record", "auth/refused/no_match",
                  "auth/refused/bogus", "auth/refused/insecure", "auth/refused/pending",
                  "auth/refused/lookup_failure", "auth/refused/outside_allowed_domains",
                  "auth/refused/no_certificate", "auth/revocations", "cache/hits",
                  "cache/misses", "cache/entries", "dns/queries", "dns/failures",
                  "clients/connected"):
            self.assertIn(t, values, p.stdout)
            self.assertTrue(values[t].isdigit(), (t, values[t]))
        self.assertGreaterEqual(int(values["auth/accepted"]), 1)
        self.assertGreaterEqual(int(values["auth/refused/no_record"]), 1)
        self.assertGreaterEqual(int(values["dns/queries"]), 1)
        self.assertGreaterEqual(int(values["cache/hits"]), 1)   # ee311 twice
        self.assertGreaterEqual(int(values["clients/connected"]), 1)  # the reader


if __name__ == "__main__":
    unittest.main(verbosity=2)
