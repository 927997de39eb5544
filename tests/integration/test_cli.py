#!/usr/bin/python3
"""test_cli.py - the `dance` CLI contract: keygen, cert, tlsa, match.

Runs the built binary as a real process and checks its results with the
openssl command-line tool and Python's hashlib, independently of libdance.

    test_cli.py --build-dir BUILD [unittest arguments, e.g. KeygenTests]

Every run of `dance` is also checked for a sanitizer report or a death by
signal, so the suite doubles as a "never crashes" test under
-DDANCE_SANITIZE=ON.
"""
import datetime
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dance_cli  # noqa: E402

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

KEY_TYPES = {
    # key type -> text `openssl pkey -text` prints for it
    "ec256": "prime256v1",
    "ec384": "secp384r1",
    "ec521": "secp521r1",
    "rsa2048": "Private-Key: (2048 bit",
    "rsa3072": "Private-Key: (3072 bit",
    "ed25519": "ED25519 Private-Key",
}


def run(*args, check=None):
    """Run dance with args (text output, no input); fail the calling test
    on a crash or, with check, on another exit status."""
    return dance_cli.run(*args, check=check, stdin=None, text=True)


def openssl(*args, data=None):
    p = subprocess.run([OPENSSL, *args], capture_output=True, timeout=60,
                       input=data)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: "
                             f"{p.stderr.decode(errors='replace')}")
    return p.stdout


def slurp(path):
    with open(path) as f:
        return f.read()


def x509_text(path):
    return openssl("x509", "-in", path, "-noout", "-text").decode()


def cert_der(path):
    return openssl("x509", "-in", path, "-outform", "DER")


def spki_der(path):
    pem = openssl("x509", "-in", path, "-noout", "-pubkey")
    return openssl("pkey", "-pubin", "-outform", "DER", data=pem)


def openssl_date(text):
    return datetime.datetime.strptime(text.strip(), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=datetime.timezone.utc)


