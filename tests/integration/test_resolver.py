#!/usr/bin/python3
"""Integration tests: DNSSEC-validated TLSA lookups against a real signed tree.

Real parts only: knotd serving zones signed at
test time (tests/testbed/dnstestbed.py), getdns validating from the fake
root, `dance lookup` and tests/integration/cache_probe.c (resolver + cache).

Run: DANCE_BUILD_DIR=build DANCE_CACHE_PROBE=build/tests/cache_probe \
     /usr/bin/python3 tests/integration/test_resolver.py -v [TestClass]
(ctest registers each class as integration.resolver.<Class>.)
DANCE_KEEP_TESTBED=1 keeps the work directories (knotd.log, zones).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testbed"))
from dnstestbed import pid_alive  # noqa: E402
sys.path.insert(0, HERE)
from plugin_fixture import Bed  # noqa: E402

BUILD = os.environ.get("DANCE_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
DANCE = os.path.join(BUILD, "dance")
PROBE = os.environ.get("DANCE_CACHE_PROBE", os.path.join(BUILD, "tests", "cache_probe"))

HEX1 = "0123456789ABCDEF" * 4
HEX2 = "FEDCBA9876543210" * 4
HEX3 = "00112233445566778899AABBCCDDEEFF" * 2


def assert_no_sanitizer_report(stderr):
    """With -DDANCE_SANITIZE=ON an ASan/UBSan report may come with exit code
    1, which a test expecting "negative" (1) would take for success."""
    for marker in ("Sanitizer", "runtime error:"):
        if marker in stderr:
            raise AssertionError("sanitizer report:\n" + stderr)


class BedCase(unittest.TestCase):
    """One test bed per class (knotd starts in well under a second)."""

    default_ttl = 300
    negative_ttl = 60
    sig_validity = 30 * 86400

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "resolver", pki=False, default_ttl=cls.default_ttl,
                            negative_ttl=cls.negative_ttl, sig_validity=cls.sig_validity)
        cls.tmp, cls.tb = bed.dir, bed.tb

    def lookup(self, name, *args, timeout=2000, anchor=None, upstream=None):
        """Run `dance lookup`; returns (exit code, stdout lines, stderr, seconds)."""
        argv = [DANCE, "lookup", name,
                "--resolver", upstream or self.tb.upstream,
                "--trust-anchor", anchor or self.tb.trust_anchor,
                "--timeout", str(timeout)] + list(args)
        t0 = time.monotonic()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        assert_no_sanitizer_report(p.stderr)
        return p.returncode, p.stdout.splitlines(), p.stderr, time.monotonic() - t0

    def assertNoRecords(self, lines):
        self.assertEqual([l for l in lines if " IN TLSA " in l], [],
                         "records printed for an answer that is not secure")


class Lookup(BedCase):
    """The five outcomes, through `dance lookup`."""

    def test_secure_records_values_and_ttl(self):
        self.tb.set_records("dev1._device.acme.example", "TLSA",
                            ["3 1 1 " + HEX1.lower(), "2 0 1 " + HEX2], ttl=120)
        self.tb.publish()
        rc, out, err, _ = self.lookup("dev1._device.acme.example")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(out[:-1]), sorted([
            "dev1._device.acme.example. 120 IN TLSA 3 1 1 " + HEX1,
            "dev1._device.acme.example. 120 IN TLSA 2 0 1 " + HEX2]))
        self.assertEqual(out[-1], "; DNSSEC: secure (2 records)")

    def test_name_is_normalised(self):
        self.tb.set_records("dev2._device.acme.example", "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        rc, out, err, _ = self.lookup("DEV2._Device.Acme.Example.")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, ["dev2._device.acme.example. 300 IN TLSA 3 1 1 " + HEX1,
                               "; DNSSEC: secure (1 record)"])

    def test_service_form_owner_prefix(self):
        self.tb.set_records("_mqtt.sensor.acme.example", "TLSA", ["3 1 1 " + HEX3])
        self.tb.publish()
        rc, out, err, _ = self.lookup("sensor.acme.example", "--service-label", "_mqtt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[0], "_mqtt.sensor.acme.example. 300 IN TLSA 3 1 1 " + HEX3)
        # the identity itself holds nothing: DevID form finds no record
        rc, out, _, _ = self.lookup("sensor.acme.example")
        self.assertEqual(rc, 1)
        self.assertTrue(out[-1].startswith("; DNSSEC: secure negative: "), out)

    def test_secure_nxdomain(self):
        rc, out, err, _ = self.lookup("nobody._device.acme.example")
        self.assertEqual(rc, 1)
        self.assertNoRecords(out)
        self.assertEqual(len(out), 1)
        self.assertTrue(out[0].startswith("; DNSSEC: secure negative: "), out)
        self.assertIn("NXDOMAIN", out[0])
        self.assertIn("nobody._device.acme.example", err)

    def test_secure_nodata(self):
        self.tb.set_records("host.acme.example", "A", ["192.0.2.1"])
        self.tb.publish()
        rc, out, err, _ = self.lookup("host.acme.example")
        self.assertEqual(rc, 1)
        self.assertNoRecords(out)
        self.assertTrue(out[-1].startswith("; DNSSEC: secure negative: "), out)
        self.assertIn("NODATA", out[-1])

    def test_removed_record_revokes(self):
        self.tb.set_records("gone._device.acme.example", "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        self.assertEqual(self.lookup("gone._device.acme.example")[0], 0)
        self.tb.remove_records("gone._device.acme.example", "TLSA")
        self.tb.publish()
        rc, out, _, _ = self.lookup("gone._device.acme.example")
        self.assertEqual(rc, 1)
        self.assertIn("NXDOMAIN", out[-1])

    def test_bogus_tampered_signature(self):
        name = "forged._device.acme.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        self.assertEqual(self.lookup(name)[0], 0, "secure before tampering")
        self.tb.tamper_signature(name, "TLSA")
        rc, out, err, _ = self.lookup(name)
        self.assertEqual(rc, 1)
        self.assertNoRecords(out)
        self.assertEqual(len(out), 1)
        self.assertTrue(out[0].startswith("; DNSSEC: bogus: "), out)
        self.assertIn("TLSA lookup for %s was bogus (DNSSEC)" % name, out[0])
        self.assertIn("bogus", err)
        # a fresh signature (record set again) makes it secure again
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX2])
        self.tb.publish()
        rc, out, _, _ = self.lookup(name)
        self.assertEqual(rc, 0)
        self.assertIn(HEX2, out[0])

    def test_insecure_unsigned_delegation(self):
        name = "dev._device.unsigned.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        rc, out, err, _ = self.lookup(name)
        self.assertEqual(rc, 1)
        self.assertNoRecords(out)
        self.assertTrue(out[-1].startswith("; DNSSEC: insecure: "), out)
        self.assertIn("not DNSSEC-signed", out[-1])
        # also a name that does not exist there is insecure, not "secure negative"
        rc, out, _, _ = self.lookup("nothing.unsigned.example")
        self.assertEqual(rc, 1)
        self.assertTrue(out[-1].startswith("; DNSSEC: insecure: "), out)

    def test_help(self):
        p = subprocess.run([DANCE, "lookup", "--help"], stdout=subprocess.PIPE,
                           text=True)
        self.assertEqual(p.returncode, 0)
        for opt in ("--resolver", "--trust-anchor", "--timeout", "--transport",
                    "--tls-auth-name", "--service-label", "--owner-prefix"):
            self.assertIn(opt, p.stdout)


class SignatureLifetime(BedCase):
    """A TTL longer than the signature's remaining life is cut to it
    (RFC 4035 5.3.3): a cache must not outlive the proof."""

    sig_validity = 100

    def test_ttl_capped_by_signature_expiry(self):
        self.tb.set_records("short._device.acme.example", "TLSA", ["3 1 1 " + HEX1],
                            ttl=3600)
        self.tb.publish()
        rc, out, err, _ = self.lookup("short._device.acme.example")
        self.assertEqual(rc, 0, err)
        ttl = int(out[0].split()[1])
        self.assertLessEqual(ttl, 100)
        self.assertGreater(ttl, 0)


class TrustAnchor(BedCase):
    """Anchors as DS or DNSKEY; a wrong anchor makes everything bogus."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tb.set_records("ta._device.acme.example", "TLSA", ["3 1 1 " + HEX1])
        cls.tb.publish()

    def test_ds_anchor(self):
        self.assertEqual(self.lookup("ta._device.acme.example")[0], 0)

    def test_dnskey_anchor(self):
        rc, out, err, _ = self.lookup("ta._device.acme.example",
                                      anchor=self.tb.trust_anchor_dnskey)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[-1], "; DNSSEC: secure (1 record)")

    def test_wrong_anchor_is_bogus(self):
        with open(self.tb.trust_anchor) as f:
            text = f.read()
        fields = text.split()
        wrong = os.path.join(self.tmp, "wrong.ds")
        with open(wrong, "w") as f:
            # same key tag and algorithm, another digest
            f.write(text.replace(fields[-1], "00" * 32))
        rc, out, _, _ = self.lookup("ta._device.acme.example", anchor=wrong)
        self.assertEqual(rc, 1)
        self.assertNoRecords(out)
        self.assertTrue(out[-1].startswith("; DNSSEC: bogus: "), out)


