#!/usr/bin/python3
"""test_jws_interop.py - JWS interoperability with an independent implementation.

python3-jwcrypto (Debian) signs messages for every algorithm we accept;
`dance verify --key` (offline, no DNS) must verify them and refuse tampered
variants. In the other direction, `dance sign` output must verify with
jwcrypto. The flattened-JSON / x5u form of existing DANCE prototypes is
included.

    test_jws_interop.py --build-dir BUILD [unittest arguments]
"""
import base64
import json
import os
import sys
import tempfile
import time
import unittest

from jwcrypto import jwk, jws

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dance_cli import run, use_build_dir  # noqa: E402

NAME = "dev1._device.acme.example"

# alg -> jwcrypto key generation parameters
ALGS = {
    "ES256": dict(kty="EC", crv="P-256"),
    "ES384": dict(kty="EC", crv="P-384"),
    "ES512": dict(kty="EC", crv="P-521"),
    "RS256": dict(kty="RSA", size=2048),
    "RS384": dict(kty="RSA", size=2048),
    "RS512": dict(kty="RSA", size=2048),
    "PS256": dict(kty="RSA", size=2048),
    "PS384": dict(kty="RSA", size=2048),
    "PS512": dict(kty="RSA", size=2048),
    "EdDSA": dict(kty="OKP", crv="Ed25519"),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    """One key per key shape, shared by the tests, written as PEM files."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.jwk = {}
        self.pub = {}
        self.priv = {}
        shapes = {}
        for alg, params in ALGS.items():
            shape = tuple(sorted(params.items()))
            if shape not in shapes:
                k = jwk.JWK.generate(**params)
                idx = len(shapes)
                pub = os.path.join(tmp, f"k{idx}.pub.pem")
                priv = os.path.join(tmp, f"k{idx}.pem")
                with open(pub, "wb") as f:
                    f.write(k.export_to_pem())
                with open(priv, "wb") as f:
                    f.write(k.export_to_pem(private_key=True, password=None))
                os.chmod(priv, 0o600)
                shapes[shape] = (k, pub, priv)
            self.jwk[alg], self.pub[alg], self.priv[alg] = shapes[shape]


KEYS = None


def jwcrypto_compact(alg, payload, header=None):
    h = {"alg": alg, "kid": NAME}
    if header:
        h.update(header)
    s = jws.JWS(payload)
    s.add_signature(KEYS.jwk[alg], None, json.dumps(h))
    return s.serialize(compact=True)


class FromJwcrypto(unittest.TestCase):
    def test_every_algorithm_verifies(self):
        for alg in ALGS:
            with self.subTest(alg=alg):
                payload = f"reading for {alg}: 21.5".encode()
                tok = jwcrypto_compact(alg, payload)
                p = run("verify", "--key", KEYS.pub[alg], stdin=tok.encode(), check=0)
                self.assertEqual(p.stdout, payload)
                err = p.stderr.decode()
                self.assertIn(f"sender {NAME}", err)
                self.assertIn(f"alg {alg}", err)

    def test_tampered_variants_refused(self):
        for alg in ALGS:
            with self.subTest(alg=alg):
                tok = jwcrypto_compact(alg, b"original")
                h, p, s = tok.split(".")
                sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
                sig[len(sig) // 2] ^= 0x01
                variants = {
                    "payload": f"{h}.{b64url(b'tampered')}.{s}",
                    "signature": f"{h}.{p}.{b64url(bytes(sig))}",
                    "header": f"{b64url(json.dumps({'alg': alg, 'kid': 'dev2._device.acme.example'}).encode())}.{p}.{s}",
                }
                for what, bad in variants.items():
                    r = run("verify", "--key", KEYS.pub[alg], stdin=bad.encode(), check=1)
                    self.assertEqual(r.stdout, b"", what)
                    self.assertIn("bad_signature", r.stderr.decode(), what)

    def test_wrong_key_refused(self):
        tok = jwcrypto_compact("ES256", b"x")
        r = run("verify", "--key", KEYS.pub["ES384"], stdin=tok.encode(), check=1)
        self.assertIn("key_mismatch", r.stderr.decode())
        tok = jwcrypto_compact("RS256", b"x")
        r = run("verify", "--key", KEYS.pub["EdDSA"], stdin=tok.encode(), check=1)
        self.assertIn("key_mismatch", r.stderr.decode())

    def test_prototype_flattened_x5u(self):
        """Flattened JSON, RS256, x5u dns://NAME?type=TLSA, no kid."""
        s = jws.JWS(b'{"temp": 21.5}')
        s.add_signature(KEYS.jwk["RS256"], None,
                        json.dumps({"alg": "RS256", "x5u": f"dns://{NAME}?type=TLSA"}),
                        json.dumps({"typ": "JOSE"}))
        tok = s.serialize()          # flattened JSON with one signature
        self.assertTrue(tok.startswith("{"))
        p = run("verify", "--key", KEYS.pub["RS256"], stdin=tok.encode(), check=0)
        self.assertEqual(p.stdout, b'{"temp": 21.5}')
        self.assertIn(f"sender {NAME}", p.stderr.decode())

    def test_unsigned_and_mac_refused(self):
        none = f"{b64url(json.dumps({'alg': 'none', 'kid': NAME}).encode())}.{b64url(b'x')}."
        r = run("verify", "--key", KEYS.pub["ES256"], stdin=none.encode(), check=1)
        self.assertIn("bad_alg", r.stderr.decode())
        mac_key = jwk.JWK.generate(kty="oct", size=256)
        s = jws.JWS(b"x")
        s.add_signature(mac_key, None, json.dumps({"alg": "HS256", "kid": NAME}))
        r = run("verify", "--key", KEYS.pub["ES256"],
                stdin=s.serialize(compact=True).encode(), check=1)
        self.assertIn("bad_alg", r.stderr.decode())


class ToJwcrypto(unittest.TestCase):
    def test_dance_sign_verifies_with_jwcrypto(self):
        for alg in ALGS:
            for form in ([], ["--json"]):
                with self.subTest(alg=alg, form=form):
                    payload = f"signed by dance with {alg}".encode()
                    p = run("sign", "--key", KEYS.priv[alg], "--name", NAME, "--alg", alg,
                            "--iat", "--jti", "--topic", "sensors/x", *form,
                            stdin=payload, check=0)
                    tok = p.stdout.decode().strip()
                    obj = jws.JWS()
                    obj.deserialize(tok)
                    obj.verify(KEYS.jwk[alg].public(), alg=alg)
                    self.assertEqual(obj.payload, payload)
                    hdr = obj.jose_header
                    self.assertEqual(hdr["kid"], NAME)
                    self.assertEqual(hdr["topic"], "sensors/x")
                    self.assertIsInstance(hdr["iat"], int)
                    self.assertGreaterEqual(len(hdr["jti"]), 16)
                    if form:
                        self.assertEqual(hdr["x5u"], f"dns:{NAME}?type=TLSA")
                    # and with ourselves, offline
                    r = run("verify", "--key", KEYS.pub[alg], "--topic", "sensors/x",
                            stdin=p.stdout, check=0)
                    self.assertEqual(r.stdout, payload)

    def test_default_header_has_iat(self):
        # iat = now unless --no-iat; topic only when given, with a note on
        # stderr when it is not (strict brokers refuse unbound messages).
        def header(*extra):
            p = run("sign", "--key", KEYS.priv["ES256"], "--name", NAME, *extra,
                    stdin=b"x", check=0)
            h = p.stdout.decode().split(".")[0]
            return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))), p.stderr
        now = int(time.time())
        hdr, err = header()
        self.assertLessEqual(abs(hdr["iat"] - now), 5)
        self.assertNotIn("topic", hdr)
        self.assertNotIn("jti", hdr)
        self.assertIn(b"no --topic", err)
        hdr, err = header("--topic", "sensors/x")
        self.assertEqual(hdr["topic"], "sensors/x")
        self.assertIn("iat", hdr)
        self.assertEqual(err, b"")
        hdr, _ = header("--iat", "--topic", "t")        # the old spelling still works
        self.assertIn("iat", hdr)
        hdr, _ = header("--no-iat", "--topic", "t")
        self.assertEqual(sorted(hdr), ["alg", "kid", "topic"])
        r = run("sign", "--key", KEYS.priv["ES256"], "--name", NAME, "--iat", "--no-iat",
                stdin=b"x", check=2)
        self.assertIn(b"contradict", r.stderr)

    def test_default_algorithm_follows_key(self):
        for alg in ("ES256", "ES384", "ES512", "RS256", "EdDSA"):
            with self.subTest(alg=alg):
                p = run("sign", "--key", KEYS.priv[alg], "--name", NAME, stdin=b"x", check=0)
                h = p.stdout.decode().split(".")[0]
                hdr = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
                self.assertEqual(hdr["alg"], alg)


