#!/usr/bin/python3
"""test_jwe_interop.py - JWE interoperability with an independent implementation.

python3-jwcrypto (Debian) encrypts to RSA-2048, P-256 and P-384 keys with
every alg/enc pair we accept, in compact, flattened and general JSON form;
`dance decrypt` must decrypt them (jwcrypto's JSON forms of ECDH-ES put
epk in an unprotected per-recipient header, which is refused: those are
checked as refusals), refuse tampered and unsupported ones
with the right reason and exit status, and print nothing on stdout then.
The DANCE MQTT prototype's message (JWE JSON, RSA-OAEP-256 + A256CBC-HS512,
x5u dns://<recipient>?type=TLSA, over a flattened RS256 JWS) decrypts and
verifies with `dance verify --decrypt-key`. In the other direction, `dance
encrypt` output (from a certificate) decrypts with jwcrypto.

    test_jwe_interop.py --build-dir BUILD [unittest arguments]
"""
import base64
import json
import os
import sys
import tempfile
import unittest

from jwcrypto import jwe, jwk, jws

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dance_cli import run, use_build_dir  # noqa: E402

RECIPIENT = "backend.acme.example"
SENDER = "dev1._device.acme.example"
X5U = f"dns://{RECIPIENT}?type=TLSA"

# key shape -> the algs that fit it
SHAPES = {
    "rsa": (dict(kty="RSA", size=2048), ["RSA-OAEP-256"]),
    "p256": (dict(kty="EC", crv="P-256"), ["ECDH-ES", "ECDH-ES+A256KW"]),
    "p384": (dict(kty="EC", crv="P-384"), ["ECDH-ES", "ECDH-ES+A256KW"]),
}
ENCS = ["A256GCM", "A256CBC-HS512"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Keys:
    """One key per shape (and a second RSA key), as PEM files and JWKs."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.jwk, self.priv, self.cert = {}, {}, {}
        for shape in list(SHAPES) + ["rsa_other"]:
            params = SHAPES.get(shape, SHAPES["rsa"])[0]
            k = jwk.JWK.generate(**params)
            priv = os.path.join(tmp, f"{shape}.pem")
            with open(priv, "wb") as f:
                f.write(k.export_to_pem(private_key=True, password=None))
            os.chmod(priv, 0o600)
            cert = os.path.join(tmp, f"{shape}.crt")
            run("cert", "--key", priv, "--name", RECIPIENT, "--out", cert, check=0)
            self.jwk[shape], self.priv[shape], self.cert[shape] = k, priv, cert


KEYS = None


def jwcrypto_encrypt(shape, alg, enc, plaintext, form="compact", extra=None):
    hdr = {"alg": alg, "enc": enc, "x5u": X5U}
    if extra:
        hdr.update(extra)
    e = jwe.JWE(plaintext, protected=json.dumps(hdr))
    e.add_recipient(KEYS.jwk[shape].public())
    if form == "compact":
        return e.serialize(compact=True)
    out = json.loads(e.serialize())
    if form == "general":
        rec = {"encrypted_key": out.get("encrypted_key", "")}
        if "header" in out:
            rec["header"] = out["header"]
        out = {"protected": out["protected"], "recipients": [rec],
               "iv": out["iv"], "ciphertext": out["ciphertext"], "tag": out["tag"]}
    return json.dumps(out)


def decrypt(shape, message, check, *extra):
    data = message.encode() if isinstance(message, str) else message
    return run("decrypt", "--key", KEYS.priv[shape], *extra, stdin=data, check=check)


class FromJwcrypto(unittest.TestCase):
    def test_every_combination_decrypts(self):
        for shape, (_, algs) in SHAPES.items():
            for alg in algs:
                for enc in ENCS:
                    for form in ("compact", "flattened", "general"):
                        with self.subTest(shape=shape, alg=alg, enc=enc, form=form):
                            pt = f"reading for {shape} {alg} {enc} {form}: 21.5".encode()
                            m = jwcrypto_encrypt(shape, alg, enc, pt, form)
                            if alg != "RSA-OAEP-256" and form != "compact":
                                # jwcrypto's JSON form carries epk in the
                                # per-recipient (unprotected) header:
                                # refused, every parameter must be protected
                                self.assertIn('"header"', m)
                                r = decrypt(shape, m, 1)
                                self.assertEqual(r.stdout, b"")
                                self.assertRegex(r.stderr.decode(), r"not decrypted "
                                                 r"\(unsupported\).*(outside the|per-"
                                                 r"recipient)")
                                continue
                            p = decrypt(shape, m, 0)
                            self.assertEqual(p.stdout, pt)
                            err = p.stderr.decode()
                            self.assertIn(f"alg {alg}, enc {enc}", err)
                            self.assertIn(f"recipient {RECIPIENT}", err)

    def test_prototype_message(self):
        """JWE JSON (RSA-OAEP-256, A256CBC-HS512, typ JWE, x5u) over a
        flattened RS256 JWS with x5u and no kid, as the prototype sends."""
        sender = jwk.JWK.generate(kty="RSA", size=2048)
        sender_pub = os.path.join(KEYS.tmp, "sender.pub.pem")
        with open(sender_pub, "wb") as f:
            f.write(sender.export_to_pem())
        s = jws.JWS(b'{"temp": 21.5}')
        s.add_signature(sender, None, json.dumps(
            {"alg": "RS256", "x5u": f"dns://{SENDER}?type=TLSA"}))
        inner = s.serialize()
        e = jwe.JWE(inner.encode(), protected=json.dumps(
            {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "typ": "JWE", "x5u": X5U}))
        e.add_recipient(KEYS.jwk["rsa"].public())
        msg = e.serialize()
        self.assertTrue(msg.startswith("{"))

        p = decrypt("rsa", msg, 0)
        self.assertEqual(p.stdout, inner.encode())
        v = run("verify", "--decrypt-key", KEYS.priv["rsa"], "--key", sender_pub,
                stdin=msg.encode(), check=0)
        self.assertEqual(v.stdout, b'{"temp": 21.5}')
        err = v.stderr.decode()
        self.assertIn("decrypted: alg RSA-OAEP-256, enc A256CBC-HS512", err)
        self.assertIn(f"verified: sender {SENDER}, alg RS256", err)
        # the wrong recipient key: refused before any verification
        v = run("verify", "--decrypt-key", KEYS.priv["rsa_other"], "--key", sender_pub,
                stdin=msg.encode(), check=1)
        self.assertEqual(v.stdout, b"")
        self.assertIn("not decrypted (decryption_failed): decryption failed",
                      v.stderr.decode())
        # decrypts, but the inner JWS is not from this key
        other_pub = os.path.join(KEYS.tmp, "other.pub.pem")
        with open(other_pub, "wb") as f:
            f.write(KEYS.jwk["rsa_other"].export_to_pem())
        v = run("verify", "--decrypt-key", KEYS.priv["rsa"], "--key", other_pub,
                stdin=msg.encode(), check=1)
        self.assertEqual(v.stdout, b"")
        self.assertIn("bad_signature", v.stderr.decode())

    def test_tampered_refused_with_one_reason(self):
        for shape, alg, enc in (("rsa", "RSA-OAEP-256", "A256CBC-HS512"),
                                ("p256", "ECDH-ES", "A256GCM"),
                                ("p384", "ECDH-ES+A256KW", "A256GCM")):
            m = jwcrypto_encrypt(shape, alg, enc, b"original reading")
            parts = m.split(".")
            variants = {}
            for i, what in ((1, "encrypted_key"), (2, "iv"), (3, "ciphertext"), (4, "tag")):
                if not parts[i]:
                    continue
                raw = bytearray(b64d(parts[i]))
                raw[len(raw) // 2] ^= 0x01
                variants[what] = ".".join(parts[:i] + [b64url(bytes(raw))] + parts[i + 1:])
            hdr = json.loads(b64d(parts[0]))
            hdr["x5u"] = "dns://mallory.example?type=TLSA"
            variants["protected header"] = ".".join(
                [b64url(json.dumps(hdr).encode())] + parts[1:])
            variants["wrong key"] = None
            for what, bad in variants.items():
                with self.subTest(alg=alg, what=what):
                    if bad is None:
                        key = "rsa_other" if shape == "rsa" else shape
                        if shape != "rsa":
                            continue
                        r = run("decrypt", "--key", KEYS.priv[key], stdin=m.encode(),
                                check=1)
                    else:
                        r = decrypt(shape, bad, 1)
                    self.assertEqual(r.stdout, b"")
                    self.assertEqual(r.stderr.decode().strip(),
                                     "dance decrypt: not decrypted (decryption_failed): "
                                     "decryption failed")

    def test_refusals(self):
        cases = [
            ("zip", jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"x" * 50,
                                     extra={"zip": "DEF"}), "unsupported", "zip is refused"),
            ("RSA-OAEP", jwcrypto_encrypt("rsa", "RSA-OAEP", "A256GCM", b"x"),
             "bad_alg", 'alg "RSA-OAEP" is not supported'),
            ("A128GCM", jwcrypto_encrypt("p256", "ECDH-ES", "A128GCM", b"x"),
             "bad_alg", 'enc "A128GCM" is not supported'),
            ("A128CBC-HS256", jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A128CBC-HS256", b"x"),
             "bad_alg", "not supported"),
            ("ECDH-ES+A128KW", jwcrypto_encrypt("p256", "ECDH-ES+A128KW", "A256GCM", b"x"),
             "bad_alg", "not supported"),
            ("cty JWE", jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"x",
                                         extra={"cty": "JWE"}), "unsupported", "nested"),
            ("JWE in JWE", jwcrypto_encrypt(
                "rsa", "RSA-OAEP-256", "A256GCM",
                jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"x").encode()),
             "unsupported", "plaintext is itself a JWE"),
            ("truncated", ".".join(jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM",
                                                    b"x").split(".")[:4]),
             "malformed", "five"),
            ("bad base64", jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM",
                                            b"x").replace(".", ".*", 1),
             "malformed", "not base64url"),
            ("bad JSON", '{"protected": ', "malformed", "not valid JSON"),
        ]
        crit_hdr = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "crit": ["exp"], "exp": 1}
        e = jwe.JWE(b"x", protected=json.dumps(crit_hdr))
        try:
            e.add_recipient(KEYS.jwk["rsa"].public())
            cases.append(("crit", e.serialize(compact=True), "unsupported", "crit is refused"))
        except Exception:       # jwcrypto refuses crit it does not know: craft it
            m = jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"x").split(".")
            m[0] = b64url(json.dumps(crit_hdr).encode())
            cases.append(("crit", ".".join(m), "unsupported", "crit is refused"))
        two = json.loads(jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"x", "general"))
        two["recipients"].append(two["recipients"][0])
        cases.append(("two recipients", json.dumps(two), "unsupported", "2 recipients"))
        flat = json.loads(jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"x", "flattened"))
        flat["unprotected"] = {"kid": "k"}
        cases.append(("unprotected", json.dumps(flat), "unsupported",
                      "outside the protected header"))
        for what, msg, token, text in cases:
            with self.subTest(what=what):
                r = decrypt("rsa" if "ECDH" not in what and what != "A128GCM" else "p256",
                            msg, 1)
                self.assertEqual(r.stdout, b"")
                err = r.stderr.decode()
                self.assertIn(f"not decrypted ({token})", err)
                self.assertIn(text, err)

    def test_oversize(self):
        m = jwcrypto_encrypt("rsa", "RSA-OAEP-256", "A256GCM", b"y" * 2000)
        r = decrypt("rsa", m, 1, "--max-size", "1000")
        self.assertIn("not decrypted (too_large)", r.stderr.decode())
        self.assertEqual(r.stdout, b"")
        decrypt("rsa", m, 0, "--max-size", str(len(m)))

    def test_usage(self):
        r = run("decrypt", stdin=b"x", check=2)
        self.assertIn(b"--key FILE", r.stderr)
        r = run("decrypt", "--key", os.path.join(KEYS.tmp, "absent.pem"), stdin=b"x", check=2)
        r = run("encrypt", stdin=b"x", check=2)
        self.assertIn(b"--to NAME", r.stderr)
        r = run("encrypt", "--cert", KEYS.cert["rsa"], "--alg", "ECDH-ES", stdin=b"x", check=2)
        self.assertIn(b"ECDH-ES needs an EC", r.stderr)
        r = run("encrypt", "--cert", KEYS.cert["rsa"], "--resolver", "127.0.0.1",
                stdin=b"x", check=2)
        self.assertIn(b"DNS options do not apply", r.stderr)
        # x5u naming someone the certificate does not name: a note, not a refusal
        r = run("encrypt", "--cert", KEYS.cert["rsa"], "--to", "other.example", stdin=b"x",
                check=0)
        self.assertIn(f"note: the certificate names {RECIPIENT}, not other.example",
                      r.stderr.decode())
        r = run("encrypt", "--cert", KEYS.cert["rsa"], "--to", RECIPIENT, stdin=b"x", check=0)
        self.assertEqual(r.stderr, b"")


class ToJwcrypto(unittest.TestCase):
    def test_dance_encrypt_decrypts_with_jwcrypto(self):
        for shape, (_, algs) in SHAPES.items():
            for alg in [None] + algs:
                for enc in [None] + ENCS:
                    for form in ([], ["--json"]):
                        with self.subTest(shape=shape, alg=alg, enc=enc, form=form):
                            pt = f"to {shape} with {alg} {enc}".encode()
                            args = ["encrypt", "--cert", KEYS.cert[shape], "--to", RECIPIENT]
                            args += ["--alg", alg] if alg else []
                            args += ["--enc", enc] if enc else []
                            p = run(*args, *form, stdin=pt, check=0)
                            out = p.stdout.decode().strip()
                            self.assertEqual(out.startswith("{"), bool(form))
                            e = jwe.JWE()
                            e.deserialize(out, KEYS.jwk[shape])
                            self.assertEqual(e.payload, pt)
                            hdr = e.jose_header
                            self.assertEqual(hdr["alg"], alg or algs[0])
                            self.assertEqual(hdr["enc"], enc or "A256GCM")
                            self.assertEqual(hdr["x5u"], X5U)
                            self.assertNotIn("zip", hdr)
                            # and back through dance
                            self.assertEqual(decrypt(shape, out, 0).stdout, pt)

    def test_sign_then_encrypt_as_the_prototype(self):
        """dance sign --json | dance encrypt --json --enc A256CBC-HS512: jwcrypto
        decrypts it and verifies the inner JWS; dance verify --decrypt-key too."""
        skey = os.path.join(KEYS.tmp, "dev.pem")
        run("keygen", "--type", "rsa2048", "--out", skey, check=0)
        signed = run("sign", "--key", skey, "--name", SENDER, "--json", "--topic", "t/1",
                     stdin=b'{"temp": 22}', check=0).stdout
        m = run("encrypt", "--cert", KEYS.cert["rsa"], "--to", RECIPIENT, "--json",
                "--enc", "A256CBC-HS512", stdin=signed.strip(), check=0).stdout
        e = jwe.JWE()
        e.deserialize(m.decode(), KEYS.jwk["rsa"])
        inner = jws.JWS()
        inner.deserialize(e.payload.decode())
        with open(skey, "rb") as f:
            pub = jwk.JWK.from_pem(f.read())
        inner.verify(pub.public(), alg="RS256")
        self.assertEqual(inner.payload, b'{"temp": 22}')
        v = run("verify", "--decrypt-key", KEYS.priv["rsa"], "--key", skey, "--topic", "t/1",
                stdin=m, check=0)
        self.assertEqual(v.stdout, b'{"temp": 22}')


def main():
    global KEYS
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[0] != "--build-dir":
        print(__doc__, file=sys.stderr)
        return 2
    use_build_dir(argv[1])
    with tempfile.TemporaryDirectory(prefix="dance-jwe-interop-") as tmp:
        KEYS = Keys(tmp)
        prog = unittest.main(argv=[sys.argv[0], *argv[2:]], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
