#!/usr/bin/python3
"""test_jose_interop.py - JWE between this project and npm's jose.

Vectors (always): messages jose made (jose-vectors/, README there) decrypt
with `dance decrypt` for every alg and enc this project takes, tampered or
with the wrong key they are refused, and jose's signed-then-encrypted and
encrypted-then-signed messages open with `dance verify --decrypt-key`.

Live (only when jose is installed; skipped otherwise, so that the test needs
neither node nor the network): what `dance encrypt` makes, jose decrypts;
what jose encrypts, `dance decrypt` reads; jose opens this project's nested
messages both ways round, verifying the inner or outer JWS. Point
DANCE_JOSE_MODULES at a node_modules directory holding jose, e.g. after
`npm install --prefix /tmp/jose jose@5.10.0`:

    DANCE_JOSE_MODULES=/tmp/jose/node_modules \\
        /usr/bin/python3 tests/integration/test_jose_interop.py --build-dir build -v

With --make-vectors (and jose installed) the vectors are made again, with
new keys, into jose-vectors/.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dance_cli  # noqa: E402
from dance_cli import run  # noqa: E402

VECTORS = os.path.join(HERE, "jose-vectors")
PLAINTEXT = b"temp=21.5"
RECIPIENT = "backend._device.acme.example"
SENDER = "s3._device.acme.example"
# (alg, enc, recipient key type, serialization) of each vector
COMBOS = (("RSA-OAEP-256", "A256GCM", "rsa2048", "compact"),
          ("RSA-OAEP-256", "A256CBC-HS512", "rsa2048", "json"),
          ("ECDH-ES", "A256GCM", "ec256", "compact"),
          ("ECDH-ES", "A256CBC-HS512", "ec256", "json"),
          ("ECDH-ES+A256KW", "A256GCM", "ec256", "compact"),
          ("ECDH-ES+A256KW", "A256CBC-HS512", "ec384", "compact"),
          ("ECDH-ES", "A256GCM", "ec384", "json"))


def vector_name(alg, enc, key, form):
    return f"{alg}.{enc}.{key}.{form}.jwe"


def jose_modules():
    mods = os.environ.get("DANCE_JOSE_MODULES")
    if not mods or shutil.which("node") is None:
        return None
    return mods if os.path.isdir(os.path.join(mods, "jose")) else None


def node(*args, stdin=b""):
    env = dict(os.environ, NODE_PATH=jose_modules() or "")
    return subprocess.run(["node", os.path.join(HERE, "jose_interop.js"), *args],
                          input=stdin, capture_output=True, env=env, timeout=60)


def make_keys(directory, types):
    """{type: (private PEM, public PEM)} made by `dance keygen`."""
    keys = {}
    for k in types:
        key = os.path.join(directory, k + ".key.pem")
        pub = os.path.join(directory, k + ".pub.pem")
        run("keygen", "--type", k, "--out", key, check=0)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
        keys[k] = (key, pub)
    return keys


def tamper(message):
    """The same message with one character of its ciphertext changed."""
    text = message.decode()
    if text.lstrip().startswith("{"):
        i = text.index('"ciphertext":"') + len('"ciphertext":"') + 2
    else:
        i = text.index(".", text.index(".", text.index(".") + 1) + 1) + 3
    return (text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]).encode()


class Vectors(unittest.TestCase):
    def key(self, k):
        return os.path.join(VECTORS, k + ".key.pem")

    def read(self, name):
        with open(os.path.join(VECTORS, name), "rb") as f:
            return f.read()

    def test_jose_messages_decrypt(self):
        tmp = tempfile.TemporaryDirectory(prefix="dance-jose-")
        self.addCleanup(tmp.cleanup)
        other = make_keys(tmp.name, ("rsa2048", "ec256", "ec384"))
        for alg, enc, k, form in COMBOS:
            with self.subTest(alg=alg, enc=enc, key=k, form=form):
                msg = self.read(vector_name(alg, enc, k, form))
                self.assertEqual(msg.lstrip().startswith(b"{"), form == "json")
                p = run("decrypt", "--key", self.key(k), stdin=msg, check=0)
                self.assertEqual(p.stdout, PLAINTEXT)
                self.assertIn(f"decrypted: alg {alg}, enc {enc}, recipient {RECIPIENT}",
                              p.stderr.decode())
                p = run("decrypt", "--key", self.key(k), stdin=tamper(msg), check=1)
                self.assertEqual(p.stdout, b"")
                self.assertIn("not decrypted (decryption_failed): decryption failed",
                              p.stderr.decode())
                # a key of the right type that is not the recipient's
                p = run("decrypt", "--key", other[k][0], stdin=msg, check=1)
                self.assertEqual(p.stdout, b"")
                self.assertIn("(decryption_failed)", p.stderr.decode())

    def test_jose_nested_messages_open(self):
        sender = os.path.join(VECTORS, "sender-ec256.pub.pem")
        proto_sender = os.path.join(VECTORS, "sender-rsa2048.pub.pem")
        # the DANCE prototype's form: RS256 flattened JWS with x5u, in a
        # JWE JSON (RSA-OAEP-256, A256CBC-HS512)
        p = run("verify", "--key", proto_sender, "--decrypt-key", self.key("rsa2048"),
                stdin=self.read("sign-then-encrypt.jwe"), check=0)
        self.assertEqual(p.stdout, PLAINTEXT)
        err = p.stderr.decode()
        self.assertIn("decrypted: alg RSA-OAEP-256, enc A256CBC-HS512", err)
        self.assertIn(f"verified: sender {SENDER}, alg RS256", err)
        # encrypt-then-sign: ES256 over a JWE with cty JWE
        msg = self.read("encrypt-then-sign.jws")
        p = run("verify", "--key", sender, "--decrypt-key", self.key("ec256"), stdin=msg,
                check=0)
        self.assertEqual(p.stdout, PLAINTEXT)
        err = p.stderr.decode()
        self.assertLess(err.index(f"verified: sender {SENDER}, alg ES256"),
                        err.index("decrypted: alg ECDH-ES, enc A256GCM"))
        # the signature covers the JWE: a changed one is not verified, and
        # so never decrypted
        p = run("verify", "--key", sender, "--decrypt-key", self.key("ec256"),
                stdin=tamper_payload(msg), check=1)
        self.assertEqual(p.stdout, b"")
        self.assertIn("(bad_signature", p.stderr.decode())


def tamper_payload(jws):
    head, payload, sig = jws.decode().strip().split(".")
    payload = ("A" if payload[5] != "A" else "B").join((payload[:5], payload[6:]))
    return ".".join((head, payload, sig)).encode()


@unittest.skipIf(jose_modules() is None,
                 "jose not installed (set DANCE_JOSE_MODULES and install node)")
class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="dance-jose-")
        cls.tmp = cls.tmpdir.name
        cls.keys = make_keys(cls.tmp, ("rsa2048", "ec256", "ec384"))
        cls.certs = {}
        for k, (key, _) in cls.keys.items():
            cert = os.path.join(cls.tmp, k + ".cert.pem")
            run("cert", "--key", key, "--name", RECIPIENT, "--out", cert, check=0)
            cls.certs[k] = cert

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def test_dance_encrypts_jose_decrypts(self):
        for alg, enc, k, _ in COMBOS:
            for form in ("compact", "json"):
                with self.subTest(alg=alg, enc=enc, key=k, form=form):
                    argv = ["encrypt", "--cert", self.certs[k], "--to", RECIPIENT,
                            "--alg", alg, "--enc", enc]
                    if form == "json":
                        argv.append("--json")
                    msg = run(*argv, stdin=b"reading 9", check=0).stdout
                    p = node("decrypt", self.keys[k][0], stdin=msg)
                    self.assertEqual(p.returncode, 0, p.stderr.decode())
                    self.assertEqual(p.stdout, b"reading 9")
                    p = node("decrypt", self.keys[k][0], stdin=tamper(msg))
                    self.assertEqual(p.returncode, 1, p.stderr.decode())

    def test_jose_encrypts_dance_decrypts(self):
        for alg, enc, k, form in COMBOS:
            with self.subTest(alg=alg, enc=enc, key=k, form=form):
                p = node("encrypt", alg, enc, self.keys[k][1], RECIPIENT, form,
                         stdin=b"reading 10")
                self.assertEqual(p.returncode, 0, p.stderr.decode())
                q = run("decrypt", "--key", self.keys[k][0], stdin=p.stdout, check=0)
                self.assertEqual(q.stdout, b"reading 10")
                self.assertIn(f"alg {alg}, enc {enc}", q.stderr.decode())

    def test_jose_opens_dance_nested_messages(self):
        sender_key, sender_pub = self.keys["ec256"]
        rsa_key = self.keys["rsa2048"][0]
        # sign-then-encrypt (the prototype's): jose decrypts, then verifies
        jws = run("sign", "--key", sender_key, "--name", SENDER, "--json",
                  "--topic", "t/1", stdin=b"reading 11", check=0).stdout
        jwe = run("encrypt", "--cert", self.certs["rsa2048"], "--to", RECIPIENT, "--json",
                  "--enc", "A256CBC-HS512", stdin=jws.strip(), check=0).stdout
        p = node("open", sender_pub, "ES256", rsa_key, stdin=jwe)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout, b"reading 11")
        # encrypt-then-sign: jose verifies, then decrypts
        jwe = run("encrypt", "--cert", self.certs["rsa2048"], "--to", RECIPIENT,
                  stdin=b"reading 12", check=0).stdout
        jws = run("sign", "--key", sender_key, "--name", SENDER, "--cty", "JWE",
                  "--topic", "t/1", stdin=jwe.strip(), check=0).stdout
        p = node("open", sender_pub, "ES256", rsa_key, stdin=jws)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout, b"reading 12")
        p = node("open", sender_pub, "ES256", rsa_key, stdin=tamper_payload(jws))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")


def make_vectors():
    """jose-vectors/ again, with new keys (jose must be installed)."""
    if jose_modules() is None:
        sys.exit("--make-vectors needs jose: set DANCE_JOSE_MODULES")
    os.makedirs(VECTORS, exist_ok=True)
    keys = make_keys(VECTORS, ("rsa2048", "ec256", "ec384"))
    senders_dir = tempfile.TemporaryDirectory(prefix="dance-jose-")
    senders = make_keys(senders_dir.name, ("ec256", "rsa2048"))
    for k in ("ec256", "rsa2048"):
        shutil.copy(senders[k][1], os.path.join(VECTORS, f"sender-{k}.pub.pem"))
    for k in keys:
        os.remove(keys[k][1])          # the tests need only the private keys

    def jose(*args, stdin):
        p = node(*args, stdin=stdin)
        if p.returncode != 0:
            sys.exit(p.stderr.decode())
        return p.stdout

    def write(name, data):
        with open(os.path.join(VECTORS, name), "wb") as f:
            f.write(data + b"\n")

    pub = {k: subprocess.run(["openssl", "pkey", "-in", keys[k][0], "-pubout"],
                             check=True, capture_output=True).stdout for k in keys}
    for k, pem in pub.items():
        with open(os.path.join(VECTORS, f".{k}.pub.tmp"), "wb") as f:
            f.write(pem)
    try:
        tmppub = {k: os.path.join(VECTORS, f".{k}.pub.tmp") for k in keys}
        for alg, enc, k, form in COMBOS:
            write(vector_name(alg, enc, k, form),
                  jose("encrypt", alg, enc, tmppub[k], RECIPIENT, form, stdin=PLAINTEXT))
        inner = jose("sign", "RS256", senders["rsa2048"][0], SENDER, "json", stdin=PLAINTEXT)
        write("sign-then-encrypt.jwe", jose("encrypt", "RSA-OAEP-256", "A256CBC-HS512",
                                            tmppub["rsa2048"], RECIPIENT, "json",
                                            stdin=inner))
        jwe = jose("encrypt", "ECDH-ES", "A256GCM", tmppub["ec256"], RECIPIENT, "compact",
                   stdin=PLAINTEXT)
        write("encrypt-then-sign.jws", jose("sign", "ES256", senders["ec256"][0], SENDER,
                                            "compact", "JWE", stdin=jwe))
    finally:
        for k in keys:
            os.remove(os.path.join(VECTORS, f".{k}.pub.tmp"))
        senders_dir.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir")
    ap.add_argument("--make-vectors", action="store_true")
    args, rest = ap.parse_known_args()
    if args.build_dir:
        dance_cli.use_build_dir(os.path.abspath(args.build_dir))
    if args.make_vectors:
        make_vectors()
        sys.exit(0)
    unittest.main(argv=[sys.argv[0]] + rest)