class CliTestCase(unittest.TestCase):
    """A scratch directory per test class."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dance-cli-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    @classmethod
    def cpath(cls, name):
        return os.path.join(cls.dir, name)

    def assertUsageError(self, cmd, *args):
        """exit 2, nothing on stdout, one clear 'dance <cmd>:' message."""
        p = run(cmd, *args)
        self.assertEqual(p.returncode, 2, f"{cmd} {args}: {p.stdout} {p.stderr}")
        self.assertEqual(p.stdout, "", f"{cmd} {args}")
        self.assertTrue(p.stderr.startswith(f"dance {cmd}: "), p.stderr)
        return p.stderr


class KeygenTests(CliTestCase):

    def test_every_type_readable_by_openssl_mode_0600(self):
        for t, marker in KEY_TYPES.items():
            with self.subTest(type=t):
                out = self.path(f"{t}.pem")
                p = run("keygen", "--type", t, "--out", out, check=0)
                self.assertEqual(p.stdout, "")
                self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
                with open(out) as f:
                    self.assertTrue(f.read().startswith("-----BEGIN PRIVATE KEY-----"))
                text = openssl("pkey", "-in", out, "-noout", "-text").decode()
                self.assertIn(marker, text)

    def test_keys_are_fresh(self):
        a, b = self.path("fresh-a.pem"), self.path("fresh-b.pem")
        run("keygen", "--type", "ed25519", "--out", a, check=0)
        run("keygen", "--type", "ed25519", "--out", b, check=0)
        self.assertNotEqual(slurp(a), slurp(b))

    def test_refuses_overwrite_without_force(self):
        out = self.path("exists.pem")
        with open(out, "w") as f:
            f.write("precious\n")
        err = self.assertUsageError("keygen", "--type", "ec256", "--out", out)
        self.assertIn("--force", err)
        self.assertEqual(slurp(out), "precious\n")

    def test_force_replaces_and_tightens_mode(self):
        out = self.path("replace.pem")
        with open(out, "w") as f:
            f.write("old\n")
        os.chmod(out, 0o644)
        run("keygen", "--type", "ec256", "--out", out, "--force", check=0)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        openssl("pkey", "-in", out, "-noout")
        # no temporary files left behind
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith("replace.pem.")], [])

    def test_bad_usage(self):
        cases = [
            [],
            ["--type"],
            ["--type", "ec999", "--out", self.path("x.pem")],
            ["--type", "EC256", "--out", self.path("x.pem")],
            ["--type", "ec256"],
            ["--type", "ec256", "--out"],
            ["--type", "ec256", "--out", ""],
            ["--out", "--force", "--type", "ec256"],
            ["--type", "ec256", "--out", self.path("x.pem"), "--bogus"],
            ["--type", "ec256", "--out", self.path("x.pem"), "-x"],
            ["--type", "ec256", "--out", self.path("x.pem"), "--force=yes"],
            ["--type", "ec256", "--type", "ec384", "--out", self.path("x.pem")],
            ["--type", "ec256", "--out", self.path("x.pem"), "extra"],
            ["--type", "ec256", "--out", self.path("no/such/dir/x.pem")],
            ["--type", "ec256", "--out", self.dir],
        ]
        for args in cases:
            with self.subTest(args=args):
                self.assertUsageError("keygen", *args)
        self.assertFalse(os.path.exists(self.path("x.pem")))

    def test_help(self):
        p = run("keygen", "--help", check=0)
        self.assertIn("usage: dance keygen", p.stdout)
        for t in KEY_TYPES:
            self.assertIn(t, p.stdout)


class CertTests(CliTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for t in KEY_TYPES:
            run("keygen", "--type", t, "--out", cls.cpath(f"{t}.key"), check=0)
        run("cert", "--key", cls.cpath("ec384.key"), "--name", "Acme Device CA",
            "--is-ca", "--out", cls.cpath("ca.pem"), check=0)

    def test_self_signed_every_key_type(self):
        for t in KEY_TYPES:
            with self.subTest(type=t):
                name = f"{t}.dev._device.example.com"
                out = self.path(f"ss-{t}.pem")
                p = run("cert", "--key", self.path(f"{t}.key"), "--name", name,
                        "--out", out, check=0)
                self.assertEqual(p.stdout, "")
                # verifies as its own trust anchor, for TLS client use
                openssl("verify", "-CAfile", out, "-purpose", "sslclient", out)
                text = x509_text(out)
                self.assertIn(f"DNS:{name}", text)
                self.assertIn("TLS Web Client Authentication", text)
                self.assertNotIn("TLS Web Server Authentication", text)
                self.assertRegex(text, r"Basic Constraints: critical\s+CA:FALSE")
                self.assertIn(f"Subject: CN = {name}", text)
                self.assertIn(f"Issuer: CN = {name}", text)
                self.assertRegex(text, r"Key Usage: critical\s+Digital Signature")
                if t.startswith("rsa"):
                    self.assertIn("Key Encipherment", text)
                else:
                    self.assertNotIn("Key Encipherment", text)
                # the certified key is the one given
                self.assertEqual(
                    spki_der(out),
                    openssl("pkey", "-in", self.path(f"{t}.key"), "-pubout",
                            "-outform", "DER"))

    def test_signature_digest_follows_key(self):
        expected = {"ec256": "ecdsa-with-SHA256", "ec384": "ecdsa-with-SHA384",
                    "ec521": "ecdsa-with-SHA512", "rsa2048": "sha256WithRSAEncryption",
                    "rsa3072": "sha256WithRSAEncryption", "ed25519": "ED25519"}
        for t, alg in expected.items():
            with self.subTest(type=t):
                out = self.path(f"dig-{t}.pem")
                run("cert", "--key", self.path(f"{t}.key"), "--name", "d.example",
                    "--out", out, check=0)
                self.assertIn(f"Signature Algorithm: {alg}", x509_text(out))

    def test_ca_issued_verifies_with_openssl(self):
        for t in ("ec256", "rsa2048", "ed25519"):
            with self.subTest(type=t):
                out = self.path(f"leaf-{t}.pem")
                run("cert", "--key", self.path(f"{t}.key"), "--name", "dev1._device.example.com",
                    "--ca", self.path("ca.pem"), "--ca-key", self.path("ec384.key"),
                    "--out", out, check=0)
                v = openssl("verify", "-CAfile", self.path("ca.pem"),
                            "-purpose", "sslclient", out).decode()
                self.assertIn(": OK", v)
                text = x509_text(out)
                self.assertIn("Issuer: CN = Acme Device CA", text)
                self.assertIn("DNS:dev1._device.example.com", text)
                self.assertIn("TLS Web Client Authentication", text)
                # signed by the P-384 CA key: SHA-384
                self.assertIn("Signature Algorithm: ecdsa-with-SHA384", text)
                # the authority key id is the CA's subject key id
                ca_ski = re.search(r"Subject Key Identifier:\s+(\S+)",
                                   x509_text(self.path("ca.pem"))).group(1)
                aki = re.search(r"Authority Key Identifier:\s+(?:keyid:)?(\S+)", text).group(1)
                self.assertEqual(aki, ca_ski)
                # not signed by anything else
                other = self.path("other-ca.pem")
                if not os.path.exists(other):
                    run("cert", "--key", self.path("ec256.key"), "--name", "Other CA",
                        "--is-ca", "--out", other, check=0)
                p = subprocess.run([OPENSSL, "verify", "-CAfile", other, out],
                                   capture_output=True, timeout=60)
                self.assertNotEqual(p.returncode, 0)

    def test_ca_certificate(self):
        text = x509_text(self.path("ca.pem"))
        self.assertRegex(text, r"Basic Constraints: critical\s+CA:TRUE")
        self.assertRegex(text, r"Key Usage: critical\s+Certificate Sign, CRL Sign")
        self.assertIn("Subject Key Identifier", text)
        self.assertIn("Authority Key Identifier", text)
        self.assertNotIn("Subject Alternative Name", text)
        self.assertNotIn("Extended Key Usage", text)
        self.assertIn(": OK", openssl("verify", "-CAfile", self.path("ca.pem"),
                                      self.path("ca.pem")).decode())

    def test_intermediate_ca(self):
        inter = self.path("inter.pem")
        leaf = self.path("inter-leaf.pem")
        run("cert", "--key", self.path("ec256.key"), "--name", "Intermediate", "--is-ca",
            "--ca", self.path("ca.pem"), "--ca-key", self.path("ec384.key"),
            "--out", inter, check=0)
        run("cert", "--key", self.path("ed25519.key"), "--name", "x.example",
            "--ca", inter, "--ca-key", self.path("ec256.key"), "--out", leaf, check=0)
        self.assertIn(": OK", openssl("verify", "-CAfile", self.path("ca.pem"),
                                      "-untrusted", inter, leaf).decode())

    def test_issuer_without_subject_key_identifier(self):
        # a CA made elsewhere, without SKI: the leaf names it by issuer+serial
        ca = self.path("noski-ca.pem")
        openssl("req", "-x509", "-new", "-key", self.path("ec384.key"), "-subj", "/CN=NoSKI",
                "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign",
                "-addext", "subjectKeyIdentifier=none",
                "-addext", "authorityKeyIdentifier=none", "-out", ca)
        self.assertNotIn("Subject Key Identifier", x509_text(ca))
        out = self.path("noski-leaf.pem")
        run("cert", "--key", self.path("ec256.key"), "--name", "n.example", "--ca", ca,
            "--ca-key", self.path("ec384.key"), "--out", out, check=0)
        self.assertIn(": OK", openssl("verify", "-CAfile", ca, out).decode())
        self.assertIn("DirName:/CN=NoSKI", x509_text(out))

    def test_name_is_normalised(self):
        out = self.path("norm.pem")
        run("cert", "--key", self.path("ec256.key"), "--name", "Dev1._Device.Example.COM.",
            "--out", out, check=0)
        text = x509_text(out)
        self.assertIn("DNS:dev1._device.example.com", text)
        self.assertNotIn("Example", text)

    def test_long_name_has_empty_subject_and_critical_san(self):
        name = "a" * 63 + "." + "b" * 20 + ".example"
        out = self.path("long.pem")
        run("cert", "--key", self.path("ec256.key"), "--name", name, "--out", out, check=0)
        text = x509_text(out)
        self.assertRegex(text, r"Subject Alternative Name: critical\s+DNS:" + name)
        self.assertIn(": OK", openssl("verify", "-CAfile", out, out).decode())

    def test_validity(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        for days, args in ((365, []), (10, ["--days", "10"]), (1, ["--days", "1"])):
            with self.subTest(days=days):
                out = self.path(f"days-{days}.pem")
                run("cert", "--key", self.path("ec256.key"), "--name", "v.example",
                    "--out", out, *args, check=0)
                lines = openssl("x509", "-in", out, "-noout", "-startdate",
                                "-enddate").decode().splitlines()
                start = openssl_date(lines[0].split("=", 1)[1])
                end = openssl_date(lines[1].split("=", 1)[1])
                # notBefore about a minute in the past
                self.assertLessEqual(start, now - datetime.timedelta(seconds=30))
                self.assertGreaterEqual(start, now - datetime.timedelta(seconds=180))
                self.assertAlmostEqual((end - start).total_seconds(),
                                       days * 86400 + 60, delta=5)

    def test_serials_random_128_bit(self):
        serials = set()
        for i in range(4):
            out = self.path(f"serial-{i}.pem")
            run("cert", "--key", self.path("ec256.key"), "--name", "s.example",
                "--out", out, check=0)
            s = int(openssl("x509", "-in", out, "-noout", "-serial").decode()
                    .split("=")[1], 16)
            self.assertGreater(s, 0)
            self.assertLessEqual(s.bit_length(), 128)
            self.assertGreater(s.bit_length(), 64)   # fails with odds 2^-64
            serials.add(s)
        self.assertEqual(len(serials), 4)

    def test_force(self):
        out = self.path("forced.pem")
        run("cert", "--key", self.path("ec256.key"), "--name", "f1.example", "--out", out,
            check=0)
        self.assertUsageError("cert", "--key", self.path("ec256.key"), "--name",
                              "f2.example", "--out", out)
        self.assertIn("DNS:f1.example", x509_text(out))
        run("cert", "--key", self.path("ec256.key"), "--name", "f2.example", "--out", out,
            "--force", check=0)
        self.assertIn("DNS:f2.example", x509_text(out))

    def test_bad_inputs(self):
        k = self.path("ec256.key")
        ca, cakey = self.path("ca.pem"), self.path("ec384.key")
        garbage = self.path("garbage.pem")
        with open(garbage, "w") as f:
            f.write("this is not PEM\n")
        empty = self.path("empty.pem")
        open(empty, "w").close()
        enc = self.path("encrypted.key")
        openssl("pkey", "-in", k, "-aes256", "-passout", "pass:secret", "-out", enc)
        leaf = self.path("notca.pem")
        run("cert", "--key", k, "--name", "leaf.example", "--out", leaf, check=0)
        out = self.path("never.pem")
        cases = {
            "no key": ["--name", "a.example", "--out", out],
            "no name": ["--key", k, "--out", out],
            "no out": ["--key", k, "--name", "a.example"],
            "missing key file": ["--key", self.path("nonexistent"), "--name", "a.example",
                                 "--out", out],
            "garbage key": ["--key", garbage, "--name", "a.example", "--out", out],
            "empty key": ["--key", empty, "--name", "a.example", "--out", out],
            "certificate as key": ["--key", ca, "--name", "a.example", "--out", out],
            "encrypted key": ["--key", enc, "--name", "a.example", "--out", out],
            "directory as key": ["--key", self.dir, "--name", "a.example", "--out", out],
            "bad name": ["--key", k, "--name", "bad_name.example", "--out", out],
            "empty label": ["--key", k, "--name", "a..example", "--out", out],
            "space in name": ["--key", k, "--name", "a b.example", "--out", out],
            "empty name": ["--key", k, "--name", "", "--out", out],
            "days 0": ["--key", k, "--name", "a.example", "--days", "0", "--out", out],
            "days -1": ["--key", k, "--name", "a.example", "--days", "-1", "--out", out],
            "days x": ["--key", k, "--name", "a.example", "--days", "x", "--out", out],
            "days huge": ["--key", k, "--name", "a.example", "--days",
                          "99999999999999999999999", "--out", out],
            "days too long": ["--key", k, "--name", "a.example", "--days", "36501",
                              "--out", out],
            "ca without key": ["--key", k, "--name", "a.example", "--ca", ca, "--out", out],
            "ca key without ca": ["--key", k, "--name", "a.example", "--ca-key", cakey,
                                  "--out", out],
            "ca key mismatch": ["--key", k, "--name", "a.example", "--ca", ca,
                                "--ca-key", k, "--out", out],
            "issuer not a CA": ["--key", k, "--name", "a.example", "--ca", leaf,
                                "--ca-key", k, "--out", out],
            "garbage ca": ["--key", k, "--name", "a.example", "--ca", garbage,
                           "--ca-key", cakey, "--out", out],
            "missing ca": ["--key", k, "--name", "a.example", "--ca", self.path("nope"),
                           "--ca-key", cakey, "--out", out],
            "ca name too long": ["--key", k, "--name", "C" * 65, "--is-ca", "--out", out],
            "ca name control char": ["--key", k, "--name", "bad\tname", "--is-ca",
                                     "--out", out],
            "unknown option": ["--key", k, "--name", "a.example", "--out", out, "--serial",
                               "5"],
            "positional": ["--key", k, "--name", "a.example", "--out", out, "extra"],
            "unwritable": ["--key", k, "--name", "a.example", "--out",
                           self.path("no/such/dir/c.pem")],
        }
        for what, args in cases.items():
            with self.subTest(what):
                self.assertUsageError("cert", *args)
        self.assertFalse(os.path.exists(out))
        # the reasons name the file and what is wrong with it
        err = self.assertUsageError("cert", "--key", garbage, "--name", "a.example",
                                    "--out", out)
        self.assertIn(f"cannot read private key from {garbage}", err)
        err = self.assertUsageError("cert", "--key", k, "--name", "a.example", "--ca",
                                    garbage, "--ca-key", cakey, "--out", out)
        self.assertIn(f"cannot read certificate from {garbage}", err)
        err = self.assertUsageError("cert", "--key", enc, "--name", "a.example",
                                    "--out", out)
        self.assertIn("encrypted", err)

    def test_help(self):
        p = run("cert", "--help", check=0)
        self.assertIn("usage: dance cert", p.stdout)
        self.assertIn("--ca-key", p.stdout)


class TlsaTests(CliTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        run("keygen", "--type", "ec256", "--out", cls.cpath("dev.key"), check=0)
        run("keygen", "--type", "rsa2048", "--out", cls.cpath("ca.key"), check=0)
        run("cert", "--key", cls.cpath("ca.key"), "--name", "CA", "--is-ca",
            "--out", cls.cpath("ca.pem"), check=0)
        run("cert", "--key", cls.cpath("dev.key"), "--name", "dev1._device.example.com",
            "--ca", cls.cpath("ca.pem"), "--ca-key", cls.cpath("ca.key"),
            "--out", cls.cpath("dev.pem"), check=0)

    def expected(self, path, selector, mtype):
        data = cert_der(path) if selector == 0 else spki_der(path)
        if mtype == 1:
            data = hashlib.sha256(data).digest()
        elif mtype == 2:
            data = hashlib.sha512(data).digest()
        return data.hex().upper()

    def test_all_selector_mtype_combinations(self):
        for cert in ("dev.pem", "ca.pem"):
            for usage in range(4):
                for selector in (0, 1):
                    for mtype in (0, 1, 2):
                        with self.subTest(cert=cert, u=usage, s=selector, m=mtype):
                            p = run("tlsa", "--usage", str(usage), "--selector",
                                    str(selector), "--mtype", str(mtype),
                                    self.path(cert), check=0)
                            self.assertEqual(
                                p.stdout,
                                f"{usage} {selector} {mtype} "
                                f"{self.expected(self.path(cert), selector, mtype)}\n")

    def test_owner_line(self):
        hexdata = self.expected(self.path("dev.pem"), 1, 1)
        p = run("tlsa", "--usage", "3", "--selector", "1", "--mtype", "1",
                "--owner", "dev1._device.example.com", self.path("dev.pem"), check=0)
        self.assertEqual(p.stdout, f"dev1._device.example.com. 300 IN TLSA 3 1 1 {hexdata}\n")
        p = run("tlsa", "--usage", "3", "--selector", "1", "--mtype", "1",
                "--owner", "_MQTT.Dev1._device.Example.com.", "--ttl", "60",
                self.path("dev.pem"), check=0)
        self.assertEqual(p.stdout,
                         f"_mqtt.dev1._device.example.com. 60 IN TLSA 3 1 1 {hexdata}\n")
        p = run("tlsa", "--usage", "3", "--selector", "1", "--mtype", "1",
                "--owner", "x.example", "--ttl", "0", self.path("dev.pem"), check=0)
        self.assertTrue(p.stdout.startswith("x.example. 0 IN TLSA 3 1 1 "))

    def test_first_certificate_of_a_chain_file(self):
        full = self.path("fullchain.pem")
        with open(full, "w") as f:
            f.write(slurp(self.path("dev.pem")) + slurp(self.path("ca.pem")))
        p = run("tlsa", "--usage", "3", "--selector", "1", "--mtype", "1", full, check=0)
        self.assertEqual(p.stdout, f"3 1 1 {self.expected(self.path('dev.pem'), 1, 1)}\n")

    def test_options_after_the_file(self):
        p = run("tlsa", self.path("dev.pem"), "--usage", "3", "--selector", "0",
                "--mtype", "1", check=0)
        self.assertEqual(p.stdout, f"3 0 1 {self.expected(self.path('dev.pem'), 0, 1)}\n")

    def test_bad_inputs(self):
        c = self.path("dev.pem")
        garbage = self.path("garbage.pem")
        with open(garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
        truncated = self.path("truncated.pem")
        with open(truncated, "w") as f:
            f.write(slurp(c)[:200])
        usm = ["--usage", "3", "--selector", "1", "--mtype", "1"]
        cases = {
            "usage 4": ["--usage", "4", "--selector", "1", "--mtype", "1", c],
            "selector 2": ["--usage", "3", "--selector", "2", "--mtype", "1", c],
            "mtype 3": ["--usage", "3", "--selector", "1", "--mtype", "3", c],
            "usage 256": ["--usage", "256", "--selector", "1", "--mtype", "1", c],
            "usage x": ["--usage", "x", "--selector", "1", "--mtype", "1", c],
            "usage -1": ["--usage", "-1", "--selector", "1", "--mtype", "1", c],
            "usage empty": ["--usage", "", "--selector", "1", "--mtype", "1", c],
            "usage 3x": ["--usage", "3x", "--selector", "1", "--mtype", "1", c],
            "no usage": ["--selector", "1", "--mtype", "1", c],
            "no mtype": ["--usage", "3", "--selector", "1", c],
            "no file": usm,
            "two files": usm + [c, c],
            "missing file": usm + [self.path("nonexistent.pem")],
            "garbage": usm + [garbage],
            "truncated": usm + [truncated],
            "key not cert": usm + [self.path("dev.key")],
            "directory": usm + [self.dir],
            "device file": usm + ["/dev/null"],
            "ttl without owner": usm + ["--ttl", "60", c],
            "ttl too big": usm + ["--owner", "a.example", "--ttl", "2147483648", c],
            "ttl negative": usm + ["--owner", "a.example", "--ttl", "-5", c],
            "bad owner": usm + ["--owner", "a..example", c],
            "owner with space": usm + ["--owner", "a b", c],
            "unknown option": usm + ["--depth", "1", c],
            "missing value": usm + [c, "--owner"],
        }
        for what, args in cases.items():
            with self.subTest(what):
                self.assertUsageError("tlsa", *args)
        err = self.assertUsageError("tlsa", *usm, self.path("nonexistent.pem"))
        self.assertIn("No such file", err)

    def test_help(self):
        p = run("tlsa", "--help", check=0)
        self.assertIn("usage: dance tlsa", p.stdout)
        self.assertIn("first certificate", p.stdout)


class MatchTests(CliTestCase):
    NAME = "dev1._device.example.com"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        run("keygen", "--type", "ec384", "--out", cls.cpath("ca.key"), check=0)
        run("keygen", "--type", "ec256", "--out", cls.cpath("dev.key"), check=0)
        run("keygen", "--type", "ed25519", "--out", cls.cpath("ss.key"), check=0)
        run("cert", "--key", cls.cpath("ca.key"), "--name", "Device CA", "--is-ca",
            "--out", cls.cpath("ca.pem"), check=0)
        run("cert", "--key", cls.cpath("dev.key"), "--name", cls.NAME,
            "--ca", cls.cpath("ca.pem"), "--ca-key", cls.cpath("ca.key"),
            "--out", cls.cpath("dev.pem"), check=0)
        run("cert", "--key", cls.cpath("ss.key"), "--name", "ss._device.example.com",
            "--out", cls.cpath("ss.pem"), check=0)
        with open(cls.cpath("fullchain.pem"), "w") as f:
            f.write(slurp(cls.cpath("dev.pem")) + slurp(cls.cpath("ca.pem")))

    def tlsa(self, cert, u, s, m):
        return run("tlsa", "--usage", str(u), "--selector", str(s), "--mtype", str(m),
                   self.path(cert), check=0).stdout.strip()

    def match(self, *args):
        p = run("match", *args)
        self.assertIn(p.returncode, (0, 1), f"match {args}: {p.stderr}")
        self.assertEqual(len(p.stdout.splitlines()), 1, p.stdout)
        self.assertTrue(p.stdout.endswith("\n"))
        return p

    def assertAuthenticated(self, *args, expect=None):
        p = self.match(*args)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertTrue(p.stdout.startswith("authenticated: "), p.stdout)
        if expect:
            self.assertIn(expect, p.stdout)
        return p.stdout

    def assertNotAuthenticated(self, *args, expect=None):
        p = self.match(*args)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertTrue(p.stdout.startswith("not authenticated: "), p.stdout)
        if expect:
            self.assertIn(expect, p.stdout)
        return p.stdout

    def test_dane_ee_spki_sha256(self):
        out = self.assertAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                       "--tlsa", self.tlsa("dev.pem", 3, 1, 1),
                                       expect="DANE-EE 3 1 1 matched at depth 0")
        self.assertNotIn("not checked", out)

    def test_dane_ee_cert_sha256_and_others(self):
        for s, m in ((0, 1), (0, 0), (1, 0), (1, 2), (0, 2)):
            with self.subTest(s=s, m=m):
                self.assertAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                         "--tlsa", self.tlsa("dev.pem", 3, s, m),
                                         expect=f"DANE-EE 3 {s} {m} matched at depth 0")

    def test_dane_ee_self_signed(self):
        self.assertAuthenticated("--cert", self.path("ss.pem"), "--name",
                                 "ss._device.example.com",
                                 "--tlsa", self.tlsa("ss.pem", 3, 1, 1),
                                 expect="DANE-EE 3 1 1 matched at depth 0")

    def test_dane_ta_with_chain(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--chain", self.path("ca.pem"),
                                 "--name", self.NAME, "--tlsa", self.tlsa("ca.pem", 2, 0, 1),
                                 expect="DANE-TA 2 0 1 matched at depth 1")

    def test_dane_ta_with_fullchain_cert_file(self):
        self.assertAuthenticated("--cert", self.path("fullchain.pem"), "--name", self.NAME,
                                 "--tlsa", self.tlsa("ca.pem", 2, 1, 1),
                                 expect="DANE-TA 2 1 1 matched at depth 1")

    def test_dane_ta_with_cafile(self):
        # dance/dane.h: the CA file supplies issuers for usage 2, which is
        # what the plugin relies on (Mosquitto hands it the leaf only).
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--cafile", self.path("ca.pem"),
                                 "--name", self.NAME, "--tlsa", self.tlsa("ca.pem", 2, 0, 1),
                                 expect="DANE-TA 2 0 1 matched at depth 1")

    def test_dane_ta_full_certificate_record_needs_no_chain(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                 "--tlsa", self.tlsa("ca.pem", 2, 0, 0),
                                 expect="DANE-TA 2 0 0 matched at depth 1")

    def test_pkix_ta_with_cafile(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--cafile", self.path("ca.pem"),
                                 "--name", self.NAME, "--tlsa", self.tlsa("ca.pem", 0, 0, 1),
                                 expect="PKIX-TA 0 0 1 matched at depth 1")

    def test_pkix_ee_with_cafile(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--cafile", self.path("ca.pem"),
                                 "--name", self.NAME, "--tlsa", self.tlsa("dev.pem", 1, 1, 1),
                                 expect="PKIX-EE 1 1 1 matched at depth 0")

    def test_pkix_needs_the_ca(self):
        self.assertNotAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                    "--tlsa", self.tlsa("ca.pem", 0, 0, 1))
        self.assertNotAuthenticated("--cert", self.path("ss.pem"),
                                    "--cafile", self.path("ca.pem"),
                                    "--tlsa", self.tlsa("ss.pem", 1, 1, 1))

    def test_without_name_says_so(self):
        out = self.assertAuthenticated("--cert", self.path("dev.pem"),
                                       "--tlsa", self.tlsa("dev.pem", 3, 1, 1))
        self.assertIn("name not checked", out)

    def test_wrong_digest(self):
        good = self.tlsa("dev.pem", 3, 1, 1)
        bad = good[:-2] + ("00" if not good.endswith("00") else "11")
        self.assertNotAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                    "--tlsa", bad, expect="does not match")
        # another certificate's record
        self.assertNotAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                    "--tlsa", self.tlsa("ss.pem", 3, 1, 1))
        # a CA record as DANE-EE
        self.assertNotAuthenticated("--cert", self.path("dev.pem"), "--chain",
                                    self.path("ca.pem"), "--name", self.NAME,
                                    "--tlsa", self.tlsa("ca.pem", 3, 1, 1))
        # DANE-TA never matches the leaf itself
        self.assertNotAuthenticated("--cert", self.path("ss.pem"),
                                    "--tlsa", self.tlsa("ss.pem", 2, 1, 1))

    def test_wrong_name(self):
        for u, s, m, cert in ((3, 1, 1, "dev.pem"), (2, 0, 1, "ca.pem")):
            with self.subTest(usage=u):
                self.assertNotAuthenticated("--cert", self.path("fullchain.pem"),
                                            "--name", "dev2._device.example.com",
                                            "--tlsa", self.tlsa(cert, u, s, m),
                                            expect="dev2._device.example.com")
        # a parent name is not the identity either
        self.assertNotAuthenticated("--cert", self.path("dev.pem"), "--name",
                                    "_device.example.com",
                                    "--tlsa", self.tlsa("dev.pem", 3, 1, 1))

    def test_no_ee_namechecks(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--name",
                                 "dev2._device.example.com", "--no-ee-namechecks",
                                 "--tlsa", self.tlsa("dev.pem", 3, 1, 1),
                                 expect="DANE-EE 3 1 1 matched at depth 0")
        # only DANE-EE: DANE-TA still checks the name
        self.assertNotAuthenticated("--cert", self.path("fullchain.pem"), "--name",
                                    "dev2._device.example.com", "--no-ee-namechecks",
                                    "--tlsa", self.tlsa("ca.pem", 2, 0, 1))

    def test_name_case_and_trailing_dot(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--name",
                                 "DEV1._device.Example.com.",
                                 "--tlsa", self.tlsa("dev.pem", 3, 1, 1))

    def test_unusable_records(self):
        digest = self.tlsa("dev.pem", 3, 1, 1).split()[3]
        for rec in (f"4 1 1 {digest}", f"3 2 1 {digest}", f"3 1 3 {digest}",
                    f"3 1 1 {digest[:-2]}", "3 1 1 00", f"255 255 255 {digest}"):
            with self.subTest(rec=rec):
                self.assertNotAuthenticated("--cert", self.path("dev.pem"), "--name",
                                            self.NAME, "--tlsa", rec, expect="usable")
        # an unusable record next to a good one is ignored
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                 "--tlsa", f"4 1 1 {digest}", "--tlsa",
                                 f"3 1 1 {digest}", expect="DANE-EE 3 1 1")

    def test_rrset_with_one_matching_record(self):
        self.assertAuthenticated("--cert", self.path("dev.pem"), "--name", self.NAME,
                                 "--tlsa", self.tlsa("ss.pem", 3, 1, 1),
                                 "--tlsa", self.tlsa("dev.pem", 3, 0, 2),
                                 expect="DANE-EE 3 0 2")

    def test_purpose(self):
        ta = self.tlsa("ca.pem", 2, 0, 1)
        base = ["--cert", self.path("fullchain.pem"), "--name", self.NAME, "--tlsa", ta]
        self.assertAuthenticated(*base, "--purpose", "client")
        self.assertAuthenticated(*base, "--purpose", "none")
        # the certificate allows clientAuth only
        self.assertNotAuthenticated(*base, "--purpose", "server")

    def test_bad_inputs(self):
        c = self.path("dev.pem")
        good = self.tlsa("dev.pem", 3, 1, 1)
        garbage = self.path("garbage.pem")
        with open(garbage, "w") as f:
            f.write("garbage\n")
        empty = self.path("empty.pem")
        open(empty, "w").close()
        cases = {
            "no cert": ["--tlsa", good],
            "no tlsa": ["--cert", c],
            "empty tlsa": ["--cert", c, "--tlsa", ""],
            "tlsa without data": ["--cert", c, "--tlsa", "3 1 1"],
            "tlsa bad hex": ["--cert", c, "--tlsa", "3 1 1 zz"],
            "tlsa odd hex": ["--cert", c, "--tlsa", "3 1 1 abc"],
            "tlsa field > 255": ["--cert", c, "--tlsa", "256 1 1 00"],
            "tlsa words": ["--cert", c, "--tlsa", "DANE-EE SPKI SHA-256 00"],
            "missing cert": ["--cert", self.path("nope.pem"), "--tlsa", good],
            "garbage cert": ["--cert", garbage, "--tlsa", good],
            "empty cert": ["--cert", empty, "--tlsa", good],
            "key as cert": ["--cert", self.path("dev.key"), "--tlsa", good],
            "directory as cert": ["--cert", self.dir, "--tlsa", good],
            "missing chain": ["--cert", c, "--chain", self.path("nope.pem"), "--tlsa", good],
            "garbage chain": ["--cert", c, "--chain", garbage, "--tlsa", good],
            "missing cafile": ["--cert", c, "--cafile", self.path("nope.pem"), "--tlsa", good],
            "garbage cafile": ["--cert", c, "--cafile", garbage, "--tlsa", good],
            "bad purpose": ["--cert", c, "--purpose", "both", "--tlsa", good],
            "bad name": ["--cert", c, "--name", "a..b", "--tlsa", good],
            "unknown option": ["--cert", c, "--tlsa", good, "--depth", "0"],
            "missing value": ["--cert", c, "--tlsa"],
            "positional": ["--cert", c, "--tlsa", good, c],
            "cert twice": ["--cert", c, "--cert", c, "--tlsa", good],
        }
        for what, args in cases.items():
            with self.subTest(what):
                self.assertUsageError("match", *args)
        err = self.assertUsageError("match", "--cert", garbage, "--tlsa", good)
        self.assertIn(f"cannot read certificate from {garbage}", err)

    def test_help(self):
        p = run("match", "--help", check=0)
        self.assertIn("usage: dance match", p.stdout)
        self.assertIn("Exit status", p.stdout)


class DispatchTests(unittest.TestCase):

    def test_top_level(self):
        self.assertEqual(run().returncode, 2)
        p = run("--help", check=0)
        for cmd in ("keygen", "cert", "tlsa", "match"):
            self.assertIn(cmd, p.stdout)
        self.assertEqual(run("frobnicate").returncode, 2)

    def test_version(self):
        # the version of project(... VERSION), the one place it is written
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "..", "CMakeLists.txt")) as f:
            m = re.search(r"^project\(\S+ VERSION (\d+\.\d+\.\d+)", f.read(), re.M)
        self.assertIsNotNone(m)
        p = run("--version", check=0)
        self.assertEqual(p.stdout, "dance (mosquitto-dance) %s\n" % m.group(1))
        self.assertIn("dance --version", run("--help", check=0).stdout)


def main():
    argv = sys.argv[1:]
    build = os.environ.get("DANCE_BUILD_DIR")
    if len(argv) >= 2 and argv[0] == "--build-dir":
        build, argv = argv[1], argv[2:]
    if not build:
        sys.exit("usage: test_cli.py --build-dir BUILD [unittest args]")
    dance = dance_cli.use_build_dir(build)
    if not os.access(dance, os.X_OK):
        sys.exit(f"test_cli.py: {dance} is not an executable; build first")
    unittest.main(argv=[sys.argv[0], "-v", *argv])


if __name__ == "__main__":
    main()
