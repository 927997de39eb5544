#!/usr/bin/python3
"""test_jwe_cli.py - `dance encrypt --to NAME` against a real DNSSEC tree.

The recipient's key comes from its TLSA records (knotd serving zones signed
at test time, getdns validating from the fake root), the way `dance verify`
gets a sender's: 3 0 0 (the DANCE prototype's RSA certificate) and 3 1 0
(an EC key) give a key that the recipient's private key decrypts; digest
records, no record, an insecure or bogus answer and a server that does not
answer give no key, each with its reason and exit status. The whole chain
of the prototype runs too: a device signs, encrypts to the backend's DNS
identity, and `dance verify --decrypt-key` decrypts and verifies the sender
against DNS, and the other way round (encrypt, then sign with cty JWE):
`dance verify --decrypt-key` checks the signature first, then decrypts.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/integration/test_jwe_cli.py -v
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dance_cli import run  # noqa: E402
from test_jws_cli import BedCase  # noqa: E402


class EncryptTo(BedCase):
    def encrypt(self, name, plaintext, *extra, check=None, timeout=2000):
        return run("encrypt", "--to", name, "--resolver", self.tb.upstream,
                   "--trust-anchor", self.tb.trust_anchor, "--timeout", str(timeout),
                   *extra, stdin=plaintext, check=check)

    def test_rsa_certificate_record(self):
        name, key, cert = self.identity("rsa2048")
        self.publish(name, self.tlsa(cert, 3, 0, 0))
        m = self.encrypt(name, b"for the backend", "--json", "--enc", "A256CBC-HS512",
                         check=0).stdout
        self.assertTrue(m.startswith(b"{"))
        p = run("decrypt", "--key", key, stdin=m, check=0)
        self.assertEqual(p.stdout, b"for the backend")
        self.assertIn(f"alg RSA-OAEP-256, enc A256CBC-HS512, recipient {name}",
                      p.stderr.decode())

    def test_ec_spki_record_and_service_label(self):
        name, key, cert = self.identity("ec384")
        self.publish("_mqtt." + name, self.tlsa(cert, 3, 1, 0))
        m = self.encrypt(name, b"svc", "--service-label", "_mqtt", "--alg",
                         "ECDH-ES+A256KW", check=0).stdout
        p = run("decrypt", "--key", key, stdin=m, check=0)
        self.assertEqual(p.stdout, b"svc")
        self.assertIn("alg ECDH-ES+A256KW, enc A256GCM", p.stderr.decode())

    def test_no_key_in_dns(self):
        name, key, cert = self.identity("ec256")
        p = self.encrypt(name, b"x", check=1)            # nothing published
        self.assertEqual(p.stdout, b"")
        self.assertIn("no key to encrypt to (no_record)", p.stderr.decode())
        self.publish(name, self.tlsa(cert, 3, 1, 1))     # a digest only
        p = self.encrypt(name, b"x", check=1)
        self.assertIn("(no_usable_record)", p.stderr.decode())
        name, key, cert = self.identity("ec256", domain="unsigned.example")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        p = self.encrypt(name, b"x", check=1)
        self.assertIn("(insecure)", p.stderr.decode())

    def test_bogus_and_server_down(self):
        name, key, cert = self.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        self.encrypt(name, b"x", check=0)
        self.tb.tamper_signature(name, "TLSA")
        try:
            p = self.encrypt(name, b"x", check=1)
            self.assertEqual(p.stdout, b"")
            self.assertIn("(bogus)", p.stderr.decode())
        finally:
            self.tb.clear_tampering()
            self.tb.publish()
        self.tb.stop_server()
        try:
            p = self.encrypt(name, b"x", timeout=1000, check=3)
            self.assertIn("(lookup_failure)", p.stderr.decode())
        finally:
            self.tb.start_server()

    def test_sign_then_encrypt_verified_against_dns(self):
        """The prototype's chain: device signs (RS256, flattened JSON, x5u),
        encrypts to the backend's key in DNS; the backend decrypts and
        verifies the device against DNS."""
        dev, dev_key, dev_cert = self.identity("rsa2048")
        be, be_key, be_cert = self.identity("rsa2048")
        self.publish(dev, self.tlsa(dev_cert, 3, 0, 0))
        self.publish(be, self.tlsa(be_cert, 3, 0, 0))
        jws = self.sign(dev_key, dev, b'{"temp": 21.5}', "--json", "--topic", "t/1")
        m = self.encrypt(be, jws.strip(), "--json", "--enc", "A256CBC-HS512",
                         check=0).stdout
        p = self.verify(m, "--decrypt-key", be_key, "--topic", "t/1", check=0)
        self.assertEqual(p.stdout, b'{"temp": 21.5}')
        err = p.stderr.decode()
        self.assertIn("decrypted: alg RSA-OAEP-256", err)
        self.assertIn(f"verified: sender {dev}, alg RS256, key tlsa 3 0 0", err)
        # the device's record removed: decrypts, but the sender is unknown
        self.publish(dev)
        p = self.verify(m, "--decrypt-key", be_key, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("no_record", p.stderr.decode())

    def test_encrypt_then_sign_verified_against_dns(self):
        """JWS(JWE), cty JWE: encrypted to the backend's key in DNS, signed
        by the device; `dance verify --decrypt-key` verifies the device
        against DNS first, then decrypts. Without the key, verification
        alone gives the JWE, still encrypted."""
        dev, dev_key, dev_cert = self.identity("ec256")
        be, be_key, be_cert = self.identity("rsa2048")
        self.publish(dev, self.tlsa(dev_cert, 3, 1, 0))
        self.publish(be, self.tlsa(be_cert, 3, 0, 0))
        jwe = self.encrypt(be, b'{"temp": 22.5}', check=0).stdout.strip()
        for form in ((), ("--json",)):
            with self.subTest(form=form):
                jws = self.sign(dev_key, dev, jwe, "--cty", "JWE", "--topic", "t/2", *form)
                p = self.verify(jws, "--decrypt-key", be_key, "--topic", "t/2", check=0)
                self.assertEqual(p.stdout, b'{"temp": 22.5}')
                err = p.stderr.decode()
                verified = err.index(f"verified: sender {dev}, alg ES256, key tlsa 3 1 0")
                decrypted = err.index(f"decrypted: alg RSA-OAEP-256, enc A256GCM, "
                                      f"recipient {be}")
                self.assertLess(verified, decrypted)        # verified first
                p = self.verify(jws, "--topic", "t/2", check=0)
                self.assertEqual(p.stdout, jwe)             # what a broker sees
        # a wrong private key: verified, not decrypted, nothing on stdout
        jws = self.sign(dev_key, dev, jwe, "--cty", "JWE", "--topic", "t/2")
        other, other_key, _ = self.identity("rsa2048")
        p = self.verify(jws, "--decrypt-key", other_key, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(f"verified: sender {dev}", p.stderr.decode())
        self.assertIn("not decrypted (decryption_failed): decryption failed",
                      p.stderr.decode())
        # a JWE changed before signing (the signer's own mistake, or a
        # forger with the device key): same one reason
        parts = jwe.split(b".")
        parts[3] = (b"A" if parts[3][:1] != b"A" else b"B") + parts[3][1:]
        jws = self.sign(dev_key, dev, b".".join(parts), "--cty", "JWE")
        p = self.verify(jws, "--decrypt-key", be_key, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("not decrypted (decryption_failed)", p.stderr.decode())
        # the signature is checked before anything is decrypted
        p = self.verify(jws.replace(b".", b".x", 1), "--decrypt-key", be_key, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertNotIn("decrypted", p.stderr.decode())
        # signed but not encrypted: --decrypt-key says so, writes nothing
        jws = self.sign(dev_key, dev, b"plain", "--topic", "t/2")
        p = self.verify(jws, "--decrypt-key", be_key, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("signed but not encrypted", p.stderr.decode())
        # the device record removed: not verified, so not decrypted either
        self.publish(dev)
        jws = self.sign(dev_key, dev, jwe, "--cty", "JWE")
        p = self.verify(jws, "--decrypt-key", be_key, check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("no_record", p.stderr.decode())
        self.assertNotIn("decrypted", p.stderr.decode())

    def test_sign_cty_jwe_needs_a_jwe(self):
        dev, dev_key, _ = self.identity("ec256")
        p = run("sign", "--key", dev_key, "--name", dev, "--cty", "JWE",
                stdin=b"a.b.c", check=2)
        self.assertEqual(p.stdout, b"")
        self.assertIn("cty JWE says the payload is a JWE, but it is not one", p.stderr.decode())
        p = run("sign", "--key", dev_key, "--name", dev, "--cty", "JWE", "--cose",
                stdin=b"a.b.c.d.e", check=2)
        self.assertIn("--cty is a JWS option", p.stderr.decode())
        p = run("sign", "--key", dev_key, "--name", dev, "--cty", "bad cty",
                stdin=b"x", check=2)
        self.assertIn("cty must be printable ASCII without spaces", p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
