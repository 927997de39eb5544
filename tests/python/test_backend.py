#!/usr/bin/python3
"""test_backend.py - examples/python/backend.py against a real broker with
the plugin and the DNSSEC test bed, side by side with the C
examples/backend_subscriber: for the same messages (a device's own
reading, a gateway forwarding for a sensor, a broker-side dance-sender that
disagrees with the signature, a tampered payload) both print the same
lines; the verified copies under verified/ verify again; usage errors exit 2.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/python/test_backend.py -v
"""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from sanitizer_preload import python_env  # noqa: E402
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from plugin_fixture import cid_args  # noqa: E402
from plugin_fixture import (BUILD_DIR, DANCE, Bed, Broker, PluginTestCase,  # noqa: E402
                            ident, run)

os.environ.setdefault("DANCE_LIBRARY", os.path.join(BUILD_DIR, "libdance.so.0"))
PY_BACKEND = os.path.join(REPO, "examples", "python", "backend.py")
C_BACKEND = os.path.join(BUILD_DIR, "examples", "backend_subscriber")
PUB = os.path.join(BUILD_DIR, "examples", "device_publisher")
ORG = "acme.example"


class PythonBackend(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "pybackend", default_ttl=300, negative_ttl=30)
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        cls.dev = {}
        # the backend's 3 1 0 record is also the key devices encrypt to
        for label, rec in (("dev1", (3, 1, 0)), ("gw", (3, 1, 1)), ("backend", (3, 1, 0))):
            cert, key = cls.pki.device(ident(label))
            cls.tb.set_records(ident(label), "TLSA", [cls.pki.tlsa(cert, *rec)])
            cls.dev[label] = (cert, key)
        key, cert = cls.pki.path("s1.key"), cls.pki.path("s1.pem")
        run([DANCE, "keygen", "--type", "ec256", "--out", key])
        run([DANCE, "cert", "--key", key, "--name", ident("s1"), "--out", cert])
        cls.tb.set_records(ident("s1"), "TLSA", [cls.pki.tlsa(cert, 3, 1, 0)])
        cls.dev["s1"] = (cert, key)
        cls.tb.publish()
        cls.broker = Broker(cls.wd, cls.pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": cls.pki.ca,
            "verify_topics": "devices/#",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def client_args(self, label):
        cert, key = self.dev[label]
        return ["--host", "localhost", "--port", str(self.broker.port),
                "--cafile", self.pki.ca, "--cert", cert, "--key", key]

    def start_backend(self, program, *args):
        argv = [program] + self.client_args("backend") + [
            "--resolver", self.tb.upstream, "--trust-anchor", self.tb.trust_anchor,
            "--allowed-domains", ORG, "--require-iat"] + list(args)
        env = None
        if program.endswith(".py"):
            argv.insert(0, sys.executable)
            env = python_env()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        line = p.stdout.readline()
        self.assertTrue(line.startswith("SUBSCRIBED"), "%s said %r; stderr: %s"
                        % (program, line, p.stderr.read() if p.poll() is not None else ""))
        return p

    def publish(self, label, *args):
        p = subprocess.run([PUB] + self.client_args(label) + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def mosquitto_pub(self, label, topic, payload, *extra):
        cert, key = self.dev[label]
        p = subprocess.run(
            ["mosquitto_pub", "-h", "localhost", "-p", str(self.broker.port),
             "--cafile", self.pki.ca, "--cert", cert, "--key", key, "-V", "5", "-q", "1",
             *cid_args(cert), "-t", topic, "-m", payload] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)

    def sign(self, label, topic, payload):
        cert, key = self.dev[label]
        return run([DANCE, "sign", "--key", key, "--name", ident(label), "--iat", "--jti",
                    "--topic", topic], input=payload).strip()

    def test_same_lines_as_the_c_backend(self):
        args = ("--topic", "devices/#", "--count", "4", "--timeout", "60")
        backends = [self.start_backend(C_BACKEND, *args),
                    self.start_backend(PY_BACKEND, *args)]
        self.publish("dev1", "--count", "1")
        topic = "devices/%s/s1/reading" % ident("gw")
        self.publish("gw", "--for", ident("s1"), "--for-key", self.dev["s1"][1],
                     "--topic", topic, "--count", "1", "--payload", '{"t":1}')
        topic3 = "devices/%s/reading" % ident("dev1")
        self.mosquitto_pub("dev1", topic3, self.sign("dev1", topic3, '{"t":3}'),
                           "-D", "publish", "user-property", "dance-sender", ident("gw"))
        head, body, sig = self.sign("dev1", topic3, '{"t":4}').split(".")
        body = ("f" if body[0] != "f" else "g") + body[1:]
        self.mosquitto_pub("dev1", topic3, ".".join((head, body, sig)))
        (c_out, c_err), (py_out, py_err) = [b.communicate(timeout=60) for b in backends]
        self.assertEqual([b.returncode for b in backends], [0, 0], c_err + py_err)
        lines = py_out.splitlines()
        self.assertEqual(len(lines), 4, py_out)
        self.assertRegex(lines[0], r"^VERIFIED %s devices/%s/reading \{\"seq\":1," % (
            ident("dev1"), ident("dev1")))
        self.assertEqual(lines[1], 'VERIFIED %s %s {"t":1}' % (ident("s1"), topic))
        self.assertTrue(lines[2].startswith(
            "REFUSED sender_mismatch %s claimed=%s " % (topic3, ident("dev1"))), lines[2])
        self.assertTrue(lines[3].startswith(
            "REFUSED bad_signature %s claimed=%s " % (topic3, ident("dev1"))), lines[3])
        self.assertEqual(lines, c_out.splitlines())
        self.assertIn("4 messages, 2 verified, 2 refused", py_err)

    def test_reverifies_plugin_copies(self):
        backend = self.start_backend(PY_BACKEND, "--count", "1", "--timeout", "30")
        self.publish("dev1", "--count", "1", "--payload", '{"copy":1}')
        out, err = backend.communicate(timeout=30)
        self.assertEqual(backend.returncode, 0, err)
        self.assertEqual(out.splitlines(), ['VERIFIED %s verified/devices/%s/reading {"copy":1}'
                                            % (ident("dev1"), ident("dev1"))])

    def test_reverifies_plugin_cose_copies(self):
        # a binary COSE_Sign1 copy (device_publisher --format cose) with a
        # byte outside printable ASCII in its payload: the same line as the
        # C backend's
        args = ("--count", "1", "--timeout", "30")
        backends = [self.start_backend(C_BACKEND, *args),
                    self.start_backend(PY_BACKEND, *args)]
        self.publish("dev1", "--count", "1", "--format", "cose", "--payload", "cose\x7f1")
        (c_out, c_err), (py_out, py_err) = [b.communicate(timeout=30) for b in backends]
        self.assertEqual([b.returncode for b in backends], [0, 0], c_err + py_err)
        self.assertEqual(py_out.splitlines(), ["VERIFIED %s verified/devices/%s/reading cose.1"
                                               % (ident("dev1"), ident("dev1"))])
        self.assertEqual(py_out, c_out)

    def test_decrypts_like_the_c_backend(self):
        # encrypt-then-sign through the plugin (device_publisher
        # --encrypt-to), sign-then-encrypt on a topic the plugin does not
        # verify, and one encrypted to someone else: the same lines
        dns = ["--resolver", self.tb.upstream, "--trust-anchor", self.tb.trust_anchor]
        args = ("--topic", "verified/#", "--topic", "direct/#", "--count", "3",
                "--timeout", "60", "--decrypt-key", self.dev["backend"][1])
        backends = [self.start_backend(C_BACKEND, *args),
                    self.start_backend(PY_BACKEND, *args)]
        self.publish("dev1", "--count", "1", "--payload", '{"dose":1}',
                     "--encrypt-to", ident("backend"), *dns)
        direct = "direct/%s" % ident("dev1")
        jwe = run([DANCE, "encrypt", "--cert", self.dev["backend"][0]],
                  input=self.sign("dev1", direct, '{"dose":2}')).strip()
        self.mosquitto_pub("dev1", direct, jwe)
        self.publish("dev1", "--count", "1", "--payload", '{"dose":3}',
                     "--encrypt-to", ident("dev1"), *dns)
        (c_out, c_err), (py_out, py_err) = [b.communicate(timeout=60) for b in backends]
        self.assertEqual([b.returncode for b in backends], [0, 0], c_err + py_err)
        topic = "verified/devices/%s/reading" % ident("dev1")
        lines = sorted(py_out.splitlines())
        self.assertEqual(lines, sorted([
            'DECRYPTED %s %s {"dose":1}' % (ident("dev1"), topic),
            'DECRYPTED %s %s {"dose":2}' % (ident("dev1"), direct),
            "REFUSED decryption_failed %s claimed=%s verified, but decryption failed"
            % (topic, ident("dev1"))]), py_out)
        self.assertEqual(lines, sorted(c_out.splitlines()))
        self.assertIn("3 messages, 2 verified, 1 refused, 2 of the verified decrypted", py_err)

    def test_decrypt_key_errors(self):
        p = subprocess.run([sys.executable, PY_BACKEND] + self.client_args("backend")
                           + ["--decrypt-key", self.dev["backend"][0]],
                           capture_output=True, text=True, timeout=30, env=python_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("holds no PEM private key", p.stderr)

    def test_exit_statuses(self):
        p = subprocess.run([sys.executable, PY_BACKEND, "--host", "localhost"],
                           capture_output=True, text=True, timeout=30, env=python_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        p = subprocess.run([sys.executable, PY_BACKEND] + self.client_args("backend")
                           + ["--dns-transport", "tls"], capture_output=True, text=True,
                           timeout=30, env=python_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("TLS authentication name", p.stderr)
        backend = self.start_backend(PY_BACKEND, "--topic", "devices/nobody/#",
                                     "--count", "1", "--timeout", "2")
        out, err = backend.communicate(timeout=30)
        self.assertEqual(backend.returncode, 1, err)
        self.assertIn("0 of 1 messages within 2 s", err)


if __name__ == "__main__":
    unittest.main()
