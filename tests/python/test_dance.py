#!/usr/bin/python3
"""test_dance.py - the Python module `dance` (python/dance) over the built
libdance.so.0: offline verification and signing against the C CLI, npm
jose vectors (tests/python/jose-vectors), the DNSSEC test bed (knotd,
tests/testbed), every message refusal as its exception, threads sharing a
verifier while DNS is slow (tests/integration/dnsproxy.py), and memory over
100,000 calls.

    DANCE_BUILD_DIR=build /usr/bin/python3 tests/python/test_dance.py -v [Class]

The module is imported from python/ and the library from DANCE_LIBRARY
(default DANCE_BUILD_DIR/libdance.so.0); tests/45-python.cmake registers one
ctest test per class.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import sanitizer_preload  # noqa: E402
sanitizer_preload.reexec()
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "python"))
BUILD_DIR = os.path.abspath(os.environ.get("DANCE_BUILD_DIR", os.path.join(REPO, "build")))
os.environ.setdefault("DANCE_LIBRARY", os.path.join(BUILD_DIR, "libdance.so.0"))

import dance  # noqa: E402
from dance_cli import run  # noqa: E402

VECTORS_DIR = os.path.join(HERE, "jose-vectors")
ORG = "acme.example"
WAIT = 60       # bound for anything to happen on a loaded machine (not a speed target)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def reheader(message, header):
    """message (compact) with its protected header replaced by header (a
    dict); payload and signature kept."""
    _, payload, sig = message.split(b".")
    return b".".join([b64url(json.dumps(header).encode()), payload, sig])


def header_of(message):
    h = message.split(b".")[0]
    return json.loads(base64.urlsafe_b64decode(h + b"=" * (-len(h) % 4)))


def jose_vectors():
    with open(os.path.join(VECTORS_DIR, "vectors.json")) as f:
        return json.load(f)["vectors"]


def read(path):
    with open(path) as f:
        return f.read()


class Keys:
    """Keys and certificates made by the C CLI in a directory."""

    def __init__(self, directory):
        self.dir = directory
        self.n = 0

    def identity(self, keytype="ec256", domain=ORG, label="dev"):
        """(name, private key path, certificate path, public key path)"""
        self.n += 1
        name = f"{label}{self.n}._device.{domain}"
        stem = os.path.join(self.dir, name)
        key, cert, pub = stem + ".key", stem + ".pem", stem + ".pub"
        run("keygen", "--type", keytype, "--out", key, check=0)
        run("cert", "--key", key, "--name", name, "--out", cert, check=0)
        with open(pub, "wb") as f:
            f.write(subprocess.run(["openssl", "pkey", "-in", key, "-pubout"], check=True,
                                   capture_output=True).stdout)
        return name, key, cert, pub


def c_sign(key, name, payload, *extra):
    """A message signed by the C CLI (`dance sign`)."""
    return run("sign", "--key", key, "--name", name, *extra, stdin=payload,
               check=0).stdout.strip()


class TmpCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dance-python-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.keys = Keys(cls.tmp)

    def assertRefused(self, status, fn, *args, **kw):
        with self.assertRaises(dance.NotVerified) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.reason_code, status, f"{e.reason}: {e.text}")
        self.assertEqual(e.reason, status.token)
        self.assertTrue(e.text)
        self.assertIs(type(e), dance.LookupFailed if status == dance.Status.LOOKUP_FAILED
                      else dance.NotVerified)
        return e


class Offline(TmpCase):
    """verify_with_key and sign, against the C CLI both ways."""

    def test_status_names_match_the_library(self):
        for st in dance.Status:
            self.assertEqual(st.token, dance._lib.dance_status_name(int(st)).decode())
        # the enum covers every code: the next number is out of range
        self.assertEqual(dance._lib.dance_status_name(len(dance.Status)), b"unknown")
        self.assertEqual(dance.Status.NOT_ALLOWED.token, "outside_allowed_domains")
        self.assertTrue(issubclass(dance.LookupFailed, dance.NotVerified))

    def test_c_signed_every_algorithm(self):
        for keytype, alg in (("ec256", "ES256"), ("ec384", "ES384"), ("ec521", "ES512"),
                             ("rsa2048", "RS256"), ("ed25519", "EdDSA")):
            name, key, cert, pub = self.keys.identity(keytype)
            msg = c_sign(key, name, b"temp=21.5", "--topic", "s/t", "--jti")
            for pem in (read(pub), read(cert), read(key)):
                v = dance.verify_with_key(msg, pem, topic="s/t", require_topic=True)
                self.assertEqual(v, dance.Verified(sender=name, alg=alg, payload=b"temp=21.5",
                                                   key="offline key"))
            with self.assertRaises(dance.NotVerified):
                dance.verify_with_key(msg, read(pub), topic="s/other")

    def test_python_signed_verifies_with_c_cli(self):
        name, key, cert, pub = self.keys.identity("ec384")
        for json_form in (False, True):
            msg = dance.sign(b"\x00binary\xff", read(key), name, topic="a/b", jti=True,
                             json=json_form)
            self.assertIsInstance(msg, bytes)
            self.assertEqual(msg.startswith(b"{"), json_form)
            p = run("verify", "--key", pub, "--topic", "a/b", "--require-topic",
                    "--require-iat", stdin=msg, check=0)
            self.assertEqual(p.stdout, b"\x00binary\xff")
            self.assertIn(f"verified: sender {name}, alg ES384", p.stderr.decode())
        h = header_of(dance.sign("x", read(key), name, alg="ES384", iat=False, x5u=True,
                                 jti="j-1", x5c=read(cert)))
        self.assertEqual(h["kid"], name)
        self.assertEqual(h["jti"], "j-1")
        self.assertEqual(h["x5u"], f"dns:{name}?type=TLSA")
        self.assertNotIn("iat", h)
        self.assertEqual(len(h["x5c"]), 1)

    def test_sign_refusals(self):
        name, key, _, pub = self.keys.identity("ec256")
        with self.assertRaisesRegex(ValueError, "RS256"):
            dance.sign(b"x", read(key), name, alg="RS256")
        with self.assertRaisesRegex(ValueError, "private key"):
            dance.sign(b"x", read(pub), name)
        with self.assertRaises(ValueError):
            dance.sign(b"x", read(key), "not a name!")

    def test_bad_options(self):
        with self.assertRaisesRegex(ValueError, "dns_transport"):
            dance.Verifier(dns_transport="quic")
        with self.assertRaisesRegex(ValueError, "trust anchor|trust_anchor"):
            dance.Verifier(trust_anchor="/nonexistent/anchor")
        with self.assertRaisesRegex(ValueError, "offline"):
            dance.Verifier(key=read(self.keys.identity()[3]), resolver="127.0.0.1")
        v = dance.Verifier(key=read(self.keys.identity()[3]))
        v.close()
        v.close()
        with self.assertRaises(ValueError):
            v.verify(b"x")


class Refusals(TmpCase):
    """Every refusal a message can get surfaces as NotVerified with its
    reason_code. Offline ones here; the DNS ones in Dns.test_refusals."""

    # Message codes no message can get from this verifier: RATE_LIMITED is
    # a host's (the plugin's lookup budget), INTERNAL needs an allocation
    # or OpenSSL failure. Codes from DANCE_MESSAGE_STATUS_END on are login
    # tokens' own.
    UNREACHABLE = {dance.Status.RATE_LIMITED, dance.Status.INTERNAL}
    TOKEN_ONLY_FROM = dance.Status.IDENTITY_MISMATCH
    DNS = {dance.Status.LOOKUP_FAILED, dance.Status.NO_RECORD, dance.Status.INSECURE,
           dance.Status.BOGUS, dance.Status.NO_USABLE_RECORD, dance.Status.CERT_MISMATCH}

    def test_every_offline_refusal(self):
        S = dance.Status
        name, key, cert, pub = self.keys.identity("ec256")
        _, _, _, other_pub = self.keys.identity("ec256")
        msg = c_sign(key, name, b"x", "--topic", "t/1")
        hdr = header_of(msg)
        pubpem = read(pub)
        seen = set()

        def refused(status, message, pem=pubpem, **kw):
            seen.add(status)
            return self.assertRefused(status, dance.verify_with_key, message, pem, **kw)

        refused(S.MALFORMED, b"not a jws")
        refused(S.MALFORMED, b"a.b")
        refused(S.TOO_LARGE, msg, max_size=16)
        refused(S.BAD_ALG, reheader(msg, dict(hdr, alg="none")))
        refused(S.BAD_ALG, reheader(msg, dict(hdr, alg="HS256")))
        refused(S.UNSUPPORTED, reheader(msg, dict(hdr, crit=["exp"], exp=1)))
        refused(S.NO_SENDER, reheader(msg, {"alg": "ES256"}))
        e = refused(S.BAD_SENDER, reheader(msg, dict(hdr, kid="not a name!")))
        self.assertEqual(e.sender, "")
        e = refused(S.NOT_ALLOWED, msg, allowed_domains=["example.com", "other.example"])
        self.assertEqual(e.sender, name)
        refused(S.STALE, reheader(msg, dict(hdr, iat=1000000000)))
        refused(S.STALE, c_sign(key, name, b"x", "--no-iat"), require_iat=True)
        refused(S.TOPIC_MISMATCH, msg, topic="t/2")
        refused(S.TOPIC_MISMATCH, c_sign(key, name, b"x"), topic="t/1", require_topic=True)
        refused(S.KEY_MISMATCH, reheader(msg, dict(hdr, alg="ES384")))
        refused(S.BAD_SIGNATURE, msg, read(other_pub))
        refused(S.BAD_SIGNATURE, msg[:-4] + (b"AAAA" if not msg.endswith(b"AAAA") else b"BBBB"))
        tok = run("token", "--key", key, "--name", name, "--aud", "broker.acme.example",
                  check=0).stdout.strip()
        refused(S.TYP, tok)
        with dance.Verifier(key=pubpem, replay_window=60) as v:
            v.verify(msg)
            seen.add(S.REPLAY)
            self.assertRefused(S.REPLAY, v.verify, msg)

        message_codes = {s for s in S if S.OK < s < self.TOKEN_ONLY_FROM}
        self.assertEqual(message_codes - seen - self.DNS - self.UNREACHABLE, set())


class JoseOffline(TmpCase):
    """Messages from npm jose (committed vectors) give the verdict recorded
    with them, verified with their public keys."""

    def test_vectors(self):
        vectors = jose_vectors()
        self.assertGreaterEqual(len([v for v in vectors if v["expect"] == "verified"]), 7)
        for vec in vectors:
            with self.subTest(vec["label"]):
                pem = read(os.path.join(VECTORS_DIR, vec["key"]))
                if vec["expect"] == "verified":
                    v = dance.verify_with_key(vec["message"].encode(), pem, topic=vec["topic"])
                    self.assertEqual(v.sender, vec["sender"])
                    self.assertEqual(v.alg, vec["alg"])
                    self.assertEqual(v.payload, vec["payload"].encode())
                else:
                    with self.assertRaises(dance.NotVerified) as cm:
                        dance.verify_with_key(vec["message"].encode(), pem)
                    self.assertEqual(cm.exception.reason, vec["expect"])

    def test_jwcrypto_signed(self):
        """python3-jwcrypto, a third implementation, signed live."""
        from jwcrypto import jwk, jws
        k = jwk.JWK.generate(kty="OKP", crv="Ed25519")
        s = jws.JWS(b"from jwcrypto")
        s.add_signature(k, None, json.dumps({"alg": "EdDSA",
                                             "kid": f"jwc._device.{ORG}"}))
        v = dance.verify_with_key(s.serialize(compact=True).encode(), k.export_to_pem())
        self.assertEqual((v.payload, v.alg), (b"from jwcrypto", "EdDSA"))


class Decrypt(TmpCase):
    """decrypt, is_jwe and carries_jwe against `dance encrypt` and
    `dance sign --cty JWE`."""

    def encrypt(self, cert, plaintext, *extra):
        return run("encrypt", "--cert", cert, *extra, stdin=plaintext, check=0).stdout.strip()

    def test_round_trips_every_key_kind(self):
        for keytype, extra in (("rsa2048", ()), ("ec256", ()), ("ec384", ("--json",)),
                               ("ec256", ("--alg", "ECDH-ES+A256KW",
                                          "--enc", "A256CBC-HS512"))):
            _, key, cert, _ = self.keys.identity(keytype, label="rcpt")
            jwe = self.encrypt(cert, b"\x00secret\xff", *extra)
            self.assertTrue(dance.is_jwe(jwe))
            self.assertFalse(dance.carries_jwe(jwe))
            self.assertEqual(dance.decrypt(jwe, read(key)), b"\x00secret\xff")

    def test_no_oracle_and_refusals(self):
        _, key, cert, _ = self.keys.identity("ec256", label="rcpt")
        _, other, _, _ = self.keys.identity("ec256", label="rcpt")
        jwe = self.encrypt(cert, b"secret")
        parts = jwe.split(b".")
        tag = parts[4]
        parts[4] = (b"A" if tag[:1] != b"A" else b"B") + tag[1:]
        for bad in (b".".join(parts), jwe):
            e = self.assertRefused(dance.Status.DECRYPT_FAILED, dance.decrypt, bad,
                                   read(other if bad is jwe else key))
            self.assertEqual(e.text, "decryption failed")
        _, rsa_key, _, _ = self.keys.identity("rsa2048", label="rcpt")
        e = self.assertRefused(dance.Status.KEY_MISMATCH, dance.decrypt, jwe, read(rsa_key))
        self.assertNotEqual(e.text, "decryption failed")
        e = self.assertRefused(dance.Status.INTERNAL, dance.decrypt, jwe, "not a key")
        self.assertIn("key", e.text)
        self.assertRefused(dance.Status.MALFORMED, dance.decrypt, b"a.b.c", read(key))

    def test_encrypt_then_sign(self):
        name, skey, _, spub = self.keys.identity("ec256")
        _, key, cert, _ = self.keys.identity("rsa2048", label="rcpt")
        jwe = self.encrypt(cert, b"reading")
        jws = c_sign(skey, name, jwe, "--cty", "JWE")
        self.assertTrue(dance.carries_jwe(jws))
        self.assertFalse(dance.is_jwe(jws))
        self.assertFalse(dance.carries_jwe(c_sign(skey, name, b"plain")))
        v = dance.verify_with_key(jws, read(spub))
        self.assertEqual(dance.decrypt(v.payload, read(key)), b"reading")


class Memory(TmpCase):
    """100,000 verify_with_key calls (each makes and frees a verifier and a
    result; a fifth are refusals) do not grow the resident set."""

    @unittest.skipIf(sanitizer_preload.PRELOAD, "under ASan the resident set measures its "
                     "quarantine, not leaks (the library's unit tests check leaks there)")
    def test_rss_flat(self):
        name, key, _, pub = self.keys.identity("ed25519")
        pem = read(pub)
        good = dance.sign(b"m" * 200, read(key), name)
        bad = good[:-4] + (b"AAAA" if not good.endswith(b"AAAA") else b"BBBB")
        page = os.sysconf("SC_PAGE_SIZE")

        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page

        def loop(n):
            for i in range(n):
                if i % 5:
                    dance.verify_with_key(good, pem)
                else:
                    try:
                        dance.verify_with_key(bad, pem)
                    except dance.NotVerified:
                        pass

        loop(5000)          # warm-up: allocator arenas, OpenSSL's caches
        before = rss()
        loop(100000)
        grown = rss() - before
        self.assertLess(grown, 2 * 1024 * 1024, f"RSS grew by {grown} bytes")


class BedCase(TmpCase):
    """A DNSSEC test bed (knotd, signed fake root) for the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from plugin_fixture import Bed
        bed = Bed.for_class(cls, "python", pki=False)
        cls.tb = bed.tb

    def verifier(self, **kw):
        opts = dict(resolver=self.tb.upstream, trust_anchor=self.tb.trust_anchor,
                    allowed_domains=ORG, timeout=5)
        opts.update(kw)
        v = dance.Verifier(**opts)
        self.addCleanup(v.close)
        return v

    def tlsa(self, path, u, s, m, key=False):
        args = ["tlsa", "--usage", str(u), "--selector", str(s), "--mtype", str(m)]
        args += ["--key", path] if key else [path]
        return run(*args, check=0).stdout.decode().strip()

    def publish(self, owner, *records):
        self.tb.set_records(owner, "TLSA", list(records))
        self.tb.publish()


