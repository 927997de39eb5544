#!/usr/bin/python3
"""Plugin integration: token authentication (doc/formats.md "Tokens", mosquitto-dance(5)).

Real parts only: /usr/sbin/mosquitto with the built plugin, the DNSSEC test
bed (knotd), devices provisioned with the `dance` CLI (keygen, self-signed
cert, tlsa --key, token), clients mosquitto_pub and python3-paho-mqtt over
TLS that authenticates only the server (the devices present no client
certificate). Tokens the CLI refuses to make (expired, alg none, HS256)
come from python3-jwcrypto or are put together by hand.

One broker per class: TokenTest has three listeners (TLS with
require_certificate for certificate devices, TLS without it for token
devices, plain TCP for the warning), TTLs of 2 s and a 1 s revalidation so
that revocation is quick. ExpiryTest runs a broker with
token_disconnect_on_expiry on; ConfigTest checks start-up refusals.
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plugin_fixture import bound_client_id  # noqa: E402
from plugin_fixture import (DANCE, Bed, Broker, PluginTestCase,  # noqa: E402
                            connect, free_port, ident, run)

from jwcrypto import jwk, jws  # noqa: E402

AUD = "broker.acme.example"
TTL = 2
INTERVAL = 1
BOUND = INTERVAL + TTL + 10     # generous slack for a loaded CI machine
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenBroker(Broker):
    """The fixture's broker (TLS + require_certificate on .port) plus a TLS
    listener without require_certificate (.token_port) and, optionally, a
    plain TCP listener (.plain_port)."""

    def __init__(self, *args, plain=False, **kw):
        super().__init__(*args, **kw)
        self.plain = plain
        self.token_port = None
        self.plain_port = None

    def write_conf(self):
        super().write_conf()
        self.token_port = free_port()
        lines = ["listener %d 127.0.0.1" % self.token_port,
                 "certfile %s" % self.pki.server,
                 "keyfile %s" % self.pki.server_key]
        if self.plain:
            self.plain_port = free_port()
            lines.append("listener %d 127.0.0.1" % self.plain_port)
        with open(self.conf, "a") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait=True):
        """As the fixture's, and with wait also until the token listener
        accepts (the fixture waits for the first listener only)."""
        super().start(wait)
        deadline = time.monotonic() + 20
        while wait:
            try:
                with socket.create_connection(("127.0.0.1", self.token_port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the token listener did not open:\n"
                                       + self.all_output())
                time.sleep(0.05)
        return self


class Device:
    """A device with a key pair and a TLSA record, provisioned by the CLI."""

    def __init__(self, directory, name, keytype="ec256", record="310"):
        self.name = name
        stem = os.path.join(directory, name.replace(".", "_"))
        self.key, self.cert = stem + ".key", stem + ".pem"
        run([DANCE, "keygen", "--type", keytype, "--out", self.key])
        if record == "310":
            # a raw public key: no certificate at all
            self.cert = None
            self.tlsa = run([DANCE, "tlsa", "--usage", "3", "--selector", "1", "--mtype",
                             "0", "--key", self.key]).strip()
        else:
            run([DANCE, "cert", "--key", self.key, "--name", name, "--out", self.cert])
            self.tlsa = run([DANCE, "tlsa", "--usage", "3", "--selector", "1", "--mtype",
                             "1", self.cert]).strip()

    def token(self, *extra, aud=AUD, name=None):
        args = [DANCE, "token", "--key", self.key, "--name", name or self.name,
                "--aud", aud]
        if self.cert is not None:
            args += ["--x5c", self.cert]
        return run(args + list(extra)).strip()

    def craft(self, header, claims):
        """A token made by jwcrypto with exactly this header and these claims."""
        with open(self.key, "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        s = jws.JWS(json.dumps(claims).encode())
        s.add_signature(key, None, protected=json.dumps(header))
        return s.serialize(compact=True)


def token_connect(broker, port, username, password, client_id=None, tls=True,
                  keep=False, subscribe=None, timeout=15):
    """paho over TLS that checks the broker's certificate and presents none
    (tls False: plain TCP). Returns the Session; .result says what happened.
    The caller closes a kept, accepted session."""
    s = connect(broker, None, None, timeout=timeout, keep=True, subscribe=subscribe,
                client_id=client_id or "tok-%d-%d" % (os.getpid(), int(time.monotonic() * 1e6)),
                username=username, password=password, port=port, server_tls=tls, sub_qos=1)
    if not keep and s.result.accepted:
        s.close()
    return s


def decision_line(broker, verdict, identity, start):
    """The plugin's log line for the decision about identity after start."""
    needle = "dance: %s identity=%s " % (verdict, identity)
    text = broker.wait_log(needle, start=start)
    return [line for line in text.splitlines() if needle in line][0]


