#!/usr/bin/python3
"""plugin_fixture - real broker, real certificates and real clients for the
plugin's integration tests (tests/integration/test_plugin_*.py).

Nothing is mocked:

  * Pki makes a CA and device certificates with the project's own `dance`
    CLI (keygen, cert, tlsa); the broker's server certificate and the odd
    device certificates `dance cert` deliberately cannot make (two SANs,
    expired) come from the openssl CLI.
  * Broker runs /usr/sbin/mosquitto (Debian's 2.0.11) with the build's
    mosquitto_dance.so on a free loopback port, TLS with
    require_certificate, and captures its log (shown when a test fails).
  * connect() is a real MQTT client (Debian's python3-paho-mqtt) that
    reports what the broker answered.
  * The DNSSEC side is tests/testbed/dnstestbed.py (a real knotd serving a
    signed fake root).

Environment: DANCE_BUILD_DIR (the CMake build directory; default: ./build),
DANCE_MOSQUITTO (default /usr/sbin/mosquitto), DANCE_KEEP_WORKDIR=1 (or
DANCE_KEEP_TESTBED=1) keeps work directories for post-mortem reading.
"""

import base64
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))

from dnstestbed import Testbed  # noqa: E402  (re-exported for the tests)

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

BUILD_DIR = os.path.abspath(os.environ.get("DANCE_BUILD_DIR", os.path.join(REPO, "build")))
PLUGIN = os.path.join(BUILD_DIR, "mosquitto_dance.so")
DANCE = os.environ.get("DANCE_CLI", os.path.join(BUILD_DIR, "dance"))
MOSQUITTO = os.environ.get("DANCE_MOSQUITTO", "/usr/sbin/mosquitto")
KEEP = "1" in (os.environ.get("DANCE_KEEP_WORKDIR"), os.environ.get("DANCE_KEEP_TESTBED"))
# Sanitizer builds: the ASan runtime to preload into the (uninstrumented)
# broker, and the ASAN_OPTIONS for it (set by tests/50-integration-plugin.cmake).
PRELOAD = os.environ.get("DANCE_MOSQUITTO_PRELOAD", "")
ASAN_OPTIONS = os.environ.get("DANCE_MOSQUITTO_ASAN_OPTIONS", "")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

ORG = "acme.example"


def ident(label, zone=ORG):
    """A device's DNS identity in the test zones."""
    return "%s._device.%s" % (label, zone)


def tamper(jws_bytes):
    """Flip one payload bit of a compact JWS, keeping it valid base64url,
    so that only the signature check can notice."""
    head, payload, sig = jws_bytes.split(b".")
    raw = bytearray(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    raw[0] ^= 0x01
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=")
    return b".".join([head, forged, sig])


_CERT_IDENTITY = {}


def cert_identity(cert):
    """The one dNSName of a certificate file (the DANE identity), or None."""
    if cert not in _CERT_IDENTITY:
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext",
                              "subjectAltName"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        names = [w[4:].rstrip(",") for w in out.split() if w.startswith("DNS:")]
        _CERT_IDENTITY[cert] = names[0].lower() if len(names) == 1 else None
    return _CERT_IDENTITY[cert]


def bound_client_id(client_id=None, cert=None, username=None, label="c"):
    """A client id bound to the client's identity, as the plugin requires by
    default (plugin_opt_client_id_binding): "<identity>/<client_id>", the
    identity taken from the certificate, else from the token username.
    An id that already is bound, or a client without an identity, keeps
    the id as given (a fresh one when None)."""
    cid = client_id or "%s-%d-%d" % (label, os.getpid(), int(time.monotonic() * 1e6))
    # the username names the identity where there is one (tokens, and
    # plugin_opt_identity_source username); else the certificate does
    identity = username.rstrip(".").lower() if username and "." in username else None
    if identity is None and cert is not None:
        identity = cert_identity(cert)
    if identity is None or cid.lower() == identity or cid.lower().startswith(identity + "/"):
        return cid
    return "%s/%s" % (identity, cid)


def cid_args(cert=None, username=None, label="cli"):
    """["-i", bound id] for mosquitto_pub / mosquitto_sub."""
    return ["-i", bound_client_id(None, cert, username, label)]


def sys_value(broker, cert, key, tail):
    """One $SYS/broker/dance/... counter (retained), read with
    mosquitto_sub as the client with cert/key."""
    out = run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
               "--cafile", broker.pki.ca, "--cert", cert, "--key", key,
               *cid_args(cert, label="sys"),
               "-t", "$SYS/broker/dance/" + tail, "-C", "1", "-W", "10"])
    return int(out.strip())