class Dns(BedCase):
    """The Python verifier against the test bed."""

    def test_c_signed_each_record_kind(self):
        v = self.verifier()
        name, key, cert, _ = self.keys.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        got = v.verify(c_sign(key, name, b"temp=21.5", "--topic", "s/1"), topic="s/1")
        self.assertEqual(got, dance.Verified(name, "ES256", b"temp=21.5", "tlsa 3 1 0"))

        name, key, cert, _ = self.keys.identity("rsa2048")
        self.publish(name, self.tlsa(cert, 3, 0, 0))
        got = v.verify(c_sign(key, name, b'{"t":1}', "--json"))
        self.assertEqual((got.alg, got.key, got.payload), ("RS256", "tlsa 3 0 0", b'{"t":1}'))

        name, key, cert, _ = self.keys.identity("ed25519")
        self.publish(name, self.tlsa(cert, 3, 1, 1))
        got = v.verify(dance.sign(b"hello", read(key), name, x5c=read(cert)))
        self.assertEqual((got.alg, got.key), ("EdDSA", "x5c+tlsa 3 1 1"))

        name, key, cert, _ = self.keys.identity("ec384")
        self.publish("_mqtt." + name, self.tlsa(cert, 3, 1, 0))
        svc = self.verifier(service_label="_mqtt")
        self.assertEqual(svc.verify(c_sign(key, name, b"svc")).payload, b"svc")

    def test_refusals(self):
        S = dance.Status
        v = self.verifier(cache_max_ttl=0)
        name, key, cert, _ = self.keys.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 1))
        msg = c_sign(key, name, b"x")
        # digest record, no x5c: no key; x5c of another certificate: no match
        self.assertRefused(S.NO_USABLE_RECORD, v.verify, msg)
        _, okey, ocert, _ = self.keys.identity("ec256")
        self.assertRefused(S.CERT_MISMATCH, v.verify,
                           dance.sign(b"x", read(okey), name, x5c=read(ocert)))
        # wrong key in DNS
        self.publish(name, self.tlsa(ocert, 3, 1, 0))
        self.assertRefused(S.BAD_SIGNATURE, v.verify, msg)
        # unknown sender
        unknown, ukey, _, _ = self.keys.identity("ec256")
        e = self.assertRefused(S.NO_RECORD, v.verify, c_sign(ukey, unknown, b"x"))
        self.assertEqual(e.sender, unknown)
        # unsigned zone
        iname, ikey, icert, _ = self.keys.identity("ec256", domain="unsigned.example")
        self.publish(iname, self.tlsa(icert, 3, 1, 0))
        self.assertRefused(S.INSECURE, self.verifier(allowed_domains=None).verify,
                           c_sign(ikey, iname, b"x"))
        # forged answer
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        self.assertEqual(v.verify(msg).payload, b"x")
        self.tb.tamper_signature(name, "TLSA")
        try:
            self.assertRefused(S.BOGUS, v.verify, msg)
        finally:
            self.tb.clear_tampering()
            self.tb.publish()
        # outside the allow-list: refused without a query
        before = self.tb.query_count()
        self.assertRefused(S.NOT_ALLOWED, self.verifier(allowed_domains="example.com").verify,
                           msg)
        self.assertEqual(self.tb.query_count(), before)

    def test_lookup_failed(self):
        from dnsproxy import DnsProxy
        proxy = DnsProxy(self.tb.port, mode="drop")
        self.addCleanup(proxy.close)
        v = self.verifier(resolver=proxy.address, timeout=1, cache_max_ttl=0)
        name, key, cert, _ = self.keys.identity("ec256")
        self.publish(name, self.tlsa(cert, 3, 1, 0))
        msg = c_sign(key, name, b"x")
        with self.assertRaises(dance.LookupFailed) as cm:
            v.verify(msg)
        self.assertEqual(cm.exception.reason_code, dance.Status.LOOKUP_FAILED)
        self.assertEqual(cm.exception.reason, "lookup_failure")
        proxy.set_mode("pass")
        self.assertEqual(v.verify(msg).payload, b"x")


