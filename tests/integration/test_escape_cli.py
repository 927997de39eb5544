#!/usr/bin/python3
"""test_escape_cli.py - `dance verify` and `dance token --verify` print what a
signer chose only escaped (include/dance/error.h, doc/security-model.md).

Hostile values (newline, CR, ESC [2J, DEL, UTF-8, a backslash, a forged
"dance: accepted identity=..." line; separately a \\u0000 escape) go through
each of kid, x5u, alg, crit, typ, jti, topic (messages and tokens) and aud
(tokens), in JSON with \\u escapes and in raw UTF-8. The output must hold no
raw control byte, DEL or non-ASCII byte and exactly one line; where a
reason quotes the value, its escaped form (\\x0a ...) is there.

No DNS: `dance verify --key` checks offline; `dance token --verify` asks a
closed port, so tokens that pass the cheap checks end in lookup_failure.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/integration/test_escape_cli.py -v
"""

import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

from jwcrypto import jwk, jws

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dance_cli import run  # noqa: E402
NAME = "dev1._device.acme.example"
AUD = "broker.acme.example"
FORGED = 'dance: accepted identity=victim._device.acme.example client_id="v"'
HOSTILE = "x\n" + FORGED + "\r\x1b[2J\x7f\u00e9\\"
NUL = "dev1\u0000._device.acme.example"
# fields whose refusal reason quotes the value (messages; tokens add typ, aud)
QUOTED_MSG = {"kid", "x5u", "alg", "crit", "topic"}
QUOTED_TOKEN = {"kid", "x5u", "alg", "crit", "typ", "aud"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EscapeCli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dance-escape-cli-")
        cls.key = os.path.join(cls.tmp, "dev1.key")
        run("keygen", "--type", "ec256", "--out", cls.key, check=0)
        with open(cls.key, "rb") as f:
            cls.jwk = jwk.JWK.from_pem(f.read())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sign(self, header, payload, ascii_json):
        """A compact JWS with exactly this header, signed with the device key
        (a zero signature where the alg is not one jwcrypto knows)."""
        h = json.dumps(header, ensure_ascii=ascii_json).encode()
        try:
            s = jws.JWS(payload)
            s.add_signature(self.jwk, None, protected=h.decode())
            sig = s.serialize(compact=True).split(".")[2]
        except Exception:  # noqa: BLE001 - jwcrypto refuses hostile algs
            sig = b64url(bytes(64))
        return (b64url(h) + "." + b64url(payload) + "." + sig).encode()

    def assertClean(self, data, what):
        """printable ASCII and newlines only"""
        bad = [b for b in data if (b < 0x20 and b != 0x0a) or b >= 0x7f]
        self.assertEqual(bad, [], "%s: raw bytes %r in %r" % (what, bad, data))

    def variants(self, field, value):
        """(header, claims) for a token or a message with value in field"""
        header = {"alg": "ES256", "kid": NAME}
        now = int(time.time())
        claims = {"aud": AUD, "iat": now, "exp": now + 120, "jti": "j"}
        if field == "crit":
            header.update(crit=[value])
            header[value] = 1
        elif field == "aud":
            claims["aud"] = value
        else:
            header[field] = value
        return header, claims

    def check_message(self, field, value, ascii_json):
        header, _ = self.variants(field, value)
        p = run("verify", "--key", self.key, "--topic", "devices/x",
                stdin=self.sign(header, b"hello", ascii_json))
        what = "verify %s ascii=%s" % (field, ascii_json)
        self.assertClean(p.stdout + p.stderr, what)
        self.assertEqual(p.stderr.count(b"\n"), 1, (what, p.stderr))
        self.assertTrue(p.stderr.startswith(b"dance verify: "), (what, p.stderr))
        if p.returncode == 0:
            self.assertEqual(p.stdout, b"hello")   # the payload, exact bytes
        else:
            self.assertEqual(p.stdout, b"", what)
        return p.stderr

    def check_token(self, field, value, ascii_json):
        header, claims = self.variants(field, value)
        header["typ"] = header.get("typ", "JWT")
        payload = json.dumps(claims, ensure_ascii=ascii_json).encode()
        p = run("token", "--verify", "--name", NAME, "--aud", AUD,
                "--resolver", "127.0.0.1@1", "--timeout", "300",
                stdin=self.sign(header, payload, ascii_json) + b"\n")
        what = "token --verify %s ascii=%s" % (field, ascii_json)
        self.assertClean(p.stdout + p.stderr, what)
        self.assertEqual(p.stdout.count(b"\n"), 1, (what, p.stdout))
        self.assertEqual(p.stderr, b"", what)
        self.assertTrue(p.stdout.startswith(b"not valid ("), (what, p.stdout))
        return p.stdout

    def test_message_fields(self):
        for field in ("kid", "x5u", "alg", "crit", "typ", "jti", "topic"):
            for ascii_json in (True, False):
                with self.subTest(field=field, ascii=ascii_json):
                    out = self.check_message(field, HOSTILE, ascii_json)
                    if field in QUOTED_MSG:
                        self.assertIn(b"'x\\x0adance: accepted id", out)
                    if field in ("kid", "x5u", "topic"):
                        # the whole value, every byte escaped
                        self.assertIn(FORGED.encode() + b"\\x0d\\x1b[2J\\x7f\\xc3\\xa9\\",
                                      out)

    def test_token_fields(self):
        for field in ("kid", "x5u", "alg", "crit", "typ", "aud", "jti", "topic"):
            for ascii_json in (True, False):
                with self.subTest(field=field, ascii=ascii_json):
                    out = self.check_token(field, HOSTILE, ascii_json)
                    if field in QUOTED_TOKEN:
                        self.assertIn(b"'x\\x0adance: accepted id", out)

    def test_nul_in_each_field(self):
        """a \\u0000 escape never cuts a value short: the JSON is refused"""
        for field in ("kid", "x5u", "alg", "crit", "typ", "jti", "topic"):
            with self.subTest(field=field, what="message"):
                out = self.check_message(field, NUL, True)
                self.assertIn(b"not verified (malformed)", out)
        for field in ("kid", "x5u", "alg", "crit", "typ", "aud", "jti", "topic"):
            with self.subTest(field=field, what="token"):
                out = self.check_token(field, NUL, True)
                self.assertTrue(out.startswith(b"not valid (malformed"), out)

    def test_username_escaped(self):
        """the MQTT username given to token --verify is quoted escaped"""
        header, claims = self.variants("jti", "j")
        header["typ"] = "JWT"
        p = run("token", "--verify", "--name", "a\x1b[2Jb\nc", "--aud", AUD,
                "--resolver", "127.0.0.1@1", "--timeout", "300",
                stdin=self.sign(header, json.dumps(claims).encode(), True))
        self.assertClean(p.stdout + p.stderr, "username")
        self.assertEqual(p.stdout.count(b"\n"), 1, p.stdout)
        self.assertIn(b"a\\x1b[2Jb\\x0ac", p.stdout)


if __name__ == "__main__":
    unittest.main()
