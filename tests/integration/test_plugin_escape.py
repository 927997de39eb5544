#!/usr/bin/python3
"""Plugin integration: nothing a client chose reaches the broker log raw.

Real parts only: /usr/sbin/mosquitto with the built plugin and token_auth
on, the DNSSEC test bed (knotd) holding one device's key, paho clients over
TLS without a client certificate. Tokens signed with the device's key carry
a newline, CR, ESC [2J, DEL, UTF-8 and a complete forged
"dance: accepted identity=victim..." line in each of kid, x5u, alg, crit,
typ, jti, topic and aud (and a \\u0000 escape); client ids carry control
characters. The broker log (read as bytes) must keep one timestamped line
per log call, hold no raw control byte or ESC, and show the hostile values
escaped (doc/security-model.md, "What a client writes into logs and terminals").
"""

import base64
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import Bed, PluginTestCase, ident  # noqa: E402
from test_plugin_token import AUD, Device, TokenBroker, token_connect  # noqa: E402

from jwcrypto import jwk, jws  # noqa: E402

VICTIM = ident("victim")
FORGED = 'dance: accepted identity=%s client_id="v"' % VICTIM
HOSTILE = "x\n" + FORGED + "\r\x1b[2J\x7f\u00e9\\"
NUL = "x\u0000y"
# a log line as the fixture configures them: "HH:MM:SS: text"
LINE = re.compile(rb"^\d\d:\d\d:\d\d: [\x20-\x7e]*$")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EscapeTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "escape")
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        devdir = os.path.join(cls.wd, "devices")
        os.makedirs(devdir)
        cls.dev = Device(devdir, ident("esc"), "ec256")
        cls.tb.set_records(cls.dev.name, "TLSA", [cls.dev.tlsa])
        cls.tb.publish()
        with open(cls.dev.key, "rb") as f:
            cls.jwk = jwk.JWK.from_pem(f.read())
        cls.broker = TokenBroker(cls.wd, cls.pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": "acme.example",
            "cafile": cls.pki.ca,
            "connect_budget_ms": "5000",
            "token_auth": "on",
            "token_audience": AUD,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def raw_log(self, start):
        with open(self.broker.logfile, "rb") as f:
            f.seek(start)
            return f.read()

    def log_bytes(self):
        return os.path.getsize(self.broker.logfile)

    def assertLogClean(self, data):
        """every line one whole log line: timestamp, printable ASCII; no
        line that the plugin did not write as such"""
        self.assertTrue(data.endswith(b"\n"), data[-200:])
        for line in data[:-1].split(b"\n"):
            self.assertRegex(line, LINE, "injected or unescaped log line")
            self.assertFalse(line[10:].startswith(b"dance: accepted identity=" +
                                                  VICTIM.encode()), line)
        self.assertNotIn(b"\x1b", data)
        self.assertNotIn(b"\r", data)

    def token(self, header, claims, ascii_json=True):
        """compact JWS with exactly this header and claims, signed with the
        device's key (a zero signature where jwcrypto refuses the alg)"""
        h = json.dumps(header, ensure_ascii=ascii_json)
        p = json.dumps(claims, ensure_ascii=ascii_json).encode()
        try:
            s = jws.JWS(p)
            s.add_signature(self.jwk, None, protected=h)
            sig = s.serialize(compact=True).split(".")[2]
        except Exception:  # noqa: BLE001 - jwcrypto refuses hostile algs
            sig = b64url(bytes(64))
        return b64url(h.encode()) + "." + b64url(p) + "." + sig

    def hostile(self, field, value, ascii_json):
        now = int(time.time())
        header = {"alg": "ES256", "kid": self.dev.name, "typ": "JWT"}
        claims = {"aud": AUD, "iat": now, "exp": now + 120, "jti": "j%d" % time.monotonic_ns()}
        if field == "crit":
            header["crit"] = [value]
            header[value] = 1
        elif field == "aud":
            claims["aud"] = value
        elif field == "jti":
            claims["jti"] = value + str(time.monotonic_ns())
        else:
            header[field] = value
        return self.token(header, claims, ascii_json)

    def login(self, password, client_id, username=None):
        s = token_connect(self.broker, self.broker.token_port, username or self.dev.name,
                          password, client_id=client_id)
        return s.result

    def test_control_bytes_in_token_fields(self):
        start = self.log_bytes()
        refused = 0
        for field in ("kid", "x5u", "alg", "crit", "typ", "aud", "jti", "topic"):
            for value, ascii_json in ((HOSTILE, True), (HOSTILE, False), (NUL, True)):
                with self.subTest(field=field, value=value[:2], ascii=ascii_json):
                    r = self.login(self.hostile(field, value, ascii_json),
                                   "esc-%s" % field)
                    # jti and topic are the signer's business: its token
                    # may pass; every other hostile value is refused
                    if field not in ("jti", "topic") or value == NUL:
                        self.assertFalse(r.accepted, (field, r))
                        refused += 1
        # positive control: a valid token still gets in and is logged
        valid = self.token({"alg": "ES256", "kid": self.dev.name, "typ": "JWT"},
                           {"aud": AUD, "iat": int(time.time()),
                            "exp": int(time.time()) + 120, "jti": "ok"})
        self.assertTrue(self.login(valid, self.dev.name + "/esc-ok").accepted)
        self.broker.wait_log('dance: accepted identity=%s client_id="%s/esc-ok"'
                             % (self.dev.name, self.dev.name), start=0)
        data = self.raw_log(start)
        self.assertLogClean(data)
        self.assertGreaterEqual(data.count(b"dance: refused identity="), refused, data)
        # the hostile values arrived, escaped, in the refusal reasons
        escaped = b"'x\\x0adance: accepted id"
        for what in (b"kid ", b"x5u ", b"alg ", b"critical header ", b"typ ",
                     b"the token is for "):
            self.assertIn(what + escaped, data)
        self.assertIn(b"\\x0d\\x1b[2J\\x7f\\xc3\\xa9\\", data)

    def test_control_bytes_in_client_id(self):
        """Mosquitto 2.0.11 itself refuses client ids and usernames with
        control characters or DEL (malformed UTF-8 for MQTT); what it lets
        through (quotes, backslashes, UTF-8) the plugin logs escaped."""
        start = self.log_bytes()
        wrong_aud = self.token({"alg": "ES256", "kid": self.dev.name, "typ": "JWT"},
                               {"aud": "other.example", "iat": int(time.time()),
                                "exp": int(time.time()) + 120, "jti": "cid"})
        for cid in ("cid\x1b[2J", "cid\x7f", "cid\n" + FORGED, "cid\u009b2J",
                    'cid" address=1.2.3.4 x="\\\u00e9'):
            with self.subTest(cid=cid):
                self.assertFalse(self.login(wrong_aud, cid).accepted)
        for user in ("u\x1b[2J\n" + FORGED, 'u" \\\u00e9'):
            with self.subTest(user=user):
                self.assertFalse(self.login(wrong_aud, "cid-user", username=user).accepted)
        self.assertFalse(self.login(wrong_aud, "cid-last").accepted)
        self.broker.wait_log('client_id="%s/cid-last"' % self.dev.name, start=0)
        data = self.raw_log(start)
        self.assertLogClean(data)
        # the one quoted field stays one field: its quote is escaped
        # (the fixture binds the client id to the identity: "<name>/<id>")
        self.assertIn(b'client_id="' + self.dev.name.encode() +
                      b'/cid\\" address=1.2.3.4 x=\\"\\\\\\xc3\\xa9" '
                      b'address=127.0.0.1 ', data)
        self.assertIn(b"username 'u\\\" \\\\\\xc3\\xa9' is not a DNS name", data)


if __name__ == "__main__":
    unittest.main()