class TokenTest(PluginTestCase):

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "token", default_ttl=TTL, negative_ttl=TTL)
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        devdir = os.path.join(cls.wd, "devices")
        os.makedirs(devdir)
        cls.dev = {
            # a self-signed certificate published as a digest: tokens carry x5c
            "selfsigned": Device(devdir, ident("selfsigned"), "ed25519", record="311"),
            # only a key pair: the record is the raw public key
            "raw": Device(devdir, ident("raw"), "ec256"),
            "refused": Device(devdir, ident("refused"), "ec256"),
            "revoked": Device(devdir, ident("revoked"), "ec256"),
            "bystander": Device(devdir, ident("bystander"), "rsa2048", record="311"),
            "plain": Device(devdir, ident("plain"), "ec384"),
            "keeps": Device(devdir, ident("keeps"), "ec256"),
            "hdriat": Device(devdir, ident("hdriat"), "ec256"),
            "outsider": Device(devdir, ident("outsider", "evil.example"), "ec256"),
        }
        for label, d in cls.dev.items():
            if label != "outsider":
                cls.tb.set_records(d.name, "TLSA", [d.tlsa])
        cls.certdev = ident("certdev")
        cls.certdev_cert, cls.certdev_key = cls.pki.device(cls.certdev)
        cls.tb.set_records(cls.certdev, "TLSA", [cls.pki.tlsa(cls.certdev_cert, 3, 1, 1)])
        cls.tb.publish()
        cls.acl = os.path.join(cls.wd, "acl")
        with open(cls.acl, "w") as f:
            f.write("pattern readwrite devices/%u/#\npattern read $SYS/broker/dance/#\n")
        os.chmod(cls.acl, 0o644)
        cls.broker = TokenBroker(cls.wd, cls.pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": "acme.example",
            "cafile": cls.pki.ca,
            "connect_budget_ms": "5000",
            "revalidate_interval": str(INTERVAL),
            "negative_ttl": str(TTL),
            "failure_ttl": "1",
            "stats_interval": "1",
            "token_auth": "on",
            "token_audience": AUD,
            "token_max_lifetime": "600",
        }, extra_conf="acl_file %s" % cls.acl, plain=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def connect(self, username, password, **kw):
        return token_connect(self.broker, self.broker.token_port, username, password, **kw)

    def session(self, username, password, **kw):
        s = self.connect(username, password, keep=True, **kw)
        self.assertTrue(s.result.accepted, s.result)
        self.addCleanup(s.close)
        return s

    def pub(self, username, password, port=None, client_id="pub"):
        return subprocess.run(
            [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port or self.broker.token_port),
             "--cafile", self.pki.ca, "-u", username, "-P", password,
             "-i", bound_client_id(client_id, username=username),
             "-t", "devices/%s/temp" % username.lower(), "-m", "21.5", "-q", "1"],
            capture_output=True, text=True, timeout=30)

    # -- devices that get in

    def test_self_signed_311_token_with_x5c_paho(self):
        """The username becomes the identity (ACL %u), in normal form."""
        d = self.dev["selfsigned"]
        start = self.broker.log_size()
        topic = "devices/%s/temp" % d.name
        s = self.session(d.name.upper() + ".", d.token(), client_id="ss-1", subscribe=topic)
        line = decision_line(self.broker, "accepted", d.name, start)
        self.assertIn('record="x5c+tlsa 3 1 1"', line)
        self.assertIn("token valid: alg EdDSA", line)
        # the subscription to devices/<identity>/# passed the ACL pattern
        # devices/%u/#: %u is the identity in normal form, not the username
        # as sent
        self.assertTrue(s.subscribed.wait(10), "no SUBACK")
        s.publish(topic, "21.5", qos=1)
        deadline = time.monotonic() + 10
        while not s.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(s.messages, [(topic, "21.5")])

    def test_raw_key_310_token_mosquitto_pub(self):
        d = self.dev["raw"]
        start = self.broker.log_size()
        p = self.pub(d.name, d.token(), client_id="raw-pub")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        line = decision_line(self.broker, "accepted", d.name, start)
        self.assertIn('record="tlsa 3 1 0"', line)
        self.assertIn("token valid: alg ES256", line)

    def test_certificate_wins_over_token(self):
        """A client with a certificate is judged by it; its token is not used."""
        d = self.dev["keeps"]
        token = d.token()
        start = self.broker.log_size()
        res = connect(self.broker, self.certdev_cert, self.certdev_key,
                      client_id=bound_client_id("cert-and-token", self.certdev_cert),
                      bind=False, username=d.name, password=token)
        self.assertTrue(res.accepted, res)
        line = decision_line(self.broker, "accepted", self.certdev, start)
        self.assertIn("DANE-EE 3 1 1 matched", line)
        self.assertNotIn("identity=%s " % d.name, self.broker.log()[start:])
        # the token was not used up: it still works on the token listener
        self.session(d.name, token, client_id="keeps-1")

    def test_token_over_plain_tcp_works_but_was_warned_about(self):
        log = self.broker.log()
        self.assertIn("dance: warning: plugin_opt_token_auth is on and 1 listener has "
                      "no certfile/psk_hint", log)
        with open(self.broker.conf) as f:
            conf = f.read().splitlines()
        line = conf.index("listener %d 127.0.0.1" % self.broker.plain_port) + 1
        self.assertIn("(first: %s line %d)" % (self.broker.conf, line), log)
        self.assertIn("dance: token authentication ready: token_audience=%s "
                      "token_max_lifetime=600" % AUD, log)
        d = self.dev["plain"]
        s = token_connect(self.broker, self.broker.plain_port, d.name, d.token(),
                          tls=False, keep=True)
        self.assertTrue(s.result.accepted, s.result)
        s.close()

    # -- refusals

    def expect_refused(self, username, token, verdict, needle=None, identity=None):
        start = self.broker.log_size()
        s = self.connect(username, token)
        self.assertEqual(s.result.outcome, "refused", s.result)
        self.assertEqual(s.result.rc, 5)        # CONNACK "not authorised"
        line = decision_line(self.broker, "refused", identity or username, start)
        self.assertIn("reason=%s " % verdict, line)
        if needle:
            self.assertIn(needle, line)
        return line

    def test_refusals(self):
        d, other = self.dev["refused"], self.dev["raw"]
        now = int(time.time())
        hdr = {"alg": "ES256", "kid": d.name, "typ": "JWT"}

        def claims(**kw):
            c = {"aud": AUD, "iat": now, "exp": now + 120, "jti": "j-%d" % time.monotonic_ns()}
            c.update(kw)
            return c

        with open(d.key, "rb") as f:
            spki = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"],
                                  input=f.read(), capture_output=True, check=True).stdout
        hs_si = (b64url(json.dumps({"alg": "HS256", "kid": d.name}).encode()) + "."
                 + b64url(json.dumps(claims()).encode()))
        hs256 = hs_si + "." + b64url(hmac.new(spki, hs_si.encode(), hashlib.sha256).digest())
        none = (b64url(json.dumps({"alg": "none", "kid": d.name}).encode()) + "."
                + b64url(json.dumps(claims()).encode()) + ".")
        cases = [
            ("expired", d.craft(hdr, claims(iat=now - 300, exp=now - 10)),
             "token_expired", "token expired"),
            ("wrong audience", d.token(aud="other-broker.example"),
             "token_audience", "other-broker.example"),
            ("wrong key", other.token(name=d.name), "no_match", "bad_signature"),
            ("alg none", none, "token_invalid", "alg none"),
            ("HS256", hs256, "token_invalid", "HS256"),
            ("lifetime", d.token("--lifetime", "601"), "token_expired",
             "lifetime_too_long"),
        ]
        for what, token, verdict, needle in cases:
            with self.subTest(what):
                self.expect_refused(d.name, token, verdict, needle)
        # kid != username
        with self.subTest("kid != username"):
            # logged under the identity the token claims
            self.expect_refused(ident("someone"), d.token(), "identity",
                                "does not match the token's kid", identity=d.name)
        # mosquitto_pub sees the refusal too
        p = self.pub(d.name, d.token(aud="other-broker.example"), client_id="ref-pub")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not authori", (p.stdout + p.stderr).lower())

    def test_replayed_jti_is_refused(self):
        d = self.dev["refused"]
        token = d.token()
        s = self.session(d.name, token, client_id="replay-1")
        s.close()
        line = self.expect_refused(d.name, token, "token_replay", "used before")
        # a fresh token is fine
        self.session(d.name, d.token(), client_id="replay-2")
        self.assertIn("token replay", line)

    def test_outside_allowed_domains_no_dns_query(self):
        d = self.dev["outsider"]
        token = d.token()
        before = self.tb.query_count()
        self.expect_refused(d.name, token, "outside_allowed_domains")
        self.assertEqual(self.tb.query_count(), before)

    def test_password_that_is_no_token(self):
        self.expect_refused(self.dev["raw"].name, "secret", "no_certificate",
                            "neither a certificate nor a token",
                            identity="-")

    def test_revocation_disconnects_token_client(self):
        d, by = self.dev["revoked"], self.dev["bystander"]
        bystander = self.session(by.name, by.token(), client_id="bystander")
        s = self.session(d.name, d.token(), client_id="revoked")
        start = self.broker.log_size()
        self.tb.remove_records(d.name, "TLSA")
        self.tb.publish()
        self.assertTrue(s.disconnected.wait(BOUND),
                        "token client still connected %ss after its record went" % BOUND)
        line = decision_line(self.broker, "revoked", d.name, start)
        self.assertIn("reason=no_record", line)
        self.assertFalse(bystander.disconnected.is_set())
        # and a new token is refused now
        deadline = time.monotonic() + BOUND
        while True:
            res = self.connect(d.name, d.token()).result
            if not res.accepted or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(res.outcome, "refused", res)

    def test_reload_keeps_token_client(self):
        """SIGHUP: Mosquitto re-runs authentication for connected clients; a
        token client stays (its jti is not taken for a replay) and is
        re-checked against fresh DNS answers."""
        d = self.dev["keeps"]
        s = self.session(d.name, d.token(), client_id="keeps-reload")
        start = self.broker.log_size()
        self.broker.reload()
        self.broker.wait_log("dance: reload: TLSA cache flushed", start=start)
        time.sleep(INTERVAL + 2)
        self.assertFalse(s.disconnected.is_set(), "reload disconnected a token client")
        after = self.broker.log()[start:]
        self.assertNotIn("refused identity=%s " % d.name, after)
        self.assertNotIn("revoked identity=%s " % d.name, after)

    def test_kept_past_expiry_without_the_option(self):
        """token_disconnect_on_expiry off: the token only matters at CONNECT."""
        d = self.dev["keeps"]
        s = self.session(d.name, d.token("--lifetime", "2"), client_id="keeps-2")
        time.sleep(4)
        self.assertFalse(s.disconnected.is_set())

    def test_header_iat_client_kept_by_rechecks(self):
        """A token with iat in its protected header stays connected through
        re-checks long after that iat is older than the skew (60 s): a
        re-check only asks whether the key is still in DNS. Removing the
        record still disconnects it."""
        d = self.dev["hdriat"]
        now = int(time.time())
        # 55 s old at login: within the skew then, beyond it 5 s later
        iat = now - 55
        token = d.craft({"alg": "ES256", "kid": d.name, "typ": "JWT", "iat": iat},
                        {"aud": AUD, "iat": iat, "exp": now + 300,
                         "jti": "hdr-%d" % time.monotonic_ns()})
        s = self.session(d.name, token, client_id="hdriat")
        start = self.broker.log_size()
        # several re-check rounds (INTERVAL 1 s) past iat + 60 s
        deadline = iat + 60 + 6 * INTERVAL + 2
        while time.time() < deadline:
            self.assertFalse(s.disconnected.is_set(), "re-check disconnected a token "
                             "client with a header iat:\n" + self.broker.log()[start:])
            time.sleep(0.5)
        rounds = self.broker.log()[start:]
        self.assertNotIn("revoked identity=%s " % d.name, rounds)
        self.assertFalse(s.disconnected.is_set())
        # the key question still counts
        self.tb.remove_records(d.name, "TLSA")
        self.tb.publish()
        self.assertTrue(s.disconnected.wait(BOUND), "not disconnected after its record went")
        line = decision_line(self.broker, "revoked", d.name, start)
        self.assertIn("reason=no_record", line)

    def test_replay_not_kept_is_warned_about(self):
        log = self.broker.log()
        self.assertIn("dance: warning: plugin_opt_token_replay_file is not set, so token "
                      "replay protection does not survive a restart", log)
        self.assertIn("token_replay_file=none token_replay_per_identity=1000", log)

    def test_metrics(self):
        d = self.dev["raw"]
        self.session(d.name, d.token(), client_id="metrics-1")
        self.connect(d.name, d.token(aud="nope"))
        got = {}
        s = self.session(d.name, d.token(), client_id="metrics-sub",
                         subscribe="$SYS/broker/dance/#")
        deadline = time.monotonic() + 10
        want = ("$SYS/broker/dance/auth/token/accepted",
                "$SYS/broker/dance/auth/refused/token_audience",
                "$SYS/broker/dance/clients/token")
        while time.monotonic() < deadline:
            got = dict(s.messages)
            if all(k in got for k in want) and int(got[want[1]]) >= 1 and \
                    int(got[want[2]]) >= 2:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(int(got.get(want[0], "0")), 2, got)
        self.assertGreaterEqual(int(got.get(want[1], "0")), 1, got)
        self.assertGreaterEqual(int(got.get(want[2], "0")), 2, got)
        self.assertIn("$SYS/broker/dance/auth/token/expired", got)
        for tail in ("entries", "evicted", "evicted_full", "save_failures"):
            self.assertIn("$SYS/broker/dance/auth/token/replay/" + tail, got)
        self.assertGreaterEqual(int(got["$SYS/broker/dance/auth/token/replay/entries"]), 2)