class Transport(BedCase):
    """UDP and TCP both validate; the server sees the transport we asked for."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tb.set_records("t._device.acme.example", "TLSA", ["3 1 1 " + HEX1])
        cls.tb.publish()

    def check(self, transport, other):
        before = self.tb.query_count(protocol=transport)
        before_other = self.tb.query_count(protocol=other)
        rc, out, err, _ = self.lookup("t._device.acme.example",
                                      "--transport", transport)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[-1], "; DNSSEC: secure (1 record)")
        self.assertGreater(self.tb.query_count(protocol=transport), before)
        self.assertEqual(self.tb.query_count(protocol=other), before_other)

    def test_udp(self):
        self.check("udp", "tcp")

    def test_tcp(self):
        self.check("tcp", "udp")


class Upstreams(BedCase):
    """IPv6 upstreams, and a list whose first upstream is dead."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tb.set_records("u._device.acme.example", "TLSA", ["3 1 1 " + HEX1])
        cls.tb.publish()

    def test_ipv6_upstream(self):
        if self.tb.upstream6 is None:
            self.skipTest("no IPv6 loopback on this machine")
        rc, out, err, _ = self.lookup("u._device.acme.example",
                                      upstream=self.tb.upstream6)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[-1], "; DNSSEC: secure (1 record)")

    def test_dead_first_upstream_fails_over(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        dead = "127.0.0.1@%d" % s.getsockname()[1]
        s.close()
        # 6000 ms: 3000 for each upstream, room for the live one's DNSSEC
        # chain on a loaded machine (what is checked is the failover)
        for transport in ("udp", "tcp"):
            rc, out, err, _ = self.lookup(
                "u._device.acme.example", "--transport", transport, timeout=6000,
                upstream="%s, %s" % (dead, self.tb.upstream))
            self.assertEqual(rc, 0, (transport, err))
            self.assertEqual(out[-1], "; DNSSEC: secure (1 record)")


class DnsOverTls(BedCase):
    """DNS over TLS (unbound in front of knotd): validated answers when the
    resolver's certificate is trusted and names tls_auth_name, failure when
    it is not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tb.set_records("dot._device.acme.example", "TLSA", ["3 1 1 " + HEX1])
        cls.tb.tamper_signature("dot._device.acme.example", "TLSA")
        cls.tb.set_records("dot2._device.acme.example", "TLSA", ["3 1 1 " + HEX2])
        cls.tb.publish()
        cls.dot = cls.tb.start_dot()

    def lookup_tls(self, name, auth_name=None, trust=True):
        env = dict(os.environ)
        if trust:
            env["SSL_CERT_FILE"] = self.dot.ca_file
        else:
            env.pop("SSL_CERT_FILE", None)
        p = subprocess.run(
            [DANCE, "lookup", name, "--resolver", self.dot.upstream,
             "--trust-anchor", self.tb.trust_anchor, "--timeout", "3000",
             "--transport", "tls", "--tls-auth-name", auth_name or self.dot.auth_name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            timeout=60)
        assert_no_sanitizer_report(p.stderr)
        return p.returncode, p.stdout.splitlines(), p.stderr

    def test_secure_over_tls(self):
        rc, out, err = self.lookup_tls("dot2._device.acme.example")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, ["dot2._device.acme.example. 300 IN TLSA 3 1 1 " + HEX2,
                               "; DNSSEC: secure (1 record)"])

    def test_client_still_validates_over_tls(self):
        rc, out, _ = self.lookup_tls("dot._device.acme.example")
        self.assertEqual(rc, 1)
        self.assertNoRecords(out)
        self.assertTrue(out[-1].startswith("; DNSSEC: bogus: "), out)

    def test_wrong_auth_name_fails(self):
        rc, out, err = self.lookup_tls("dot2._device.acme.example",
                                       auth_name="other.resolver.example")
        self.assertEqual(rc, 3, out)
        self.assertNoRecords(out)
        self.assertIn("over TLS as 'other.resolver.example'", out[-1])

    def test_untrusted_certificate_fails(self):
        rc, out, _ = self.lookup_tls("dot2._device.acme.example", trust=False)
        self.assertEqual(rc, 3, out)
        self.assertNoRecords(out)


class ServerDown(BedCase):
    """No answer: FAILURE within the configured bound, exit 3."""

    def test_failure_within_timeout_then_recovery(self):
        name = "down._device.acme.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        self.tb.stop_server()
        try:
            for transport in ("udp", "tcp"):
                rc, out, err, secs = self.lookup(name, "--transport", transport,
                                                 timeout=1000)
                self.assertEqual(rc, 3, (transport, out, err))
                self.assertNoRecords(out)
                self.assertTrue(out[-1].startswith("; DNSSEC: failure: "), out)
                self.assertIn(self.tb.upstream, out[-1])
                # a bound, not a speed target: timeout plus a generous margin
                self.assertLess(secs, 1.0 + 4.0, transport)
        finally:
            self.tb.start_server()
        rc, out, _, _ = self.lookup(name)
        self.assertEqual(rc, 0, out)


class ConfigErrors(unittest.TestCase):
    """Bad configuration is bad usage (exit 2) naming the bad value; no DNS."""

    def run_lookup(self, *args):
        p = subprocess.run([DANCE, "lookup", "x._device.acme.example"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert_no_sanitizer_report(p.stderr)
        return p.returncode, p.stderr

    def assertRefused(self, args, *needles):
        rc, err = self.run_lookup(*args)
        self.assertEqual(rc, 2, err)
        for n in needles:
            self.assertIn(n, err)

    def test_bad_ip(self):
        self.assertRefused(["--resolver", "127.0.0.300"], "127.0.0.300")
        self.assertRefused(["--resolver", "localhost"], "localhost")

    def test_bad_port(self):
        self.assertRefused(["--resolver", "127.0.0.1@0"], "port '0'")
        self.assertRefused(["--resolver", "127.0.0.1@65536"], "port '65536'")
        self.assertRefused(["--resolver", "::1@x"], "port 'x'")

    def test_empty_list_item(self):
        self.assertRefused(["--resolver", "127.0.0.1,,::1"], "empty entry")

    def test_trust_anchor_unreadable(self):
        self.assertRefused(["--trust-anchor", "/nonexistent/anchor.ds"],
                           "/nonexistent/anchor.ds", "cannot read")

    def test_trust_anchor_unparseable(self):
        with tempfile.NamedTemporaryFile("w", suffix=".ds", delete=False) as f:
            f.write(". 300 IN DS this is not a ds record\n")
        try:
            self.assertRefused(["--trust-anchor", f.name], f.name)
        finally:
            os.unlink(f.name)

    def test_trust_anchor_without_keys(self):
        with tempfile.NamedTemporaryFile("w", suffix=".zone", delete=False) as f:
            f.write("example. 300 IN A 192.0.2.1\n")
        try:
            self.assertRefused(["--trust-anchor", f.name], f.name, "no DS or DNSKEY")
        finally:
            os.unlink(f.name)

    def test_tls_needs_auth_name(self):
        self.assertRefused(["--resolver", "127.0.0.1", "--transport", "tls"],
                           "authentication name")

    def test_bad_transport_and_timeout(self):
        self.assertRefused(["--transport", "quic"], "quic")
        self.assertRefused(["--timeout", "0"], "timeout")
        self.assertRefused(["--timeout", "soon"], "timeout")

    def test_bad_name(self):
        self.assertRefused(["--owner-prefix", "mqtt"], "mqtt")
        p = subprocess.run([DANCE, "lookup", "bad..name"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        assert_no_sanitizer_report(p.stderr)
        self.assertEqual(p.returncode, 2)
        self.assertIn("bad..name", p.stderr)
        p = subprocess.run([DANCE, "lookup"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)


class TestbedCommandLine(unittest.TestCase):
    """`dnstestbed.py up/set/tamper/remove/env/down DIR`, as the demo uses it."""

    TOOL = os.path.join(HERE, "..", "testbed", "dnstestbed.py")

    def tool(self, *args):
        p = subprocess.run([sys.executable, self.TOOL] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_up_change_down(self):
        tmp = tempfile.mkdtemp(prefix="dance-testbed-cli-")
        d = os.path.join(tmp, "bed")
        self.addCleanup(shutil.rmtree, tmp, True)
        out = self.tool("up", d, "--ttl", "120")
        self.addCleanup(lambda: subprocess.run([sys.executable, self.TOOL, "down", d]))
        env = dict(line.split("=", 1) for line in out.splitlines())
        self.assertEqual(env["DANCE_DNS_TRUST_ANCHOR"], os.path.join(d, "trust-anchor.ds"))
        self.assertEqual(self.tool("env", d), out)
        with open(os.path.join(d, "testbed.json")) as f:
            pid = json.load(f)["pid"]
        self.assertTrue(pid_alive(pid), "knotd outlives the command that started it")

        def lookup(name):
            p = subprocess.run([DANCE, "lookup", name, "--resolver",
                                env["DANCE_DNS_UPSTREAM"], "--trust-anchor",
                                env["DANCE_DNS_TRUST_ANCHOR"]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert_no_sanitizer_report(p.stderr)
            return p.returncode, p.stdout.splitlines()

        name = "cli._device.acme.example"
        self.tool("set", d, name, "TLSA", "3 1 1 " + HEX1)
        self.assertEqual(lookup(name), (0, [
            name + ". 120 IN TLSA 3 1 1 " + HEX1, "; DNSSEC: secure (1 record)"]))
        self.tool("tamper", d, name, "TLSA")
        self.assertEqual(lookup(name)[0], 1)
        self.tool("remove", d, name)
        rc, out = lookup(name)
        self.assertEqual(rc, 1)
        self.assertIn("NXDOMAIN", out[-1])
        self.tool("down", d)     # returns once knotd has gone
        self.assertFalse(pid_alive(pid))


class Probe:
    """A running cache_probe: send a command line, get its JSON answer."""

    def __init__(self, tb, *args):
        self.err = tempfile.TemporaryFile("w+")
        self.p = subprocess.Popen(
            [PROBE, "--resolver", tb.upstream, "--trust-anchor", tb.trust_anchor,
             "--timeout", "2000"] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline()
        if not reply:
            raise AssertionError("cache_probe died on %r (exit %s)" % (line, self.p.poll()))
        return json.loads(reply)

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except OSError:
            pass
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.p.stdout.close()
        self.err.seek(0)
        stderr = self.err.read()
        self.err.close()
        assert_no_sanitizer_report(stderr)
        return rc


class Cache(BedCase):
    """Resolver + cache: TTLs honoured, negatives cached, failures cached briefly.
    A fake clock (advance N) drives expiry, so nothing waits for real TTLs."""

    def probe(self, *args):
        pr = Probe(self.tb, "--fake-clock", *args)
        self.addCleanup(lambda: self.assertEqual(pr.close(), 0, "cache_probe exit"))
        return pr

    def test_ttl_honoured(self):
        name = "ttl._device.acme.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1], ttl=300)
        self.tb.publish()
        pr = self.probe()
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["ttl"], r["records"], r["hit"]),
                         ("secure", 300, ["3 1 1 " + HEX1], False))
        # the record changes in DNS ...
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX2], ttl=300)
        self.tb.publish()
        q0 = self.tb.query_count()
        # ... but the cached answer is served until its TTL has passed
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["records"], r["hit"]), (["3 1 1 " + HEX1], True))
        pr.cmd("advance 299")
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["records"], r["hit"]), (["3 1 1 " + HEX1], True))
        self.assertEqual(self.tb.query_count(), q0, "cache hits must not query DNS")
        pr.cmd("advance 2")
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["records"], r["hit"]),
                         ("secure", ["3 1 1 " + HEX2], False))
        self.assertEqual(self.tb.query_count(rtype="TLSA") > 0, True)
        self.assertGreater(self.tb.query_count(), q0)
        s = pr.cmd("stats")
        self.assertEqual((s["queries"], s["hits"], s["misses"]), (2, 2, 2))

    def test_negative_caching(self):
        name = "later._device.acme.example"
        pr = self.probe("--negative-ttl", "30")
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["records"], r["hit"]),
                         ("secure negative", [], False))
        # negative TTL from the SOA: min(SOA TTL 300, SOA minimum 60)
        self.assertEqual(r["ttl"], 60)
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX3])
        self.tb.publish()
        q0 = self.tb.query_count()
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["hit"]), ("secure negative", True))
        pr.cmd("advance 29")
        self.assertEqual(pr.cmd("lookup " + name)["status"], "secure negative")
        self.assertEqual(self.tb.query_count(), q0)
        pr.cmd("advance 2")
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["records"]), ("secure", ["3 1 1 " + HEX3]))

    def test_failure_cached_briefly_and_resolver_recovers(self):
        name = "flaky._device.acme.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        pr = self.probe("--failure-ttl", "5")
        self.tb.stop_server()
        try:
            r = pr.cmd("lookup " + name)
            self.assertEqual((r["status"], r["records"]), ("failure", []))
            self.assertRegex(r["reason"], "no (complete )?answer from")
        finally:
            self.tb.start_server()
        # remembered for failure_ttl: no query while the entry is fresh
        q0 = self.tb.query_count()
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["hit"]), ("failure", True))
        self.assertEqual(self.tb.query_count(), q0)
        pr.cmd("advance 6")
        # the same resolver (getdns context) works again once the server is back
        r = pr.cmd("lookup " + name)
        self.assertEqual((r["status"], r["records"]), ("secure", ["3 1 1 " + HEX1]))
        self.assertEqual(pr.cmd("stats")["failures"], 1)

    def test_bogus_never_carries_records(self):
        name = "bad._device.acme.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX1])
        self.tb.tamper_signature(name, "TLSA")
        pr = self.probe("--failure-ttl", "5")
        for _ in range(2):
            r = pr.cmd("lookup " + name)
            self.assertEqual((r["status"], r["records"], r["ttl"]), ("bogus", [], 0))
        r = pr.cmd("direct " + name)
        self.assertEqual((r["status"], r["records"]), ("bogus", []))

    def test_tcp_resolver_recovers(self):
        name = "tcp._device.acme.example"
        self.tb.set_records(name, "TLSA", ["3 1 1 " + HEX2])
        self.tb.publish()
        pr = self.probe("--transport", "tcp")
        self.tb.stop_server()
        try:
            self.assertEqual(pr.cmd("direct " + name)["status"], "failure")
        finally:
            self.tb.start_server()
        r = pr.cmd("direct " + name)
        self.assertEqual((r["status"], r["records"]), ("secure", ["3 1 1 " + HEX2]))


class SingleFlight(BedCase):
    """N concurrent lookups of one cold name make one DNS lookup."""

    def test_concurrent_cold_name_one_query(self):
        names = ["sf%d._device.acme.example" % i for i in range(2)]
        for n in names:
            self.tb.set_records(n, "TLSA", ["3 1 1 " + HEX1])
        self.tb.publish()
        # every fetch sleeps 300 ms first, so all 8 callers surely arrive
        # while the first one's fetch is in flight
        pr = Probe(self.tb, "--fetch-delay-ms", "300")
        try:
            # what one lookup costs at the server (answer + DNSKEY/DS chain)
            q0, t0 = self.tb.query_count(), self.tb.query_count(rtype="TLSA")
            self.assertEqual(pr.cmd("direct " + names[0])["status"], "secure")
            one, one_tlsa = self.tb.query_count() - q0, self.tb.query_count(rtype="TLSA") - t0
            self.assertEqual(one_tlsa, 1)
            self.assertGreaterEqual(one, 1)

            q0, t0 = self.tb.query_count(), self.tb.query_count(rtype="TLSA")
            r = pr.cmd("concurrent 8 " + names[1])
            self.assertEqual(r["statuses"], ["secure"] * 8)
            self.assertEqual(r["records"], [["3 1 1 " + HEX1]] * 8)
            self.assertEqual(self.tb.query_count(rtype="TLSA") - t0, 1)
            self.assertEqual(self.tb.query_count() - q0, one)
            s = pr.cmd("stats")
            self.assertEqual((s["queries"], s["misses"], s["hits"]), (1, 8, 0))
        finally:
            self.assertEqual(pr.close(), 0)


if __name__ == "__main__":
    unittest.main()