def wait_sys(broker, cert, key, tail, pred, timeout=20):
    """Read the counter until pred holds or timeout passes; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = sys_value(broker, cert, key, tail)
        if pred(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.5)


def free_port():
    """A TCP port nobody listens on right now (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, **kw):
    """Run a command; raise with its output when it fails."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stdout))
    return p.stdout


def workdir(prefix):
    d = tempfile.mkdtemp(prefix="dance-%s-" % prefix)
    os.chmod(d, 0o755)      # the broker may read from it as another user
    return d


def cleanup_workdir(d):
    if not KEEP:
        shutil.rmtree(d, ignore_errors=True)


class Pki:
    """A CA, a server certificate for the broker, and device certificates."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_key = self.path("ca.key")
        self.ca = self.path("ca.pem")
        run([DANCE, "keygen", "--type", "ec256", "--out", self.ca_key])
        run([DANCE, "cert", "--key", self.ca_key, "--name", "Dance Test Device CA",
             "--is-ca", "--days", "30", "--out", self.ca])
        self.server_key = self.path("server.key")
        self.server = self.path("server.pem")
        self._openssl_cert("server", self.server_key, self.server,
                           "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                           "extendedKeyUsage=serverAuth\n"
                           "keyUsage=critical,digitalSignature\n", days=30)
        for f in os.listdir(self.dir):
            os.chmod(self.path(f), 0o644)   # test-only keys; broker may not be root

    def path(self, name):
        return os.path.join(self.dir, name)

    def files(self, label, zone=ORG):
        """(cert, key) of the device certificate made by device() for label."""
        stem = self.path(ident(label, zone).replace(".", "_"))
        return stem + ".pem", stem + ".key"

    def _openssl_cert(self, cn, key, out, extensions, days):
        csr = out + ".csr"
        ext = out + ".ext"
        with open(ext, "w") as f:
            f.write(extensions)
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=%s" % cn])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
             self.ca_key, "-CAcreateserial", "-days", str(days), "-extfile", ext,
             "-out", out])
        os.chmod(key, 0o644)

    def device(self, name, days=30):
        """A device certificate for `name` issued by the CA (dance CLI).
        Returns (cert, key)."""
        stem = self.path(name.replace(".", "_"))
        key, cert = stem + ".key", stem + ".pem"
        run([DANCE, "keygen", "--type", "ec256", "--out", key])
        run([DANCE, "cert", "--key", key, "--name", name, "--days", str(days),
             "--ca", self.ca, "--ca-key", self.ca_key, "--out", cert])
        os.chmod(key, 0o644)
        return cert, key

    def device_openssl(self, stem, sans, days=30):
        """A CA-issued client certificate with the given dNSNames (possibly
        several) and validity in days (-1: already expired). openssl CLI,
        for what `dance cert` refuses to make. Returns (cert, key)."""
        key, cert = self.path(stem + ".key"), self.path(stem + ".pem")
        ext = "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"
        if sans:
            ext += "subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n"
        self._openssl_cert(stem, key, cert, ext, days)
        return cert, key

    def tlsa(self, cert, usage, selector, mtype):
        """'U S M HEX' for cert, from `dance tlsa`."""
        return run([DANCE, "tlsa", "--usage", str(usage), "--selector", str(selector),
                    "--mtype", str(mtype), cert]).strip()