class Usage(unittest.TestCase):
    def test_bad_usage(self):
        run("sign", "--name", NAME, stdin=b"x", check=2)
        run("sign", "--key", KEYS.priv["ES256"], stdin=b"x", check=2)
        run("sign", "--key", "/nonexistent.pem", "--name", NAME, stdin=b"x", check=2)
        run("sign", "--key", KEYS.priv["ES256"], "--name", "bad name", stdin=b"x", check=2)
        run("sign", "--key", KEYS.priv["ES256"], "--name", NAME, "--alg", "ES384",
            stdin=b"x", check=2)
        run("sign", "--key", KEYS.priv["ES256"], "--name", NAME, "--alg", "HS256",
            stdin=b"x", check=2)
        run("verify", "--key", KEYS.pub["ES256"], "--cert", KEYS.pub["ES256"], check=2)
        run("verify", "--key", "/nonexistent.pem", check=2)
        run("verify", "--key", KEYS.pub["ES256"], "--resolver", "127.0.0.1", check=2)
        run("verify", "--require-topic", check=2)
        run("verify", "--allowed-domains", "", check=2)
        run("verify", "--max-skew", "abc", check=2)
        run("verify", "extra-argument", check=2)
        self.assertIn(b"usage", run("verify", "--help", check=0).stdout)
        self.assertIn(b"usage", run("sign", "--help", check=0).stdout)

    def test_garbage_input_is_not_verified(self):
        for junk in (b"", b"hello", b"a.b.c", b"{", b"\x00\xff" * 100, b"." * 1000):
            r = run("verify", "--key", KEYS.pub["ES256"], stdin=junk, check=1)
            self.assertEqual(r.stdout, b"")
            self.assertIn("not verified", r.stderr.decode())

    def test_max_size(self):
        tok = jwcrypto_compact("ES256", b"x" * 5000)
        r = run("verify", "--key", KEYS.pub["ES256"], "--max-size", "1000",
                stdin=tok.encode(), check=1)
        self.assertIn("too_large", r.stderr.decode())
        run("verify", "--key", KEYS.pub["ES256"], "--max-size", "100000",
            stdin=tok.encode(), check=0)


def main():
    global KEYS
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[0] != "--build-dir":
        print(__doc__, file=sys.stderr)
        return 2
    use_build_dir(argv[1])
    with tempfile.TemporaryDirectory(prefix="dance-jws-interop-") as tmp:
        KEYS = Keys(tmp)
        prog = unittest.main(argv=[sys.argv[0], *argv[2:]], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