class JoseDns(BedCase):
    """npm jose vectors verified with their keys published in DNS."""

    def test_vectors(self):
        v = self.verifier()
        for vec in jose_vectors():
            key = os.path.join(VECTORS_DIR, vec["key"])
            self.tb.set_records(vec["sender"], "TLSA", [self.tlsa(key, 3, 1, 0, key=True)])
        self.tb.publish()
        for vec in jose_vectors():
            with self.subTest(vec["label"]):
                if vec["expect"] == "verified":
                    got = v.verify(vec["message"].encode(), topic=vec["topic"])
                    self.assertEqual((got.sender, got.alg, got.key),
                                     (vec["sender"], vec["alg"], "tlsa 3 1 0"))
                    self.assertEqual(got.payload, vec["payload"].encode())
                else:
                    with self.assertRaises(dance.NotVerified) as cm:
                        v.verify(vec["message"].encode())
                    self.assertEqual(cm.exception.reason, vec["expect"])


class Threads(BedCase):
    """One verifier shared by threads: calls waiting on slow DNS run at the
    same time, and the GIL is free meanwhile."""

    def test_concurrent_verifications_during_slow_dns(self):
        from dnsproxy import DnsProxy
        proxy = DnsProxy(self.tb.port, mode="pass")
        self.addCleanup(proxy.close)
        v = self.verifier(resolver=proxy.address, timeout=30, cache_max_ttl=0)
        msgs = []
        for _ in range(2):
            name, key, cert, _ = self.keys.identity("ec256", label="slow")
            self.publish(name, self.tlsa(cert, 3, 1, 0))
            msgs.append((name, c_sign(key, name, name.encode())))
        # hold back every TLSA answer; the zones' other answers pass
        proxy.set_mode("delay", delay=4, match="slow")
        results, errors = {}, []

        def work(name, msg):
            try:
                results[name] = v.verify(msg)
            except Exception as e:      # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=m) for m in msgs]
        for t in threads:
            t.start()
        # Both senders' lookups reach the proxy before it releases any
        # answer: both C calls are in flight together (each waits for its
        # own answer); and this thread keeps running Python meanwhile.
        names = [n for n, _ in msgs]
        spins, both_held = 0, False
        ev = threading.Event()
        while any(t.is_alive() for t in threads) and not ev.wait(0.001):
            spins += 1
            with proxy.lock:
                both_held = both_held or (
                    not proxy.released and proxy.held >= 2
                    and all(proxy.by_name.get(n) for n in names))
        for t in threads:
            t.join(WAIT)
        self.assertEqual(errors, [])
        self.assertTrue(both_held, "the two verifications never waited on DNS together")
        self.assertGreater(spins, 100)
        for name, _ in msgs:
            self.assertEqual(results[name].payload, name.encode())
        # many threads, one verifier, warm cache and cold: all verified
        proxy.set_mode("pass")
        shared = self.verifier()
        out = []

        def burst():
            for name, msg in msgs:
                out.append(shared.verify(msg).sender)

        pool = [threading.Thread(target=burst) for _ in range(8)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(WAIT)
        self.assertEqual(sorted(out), sorted([n for n, _ in msgs] * 8))


if __name__ == "__main__":
    unittest.main()
