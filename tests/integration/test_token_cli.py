#!/usr/bin/python3
"""test_token_cli.py - `dance token` (and `dance tlsa --key`) with real parts.

Make: the printed token is a compact JWS with the documented header and
claims; python3-jwcrypto (an independent implementation) verifies its
signature; usage errors exit 2 with a reason and print nothing on stdout.

Verify: `dance token --verify` against a real DNSSEC tree (knotd serving
zones signed at test time, tests/testbed/dnstestbed.py; getdns validating
from the fake root): valid with a raw key 3 1 0 record and with 3 1 1 +
x5c, a jwcrypto-made token accepted; refused when expired, for another
audience, with the wrong key, alg none / HS256, a lifetime over the
maximum, a username that is not the kid, no record; a name outside the
allow-list is refused without a DNS query.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/integration/test_token_cli.py -v [Class]

ctest registers each class as integration.token_cli.<Class>.
DANCE_KEEP_TESTBED=1 keeps the work directories.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

from jwcrypto import jwk, jws

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dance_cli import run  # noqa: E402
from plugin_fixture import Bed  # noqa: E402

AUD = "broker.acme.example"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


def pem_key(path):
    with open(path, "rb") as f:
        return jwk.JWK.from_pem(f.read())


def craft(key_path, header, claims):
    """A token made by jwcrypto, not by us: exactly these header and claims."""
    s = jws.JWS(json.dumps(claims).encode())
    s.add_signature(pem_key(key_path), None, protected=json.dumps(header))
    return s.serialize(compact=True)


class Work(unittest.TestCase):
    dns = False         # True: a DNSSEC test bed in self.tb

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "token-cli", dns=cls.dns, pki=False)
        cls.tmp, cls.tb = bed.dir, bed.tb
        cls.n = 0

    def device(self, keytype="ec256", domain="acme.example"):
        """A fresh device: (name, key path, self-signed cert path)."""
        type(self).n += 1
        name = f"dev{self.n}._device.{domain}"
        key = os.path.join(self.tmp, f"{name}.key.pem")
        cert = os.path.join(self.tmp, f"{name}.cert.pem")
        run("keygen", "--type", keytype, "--out", key, check=0)
        run("cert", "--key", key, "--name", name, "--out", cert, check=0)
        return name, key, cert

    def token(self, key, name, *extra):
        out = run("token", "--key", key, "--name", name, "--aud", AUD, *extra,
                  check=0).stdout.decode()
        self.assertTrue(out.endswith("\n"))
        self.assertEqual(out.count("\n"), 1)
        return out.strip()


class Make(Work):
    """What `dance token` prints, checked independently."""

    def test_format_and_claims(self):
        name, key, cert = self.device("ec256")
        before = int(time.time())
        t = self.token(key, name.upper())
        after = int(time.time())
        self.assertRegex(t, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
        hdr, claims, _ = parts(t)
        self.assertEqual(hdr, {"alg": "ES256", "kid": name, "typ": "JWT"})
        self.assertEqual(set(claims), {"aud", "iat", "exp", "jti"})
        self.assertEqual(claims["aud"], AUD)
        self.assertTrue(before <= claims["iat"] <= after)
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        self.assertRegex(claims["jti"], r"^[A-Za-z0-9_-]{22}$")
        # jwcrypto verifies our signature with the public key
        v = jws.JWS()
        v.deserialize(t)
        v.verify(pem_key(key))
        self.assertEqual(json.loads(v.payload), claims)

    def test_lifetime_x5c_alg_and_fresh_jti(self):
        name, key, cert = self.device("rsa2048")
        t1 = self.token(key, name, "--lifetime", "60", "--x5c", cert, "--alg", "PS256")
        t2 = self.token(key, name, "--lifetime", "60", "--x5c", cert, "--alg", "PS256")
        h1, c1, _ = parts(t1)
        _, c2, _ = parts(t2)
        self.assertEqual(h1["alg"], "PS256")
        self.assertEqual(c1["exp"] - c1["iat"], 60)
        self.assertNotEqual(c1["jti"], c2["jti"])
        with open(cert) as f:
            body = "".join(line for line in f.read().splitlines() if "-----" not in line)
        self.assertEqual(h1["x5c"], [body])
        v = jws.JWS()
        v.deserialize(t1)
        v.verify(pem_key(key))

    def test_ed25519(self):
        name, key, _ = self.device("ed25519")
        hdr, _, _ = parts(self.token(key, name))
        self.assertEqual(hdr["alg"], "EdDSA")

    def test_usage_errors(self):
        name, key, cert = self.device("ec256")
        _, other_key, other_cert = self.device("ec256")
        cases = [
            (("--key", key, "--name", name), "--aud"),
            (("--key", key, "--aud", AUD), "--name"),
            (("--name", name, "--aud", AUD), "--key"),
            (("--key", key, "--name", name, "--aud", AUD, "--lifetime", "0"), "lifetime"),
            (("--key", key, "--name", name, "--aud", AUD, "--lifetime", "86401"), "lifetime"),
            (("--key", key, "--name", name, "--aud", AUD, "--lifetime", "5m"), "lifetime"),
            (("--key", key, "--name", name, "--aud", AUD, "--x5c", other_cert), "x5c"),
            (("--key", key, "--name", name, "--aud", AUD, "--alg", "RS256"), "RS256"),
            (("--key", key, "--name", name, "--aud", AUD, "--alg", "HS256"), "HS256"),
            (("--key", key, "--name", "not a name", "--aud", AUD), "not a name"),
            (("--key", "/nonexistent.pem", "--name", name, "--aud", AUD), "nonexistent"),
            (("--key", cert, "--name", name, "--aud", AUD), cert),
            (("--key", key, "--name", name, "--aud", AUD, "extra"), "extra"),
            (("--key", key, "--name", name, "--aud", AUD, "--resolver", "127.0.0.1"),
             "--verify"),
            (("--verify", "--key", key, "--name", name, "--aud", AUD), "--verify"),
            (("--verify", "--name", name), "--aud"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                p = run("token", *args, check=2)
                self.assertEqual(p.stdout, b"")
                self.assertIn(needle, p.stderr.decode())
                self.assertTrue(p.stderr.decode().startswith("dance token: "))

    def test_help(self):
        p = run("token", "--help", check=0)
        for opt in ("--key", "--name", "--aud", "--lifetime", "--x5c", "--verify"):
            self.assertIn(opt, p.stdout.decode())
        self.assertIn("token", run("--help", check=0).stdout.decode())

    def test_tlsa_for_a_raw_key(self):
        """dance tlsa --key: the record of the key alone equals the certificate's."""
        name, key, cert = self.device("ec384")
        pub = os.path.join(self.tmp, "pub.pem")
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
        for m in ("0", "1", "2"):
            from_cert = run("tlsa", "--usage", "3", "--selector", "1", "--mtype", m, cert,
                            check=0).stdout
            for k in (key, pub):
                self.assertEqual(run("tlsa", "--usage", "3", "--selector", "1", "--mtype", m,
                                     "--key", k, check=0).stdout, from_cert)
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        line = run("tlsa", "--usage", "3", "--selector", "1", "--mtype", "1", "--key", pub,
                   "--owner", name, "--ttl", "60", check=0).stdout.decode().strip()
        self.assertEqual(line, f"{name}. 60 IN TLSA 3 1 1 "
                               f"{hashlib.sha256(der).hexdigest().upper()}")
        for args, needle in (
                (("--usage", "3", "--selector", "0", "--mtype", "1", "--key", pub), "selector 1"),
                (("--usage", "2", "--selector", "1", "--mtype", "1", "--key", pub), "usage 3"),
                (("--usage", "3", "--selector", "1", "--mtype", "1", "--key", pub, cert), "not both"),
                (("--usage", "3", "--selector", "1", "--mtype", "1", "--key", cert), cert)):
            p = run("tlsa", *args, check=2)
            self.assertEqual(p.stdout, b"")
            self.assertIn(needle, p.stderr.decode())


