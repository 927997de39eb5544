#!/usr/bin/python3
"""test_cose_cli.py - `dance sign --cose` / `dance verify` with COSE_Sign1.

Offline: round trips with --key / --cert for every algorithm of the
profile, binary and base64, and the refusals (tampering, wrong key, topic,
malformed CBOR, bad usage). Dns: against a real DNSSEC tree
(tests/testbed/dnstestbed.py, knotd, as test_jws_cli.py): the key from a
3 1 0 record, the certificate in x5chain matched to a 3 1 1 record, a
removed record, the allow-list without queries.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/integration/test_cose_cli.py -v [Class]
"""

import base64
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dance_cli import run  # noqa: E402

NAME = "s2._device.acme.example"


class Offline(unittest.TestCase):
    """No DNS: the key is given."""

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="dance-cose-")
        cls.tmp = cls.tmpdir.name
        cls.keys = {}
        for t in ("ec256", "ec384", "ec521", "ed25519", "rsa2048"):
            key = os.path.join(cls.tmp, t + ".key.pem")
            cert = os.path.join(cls.tmp, t + ".cert.pem")
            run("keygen", "--type", t, "--out", key, check=0)
            run("cert", "--key", key, "--name", NAME, "--out", cert, check=0)
            cls.keys[t] = (key, cert)

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def sign(self, keytype, payload, *extra, check=0):
        return run("sign", "--key", self.keys[keytype][0], "--name", NAME, "--cose",
                   *extra, stdin=payload, check=check)

    def verify(self, msg, keytype, *extra, check=None, cert=False):
        opt = "--cert" if cert else "--key"
        return run("verify", opt, self.keys[keytype][1 if cert else 0], *extra,
                   stdin=msg, check=check)

    def test_round_trip_every_algorithm(self):
        for keytype, alg in (("ec256", "ES256"), ("ec384", "ES384"), ("ec521", "ES512"),
                             ("ed25519", "EdDSA"), ("rsa2048", "RS256"),
                             ("rsa2048", "PS256")):
            with self.subTest(alg=alg):
                msg = self.sign(keytype, b"temp=21.5", "--alg", alg).stdout
                self.assertEqual(msg[0], 0xd2)     # tag 18, binary
                p = self.verify(msg, keytype, check=0, cert=True)
                self.assertEqual(p.stdout, b"temp=21.5")
                self.assertIn(f"verified: sender {NAME}, alg {alg}, key offline "
                              "certificate", p.stderr.decode())

    def test_base64(self):
        p = self.sign("ec256", b"\x00\x01binary", "--base64", "--topic", "s/2")
        text = p.stdout
        self.assertTrue(text.endswith(b"\n"))
        raw = base64.b64decode(text.strip(), validate=True)
        self.assertEqual(raw[0], 0xd2)
        wrapped = b"\n".join(text[i:i + 20] for i in range(0, len(text), 20))
        for form in (text, raw, base64.urlsafe_b64encode(raw).rstrip(b"="), wrapped):
            p = self.verify(form, "ec256", "--topic", "s/2", "--require-topic", check=0)
            self.assertEqual(p.stdout, b"\x00\x01binary")

    def test_smaller_than_jws(self):
        cose = self.sign("ec256", b"temp=21.5", "--topic", "s/2", "--jti").stdout
        jws = run("sign", "--key", self.keys["ec256"][0], "--name", NAME, "--topic", "s/2",
                  "--jti", stdin=b"temp=21.5", check=0).stdout
        self.assertLess(len(cose), len(jws) * 3 // 4)
        # verify tells them apart by the first byte
        self.assertEqual(self.verify(jws, "ec256", check=0).stdout, b"temp=21.5")
        self.assertEqual(self.verify(cose, "ec256", check=0).stdout, b"temp=21.5")

    def test_refusals(self):
        msg = self.sign("ec256", b"temp=21.5", "--topic", "s/2").stdout
        i = msg.index(b"temp")
        tampered = msg[:i] + b"T" + msg[i + 1:]
        p = self.verify(tampered, "ec256", check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("not verified (bad_signature, sender " + NAME, p.stderr.decode())
        p = self.verify(msg, "ec384", check=1)
        self.assertIn("(key_mismatch", p.stderr.decode())
        p = self.verify(msg, "ec256", "--topic", "s/3", check=1)
        self.assertIn("(topic_mismatch", p.stderr.decode())
        p = self.verify(msg + b"\x00", "ec256", check=1)
        self.assertIn("(malformed): COSE message is followed by 1 more bytes",
                      p.stderr.decode())
        p = self.verify(msg[:-3], "ec256", check=1)
        self.assertIn("truncated", p.stderr.decode())
        p = self.verify(msg, "ec256", "--max-size", "50", check=1)
        self.assertIn("(too_large", p.stderr.decode())
        # text that is neither JWS nor base64 CBOR goes to the JWS parser
        p = self.verify(b"aGVsbG8gd29ybGQ=\n", "ec256", check=1)
        self.assertIn("(malformed): not a JWS", p.stderr.decode())
        # an indefinite-length array made by hand
        p = self.verify(b"\xd2\x9f\x40\xa0\x40\x41\x00\xff", "ec256", check=1)
        self.assertIn("indefinite-length", p.stderr.decode())

    def test_usage(self):
        key = self.keys["ec256"][0]
        for args, why in ((("--base64",), "--base64 applies to --cose"),
                          (("--cose", "--json"), "--json and --x5u"),
                          (("--cose", "--x5u"), "--json and --x5u")):
            p = run("sign", "--key", key, "--name", NAME, *args, stdin=b"x", check=2)
            self.assertIn(why, p.stderr.decode())
            self.assertEqual(p.stdout, b"")
        p = self.sign("rsa2048", b"x", "--alg", "RS384", check=2)
        self.assertIn("not among the COSE algorithms", p.stderr.decode())
        self.assertEqual(p.stdout, b"")


class Dns(unittest.TestCase):
    """Keys from DNSSEC-validated TLSA records."""

    @classmethod
    def setUpClass(cls):
        from plugin_fixture import Bed
        bed = Bed.for_class(cls, "cose-cli", pki=False, default_ttl=300, negative_ttl=60)
        cls.tmp, cls.tb = bed.dir, bed.tb
        cls.n = 0

    def identity(self, keytype):
        type(self).n += 1
        name = f"s{self.n}._device.acme.example"
        key = os.path.join(self.tmp, f"{name}.key.pem")
        cert = os.path.join(self.tmp, f"{name}.cert.pem")
        run("keygen", "--type", keytype, "--out", key, check=0)
        run("cert", "--key", key, "--name", name, "--out", cert, check=0)
        return name, key, cert

    def publish(self, name, cert, u, s, m):
        rr = run("tlsa", "--usage", str(u), "--selector", str(s), "--mtype", str(m), cert,
                 check=0).stdout.decode().strip()
        self.tb.set_records(name, "TLSA", [rr])
        self.tb.publish()

    def verify(self, msg, *extra, check=None):
        return run("verify", "--resolver", self.tb.upstream,
                   "--trust-anchor", self.tb.trust_anchor, "--timeout", "2000",
                   *extra, stdin=msg, check=check)

    def test_key_record(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, cert, 3, 1, 0)
        msg = run("sign", "--key", key, "--name", name, "--cose", "--topic", "s/1",
                  "--jti", stdin=b"21.5", check=0).stdout
        p = self.verify(msg, "--topic", "s/1", "--require-iat", check=0)
        self.assertEqual(p.stdout, b"21.5")
        self.assertIn(f"verified: sender {name}, alg ES256, key tlsa 3 1 0",
                      p.stderr.decode())
        self.tb.remove_records(name, "TLSA")
        self.tb.publish()
        p = self.verify(msg, check=1)
        self.assertIn(f"not verified (no_record, sender {name})", p.stderr.decode())

    def test_digest_record_with_x5chain(self):
        name, key, cert = self.identity("ed25519")
        self.publish(name, cert, 3, 1, 1)
        msg = run("sign", "--key", key, "--name", name, "--cose", "--base64", "--x5c", cert,
                  stdin=b"hello", check=0).stdout
        p = self.verify(msg, check=0)
        self.assertEqual(p.stdout, b"hello")
        self.assertIn("alg EdDSA, key x5c+tlsa 3 1 1", p.stderr.decode())
        msg = run("sign", "--key", key, "--name", name, "--cose", stdin=b"hello",
                  check=0).stdout
        p = self.verify(msg, check=1)
        self.assertIn("(no_usable_record", p.stderr.decode())

    def test_outside_allowed_domains_makes_no_query(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, cert, 3, 1, 0)
        msg = run("sign", "--key", key, "--name", name, "--cose", stdin=b"x",
                  check=0).stdout
        before = self.tb.query_count()
        p = self.verify(msg, "--allowed-domains", "other.example", check=1)
        self.assertIn("outside_allowed_domains", p.stderr.decode())
        self.assertEqual(self.tb.query_count(), before)
        self.verify(msg, "--allowed-domains", "acme.example", check=0)
        self.assertGreater(self.tb.query_count(), before)


if __name__ == "__main__":
    unittest.main()
