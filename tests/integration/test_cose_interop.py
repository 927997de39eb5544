#!/usr/bin/python3
"""test_cose_interop.py - COSE_Sign1 between this project and npm's cose-js.

Vectors (always): messages cose-js made (cose-js-vectors/, README there)
verify with `dance verify --key`, and tampered copies do not.

Live (only when cose-js is installed; skipped otherwise, so that the test
needs neither node nor the network): cose-js signs with keys from `dance
keygen` and `dance verify` checks; `dance sign --cose` signs and cose-js
checks. Point DANCE_COSE_JS_MODULES at a node_modules directory holding
cose-js, e.g. after `npm install --prefix /tmp/cose-js cose-js@0.9.0`:

    DANCE_COSE_JS_MODULES=/tmp/cose-js/node_modules \\
        /usr/bin/python3 tests/integration/test_cose_interop.py --build-dir build -v
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

VECTORS = os.path.join(HERE, "cose-js-vectors")
NAME = "s2._device.acme.example"
ALGS = (("ES256", "ec256"), ("ES384", "ec384"), ("ES512", "ec521"), ("PS256", "rsa2048"),
        ("RS256", "rsa2048"))


class Vectors(unittest.TestCase):
    def test_cose_js_messages_verify(self):
        for alg, key in ALGS:
            with self.subTest(alg=alg):
                with open(os.path.join(VECTORS, alg + ".cbor"), "rb") as f:
                    msg = f.read()
                pub = os.path.join(VECTORS, key + ".pub.pem")
                p = run("verify", "--key", pub, stdin=msg, check=0)
                self.assertEqual(p.stdout, b"temp=21.5")
                self.assertIn(f"verified: sender {NAME}, alg {alg}", p.stderr.decode())
                i = msg.index(b"temp")
                p = run("verify", "--key", pub, stdin=msg[:i] + b"T" + msg[i + 1:], check=1)
                self.assertIn("(bad_signature", p.stderr.decode())
                self.assertEqual(p.stdout, b"")


def cose_js_modules():
    mods = os.environ.get("DANCE_COSE_JS_MODULES")
    if not mods or shutil.which("node") is None:
        return None
    return mods if os.path.isdir(os.path.join(mods, "cose-js")) else None


@unittest.skipIf(cose_js_modules() is None,
                 "cose-js not installed (set DANCE_COSE_JS_MODULES and install node)")
class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="dance-cose-js-")
        cls.tmp = cls.tmpdir.name
        cls.keys = {}
        for _, k in ALGS:
            if k in cls.keys:
                continue
            key = os.path.join(cls.tmp, k + ".pem")
            pub = os.path.join(cls.tmp, k + ".pub.pem")
            run("keygen", "--type", k, "--out", key, check=0)
            subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
            cls.keys[k] = (key, pub)

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def node(self, *args, stdin=b""):
        env = dict(os.environ, NODE_PATH=cose_js_modules())
        return subprocess.run(["node", os.path.join(HERE, "cose_js_interop.js"), *args],
                              input=stdin, capture_output=True, env=env, timeout=60)

    def test_cose_js_signs_dance_verifies(self):
        for alg, k in ALGS:
            with self.subTest(alg=alg):
                p = self.node("sign", alg, self.keys[k][0], NAME, stdin=b"reading 7")
                self.assertEqual(p.returncode, 0, p.stderr.decode())
                q = run("verify", "--key", self.keys[k][1], stdin=p.stdout, check=0)
                self.assertEqual(q.stdout, b"reading 7")
                self.assertIn(f"alg {alg}", q.stderr.decode())

    def test_dance_signs_cose_js_verifies(self):
        for alg, k in ALGS:
            with self.subTest(alg=alg):
                msg = run("sign", "--key", self.keys[k][0], "--name", NAME, "--cose",
                          "--alg", alg, "--topic", "sensors/s2", "--jti", stdin=b"reading 8",
                          check=0).stdout
                p = self.node("verify", alg, self.keys[k][1], stdin=msg)
                self.assertEqual(p.returncode, 0, p.stderr.decode())
                self.assertEqual(p.stdout, b"reading 8")
                # and a tampered one fails there too
                i = msg.index(b"reading")
                p = self.node("verify", alg, self.keys[k][1],
                              stdin=msg[:i] + b"R" + msg[i + 1:])
                self.assertEqual(p.returncode, 1, p.stderr.decode())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir")
    args, rest = ap.parse_known_args()
    if args.build_dir:
        dance_cli.use_build_dir(os.path.abspath(args.build_dir))
    unittest.main(argv=[sys.argv[0]] + rest)