class Bed:
    """A test file's world: a work directory, the DNSSEC test bed and a PKI,
    plus DANE-checked client certificates for labels, published with the
    records of the given (usage, selector, mtype) forms. Testbed options
    (default_ttl, negative_ttl, sig_validity) go to the test bed; with
    dns=False there is none, with pki=False no PKI. close() stops the test
    bed and removes the directory; a constructor that fails half-way does
    that itself, so no knotd outlives it."""

    def __init__(self, prefix, labels=(), records=((3, 1, 1),), ttl=300,
                 dns=True, pki=True, **testbed_options):
        self.dir = workdir(prefix)
        self.tb = None
        self.pki = None
        try:
            if dns:
                self.tb = Testbed(os.path.join(self.dir, "dns"), **testbed_options)
            if pki:
                os.makedirs(os.path.join(self.dir, "pki"))
                self.pki = Pki(os.path.join(self.dir, "pki"))
            for label in labels:
                cert, _ = self.pki.device(ident(label))
                self.tb.set_records(ident(label), "TLSA",
                                    [self.pki.tlsa(cert, *r) for r in records], ttl=ttl)
            if self.tb is not None:
                self.tb.publish()
        except BaseException:
            self.close()
            raise

    @classmethod
    def for_class(cls, test_class, prefix, **kw):
        """A Bed for test_class's setUpClass, closed by a class cleanup: it
        goes after tearDownClass, and also when setUpClass fails after
        making it (unittest then skips tearDownClass)."""
        bed = cls(prefix, **kw)
        test_class.addClassCleanup(bed.close)
        return bed

    def close(self):
        if self.tb is not None:
            self.tb.close()
        cleanup_workdir(self.dir)


