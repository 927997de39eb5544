#!/usr/bin/python3
"""test_jws_cli.py - `dance sign` / `dance verify` against a real DNSSEC tree.

Real parts only: knotd serving zones signed at test time
(tests/testbed/dnstestbed.py), getdns validating from the fake root, the
built `dance` binary. Keys and certificates are made by `dance keygen` /
`dance cert`, the TLSA data by `dance tlsa`.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/integration/test_jws_cli.py -v [Class]

ctest registers each class as integration.jws_cli.<Class> (each starts its
own knotd on a free port). DANCE_KEEP_TESTBED=1 keeps the work directories.
"""

import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dance_cli import run  # noqa: E402
from plugin_fixture import Bed  # noqa: E402


class BedCase(unittest.TestCase):
    default_ttl = 300
    negative_ttl = 60

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "jws-cli", pki=False, default_ttl=cls.default_ttl,
                            negative_ttl=cls.negative_ttl)
        cls.tmp, cls.tb = bed.dir, bed.tb
        cls.n = 0

    def identity(self, keytype, domain="acme.example"):
        """A fresh device: (name, key path, cert path)."""
        type(self).n += 1
        name = f"dev{self.n}._device.{domain}"
        key = os.path.join(self.tmp, f"{name}.key.pem")
        cert = os.path.join(self.tmp, f"{name}.cert.pem")
        run("keygen", "--type", keytype, "--out", key, check=0)
        run("cert", "--key", key, "--name", name, "--out", cert, check=0)
        return name, key, cert

    def tlsa(self, cert, u, s, m):
        p = run("tlsa", "--usage", str(u), "--selector", str(s), "--mtype", str(m), cert,
                check=0)
        return p.stdout.decode().strip()

    def publish(self, owner, *records):
        self.tb.set_records(owner, "TLSA", list(records))
        self.tb.publish()

    def sign(self, key, name, payload, *extra):
        return run("sign", "--key", key, "--name", name, *extra, stdin=payload,
                   check=0).stdout

    def verify(self, jws, *extra, check=None, timeout=2000):
        return run("verify", "--resolver", self.tb.upstream,
                   "--trust-anchor", self.tb.trust_anchor, "--timeout", str(timeout),
                   *extra, stdin=jws, check=check)


class Verified(BedCase):
    """Messages whose sender's records are published verify, each way."""

    def test_compact_es256_spki_record(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"temp=21.5", "--iat", "--jti")
        p = self.verify(jws, "--require-iat", check=0)
        self.assertEqual(p.stdout, b"temp=21.5")
        self.assertIn(f"verified: sender {name}, alg ES256, key tlsa 3 1 0",
                      p.stderr.decode())

    def test_flattened_rs256_certificate_record(self):
        """The prototypes' format: flattened JSON, RS256, x5u, full cert 3 0 0."""
        name, key, cert = self.identity("rsa2048")
        self.publish(name, self.tlsa(cert, 3, 0, 0))
        jws = self.sign(key, name, b'{"t":1}', "--json")
        self.assertTrue(jws.startswith(b"{"))
        p = self.verify(jws, check=0)
        self.assertEqual(p.stdout, b'{"t":1}')
        self.assertIn("alg RS256, key tlsa 3 0 0", p.stderr.decode())

    def test_digest_record_with_x5c(self):
        name, key, cert = self.identity("ed25519")
        self.publish(name, self.tlsa(cert, 3, 1, 1))
        jws = self.sign(key, name, b"hello", "--x5c", cert)
        p = self.verify(jws, check=0)
        self.assertEqual(p.stdout, b"hello")
        self.assertIn("alg EdDSA, key x5c+tlsa 3 1 1", p.stderr.decode())
        # without x5c the digest gives no key
        jws = self.sign(key, name, b"hello")
        p = self.verify(jws, check=1)
        self.assertIn("no_usable_record", p.stderr.decode())

    def test_service_form_owner(self):
        name, key, cert = self.identity("ec384")
        self.publish("_mqtt." + name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"svc")
        p = self.verify(jws, "--service-label", "_mqtt", check=0)
        self.assertEqual(p.stdout, b"svc")
        # the DevID owner (the name itself) has nothing
        p = self.verify(jws, check=1)
        self.assertIn("no_record", p.stderr.decode())

    def test_allowed_domain_and_topic(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"t", "--topic", "sensors/x")
        self.verify(jws, "--allowed-domains", "acme.example", "--topic", "sensors/x",
                    "--require-topic", check=0)
        p = self.verify(jws, "--topic", "sensors/y", check=1)
        self.assertIn("topic_mismatch", p.stderr.decode())

    def test_wrong_key_in_dns(self):
        name, key, cert = self.identity("ec256")
        _, _, other_cert = self.identity("ec256")
        self.publish(name, self.tlsa(other_cert, 3, 1, 0))
        p = self.verify(self.sign(key, name, b"x"), check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("bad_signature", p.stderr.decode())


class Refused(BedCase):
    """Revoked, forged, unsigned, unreachable, not allowed."""

    def test_login_token_is_not_a_message(self):
        # a token made by `dance token` (typ JWT) with the device's own key and
        # published record is refused as a message, before any DNS query
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        tok = run("token", "--key", key, "--name", name, "--aud", "broker.acme.example",
                  check=0).stdout.strip()
        p = self.verify(tok, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("typ", p.stderr.decode())
        self.assertIn("token", p.stderr.decode())
        # the same device's signed message verifies
        p = self.verify(self.sign(key, name, b"x"), check=0)
        self.assertEqual(p.stdout, b"x")

    def test_record_removed(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"x")
        self.verify(jws, check=0)
        self.tb.remove_records(name, "TLSA")
        self.tb.publish()
        p = self.verify(jws, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertRegex(p.stderr.decode(), r"not verified \(no_record, sender " +
                         re.escape(name))

    def test_bogus(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"x")
        self.verify(jws, check=0)
        self.tb.tamper_signature(name, "TLSA")
        try:
            p = self.verify(jws, check=1)
            self.assertEqual(p.stdout, b"")
            self.assertIn("(bogus", p.stderr.decode())
        finally:
            self.tb.clear_tampering()
            self.tb.publish()

    def test_insecure(self):
        name, key, cert = self.identity("ec256", domain="unsigned.example")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        p = self.verify(self.sign(key, name, b"x"), check=1)
        self.assertIn("(insecure", p.stderr.decode())

    def test_unknown_sender(self):
        name, key, _ = self.identity("ec256")
        p = self.verify(self.sign(key, name, b"x"), check=1)
        self.assertIn("no_record", p.stderr.decode())

    def test_outside_allowed_domains_makes_no_query(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"x")
        before = self.tb.query_count()
        p = self.verify(jws, "--allowed-domains", "example.com,other.example", check=1)
        self.assertIn("outside_allowed_domains", p.stderr.decode())
        self.assertEqual(self.tb.query_count(), before)
        # positive control: the same message under an allowed domain asks DNS
        self.verify(jws, "--allowed-domains", "acme.example", check=0)
        self.assertGreater(self.tb.query_count(), before)

    def test_server_down(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        jws = self.sign(key, name, b"x")
        self.tb.stop_server()
        try:
            p = self.verify(jws, timeout=1000, check=3)
            self.assertEqual(p.stdout, b"")
            self.assertIn("lookup_failure", p.stderr.decode())
        finally:
            self.tb.start_server()
        self.verify(jws, check=0)


if __name__ == "__main__":
    unittest.main()