class Verify(Work):
    """`dance token --verify` against the signed test bed."""

    dns = True

    def publish(self, owner, *records):
        self.tb.set_records(owner, "TLSA", list(records))
        self.tb.publish()

    def tlsa(self, *args):
        return run("tlsa", *args, check=0).stdout.decode().strip()

    def check(self, token, name, *extra, check=None):
        p = run("token", "--verify", "--name", name, "--aud", AUD,
                "--resolver", self.tb.upstream, "--trust-anchor", self.tb.trust_anchor,
                "--timeout", "3000", *extra, stdin=token.encode() + b"\n", check=check)
        out = p.stdout.decode()
        self.assertEqual(out.count("\n"), 1, out)
        return out

    def test_raw_key_310(self):
        """A device with only a key pair: the record is its raw public key."""
        name, key, _ = self.device("ec256")
        self.publish(name, self.tlsa("--usage", "3", "--selector", "1", "--mtype", "0",
                                     "--key", key))
        out = self.check(self.token(key, name), name, "--allowed-domains", "acme.example",
                         check=0)
        self.assertRegex(out, rf"^valid: identity {re.escape(name)}, alg ES256, key tlsa "
                              r"3 1 0, expires in (29\d|300) s$")
        # the username is the identity, in any case
        self.check(self.token(key, name), name.upper() + ".", check=0)

    def test_digest_311_with_x5c(self):
        name, key, cert = self.device("ed25519")
        self.publish(name, self.tlsa("--usage", "3", "--selector", "1", "--mtype", "1", cert))
        out = self.check(self.token(key, name, "--x5c", cert), name, check=0)
        self.assertIn("key x5c+tlsa 3 1 1", out)
        out = self.check(self.token(key, name), name, check=1)
        self.assertIn("not valid (no_usable_record", out)

    def test_generic_jwt_library_token(self):
        """A token made by jwcrypto the way any JWT library would."""
        name, key, _ = self.device("ec256")
        self.publish(name, self.tlsa("--usage", "3", "--selector", "1", "--mtype", "0",
                                     "--key", key))
        now = int(time.time())
        t = craft(key, {"alg": "ES256", "kid": name, "typ": "JWT"},
                  {"aud": [AUD], "iat": now, "exp": now + 120, "jti": "abc", "sub": name})
        self.assertIn("valid: identity", self.check(t, name, check=0))

    def test_openssl_snippet_of_the_docs(self):
        """The shell + OpenSSL token maker in doc/formats.md makes valid tokens."""
        with open(os.path.join(HERE, "..", "..", "doc", "formats.md")) as f:
            doc = f.read()
        m = re.search(r"<!-- snippet: openssl-token -->\n```sh\n(.*?)```", doc, re.S)
        self.assertIsNotNone(m, "snippet markers missing in doc/formats.md")
        name, key, _ = self.device("ed25519")
        script = m.group(1)
        self.assertIn("NAME=dev1._device.acme.example", script)
        self.assertIn(f"AUD={AUD}", script)
        script = script.replace("NAME=dev1._device.acme.example", f"NAME={name}")
        script = script.replace("KEY=dev1.key", f"KEY={key}")
        work = tempfile.mkdtemp(dir=self.tmp)
        p = subprocess.run(["bash", "-ec", script + '\nprintf "%s" "$TOKEN"\n'], cwd=work,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.decode()
        self.publish(name, self.tlsa("--usage", "3", "--selector", "1", "--mtype", "0",
                                     "--key", key))
        out = self.check(token, name, check=0)
        self.assertIn(f"valid: identity {name}, alg EdDSA, key tlsa 3 1 0", out)

    def test_refusals(self):
        name, key, cert = self.device("ec256")
        _, other_key, _ = self.device("ec256")
        self.publish(name, self.tlsa("--usage", "3", "--selector", "1", "--mtype", "0",
                                     "--key", key))
        now = int(time.time())
        good_hdr = {"alg": "ES256", "kid": name, "typ": "JWT"}

        def claims(**kw):
            c = {"aud": AUD, "iat": now, "exp": now + 120, "jti": "j"}
            c.update(kw)
            return c

        spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                              check=True, capture_output=True).stdout
        hs_si = (b64url(json.dumps({"alg": "HS256", "kid": name}).encode()) + "."
                 + b64url(json.dumps(claims()).encode()))
        hs256 = hs_si + "." + b64url(hmac.new(spki, hs_si.encode(), hashlib.sha256).digest())
        none = (b64url(json.dumps({"alg": "none", "kid": name}).encode()) + "."
                + b64url(json.dumps(claims()).encode()) + ".")
        cases = [
            ("expired", craft(key, good_hdr, claims(iat=now - 200, exp=now - 100)), name),
            ("wrong_audience", run("token", "--key", key, "--name", name, "--aud",
                                   "other.example", check=0).stdout.decode().strip(), name),
            ("bad_signature", self.token(other_key, name), name),
            ("bad_alg", hs256, name),
            ("bad_alg", none, name),
            ("lifetime_too_long", craft(key, good_hdr, claims(exp=now + 7200)), name),
            ("not_yet_valid", craft(key, good_hdr, claims(iat=now + 600, exp=now + 700)), name),
            ("identity_mismatch", self.token(key, name), "dev99._device.acme.example"),
            ("malformed", "secret-password", name),
            ("unsupported", craft(key, dict(good_hdr, typ="at+jwt"), claims()), name),
            # no typ: a signed message (dance sign writes none) is not a token
            ("unsupported", craft(key, {"alg": "ES256", "kid": name}, claims()), name),
        ]
        for reason, token, user in cases:
            with self.subTest(reason=reason):
                out = self.check(token, user, check=1)
                self.assertTrue(out.startswith(f"not valid ({reason}"), out)
        # a longer lifetime is fine when the verifier allows it
        self.check(craft(key, good_hdr, claims(exp=now + 7200)), name,
                   "--max-lifetime", "7200", check=0)

    def test_no_record_and_allow_list(self):
        name, key, _ = self.device("ec256")
        out = self.check(self.token(key, name), name, check=1)
        self.assertIn("not valid (no_record", out)
        # outside the allowed domains: refused without asking DNS
        ename, ekey, _ = self.device("ec256", domain="evil.example")
        before = self.tb.query_count()
        out = self.check(self.token(ekey, ename), ename, "--allowed-domains", "acme.example",
                         check=1)
        self.assertIn("not valid (outside_allowed_domains", out)
        self.assertEqual(self.tb.query_count(), before)
        # DNS server down: lookup failure, exit 3
        p = run("token", "--verify", "--name", name, "--aud", AUD, "--resolver",
                "127.0.0.1@1", "--trust-anchor", self.tb.trust_anchor, "--timeout", "300",
                stdin=self.token(key, name).encode(), check=3)
        self.assertIn("not valid (lookup_failure", p.stdout.decode())


if __name__ == "__main__":
    unittest.main()