def sign_message(key, name, payload, topic=None, iat=True, cose=False):
    """A message signed by `dance sign` with key as name, bound to topic
    when given; iat as the default options require. cose: a COSE_Sign1
    (binary, returned as written) instead of a compact JWS."""
    argv = [DANCE, "sign", "--key", key, "--name", name]
    argv.append("--iat" if iat else "--no-iat")
    if topic is not None:
        argv += ["--topic", topic]
    if cose:
        argv.append("--cose")
    p = subprocess.run(argv, input=payload.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("dance sign failed: %s" % p.stderr.decode())
    return p.stdout if cose else p.stdout.strip()


def tamper_cose(msg, payload):
    """Flip one bit of payload (bytes) inside a COSE_Sign1, leaving the CBOR
    valid, so that only the signature check can notice."""
    i = msg.index(payload)
    return msg[:i] + bytes([msg[i] ^ 0x01]) + msg[i + 1:]


class Broker:
    """/usr/sbin/mosquitto with the plugin, on a free loopback TLS port."""

    def __init__(self, directory, pki, options, extra_conf="", plugin=True,
                 per_listener_settings=False, env=None):
        self.dir = directory
        self.env = dict(env or {})     # added to the broker's environment
        self.pki = pki
        self.options = dict(options)
        self.extra_conf = extra_conf
        self.plugin = plugin
        self.per_listener_settings = per_listener_settings
        self.port = None
        self.proc = None
        self.conf = os.path.join(directory, "mosquitto.conf")
        # log_dest file: Mosquitto flushes it per line (stdout it buffers).
        # stdout/stderr are kept too: errors before logging starts go there.
        self.logfile = os.path.join(directory, "mosquitto.log")
        self.outfile = os.path.join(directory, "mosquitto.out")
        self._outf = None

    def write_conf(self):
        self.port = free_port()
        lines = [
            "per_listener_settings %s" % ("true" if self.per_listener_settings else "false"),
            "allow_anonymous false",
            "persistence false",
            "log_dest file %s" % self.logfile,
            "log_type all",
            "connection_messages true",
            "log_timestamp true",
            "log_timestamp_format %H:%M:%S",
        ]
        if os.geteuid() == 0:
            # CI runs as root; without this mosquitto switches to the
            # "mosquitto" user, which may not read the test's files.
            lines.append("user root")
        lines += [
            "listener %d 127.0.0.1" % self.port,
            "cafile %s" % self.pki.ca,
            "certfile %s" % self.pki.server,
            "keyfile %s" % self.pki.server_key,
            "require_certificate true",
        ]
        if self.plugin:
            lines.append("plugin %s" % PLUGIN)
            for k, v in self.options.items():
                lines.append("plugin_opt_%s %s" % (k, v))
        if self.extra_conf:
            lines.append(self.extra_conf)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait=True):
        """Start the broker; with wait, return once it accepts connections
        (raise if it exits first)."""
        self.write_conf()
        self._outf = open(self.outfile, "a")
        env = dict(os.environ)
        env.update(self.env)
        if PRELOAD:
            env["LD_PRELOAD"] = PRELOAD
            env["ASAN_OPTIONS"] = ASAN_OPTIONS
            env["UBSAN_OPTIONS"] = "print_stacktrace=1"
            env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(HERE, "lsan-mosquitto.supp")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self._outf,
                                     stderr=subprocess.STDOUT, env=env)
        if wait:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited with %d at start:\n%s"
                                       % (self.proc.returncode, self.all_output()))
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("mosquitto did not listen in time:\n" + self.all_output())
        return self

    def wait_exit(self, timeout=20):
        """For configurations the broker must refuse: its exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._outf is not None:
            self._outf.close()
            self._outf = None
        reports = self.sanitizer_reports()
        if reports:
            raise AssertionError("sanitizer report from the broker/plugin:\n" + reports)

    def sanitizer_reports(self):
        out = self._read(self.outfile)
        if any(m in out for m in SANITIZER_MARKS):
            return out[-20000:]
        return ""

    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log(self):
        """The broker's log file (offsets for wait_log refer to it)."""
        return self._read(self.logfile)

    def all_output(self):
        """Log file plus whatever the broker wrote to stdout/stderr."""
        return self.log() + self._read(self.outfile)

    def wait_log(self, needle, timeout=15, start=0):
        """Wait until needle appears in the log after offset start; return
        the log text from start."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[start:]
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise AssertionError("%r not in broker log within %ss" % (needle, timeout))
            time.sleep(0.05)

    def log_size(self):
        return len(self.log())


class Result:
    """What the broker answered one connection attempt."""

    def __init__(self, outcome, rc=None, detail=""):
        self.outcome = outcome      # "accepted", "refused", "tls", "closed", "timeout"
        self.rc = rc
        self.detail = detail

    @property
    def accepted(self):
        return self.outcome == "accepted"

    def __repr__(self):
        return "Result(%s, rc=%r, %s)" % (self.outcome, self.rc, self.detail)


class Session:
    """A paho client with its network loop on a thread of ours (paho's own
    loop thread prints a traceback when the broker rejects the TLS client
    certificate after the handshake; ours records it instead).

    Only that thread touches the client: paho's publish() writes to the
    socket at once when paho runs no loop thread of its own, and two
    threads in one TLS connection corrupt its records (the broker saw
    "bad record mac"). Other threads hand calls over with call()."""

    def __init__(self, client):
        self.client = client
        self.result = None
        self.state = {}
        self.connack = threading.Event()
        self.subscribed = threading.Event()     # SUBACK came back
        self.disconnected = threading.Event()
        self.messages = []
        self._calls = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _run_calls(self):
        while True:
            try:
                fn, done, box = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                box.append(fn(self.client))
            except Exception as e:      # handed back to the caller
                box.append(e)
            done.set()

    def _loop(self):
        while not self._stop.is_set():
            self._run_calls()
            try:
                rc = self.client.loop(timeout=0.05)
            except (ssl.SSLError, OSError) as e:
                self.state.setdefault("tls", str(e))
                rc = -1
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self.disconnected.set()
                self.connack.set()
                break
        self._run_calls()   # nobody waits on a call the loop never ran

    def call(self, fn, timeout=10):
        """Run fn(client) on the loop thread and return what it returned
        (or raise what it raised)."""
        if not self._thread.is_alive() or self._thread is threading.current_thread():
            return fn(self.client)
        done, box = threading.Event(), []
        self._calls.put((fn, done, box))
        self._wake()
        if not done.wait(timeout):
            raise TimeoutError("the session's loop thread did not run the call")
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]

    def _wake(self):
        # paho's loop() waits in select() on its socket pair too; a byte
        # there ends the wait, so a call does not sit out the loop timeout
        sock = getattr(self.client, "_sockpairW", None)
        if sock is not None:
            try:
                sock.send(b"0")
            except OSError:
                pass

    def publish(self, topic, payload, qos=0):
        return self.call(lambda c: c.publish(topic, payload, qos=qos))

    def close(self):
        try:
            self.call(lambda c: c.disconnect())
        except Exception:
            pass
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class MqttClient:
    """A paho client with a DANE-checked certificate and paho's own network
    loop thread (so publish() is safe from any thread): MQTT v5, or 3.1.1
    with v311. Records every message it receives as a dict: topic,
    payload, qos, retain and props (v5 user properties, name -> values)."""

    def __init__(self, broker, cert, key, subscribe=(), label="c", client_id=None,
                 v311=False, retain_as_published=True, timeout=20, bind=True):
        self.timeout = timeout
        self.messages = []
        self.cond = threading.Condition()
        cid = bound_client_id(client_id, cert if bind else None, label=label)
        self.c = mqtt.Client(client_id=cid,
                             protocol=mqtt.MQTTv311 if v311 else mqtt.MQTTv5)
        self.c.tls_set(ca_certs=broker.pki.ca, certfile=cert, keyfile=key,
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.disconnected = threading.Event()
        # the callbacks' arity differs between 3.1.1 and v5: take the rest
        self.c.on_connect = lambda c, u, f, rc, *rest: rc == 0 and self.connected.set()
        self.c.on_subscribe = lambda c, u, mid, *rest: self.subscribed.set()
        self.c.on_disconnect = lambda c, u, rc, *rest: self.disconnected.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(timeout):
            self.c.loop_stop()
            raise AssertionError("%s could not connect" % cid)
        if subscribe:
            if v311:
                self.c.subscribe([(t, 1) for t in subscribe])
            else:
                opts = SubscribeOptions(qos=1, retainAsPublished=retain_as_published)
                self.c.subscribe([(t, opts) for t in subscribe])
            if not self.subscribed.wait(timeout):
                self.close()
                raise AssertionError("%s: no SUBACK" % cid)

    def _on_message(self, c, userdata, msg):
        props = {}
        mp = getattr(msg, "properties", None)     # none at all under 3.1.1
        if mp is not None and hasattr(mp, "UserProperty"):
            for k, v in mp.UserProperty:
                props.setdefault(k, []).append(v)
        with self.cond:
            self.messages.append({"topic": msg.topic, "payload": msg.payload,
                                  "qos": msg.qos, "retain": bool(msg.retain),
                                  "props": props})
            self.cond.notify_all()

    def publish(self, topic, payload, qos=1, retain=False, must=True):
        """Publish; at QoS 1 wait for PUBACK. Returns whether it came (with
        must, its absence is an AssertionError)."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0:
            return True
        info.wait_for_publish(self.timeout)
        if must and not info.is_published():
            raise AssertionError("no PUBACK for %s" % topic)
        return info.is_published()

    def wait(self, pred, count=1, timeout=None):
        """Wait until count messages satisfy pred; return them."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [m for m in self.messages if pred(m)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("only %d of %d expected messages within %ss; "
                                         "have: %r" % (len(got), count, timeout,
                                                       [(m["topic"], m["payload"][:40])
                                                        for m in self.messages[-20:]]))
                self.cond.wait(left)

    def matching(self, pred):
        with self.cond:
            return [m for m in self.messages if pred(m)]

    def on(self, topic):
        return self.matching(lambda m: m["topic"] == topic)

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def connect(broker, cert, key, client_id=None, username=None, timeout=15, keep=False,
            subscribe=None, password=None, port=None, server_tls=False, sub_qos=0,
            bind=True):
    """Connect with a client certificate (cert None: no client certificate,
    over TLS that checks the broker's certificate with server_tls, else
    plain MQTT to port); return a Result (or, with keep, a Session whose
    .result says what happened; the caller closes an accepted one). With
    bind, the client id is bound to the identity (bound_client_id)."""
    cid = (bound_client_id(client_id, cert, username) if bind
           else bound_client_id(client_id))
    client = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311)
    if cert is not None:
        client.tls_set(ca_certs=broker.pki.ca, certfile=cert, keyfile=key,
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    elif server_tls:
        client.tls_set(ca_certs=broker.pki.ca, cert_reqs=ssl.CERT_REQUIRED,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if username is not None:
        client.username_pw_set(username, password)
    session = Session(client)

    def on_connect(c, userdata, flags, rc):
        session.state.setdefault("rc", rc)
        if rc == 0 and subscribe:
            c.subscribe(subscribe, qos=sub_qos)
        session.connack.set()

    def on_disconnect(c, userdata, rc):
        session.state.setdefault("disc", rc)
        session.disconnected.set()
        session.connack.set()

    def on_message(c, userdata, msg):
        session.messages.append((msg.topic, msg.payload.decode(errors="replace")))

    client.on_connect = on_connect
    client.on_subscribe = lambda c, userdata, mid, granted: session.subscribed.set()
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    try:
        client.connect("127.0.0.1", port or broker.port, keepalive=30)
    except (ssl.SSLError, OSError) as e:
        res = Result("tls", detail=str(e))
        session.result = res
        return session if keep else res
    session._thread.start()
    session.connack.wait(timeout)
    st = session.state
    if "rc" in st:
        res = Result("accepted" if st["rc"] == 0 else "refused", st["rc"])
    elif "tls" in st:
        res = Result("tls", detail=st["tls"])
    elif "disc" in st or session.disconnected.is_set():
        res = Result("closed", st.get("disc"))
    else:
        res = Result("timeout")
    session.result = res
    if keep and res.accepted:
        return session
    session.close()
    return session if keep else res


class PlainBroker:
    """Stock Mosquitto without the plugin on a free loopback port, plain
    MQTT, anonymous: the far end of a bridge under test."""

    def __init__(self, parent_dir):
        self.dir = tempfile.mkdtemp(prefix="dance-remote-", dir=parent_dir)
        self.port = free_port()
        conf = os.path.join(self.dir, "remote.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    % self.port)
            if os.geteuid() == 0:
                f.write("user root\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the plain broker did not listen on %d" % self.port)
                time.sleep(0.05)

    def publish(self, topic, payload, retain=False):
        argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1",
                "-t", topic, "-m", payload]
        if retain:
            argv.append("-r")
        run(argv)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


class OwnBridgeMixin:
    """Listed before a test case class whose setUpClass starts the broker
    under test: starts a PlainBroker (cls.remote, in remote_parent()) first
    and appends the broker's own outgoing bridge to it (MQTT v5, importing
    bridge_topics) to the class attribute named bridge_conf_attr, which the
    broker's configuration takes; stops the remote after the case."""

    bridge_name = "remote"
    bridge_topics = ("#",)
    bridge_conf_attr = "extra_conf"

    @classmethod
    def remote_parent(cls):
        raise NotImplementedError("the directory the remote broker runs in")

    @classmethod
    def setUpClass(cls):
        cls.remote = PlainBroker(cls.remote_parent())
        base = getattr(cls, cls.bridge_conf_attr)
        conf = ("connection %s\naddress 127.0.0.1:%d\nbridge_protocol_version mqttv50\n"
                % (cls.bridge_name, cls.remote.port))
        conf += "".join("topic %s in 1\n" % t for t in cls.bridge_topics)
        setattr(cls, cls.bridge_conf_attr,
                base + ("\n" if base and not base.endswith("\n") else "") + conf)
        try:
            super().setUpClass()
        except BaseException:
            cls.remote.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.remote.stop()


def kill_when_up(argv, timeout=20):
    """Run argv, a child that prints "up" once it is connected, then kill
    it (SIGKILL: the connection drops as when a device loses power, so the
    broker sends its will). Returns the child's first line."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        return p.stdout.readline().strip()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=timeout)
        p.stdout.close()


def close_all(clients):
    """Close every client; one that fails to close keeps no other open."""
    for c in clients:
        try:
            c.close()
        except Exception:
            pass


class PluginTestCase(unittest.TestCase):
    """Shows the broker log when a test fails."""

    broker = None

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        r = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > failures:
            for b in self.brokers_to_show():
                sys.stderr.write("\n----- broker log (%s) -----\n%s\n-----\n"
                                 % (b.logfile, b.all_output()[-20000:]))
        return r

    def brokers_to_show(self):
        return [self.broker] if self.broker is not None else []
