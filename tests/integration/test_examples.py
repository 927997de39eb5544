#!/usr/bin/python3
"""The example programs (examples/device_publisher, examples/backend_subscriber)
against a real broker with the plugin and a real DNSSEC test bed.

scripts/demo runs the examples through the whole
story; this file pins down what the demo does not reach: usage errors and
exit statuses, a refused connection and its bounded retries, a cold device
that gets in on a retry resuming its TLS session, a broker-side
dance-sender property that disagrees with the signature (sender_mismatch),
a tampered payload and the backend's --count/--timeout contract.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsproxy import DnsProxy  # noqa: E402
from plugin_fixture import cid_args  # noqa: E402
from plugin_fixture import (BUILD_DIR, DANCE, Bed, Broker, PluginTestCase,  # noqa: E402
                            ident, run)

PUB = os.path.join(BUILD_DIR, "examples", "device_publisher")
SUB = os.path.join(BUILD_DIR, "examples", "backend_subscriber")
ORG = "acme.example"


class ExamplesTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "examples", default_ttl=300, negative_ttl=30)
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        pki = cls.pki
        cls.dev = {}
        for label, rec in (("dev1", (3, 1, 0)), ("gw", (3, 1, 1)), ("norecord", None),
                           ("backend", (3, 1, 1)), ("cold1", (3, 1, 1))):
            cert, key = pki.device(ident(label))
            if rec:
                recs = [pki.tlsa(cert, *rec)]
                if label == "backend":      # its key, for devices to encrypt to
                    recs.append(pki.tlsa(cert, 3, 1, 0))
                cls.tb.set_records(ident(label), "TLSA", recs)
            cls.dev[label] = (cert, key)
        # A sensor without a connection: a key and a self-signed carrier
        # certificate for its 3 1 0 record.
        key, cert = pki.path("s1.key"), pki.path("s1.pem")
        run([DANCE, "keygen", "--type", "ec256", "--out", key])
        run([DANCE, "cert", "--key", key, "--name", ident("s1"), "--out", cert])
        cls.tb.set_records(ident("s1"), "TLSA", [pki.tlsa(cert, 3, 1, 0)])
        cls.dev["s1"] = (cert, key)
        cls.tb.publish()
        cls.broker = Broker(cls.wd, pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": pki.ca,
            "connect_budget_ms": "5000",
            "verify_topics": "devices/#",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    # -- helpers --

    def client_args(self, label):
        cert, key = self.dev[label]
        return ["--host", "localhost", "--port", str(self.broker.port),
                "--cafile", self.pki.ca, "--cert", cert, "--key", key]

    def start_backend(self, *args):
        argv = [SUB] + self.client_args("backend") + [
            "--resolver", self.tb.upstream, "--trust-anchor", self.tb.trust_anchor,
            "--allowed-domains", ORG, "--require-iat"] + list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        self.assertTrue(line.startswith("SUBSCRIBED"), "backend said %r; stderr: %s"
                        % (line, p.stderr.read() if p.poll() is not None else ""))
        return p

    def publish(self, label, *args):
        return subprocess.run([PUB] + self.client_args(label) + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=30)

    def mosquitto_pub(self, label, topic, payload, *extra):
        cert, key = self.dev[label]
        return subprocess.run(
            ["mosquitto_pub", "-h", "localhost", "-p", str(self.broker.port),
             "--cafile", self.pki.ca, "--cert", cert, "--key", key, "-V", "5", "-q", "1",
             *cid_args(cert), "-t", topic, "-m", payload] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)

    def sign(self, label, topic, payload):
        cert, key = self.dev[label]
        return run([DANCE, "sign", "--key", key, "--name", ident(label), "--iat", "--jti",
                    "--topic", topic], input=payload).strip()

    # -- tests --

    def test_usage_errors_exit_2(self):
        for argv in ([PUB], [SUB], [PUB, "--count", "x"], [SUB, "--timeout", "0"],
                     [PUB] + self.client_args("gw") + ["--for", ident("s1")],
                     [SUB] + self.client_args("backend") + ["--dns-transport", "quic"],
                     [PUB, "--cafile", self.pki.ca, "--cert", "/nonexistent.pem",
                      "--key", self.dev["gw"][1]]):
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, 2, "%s: %s" % (argv[1:], p.stderr))
            self.assertTrue(p.stderr.strip(), argv[1:])
        for prog in (PUB, SUB):
            p = subprocess.run([prog, "--help"], stdout=subprocess.PIPE, text=True)
            self.assertEqual(p.returncode, 0)
            self.assertIn("Exit status", p.stdout)

    def test_device_without_record_is_refused_exit_1(self):
        # The CONNACK cannot tell "no record" from "lookup pending": the
        # device retries as told, then gives up.
        p = self.publish("norecord", "--count", "1", "--retries", "1")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(p.stderr.count("REFUSED by the broker"), 2, p.stderr)
        self.assertRegex(p.stderr, r"retry 1 of 1 in \d+ ms, resuming the TLS session")
        self.assertNotIn("retry 2", p.stderr)
        self.assertNotIn("SENT", p.stdout)
        self.broker.wait_log("refused identity=%s " % ident("norecord"))

    def test_cold_device_gets_in_on_a_resumed_retry(self):
        # A broker that waits at most 50 ms for DNS, behind a resolver path
        # that answers the cold device's TLSA query 1.5 s late: its first
        # CONNECT is refused as pending, a retry gets in.
        dns = DnsProxy(self.tb.port, mode="delay", delay=1.5, match="cold1")
        self.addCleanup(dns.close)
        d = os.path.join(self.wd, "cold-broker")
        os.makedirs(d)
        broker = Broker(d, self.pki, {
            "resolver": dns.address,
            "trust_anchor": self.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": self.pki.ca,
            "connect_budget_ms": "50",
            "lookup_timeout_ms": "10000",
        }).start()
        self.addCleanup(broker.stop)
        cert, key = self.dev["cold1"]
        p = subprocess.run([PUB, "--host", "localhost", "--port", str(broker.port),
                            "--cafile", self.pki.ca, "--cert", cert, "--key", key,
                            "--count", "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        try:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("REFUSED by the broker", p.stderr)
            self.assertRegex(p.stderr, r"retry 1 of 5 in \d+ ms, resuming the TLS session")
            self.assertIn("CONNECTED localhost as %s (TLS session resumed)" % ident("cold1"),
                          p.stdout)
            self.assertIn("SENT devices/%s/reading" % ident("cold1"), p.stdout)
            log = broker.wait_log("accepted identity=%s " % ident("cold1"))
            self.assertIn("refused identity=%s " % ident("cold1"), log)
            self.assertIn("reason=pending", log)
        except AssertionError:
            sys.stderr.write("\n----- cold broker log -----\n%s\n" % broker.all_output())
            raise

    def test_backend_verifies_refuses_and_counts(self):
        backend = self.start_backend("--topic", "devices/#", "--count", "4", "--timeout", "40")
        try:
            # 1. a device's own reading
            p = self.publish("dev1", "--count", "1")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("SENT devices/%s/reading" % ident("dev1"), p.stdout)
            # 2. a gateway forwarding for a sensor: the sender is the sensor
            topic = "devices/%s/s1/reading" % ident("gw")
            p = self.publish("gw", "--for", ident("s1"), "--for-key", self.dev["s1"][1],
                             "--topic", topic, "--count", "1", "--payload", '{"t":1}')
            self.assertEqual(p.returncode, 0, p.stderr)
            # 3. a good signature, but a dance-sender property naming someone else
            topic3 = "devices/%s/reading" % ident("dev1")
            jws = self.sign("dev1", topic3, '{"t":3}')
            p = self.mosquitto_pub("dev1", topic3, jws, "-D", "publish", "user-property",
                                   "dance-sender", ident("gw"))
            self.assertEqual(p.returncode, 0, p.stdout)
            # 4. a tampered payload
            head, body, sig = self.sign("dev1", topic3, '{"t":4}').split(".")
            body = ("f" if body[0] != "f" else "g") + body[1:]
            p = self.mosquitto_pub("dev1", topic3, ".".join((head, body, sig)))
            self.assertEqual(p.returncode, 0, p.stdout)
            out, err = backend.communicate(timeout=40)
        finally:
            if backend.poll() is None:
                backend.kill()
                backend.wait()
        self.assertEqual(backend.returncode, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 4, out)
        self.assertRegex(lines[0], r"^VERIFIED %s devices/%s/reading \{\"seq\":1," % (
            ident("dev1"), ident("dev1")))
        self.assertEqual(lines[1], 'VERIFIED %s %s {"t":1}' % (ident("s1"), topic))
        self.assertTrue(lines[2].startswith(
            "REFUSED sender_mismatch %s claimed=%s " % (topic3, ident("dev1"))), lines[2])
        self.assertIn(ident("gw"), lines[2])
        self.assertTrue(lines[3].startswith(
            "REFUSED bad_signature %s claimed=%s " % (topic3, ident("dev1"))), lines[3])
        self.assertIn("4 messages, 2 verified, 2 refused", err)

    def test_backend_reverifies_plugin_copies(self):
        backend = self.start_backend("--count", "1", "--timeout", "30")   # verified/#
        try:
            p = self.publish("dev1", "--count", "1", "--payload", '{"copy":1}')
            self.assertEqual(p.returncode, 0, p.stderr)
            out, err = backend.communicate(timeout=30)
        finally:
            if backend.poll() is None:
                backend.kill()
                backend.wait()
        self.assertEqual(backend.returncode, 0, err)
        self.assertEqual(out.splitlines(), ['VERIFIED %s verified/devices/%s/reading {"copy":1}'
                                            % (ident("dev1"), ident("dev1"))])

    def test_cose_readings_verified_by_plugin_and_backend(self):
        # device_publisher --format cose: binary COSE_Sign1 readings, one
        # from the device itself, one a gateway forwards for sensor s1 with
        # a byte outside printable ASCII in it; the backend re-verifies the
        # plugin's copies and prints the payload safely
        backend = self.start_backend("--count", "2", "--timeout", "30")   # verified/#
        topic = "devices/%s/s1/cose" % ident("gw")
        try:
            p = self.publish("dev1", "--count", "1", "--format", "cose", "--payload",
                             '{"cose":1}')
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.publish("gw", "--for", ident("s1"), "--for-key", self.dev["s1"][1],
                             "--topic", topic, "--count", "1", "--format", "cose",
                             "--payload", "t=2\x01")
            self.assertEqual(p.returncode, 0, p.stderr)
            out, err = backend.communicate(timeout=30)
        finally:
            if backend.poll() is None:
                backend.kill()
                backend.wait()
        self.assertEqual(backend.returncode, 0, err)
        self.assertEqual(out.splitlines(), [
            'VERIFIED %s verified/devices/%s/reading {"cose":1}' % (ident("dev1"), ident("dev1")),
            "VERIFIED %s verified/%s t=2." % (ident("s1"), topic)])
        self.assertIn('message verified topic="%s" sender=%s format=cose' % (topic, ident("s1")),
                      self.broker.log())
        p = self.publish("dev1", "--format", "cbor")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--format 'cbor': expected jws or cose", p.stderr)

    def test_confidential_readings(self):
        """device_publisher --encrypt-to takes the recipient's key from DNS,
        encrypts, then signs; the plugin verifies and copies it; the backend
        with --decrypt-key verifies, then decrypts. Encrypted to someone
        else, it verifies but does not decrypt."""
        dns = ["--resolver", self.tb.upstream, "--trust-anchor", self.tb.trust_anchor]
        backend = self.start_backend("--count", "3", "--timeout", "40",
                                     "--decrypt-key", self.dev["backend"][1])
        try:
            p = self.publish("dev1", "--count", "1", "--payload", '{"dose":1}',
                             "--encrypt-to", ident("backend"), *dns)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("encrypting to %s" % ident("backend"), p.stdout)
            p = self.publish("dev1", "--count", "1", "--payload", '{"dose":2}',
                             "--encrypt-to", ident("dev1"), *dns)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.publish("dev1", "--count", "1", "--payload", '{"dose":3}')
            self.assertEqual(p.returncode, 0, p.stderr)
            out, err = backend.communicate(timeout=40)
        finally:
            if backend.poll() is None:
                backend.kill()
                backend.wait()
        self.assertEqual(backend.returncode, 0, err)
        topic = "verified/devices/%s/reading" % ident("dev1")
        lines = out.splitlines()
        self.assertEqual(lines[0], 'DECRYPTED %s %s {"dose":1}' % (ident("dev1"), topic))
        self.assertTrue(lines[1].startswith(
            "REFUSED decryption_failed %s claimed=%s verified, but decryption failed"
            % (topic, ident("dev1"))), lines[1])
        self.assertEqual(lines[2], 'VERIFIED %s %s {"dose":3}' % (ident("dev1"), topic))
        self.assertIn("3 messages, 2 verified, 1 refused, 1 of the verified decrypted", err)
        # no key in DNS to encrypt to: nothing sent
        p = self.publish("dev1", "--count", "1", "--encrypt-to", ident("norecord"), *dns)
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("--encrypt-to %s: no key to encrypt to (no_record)" % ident("norecord"),
                      p.stderr)
        self.assertNotIn("SENT", p.stdout)
        # a digest record gives no key either
        p = self.publish("dev1", "--count", "1", "--encrypt-to", ident("gw"), *dns)
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("(no_usable_record)", p.stderr)
        # DNS options without --encrypt-to are a usage error
        p = self.publish("dev1", "--count", "1", *dns)
        self.assertEqual(p.returncode, 2)
        self.assertIn("go with --encrypt-to", p.stderr)
        p = self.publish("dev1", "--count", "1", "--format", "cose",
                         "--encrypt-to", ident("backend"), *dns)
        self.assertEqual(p.returncode, 2)
        self.assertIn("not with --format cose", p.stderr)

    def test_backend_timeout_without_count_reached_exits_1(self):
        backend = self.start_backend("--topic", "devices/nobody/#", "--count", "1",
                                     "--timeout", "2")
        out, err = backend.communicate(timeout=30)
        self.assertEqual(backend.returncode, 1, err)
        self.assertIn("0 of 1 messages within 2 s", err)


if __name__ == "__main__":
    unittest.main()