class ExpiryTest(PluginTestCase):
    """token_disconnect_on_expiry on: the client goes when its token expires."""

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "token-expiry")
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        cls.dev = Device(cls.pki.dir, ident("short"), "ec256", record="311")
        cls.tb.set_records(cls.dev.name, "TLSA", [cls.dev.tlsa])
        cls.tb.publish()
        cls.broker = TokenBroker(cls.wd, cls.pki, {
            "resolver": cls.tb.upstream,
            "trust_anchor": cls.tb.trust_anchor,
            "allowed_domains": "acme.example",
            "connect_budget_ms": "5000",
            "token_auth": "true",
            "token_audience": AUD,
            "token_disconnect_on_expiry": "on",
            "stats_interval": "1",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_disconnected_at_expiry(self):
        short = token_connect(self.broker, self.broker.token_port, self.dev.name,
                              self.dev.token("--lifetime", "3"), client_id="short", keep=True)
        self.assertTrue(short.result.accepted, short.result)
        self.addCleanup(short.close)
        longer = token_connect(self.broker, self.broker.token_port, self.dev.name,
                               self.dev.token("--lifetime", "300"), client_id="longer",
                               keep=True)
        self.assertTrue(longer.result.accepted, longer.result)
        self.addCleanup(longer.close)
        self.assertTrue(short.disconnected.wait(15), "not disconnected at expiry")
        self.broker.wait_log('dance: token expired identity=%s client_id="%s/short"'
                             % (self.dev.name, self.dev.name))
        self.assertFalse(longer.disconnected.is_set())
        # no warning: the only listeners here use TLS
        self.assertNotIn("listener has no certfile", self.broker.log())


class ReplayFileTest(PluginTestCase):
    """token_replay_file: the used token ids survive a restart of the real
    broker (clean, and SIGKILL after the 2 s write interval); a damaged file
    or one the broker cannot write stops it."""

    @classmethod
    def setUpClass(cls):
        bed = Bed.for_class(cls, "token-replay")
        cls.wd, cls.tb, cls.pki = bed.dir, bed.tb, bed.pki
        cls.dev = Device(cls.pki.dir, ident("restart"), "ec256")
        cls.tb.set_records(cls.dev.name, "TLSA", [cls.dev.tlsa])
        cls.tb.publish()

    def setUp(self):
        self.dir = os.path.join(self.wd, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.file = os.path.join(self.dir, "dance-jti.db")
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.stop()

    def make_broker(self, path=None):
        return TokenBroker(self.dir, self.pki, {
            "resolver": self.tb.upstream,
            "trust_anchor": self.tb.trust_anchor,
            "allowed_domains": "acme.example",
            "connect_budget_ms": "5000",
            "token_auth": "on",
            "token_audience": AUD,
            "token_replay_file": path or self.file,
        })

    def login(self, token):
        return token_connect(self.broker, self.broker.token_port, self.dev.name, token).result

    def refused_as_replay(self, token):
        start = self.broker.log_size()
        res = self.login(token)
        self.assertEqual(res.outcome, "refused", res)
        line = decision_line(self.broker, "refused", self.dev.name, start)
        self.assertIn("reason=token_replay ", line)

    def test_captured_token_refused_after_restart(self):
        self.broker = self.make_broker().start()
        self.assertIn("dance: token replay file %s created (first start)" % self.file,
                      self.broker.log())
        captured = self.dev.token()
        self.assertTrue(self.login(captured).accepted)
        self.refused_as_replay(captured)
        # a clean restart of the real broker with the same file
        self.broker.stop()
        with open(self.file) as f:
            text = f.read()
        self.assertTrue(text.startswith("dance-replay 1\n"), text)
        self.assertTrue(text.endswith("end 1\n"), text)
        self.broker.start()
        self.assertIn("token ids loaded", self.broker.log())
        self.refused_as_replay(captured)
        # a new token is fine
        self.assertTrue(self.login(self.dev.token()).accepted)

    def test_kept_through_a_crash_after_the_write_interval(self):
        self.broker = self.make_broker().start()
        captured = self.dev.token()
        self.assertTrue(self.login(captured).accepted)
        time.sleep(3.5)         # the file is rewritten every 2 s when needed
        self.broker.proc.kill()
        self.broker.proc.wait()
        self.broker.stop()
        self.broker.start()
        self.refused_as_replay(captured)

    def refused_start(self, needle, path=None):
        self.broker = self.make_broker(path).start(wait=False)
        rc = self.broker.wait_exit()
        self.assertIsNotNone(rc, "the broker kept running")
        self.assertNotEqual(rc, 0)
        self.assertIn("dance: refusing to start: " + needle, self.broker.all_output())

    def test_damaged_file_stops_the_broker(self):
        with open(self.file, "w") as f:
            f.write("dance-replay 1\n1999999999 6162 zz\nend 1\n")
        self.refused_start("plugin_opt_token_replay_file: %s line 2: expected "
                           "'<expiry> <sender-hex> <key-hex>'" % self.file)
        # and the file is left as it was, for the operator to look at
        with open(self.file) as f:
            self.assertIn("zz", f.read())

    def test_unwritable_place_stops_the_broker(self):
        path = os.path.join(self.dir, "missing-dir", "dance-jti.db")
        self.refused_start("plugin_opt_token_replay_file %s cannot be written by the "
                           "broker" % path, path=path)


class ConfigTest(PluginTestCase):
    """Token options the broker refuses to start with."""

    def setUp(self):
        bed = Bed("token-config", dns=False)
        self.addCleanup(bed.close)
        self.wd, self.pki = bed.dir, bed.pki
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.stop()

    def refused(self, options, needle):
        opts = {"allowed_domains": "acme.example"}
        opts.update(options)
        self.broker = Broker(self.wd, self.pki, opts).start(wait=False)
        rc = self.broker.wait_exit()
        self.assertIsNotNone(rc, "the broker kept running")
        self.assertNotEqual(rc, 0)
        self.assertIn("dance: refusing to start: " + needle, self.broker.all_output())

    def test_audience_required(self):
        self.refused({"token_auth": "on"}, "plugin_opt_token_audience is required with "
                                           "plugin_opt_token_auth on")

    def test_bad_values(self):
        self.refused({"token_auth": "maybe"}, "plugin_opt_token_auth 'maybe': expected on "
                                              "or off")

    def test_token_option_without_token_auth(self):
        self.refused({"token_max_lifetime": "60"}, "plugin_opt_token_max_lifetime is set "
                                                   "but plugin_opt_token_auth is not on")


if __name__ == "__main__":
    unittest.main()
