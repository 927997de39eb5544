#!/usr/bin/python3
"""bench.py - run the mosquitto-dance benchmarks and print one line per figure.

Run it through scripts/bench (which finds the build directory); the
bench/README.md says what every figure means.

Every figure is measured side by side with its baseline in the same run:
the two are run alternately (A B, B A, A B, ...) and each side's median is
taken, so that a change in machine load hits both alike. Each figure
prints exactly one line:

    bench <name>: <value> <unit> | baseline <value> <unit> | ratio <r> | target <op> <t> | PASS|FAIL

Sub-figures the issue asks to report without a target print "target none |
INFO". A figure that could not be measured prints "... | ERROR <why>" in
place of the value, so that a broken set-up is never mistaken for a result.

Real parts only: /usr/sbin/mosquitto with and without the built plugin, the
DNSSEC test bed (knotd, tests/testbed/dnstestbed.py), C load generators
from bench/ (build/bench/bench_*), traffic to 127.0.0.1 only.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from dnsproxy import DnsProxy  # noqa: E402
from dnstestbed import ALL_ZONES, Testbed  # noqa: E402

MOSQUITTO = os.environ.get("DANCE_MOSQUITTO", "/usr/sbin/mosquitto")
VALGRIND = "/usr/bin/valgrind"
# The broker's OpenSSL settings that doc/operations.md recommends for
# reconnect storms (stateful TLS 1.3 tickets); the storm and memory figures
# give them to both the plugin's broker and stock Mosquitto.
STATEFUL_TICKETS = {"OPENSSL_CONF": os.path.join(REPO, "examples", "mosquitto-openssl.cnf")}
UNBOUND = "/usr/sbin/unbound"
ORG = "acme.example"

FIGURES = ["verify-es256", "verify-ed25519", "verify-rs256", "verify-cose-es256",
           "decrypt-verify-rsa", "decrypt-verify-ecdh", "cache-memory", "replay-memory",
           "connect", "cold-storm", "passthrough", "passthrough-instructions",
           "verified-pipeline",
           "dns-per-message", "queries-per-cold-lookup", "connected-memory",
           "forwarded-pipeline", "dns-load", "revocation-reach"]
# Lines each figure prints (the smoke test checks all are there).
LINES = {
    "verify-es256": ["verify-es256"],
    "verify-ed25519": ["verify-ed25519"],
    "verify-rs256": ["verify-rs256"],
    "verify-cose-es256": ["verify-cose-es256", "verify-cose-es256-size"],
    "decrypt-verify-rsa": ["decrypt-verify-rsa"],
    "decrypt-verify-ecdh": ["decrypt-verify-ecdh"],
    "cache-memory": ["cache-memory", "cache-memory-all-keys"],
    "replay-memory": ["replay-memory"],
    "connect": ["connect"],
    "cold-storm": ["cold-storm", "cold-storm-all-connected",
                   "cold-storm-all-connected-stateless-tickets",
                   "cold-storm-all-connected-full-handshakes", "cold-storm-refused-per-device",
                   "cold-storm-retries-resumed", "restart-storm-all-connected",
                   "restart-storm-refused-per-device"],
    "passthrough": ["passthrough"],
    "passthrough-instructions": ["passthrough-instructions"],
    "verified-pipeline": ["verified-pipeline", "verified-latency-p50",
                          "verified-latency-p99"],
    "dns-per-message": ["dns-per-message"],
    "queries-per-cold-lookup": ["queries-per-cold-lookup", "queries-per-cold-lookup-unbound",
                                "cold-lookup-time-unbound"],
    "connected-memory": ["connected-rss", "connected-rss-per-device"],
    "forwarded-pipeline": ["forwarded-pipeline"],
    "dns-load": ["dns-load-direct", "dns-load-shared-resolver"],
    "revocation-reach": ["revocation-reach-max", "revocation-reach-median"],
}
# Lines printed only when an option asks for them (not in the smoke test).
STORM_10K_LINES = ["cold-storm-10k-all-connected", "cold-storm-10k-refused-per-device"]


def log(msg):
    """Progress goes to stderr; stdout carries only the result lines."""
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class BenchError(Exception):
    """A figure could not be measured; the message says why."""


def fmt_num(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def result_line(name, value, unit, base, base_unit, op, target, target_unit=None):
    """The one line of a figure. op is '>=' or '<='; the target applies to
    the ratio when target_unit is None, else to the value itself. op None
    means a reported sub-figure without a target."""
    ratio = (value / base) if (base not in (None, 0) and value is not None) else None
    if op is None:
        verdict, tgt = "INFO", "none"
    else:
        subject = ratio if target_unit is None else value
        ok = subject is not None and (subject >= target if op == ">=" else subject <= target)
        verdict = "PASS" if ok else "FAIL"
        tgt = "%s %s%s" % (op, fmt_num(target), (" " + target_unit) if target_unit else "")
    return "bench %s: %s %s | baseline %s %s | ratio %s | target %s | %s" % (
        name, fmt_num(value), unit, fmt_num(base), base_unit,
        "%.3f" % ratio if ratio is not None else "-", tgt, verdict)


def error_line(name, why):
    why = " ".join(str(why).split())[:300]
    return "bench %s: - | baseline - | ratio - | target - | ERROR %s" % (name, why)


EMITTED = []
LINE_RE = re.compile(r"^bench ([a-z0-9-]+): \S+ \S.* \| baseline \S+ \S.* \| ratio \S+ \| "
                     r"target (?:(?:<=|>=) \S+(?: \S.*)?|none) \| (PASS|FAIL|INFO)$")


def emit(line):
    EMITTED.append(line)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def check_lines(figures):
    """Every expected line printed and well formed (a measured figure, PASS,
    FAIL or INFO; ERROR lines do not count). Returns the missing names."""
    seen = {m.group(1) for m in (LINE_RE.match(l) for l in EMITTED) if m}
    return [n for f in figures for n in LINES[f] if n not in seen]


def check_names(names):
    """The names among `names` without a measured line."""
    seen = {m.group(1) for m in (LINE_RE.match(l) for l in EMITTED) if m}
    return [n for n in names if n not in seen]


def median(xs):
    return statistics.median(xs) if xs else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHILD_CPU = [0.0]       # CPU seconds of the last program run() waited for


def run(argv, timeout=600, check=True, env=None):
    """Run a program; return its stdout. Raise BenchError with its stderr
    when it fails. CHILD_CPU[0] gets the CPU time it used (user + system),
    which tells whether a load generator was itself the bottleneck."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise BenchError("%s did not finish within %d s" % (os.path.basename(argv[0]), timeout))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CHILD_CPU[0] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if check and p.returncode != 0:
        raise BenchError("%s failed (exit %d): %s" % (
            os.path.basename(argv[0]), p.returncode, (p.stderr or p.stdout).strip()[-500:]))
    return p.stdout


def kv(text, key, conv=float):
    """Value after `key` in 'key value key value' lines."""
    for line in text.splitlines():
        parts = line.split()
        for i in range(len(parts) - 1):
            if parts[i] == key:
                return conv(parts[i + 1])
    raise BenchError("no %r in output: %s" % (key, text.strip()[-300:]))


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def children_cpu_seconds():
    """user + system CPU of this process's waited-for children, in seconds"""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_fd_limit(n=65536):
    """Room for n descriptors: the broker holds one per device, and so does
    the storm client. As root the hard limit is raised too (the soft limit
    alone stops at it, 20,000 on the development machine)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, n))
            hard = n
        except (ValueError, OSError):
            pass
    want = max(soft, min(n, hard)) if hard != resource.RLIM_INFINITY else max(soft, n)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# --------------------------------------------------------------- set-up

class Env:
    """Paths, the work directory, the DNS test bed and the PKI of a run."""

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        # alternating rounds per figure: five for real figures (the median of
        # five), three in the smoke run
        self.rounds = args.rounds or (3 if args.quick else 5)
        self.build = os.path.abspath(args.build_dir)
        self.bin = os.path.join(self.build, "bench")
        self.plugin = os.path.join(self.build, "mosquitto_dance.so")
        for prog in ("bench_verify", "bench_decrypt", "bench_cachemem", "bench_replaymem", "bench_pki",
                     "bench_connect", "bench_storm", "bench_pubsub"):
            if not os.access(os.path.join(self.bin, prog), os.X_OK):
                raise SystemExit("bench: %s not built in %s (build the project first)"
                                 % (prog, self.bin))
        self.work = tempfile.mkdtemp(prefix="dance-bench-")
        os.chmod(self.work, 0o755)
        self.tb = None
        self.devices = []          # [(name, cert, key, tlsa)]
        self.ca = os.path.join(self.work, "pki", "ca.pem")

    def prog(self, name):
        return os.path.join(self.bin, name)

    def testbed(self):
        if self.tb is None:
            log("starting the DNSSEC test bed (knotd)")
            # TTL 300 s: the test bed's default and a common choice for
            # device records; every benchmark window is far shorter.
            self.tb = Testbed(os.path.join(self.work, "dns"), default_ttl=300,
                              negative_ttl=60)
        return self.tb

    def pki(self, count):
        """At least `count` device identities with certificates, and their
        TLSA records published in the test bed."""
        if len(self.devices) >= count:
            return self.devices[:count]
        d = os.path.join(self.work, "pki")
        os.makedirs(d, exist_ok=True)
        tb = self.testbed()
        if not self.devices:
            run([self.prog("bench_pki"), "--dir", d, "--ca-only"])
            self._server_cert(d)
        have = len(self.devices)
        log("making %d device identities" % (count - have))
        out = run([self.prog("bench_pki"), "--dir", d, "--reuse-ca", "--first", str(have),
                   "--count", str(count - have)])
        devs = []
        for line in out.splitlines():
            f = line.split(None, 3)
            devs.append((f[0], f[1], f[2], f[3]))
        tb.set_many("TLSA", [(name, tlsa) for name, _, _, tlsa in devs])
        tb.publish()
        self.devices = self.devices + devs
        with open(self.devices_file(), "w") as f:
            for dev in self.devices:
                f.write(" ".join(dev) + "\n")
        return self.devices[:count]

    def senders(self, count):
        """`count` JWS sender identities whose TLSA record holds the key
        itself (3 1 0), which is what lets a message be verified straight
        from DNS; published in the test bed. Returns the senders file."""
        path = os.path.join(self.work, "pki", "senders.txt")
        if getattr(self, "_nsenders", 0) == count:
            return path
        if getattr(self, "_nsenders", 0):
            raise BenchError("sender identities were made for another count")
        self.pki(1)
        d = os.path.join(self.work, "pki")
        log("making %d JWS sender identities (TLSA 3 1 0)" % count)
        out = run([self.prog("bench_pki"), "--dir", d, "--reuse-ca", "--count", str(count),
                   "--prefix", "snd", "--selector", "1", "--mtype", "0"])
        tb = self.testbed()
        for line in out.splitlines():
            f = line.split(None, 3)
            tb.set_records(f[0], "TLSA", [f[3]])
        tb.publish()
        with open(path, "w") as f:
            f.write(out)
        self._nsenders = count
        return path

    def devices_file(self):
        return os.path.join(self.work, "pki", "devices.txt")

    def _server_cert(self, d):
        key, csr, ext, cert = (os.path.join(d, n) for n in
                               ("server.key", "server.csr", "server.ext", "server.pem"))
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=localhost"])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, "ca.pem"),
             "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-days", "30",
             "-extfile", ext, "-out", cert])
        for n in os.listdir(d):
            os.chmod(os.path.join(d, n), 0o644)
        self.server_cert, self.server_key = cert, key

    def close(self):
        if self.tb is not None:
            self.tb.close()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("work directory kept: %s" % self.work)


class Broker:
    """/usr/sbin/mosquitto on a free loopback port: TLS with client
    certificates, and either the plugin (DANE) or stock certificate
    authentication (use_identity_as_username) on the same certificates."""

    def __init__(self, env, name, plugin_opts=None, extra_conf="", cpus=None,
                 callgrind_out=None, environ=None):
        self.env = env
        self.environ = dict(os.environ, **(environ or {}))
        self.cpus = cpus                # pin every broker thread to these CPUs
        self.callgrind_out = callgrind_out  # run under valgrind's callgrind
        self.name = name
        self.plugin_opts = plugin_opts
        self.extra_conf = extra_conf
        self.dir = os.path.join(env.work, "broker-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = None
        self.proc = None
        self.logfile = os.path.join(self.dir, "mosquitto.log")

    def start(self):
        self.port = free_port()
        e = self.env
        lines = [
            "per_listener_settings false",
            "persistence false",
            "log_dest file %s" % self.logfile,
            "log_timestamp true",
            "max_connections -1",
            # Without it Nagle's algorithm holds the CONNACK record behind the
            # TLS 1.3 session tickets until the client's delayed ACK (40 ms).
            "set_tcp_nodelay true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += [
            "listener %d 127.0.0.1" % self.port,
            "cafile %s" % e.ca,
            "certfile %s" % e.server_cert,
            "keyfile %s" % e.server_key,
            "require_certificate true",
        ]
        if self.plugin_opts is None:
            # Stock Mosquitto's own certificate authentication: the chain is
            # checked against cafile and the certificate names the user.
            lines += ["use_identity_as_username true", "allow_anonymous false"]
        else:
            lines += ["allow_anonymous false", "plugin %s" % e.plugin]
            for k, v in self.plugin_opts.items():
                lines.append("plugin_opt_%s %s" % (k, v))
        if self.extra_conf:
            lines.append(self.extra_conf)
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        out = open(os.path.join(self.dir, "mosquitto.out"), "a")
        cpus = self.cpus

        def prepare():
            raise_fd_limit()
            if cpus:
                # before exec: the plugin's threads inherit it
                os.sched_setaffinity(0, cpus)
        argv = [MOSQUITTO, "-c", conf]
        if self.callgrind_out:
            argv = [VALGRIND, "--tool=callgrind", "--callgrind-out-file=" + self.callgrind_out,
                    "--dump-instr=no"] + argv
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                     preexec_fn=prepare, env=self.environ)
        out.close()
        deadline = time.monotonic() + (120 if self.callgrind_out else 20)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise BenchError("mosquitto (%s) exited at start: %s" % (
                    self.name, self.output()[-800:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BenchError("mosquitto (%s) did not listen in time" % self.name)

    def output(self):
        text = ""
        for n in ("mosquitto.log", "mosquitto.out"):
            try:
                with open(os.path.join(self.dir, n), errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def rss_kib(self):
        return proc_rss_kib(self.proc.pid)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120 if self.callgrind_out else 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def dane_opts(env, **more):
    tb = env.testbed()
    opts = {
        "allowed_domains": ORG,
        "resolver": tb.upstream,
        "trust_anchor": tb.trust_anchor,
        "cafile": env.ca,
    }
    opts.update(more)
    for kvp in env.args.plugin_opt:
        k, _, v = kvp.partition("=")
        opts[k] = v
    return opts


def cpu_str(pairs):
    """[(broker, client)] CPU shares (1.0 = one core busy) for the log."""
    return " ".join("%.2f/%.2f" % p for p in pairs)


def alternate(n, side_a, side_b):
    """Run side_a and side_b n times each, alternating which goes first;
    return (results_a, results_b)."""
    ra, rb = [], []
    for i in range(n):
        if i % 2 == 0:
            ra.append(side_a())
            rb.append(side_b())
        else:
            rb.append(side_b())
            ra.append(side_a())
    return ra, rb


# --------------------------------------------------------------- figures

def fig_verify(env, alg, cose=False):
    """verify-<alg>: dance_jws_verify_message with warm caches vs raw EVP.
    cose (verify-cose-<alg>): the same for COSE_Sign1 messages, the raw
    side verifying their Sig_structure; and the message size against the
    compact JWS of the same payload and header (INFO)."""
    rounds = env.rounds
    seconds = 0.2 if env.quick else 1.0
    name = ("verify-cose-" if cose else "verify-") + alg
    out = run([env.prog("bench_verify"), "--alg", alg, "--rounds", str(rounds),
               "--seconds", str(seconds)] + (["--cose"] if cose else []))
    lib = [float(l.split()[2]) for l in out.splitlines() if l.startswith("run lib")]
    raw = [float(l.split()[2]) for l in out.splitlines() if l.startswith("run raw")]
    if kv(out, "dns_queries", int) != 0:
        raise BenchError("the cache was not warm: DNS was asked")
    log("%s lib %s raw %s msgs/s" % (name, [round(x) for x in lib], [round(x) for x in raw]))
    emit(result_line(name, median(lib), "msgs/s", median(raw), "msgs/s", ">=", 0.80))
    if cose:
        emit(result_line(name + "-size", kv(out, "msg_bytes", float), "bytes",
                         kv(out, "jws_bytes", float), "bytes (compact JWS)", None, None))


def fig_decrypt_verify(env, kind):
    """decrypt-verify-<kind>: dance_jwe_decrypt then dance_jws_verify_message
    (warm caches) vs raw OpenSSL doing the same unwrap, decryption and
    signature check (bench_decrypt.c says exactly what each side does)."""
    seconds = 0.2 if env.quick else 1.0
    out = run([env.prog("bench_decrypt"), "--kind", kind, "--rounds", str(env.rounds),
               "--seconds", str(seconds)])
    lib = [float(l.split()[2]) for l in out.splitlines() if l.startswith("run lib")]
    raw = [float(l.split()[2]) for l in out.splitlines() if l.startswith("run raw")]
    if kv(out, "dns_queries", int) != 0:
        raise BenchError("the cache was not warm: DNS was asked")
    log("decrypt-verify-%s lib %s raw %s msgs/s" % (kind, [round(x) for x in lib],
                                                     [round(x) for x in raw]))
    emit(result_line("decrypt-verify-" + kind, median(lib), "msgs/s", median(raw), "msgs/s",
                     ">=", 0.80))


def fig_cache_memory(env):
    """cache-memory: resident memory per cached identity, as the plugin holds
    it with its defaults (every TLSA answer, the key_cache_size most recently
    used keys decoded); then the what-if of every key decoded."""
    n = 2000 if env.quick else 100000
    res = {}
    for what, extra in (("default", []), ("all", ["--key-cache", "0"])):
        out = run([env.prog("bench_cachemem"), "--identities", str(n)] + extra, timeout=900)
        res[what] = out
        log("cache-memory: %d identities, %d keys decoded: TLSA answer %.0f B + decoded "
            "keys %.0f B per identity (DNS data %.0f B)" % (
                n, kv(out, "key_cache", int), kv(out, "tlsa_bytes"), kv(out, "key_bytes"),
                kv(out, "data_bytes")))
    data = kv(res["default"], "data_bytes")
    emit(result_line("cache-memory", kv(res["default"], "total_bytes") / 1024, "KiB",
                     data / 1024, "KiB", "<=", 2, "KiB"))
    emit(result_line("cache-memory-all-keys", kv(res["all"], "total_bytes") / 1024, "KiB",
                     data / 1024, "KiB", None, None, "KiB"))


def fig_replay_memory(env):
    """replay-memory: resident bytes per message held in the message
    replay cache (1,000,000 messages of 100,000 senders, keys as the
    verifier makes them for messages without jti) vs the bytes of the keys
    and names themselves. What plugin_opt_replay_cache_size costs."""
    n = 20000 if env.quick else 1000000
    res = []
    for _ in range(min(env.rounds, 3)):
        out = run([env.prog("bench_replaymem"), "--messages", str(n), "--per-sender", "10"])
        res.append((kv(out, "replay_bytes"), kv(out, "data_bytes")))
        log("replay-memory: %s" % " ".join(out.split()))
    emit(result_line("replay-memory", median([r[0] for r in res]), "B/msg",
                     median([r[1] for r in res]), "B/msg", None, None))


def fig_connect(env):
    """connect: DANE mutual-TLS CONNECT/CONNACK rate, warm cache, vs stock."""
    devs = env.pki(50)
    dfile = env.devices_file()
    rounds = env.rounds
    seconds = 0.5 if env.quick else 4.0
    dance = Broker(env, "connect-dance", dane_opts(env))
    stock = Broker(env, "connect-stock")
    try:
        dance.start()
        stock.start()
        for b in (dance, stock):
            out = run([env.prog("bench_connect"), "--port", str(b.port), "--devices", dfile,
                       "--limit", str(len(devs)), "--warm"], timeout=120)
            log("connect: warmed %s: %s" % (b.name, out.strip()))
        cpu = {dance.name: [], stock.name: []}

        def side(b):
            def go():
                c0 = b.cpu()
                out = run([env.prog("bench_connect"), "--port", str(b.port), "--devices",
                           dfile, "--limit", str(len(devs)), "--seconds", str(seconds),
                           "--threads", "4"], timeout=120)
                if kv(out, "refused", int) or kv(out, "errors", int):
                    raise BenchError("connections failed during the run: %s" % out.strip())
                el = kv(out, "seconds")
                cpu[b.name].append(((b.cpu() - c0) / el, CHILD_CPU[0] / el))
                return kv(out, "rate")
            return go
        rd, rs = alternate(rounds, side(dance), side(stock))
        log("connect: dance %s stock %s conn/s; CPU (broker, client) dance %s stock %s" % (
            [round(x) for x in rd], [round(x) for x in rs], cpu_str(cpu[dance.name]),
            cpu_str(cpu[stock.name])))
        emit(result_line("connect", median(rd), "conn/s", median(rs), "conn/s", ">=", 0.90))
    finally:
        dance.stop()
        stock.stop()


class DelayProxy:
    """bench/dnsdelay.py in front of the test bed's knotd."""

    def __init__(self, env, delay_ms):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "dnsdelay.py"), "--upstream",
             env.testbed().upstream, "--delay-ms", str(delay_ms)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            self.stop()
            raise BenchError("the delaying DNS proxy did not start")
        self.upstream = "127.0.0.1@%s" % line[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


STORM_KEYS = ("connected", "seconds", "attempts", "refused", "errors", "resumed", "rtt_n",
              "rtt_p50_ms", "rtt_p99_ms", "rtt_max_ms", "lost")


def storm_run(env, broker, count, resume, hold=None):
    """bench_storm against broker: `count` devices (1 .. count), refused
    devices retry after 1 s (resuming their TLS session with resume).
    hold(result) is called while every connection is still open. Returns
    the parsed result line."""
    argv = [env.prog("bench_storm"), "--port", str(broker.port), "--devices",
            env.devices_file(), "--probe", "0", "--first", "1", "--count", str(count),
            "--threads", "16", "--retry-ms", "1000", "--deadline-s", "900"]
    if resume:
        argv.append("--resume")
    if hold is None:
        out = run(argv, timeout=1000)
    else:
        # keep the connections open while hold() looks at the broker
        p = subprocess.Popen(argv + ["--hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            out = p.stdout.readline()
            if not out.startswith("connected "):
                p.kill()
                raise BenchError("bench_storm failed: %s" % (p.stderr.read() or out).strip()[-500:])
            r = {k: kv(out, k) for k in STORM_KEYS}
            hold(r)
        finally:
            if p.poll() is None:
                p.stdin.close()
                try:
                    p.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    r = {k: kv(out, k) for k in STORM_KEYS}
    if r["connected"] < count:
        raise BenchError("only %d of %d devices connected within the deadline (%s)"
                         % (r["connected"], count, out.strip()))
    return r


def fig_cold_storm(env):
    """cold-storm: N distinct devices connect with a cold cache while every
    DNS answer is 50 ms late; RTT p99 of a connected client during the
    storm, and the time until all are in, with storm clients that resume
    their TLS session on a retry and with full handshakes on every retry.
    Baseline: the same storm against stock Mosquitto (no DNS at all, so no
    retries either). Both brokers run with stateful TLS 1.3 tickets
    (STATEFUL_TICKETS, as recommended); the storm is also run against the
    plugin's broker with OpenSSL's default stateless tickets.

    restart-storm: the resuming storm against a broker that was just
    restarted with plugin_opt_identities_file, the file written by a
    previous run of the same storm (so every device is named in it): the
    prefetch and the devices start together, as after a restart."""
    count = env.args.storm_devices or (20 if env.quick else 2000)
    rounds = env.rounds
    env.pki(count + 1)
    proxy = DelayProxy(env, 50)
    sides = ("resume", "stateless", "full", "stock", "restart")
    res = {k: [] for k in sides}
    previous = os.path.join(env.work, "identities-previous-run")
    try:
        # the previous run: the same storm once, leaving the identities file
        b = Broker(env, "storm-previous", dane_opts(env, resolver=proxy.upstream,
                                                    identities_file=previous),
                   environ=STATEFUL_TICKETS).start()
        try:
            storm_run(env, b, count, resume=True)
        except BenchError as e:
            raise BenchError("previous run for restart-storm: %s" % e)
        finally:
            b.stop()

        def one(kind):
            opts = dane_opts(env, resolver=proxy.upstream) if kind != "stock" else None
            if kind == "restart":
                # a fresh copy each time: the broker rewrites its file
                opts["identities_file"] = os.path.join(env.work, "identities-restart")
                shutil.copyfile(previous, opts["identities_file"])
            b = Broker(env, "storm-%s" % kind, opts,
                       environ=None if kind == "stateless" else STATEFUL_TICKETS).start()
            proxy_cpu0 = proc_cpu_seconds(proxy.proc.pid)
            client_cpu0 = children_cpu_seconds()
            try:
                r = storm_run(env, b, count, resume=(kind in ("resume", "stateless")))
                # CPU seconds of the broker (its DNS thread included), of the
                # delaying proxy and of the storm's clients, which share the
                # machine's cores
                cpu = (b.cpu(), proc_cpu_seconds(proxy.proc.pid) - proxy_cpu0,
                       children_cpu_seconds() - client_cpu0)
            except BenchError as e:
                raise BenchError("%s: %s" % (kind, e))
            finally:
                b.stop()
            log("cold-storm %s: %s broker_cpu_s %s dns_proxy_cpu_s %s clients_cpu_s %s"
                % (kind, " ".join("%s %s" % (k, fmt_num(r[k])) for k in STORM_KEYS),
                   fmt_num(cpu[0]), fmt_num(cpu[1]), fmt_num(cpu[2])))
            res[kind].append(r)
        # the three sides in turn, each round starting one further on
        for i in range(rounds):
            for j in range(len(sides)):
                one(sides[(i + j) % len(sides)])
    finally:
        proxy.stop()

    def med(kind, key):
        return median([r[key] for r in res[kind]])

    def per_device(kind, key):
        return median([r[key] / count for r in res[kind]])

    def resumed_share(kind):
        # retries = attempts beyond each device's first
        return median([r["resumed"] / max(1, r["attempts"] - count) for r in res[kind]])
    emit(result_line("cold-storm", med("resume", "rtt_p99_ms"), "ms", med("stock", "rtt_p99_ms"),
                     "ms", "<=", 250, "ms"))
    emit(result_line("cold-storm-all-connected", med("resume", "seconds"), "s",
                     med("stock", "seconds"), "s", "<=", 1.5))
    emit(result_line("cold-storm-all-connected-stateless-tickets", med("stateless", "seconds"),
                     "s", med("stock", "seconds"), "s", None, None))
    emit(result_line("cold-storm-all-connected-full-handshakes", med("full", "seconds"), "s",
                     med("stock", "seconds"), "s", None, None))
    emit(result_line("cold-storm-refused-per-device", per_device("resume", "refused"),
                     "refusals", per_device("full", "refused"), "refusals", None, None))
    share = resumed_share("resume")
    if share == 0:
        log("cold-storm: the broker resumed none of the storm clients' TLS sessions")
    emit(result_line("cold-storm-retries-resumed", share, "of retries",
                     resumed_share("full"), "of retries", None, None))
    emit(result_line("restart-storm-all-connected", med("restart", "seconds"), "s",
                     med("stock", "seconds"), "s", "<=", 1.5))
    emit(result_line("restart-storm-refused-per-device", per_device("restart", "refused"),
                     "refusals", per_device("resume", "refused"), "refusals", None, None))
    if env.args.storm_10k:
        try:
            storm_10k(env)
        except BenchError as e:
            for name in STORM_10K_LINES:
                emit(error_line(name, e))


def storm_10k(env):
    """--storm-10k: the storm with 10,000 devices (resuming on a retry),
    one run against each broker."""
    count = 10000
    env.pki(count + 1)
    proxy = DelayProxy(env, 50)
    res = {}
    try:
        for kind in ("resume", "stock"):
            opts = dane_opts(env, resolver=proxy.upstream) if kind != "stock" else None
            b = Broker(env, "storm10k-%s" % kind, opts, environ=STATEFUL_TICKETS).start()
            try:
                res[kind] = storm_run(env, b, count, resume=True)
            finally:
                b.stop()
            log("cold-storm-10k %s: %s" % (kind, " ".join(
                "%s %s" % (k, fmt_num(res[kind][k])) for k in STORM_KEYS)))
    finally:
        proxy.stop()
    emit(result_line("cold-storm-10k-all-connected", res["resume"]["seconds"], "s",
                     res["stock"]["seconds"], "s", None, None))
    emit(result_line("cold-storm-10k-refused-per-device", res["resume"]["refused"] / count,
                     "refusals", res["stock"]["refused"] / count, "refusals", None, None))


VERIFY_TOPICS = "sensors/#"
# The message options of every broker that verifies: the strict profile's
# iat and topic checks, but no replay window, because bench_pubsub cycles
# through a pool of signed messages and the replay cache would refuse every
# message after the first round (a replay check costs one SHA-256 of the
# header and payload and a hash insert, next to a 40 us signature check).
# One publishing client forwards for every sender, as a gateway does: its
# budget of cold sender lookups (sender_lookups_per_client, 10/s, bursts of
# 50 by default) is raised so that the warm-up's cold senders are all
# looked up; the limiter itself is tested, not measured.
VERIFY_OPTS = {"verify_topics": VERIFY_TOPICS, "message_profile": "compat",
               "require_iat": "true", "require_topic_binding": "true",
               "sender_lookups_per_client": "1000/100000"}


def pubsub(env, broker, mode, *extra, timeout=300, cpus=None):
    dev = env.pki(1)[0]
    pre = ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))] if cpus else []
    return run(pre + [env.prog("bench_pubsub"), "--mode", mode, "--port", str(broker.port),
                      "--client", dev[1], dev[2]] + [str(x) for x in extra], timeout=timeout)


def split_cpus():
    """(broker CPUs, client CPUs): one core each when there are two or more,
    so that neither side's scheduling noise (migrations, the two sharing a
    core for a while) lands on the ratio; (None, None) on one core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, {cpus[1]}


def fig_passthrough(env):
    """passthrough: QoS 0 throughput on topics outside verify_topics, plugin
    loaded (verification on for sensors/#) vs stock."""
    env.pki(1)
    rounds = env.rounds if env.quick else max(env.rounds, 7)
    seconds = 0.5 if env.quick else 6.0
    bcpu, ccpu = split_cpus()
    dance = Broker(env, "pt-dance", dane_opts(env, **VERIFY_OPTS), cpus=bcpu)
    stock = Broker(env, "pt-stock", cpus=bcpu)
    cpu = {dance.name: [], stock.name: []}
    try:
        dance.start()
        stock.start()

        def side(b):
            def go():
                c0 = b.cpu()
                out = pubsub(env, b, "passthrough", "--seconds", seconds, "--publishers", 2,
                             "--window", 2000, cpus=ccpu)
                el = kv(out, "seconds")
                cpu[b.name].append(((b.cpu() - c0) / el, CHILD_CPU[0] / el))
                return kv(out, "rate")
            return go
        rd, rs = alternate(rounds, side(dance), side(stock))
    finally:
        dance.stop()
        stock.stop()
    log("passthrough: dance %s stock %s msgs/s; CPU (broker, client) dance %s stock %s" % (
        [round(x) for x in rd], [round(x) for x in rs], cpu_str(cpu[dance.name]),
        cpu_str(cpu[stock.name])))
    emit(result_line("passthrough", median(rd), "msgs/s", median(rs), "msgs/s", ">=", 0.97))


def callgrind_instructions(path):
    """Instructions executed, from a callgrind output file's summary line."""
    with open(path) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise BenchError("no summary line in %s" % path)


def fig_passthrough_instructions(env):
    """passthrough-instructions: instructions the broker executes per
    passthrough message, plugin loaded vs stock, counted by callgrind.
    Exact and free of the machine's timing noise; each side runs twice
    (short and long) and the difference gives the cost of one more message,
    without start-up (the plugin's getdns contexts cost ~100M at start)."""
    env.pki(1)
    lengths = (1.0, 3.0) if env.quick else (10.0, 30.0)
    per_msg = {}
    for side in ("dance", "stock"):
        opts = None
        if side == "dance":
            # valgrind runs the threads one at a time: let the cold lookup
            # at connect finish (start-up only, cancelled out below)
            opts = dane_opts(env, connect_budget_ms=10000, **VERIFY_OPTS)
        points = []
        for secs in lengths:
            name = "ir-%s-%d" % (side, secs)
            path = os.path.join(env.work, name + ".callgrind")
            b = Broker(env, name, opts, callgrind_out=path).start()
            try:
                out = pubsub(env, b, "passthrough", "--seconds", secs, "--publishers", 2,
                             "--window", 2000, timeout=600)
            finally:
                b.stop()
            points.append((kv(out, "received", int), callgrind_instructions(path)))
        (n1, i1), (n2, i2) = points
        if n2 <= n1:
            raise BenchError("passthrough-instructions: the long run (%d messages) did not "
                             "pass more messages than the short one (%d)" % (n2, n1))
        per_msg[side] = (i2 - i1) / (n2 - n1)
        log("passthrough-instructions %s: %d msgs %d instr, %d msgs %d instr: %.0f per message"
            % (side, n1, i1, n2, i2, per_msg[side]))
    emit(result_line("passthrough-instructions", per_msg["dance"], "instr/msg",
                     per_msg["stock"], "instr/msg", "<=", 1.03))


def fig_verified_pipeline(env):
    """verified-pipeline: end-to-end verified ES256 messages per second
    (publisher -> broker -> subscriber on verified/) vs raw single-core
    ES256 verification; then the latency verification adds at 1,000 msg/s."""
    senders = env.senders(100)
    rounds = env.rounds
    seconds = 0.5 if env.quick else 4.0
    lat_seconds = 0.5 if env.quick else 5.0
    b = Broker(env, "pipeline", dane_opts(env, **VERIFY_OPTS)).start()
    try:
        # warm: one message per sender (cold lookups), all must come back
        out = pubsub(env, b, "count", "--senders", senders, "--count", 100,
                     "--per-sender", 1, "--window", 100)
        log("verified-pipeline: warm-up: %s" % out.strip())
        cpu = []

        def pipeline():
            c0 = b.cpu()
            out = pubsub(env, b, "pipeline", "--senders", senders, "--seconds", seconds,
                         "--publishers", 1, "--window", 2000, "--per-sender", 50)
            el = kv(out, "seconds")
            cpu.append(((b.cpu() - c0) / el, CHILD_CPU[0] / el))
            return kv(out, "rate")

        def raw():
            out = run([env.prog("bench_verify"), "--alg", "es256", "--only", "raw",
                       "--rounds", "1", "--seconds", "0.2" if env.quick else "1"])
            return float([l for l in out.splitlines() if l.startswith("run raw")][0].split()[2])
        rp, rr = alternate(rounds, pipeline, raw)
        log("verified-pipeline: %s verified msgs/s, raw ES256 %s verifies/s; CPU (broker "
            "process with verify threads, client) %s" % (
                [round(x) for x in rp], [round(x) for x in rr], cpu_str(cpu)))
        emit(result_line("verified-pipeline", median(rp), "msgs/s", median(rr), "verifies/s",
                         ">=", 0.70))
        lat = []
        for _ in range(rounds):
            out = pubsub(env, b, "latency", "--senders", senders, "--rate", 1000,
                         "--seconds", lat_seconds)
            log("verified-latency: %s" % out.strip())
            if kv(out, "verified", int) < kv(out, "sent", int):
                raise BenchError("not every message came back verified: %s" % out.strip())
            lat.append(out)
        med = lambda k: median([kv(o, k) for o in lat])  # noqa: E731
        emit(result_line("verified-latency-p50", med("added_p50_ms"), "ms",
                         med("base_p50_ms"), "ms", "<=", 2, "ms"))
        emit(result_line("verified-latency-p99", med("added_p99_ms"), "ms",
                         med("base_p99_ms"), "ms", None, None))
    finally:
        b.stop()


def fig_dns_per_message(env):
    """dns-per-message: DNS queries knotd sees while 10,000 messages from
    100 senders are verified at steady state (warm cache). Baseline: what
    the same messages would cost if each needed its own lookup, from the
    queries the cold first message of each sender made in the same round."""
    senders = env.senders(100)
    tb = env.testbed()
    rounds = env.rounds
    count = 1000 if env.quick else 10000
    steady, cold = [], []
    for _ in range(rounds):
        b = Broker(env, "dns", dane_opts(env, **VERIFY_OPTS)).start()
        try:
            # the clients' own identity first, so that only senders count
            run([env.prog("bench_connect"), "--port", str(b.port), "--devices",
                 env.devices_file(), "--limit", "1", "--warm"], timeout=60)
            q0 = tb.query_count()
            pubsub(env, b, "count", "--senders", senders, "--count", 100, "--per-sender", 1,
                   "--window", 100)
            q1 = tb.query_count()
            out = pubsub(env, b, "count", "--senders", senders, "--count", count,
                         "--per-sender", 20, "--window", 2000)
            q2 = tb.query_count()
        finally:
            b.stop()
        cold.append((q1 - q0) / 100.0)
        steady.append((q2 - q1) * 10000.0 / count)
        log("dns-per-message: cold %d queries for 100 senders; steady %d queries for %d "
            "messages (%s)" % (q1 - q0, q2 - q1, count, out.strip()))
    emit(result_line("dns-per-message", median(steady), "queries/10k msgs",
                     median(cold) * 10000, "queries/10k msgs", "<=", 100, "queries/10k msgs"))


class Unbound:
    """A validating, caching unbound in front of the test bed, configured
    as examples/demo runs it (validator + iterator, the fake root's trust
    anchor, a stub zone per test-bed zone), plain DNS on a free loopback
    port, sending every query for the test zones to `upstream_port` (the
    test bed's knotd, or a counting proxy in front of it). It keeps answers
    for their TTL (the demo caps them at 5 s for its revocation walk)."""

    def __init__(self, env, upstream_port):
        tb = env.testbed()
        self.dir = tempfile.mkdtemp(prefix="unbound-", dir=env.work)
        self.port = free_port()
        self.log = os.path.join(self.dir, "unbound.log")
        lines = [
            "server:",
            "  interface: 127.0.0.1@%d" % self.port,
            "  do-ip6: no", "  do-daemonize: no", '  username: ""', '  chroot: ""',
            '  directory: "%s"' % self.dir, '  pidfile: ""', "  use-syslog: no",
            '  logfile: "%s"' % self.log, "  verbosity: 1",
            "  num-threads: 1", "  access-control: 127.0.0.0/8 allow",
            "  do-not-query-localhost: no", "  qname-minimisation: no",
            '  module-config: "validator iterator"',
            '  trust-anchor-file: "%s"' % tb.trust_anchor,
            # the plugin's DNS workers may each keep a TCP connection
            "  incoming-num-tcp: 100",
            "remote-control:", "  control-enable: no",
        ]
        # referrals carry glue for port 53, but every zone lives on one port
        for zone in ALL_ZONES:
            lines += ["stub-zone:", '  name: "%s"' % zone,
                      "  stub-addr: 127.0.0.1@%d" % upstream_port]
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise BenchError("unbound did not start; see %s" % self.log)
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def type_diff(after, before):
    """Per-type query counts between two snapshots, as "TLSA 50 DS 100"."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return " ".join("%s %d" % (k, v) for k, v in sorted(d.items()) if v)


def fig_queries_per_cold_lookup(env):
    """queries-per-cold-lookup: DNS queries one cold TLSA lookup of the
    plugin costs, counted at a proxy in front of the test bed's server:
    with the plugin asking the test bed directly, and with a caching
    validating resolver (unbound) in between, once its cache holds the
    chain. Each side: a fresh broker (and unbound), one device connected
    first (warms unbound with the DS/DNSKEY chain), then `count` more
    devices one after another, each a cold lookup. The authoritative
    server's answers are 50 ms late (a server far away, a resolver near).
    What the saved queries are worth in time: `dance lookup` (a fresh
    getdns context, the same resolver code) of names nobody asked yet,
    one after another, wall time per lookup (the connects' time is rounded
    by their 200 ms retries)."""
    count = 5 if env.quick else 50
    nlookups = 3 if env.quick else 10
    devs = env.pki(count + 1 + nlookups)
    dance = os.path.join(env.build, "dance")
    tb = env.testbed()
    first = os.path.join(env.work, "pki", "qpcl-first.txt")
    cold = os.path.join(env.work, "pki", "qpcl-cold.txt")
    with open(first, "w") as f:
        f.write(" ".join(devs[0]) + "\n")
    with open(cold, "w") as f:
        for dev in devs[1:count + 1]:
            f.write(" ".join(dev) + "\n")
    res = {}
    for kind in ("direct", "unbound"):
        # auth: what reaches the authoritative server; front: what the
        # plugin asks (the same proxy when there is no unbound)
        auth = DnsProxy(tb.port, mode="delay", delay=0.05)
        ub = front = None
        try:
            if kind == "unbound":
                ub = Unbound(env, auth.port)
                front = DnsProxy(ub.port, mode="pass")
            else:
                front = auth
            b = Broker(env, "qpcl-" + kind, dane_opts(env, resolver=front.address)).start()
            try:
                run([env.prog("bench_connect"), "--port", str(b.port), "--devices", first,
                     "--limit", "1", "--warm"], timeout=120)
                a0, f0 = auth.type_counts(), front.type_counts()
                out = run([env.prog("bench_connect"), "--port", str(b.port), "--devices", cold,
                           "--limit", str(count), "--warm"], timeout=600)
                a1, f1 = auth.type_counts(), front.type_counts()
                ms = out.split()[2] if out.startswith("warm ") else "?"
            finally:
                b.stop()
            times = []
            for dev in devs[count + 1:count + 1 + nlookups]:
                t0 = time.monotonic()
                out = run([dance, "lookup", dev[0], "--resolver", front.address,
                           "--trust-anchor", tb.trust_anchor], timeout=60)
                times.append((time.monotonic() - t0) * 1000)
                if "DNSSEC: secure" not in out:
                    raise BenchError("dance lookup %s: %s" % (dev[0], out.strip()[-300:]))
        finally:
            for p in {id(x): x for x in (auth, front) if x is not None}.values():
                p.close()
            if ub is not None:
                ub.stop()
        res[kind] = {
            "auth": (sum(a1.values()) - sum(a0.values())) / count,
            "asked": (sum(f1.values()) - sum(f0.values())) / count,
            "tlsa": (a1.get("TLSA", 0) - a0.get("TLSA", 0)) / count,
            "ms": median(times),
        }
        log("queries-per-cold-lookup %s: %d cold connects in %s ms; the plugin asked %s; "
            "the authoritative server got %s; dance lookup %s ms" % (
                kind, count, ms, type_diff(f1, f0) or "nothing", type_diff(a1, a0) or "nothing",
                [round(t) for t in times]))
    emit(result_line("queries-per-cold-lookup", res["direct"]["auth"], "queries/lookup",
                     res["direct"]["tlsa"], "queries/lookup", None, None))
    log("queries-per-cold-lookup: with unbound in front the plugin still asks %s "
        "queries per lookup (answered from unbound's cache)" % fmt_num(res["unbound"]["asked"]))
    emit(result_line("queries-per-cold-lookup-unbound", res["unbound"]["auth"], "queries/lookup",
                     res["direct"]["auth"], "queries/lookup", None, None))
    emit(result_line("cold-lookup-time-unbound", res["unbound"]["ms"], "ms",
                     res["direct"]["ms"], "ms", None, None))


def fig_connected_memory(env):
    """connected-memory: resident memory of the broker with N DANE devices
    connected (each its own key, certificate and TLSA record), plugin vs
    stock, read while every connection is open; and the growth per device
    over the broker's RSS before the devices came."""
    count = env.args.memory_devices or (50 if env.quick else 10000)
    env.pki(count + 1)
    res = {}
    for kind in ("stock", "dance"):
        b = Broker(env, "mem-" + kind, dane_opts(env) if kind == "dance" else None,
                   environ=STATEFUL_TICKETS).start()
        try:
            time.sleep(0.5)
            idle = b.rss_kib()
            got = {}

            def hold(r):
                # let the broker finish what the last CONNECTs started
                time.sleep(1.0)
                got["rss"] = b.rss_kib()
            t0 = time.monotonic()
            r = storm_run(env, b, count, resume=True, hold=hold)
        finally:
            b.stop()
        res[kind] = (idle, got["rss"])
        log("connected-memory %s: RSS %d kB idle (probe connected), %d kB with %d devices "
            "connected (%.0f s to connect them; %d attempts, %d refused)" % (
                kind, idle, got["rss"], count, time.monotonic() - t0, r["attempts"],
                r["refused"]))
    emit(result_line("connected-rss", res["dance"][1] / 1024, "MiB", res["stock"][1] / 1024,
                     "MiB", None, None))
    emit(result_line("connected-rss-per-device", (res["dance"][1] - res["dance"][0]) / count,
                     "KiB", (res["stock"][1] - res["stock"][0]) / count, "KiB", None, None))


def fig_forwarded_pipeline(env):
    """forwarded-pipeline: what a hub verifies per second: the same signed
    ES256 messages (100 senders, each message once), published under
    forwarded/ by a client listed in plugin_opt_forwarders, as an edge's
    bridge does, and verified again by the hub, vs published on their own
    topics to a broker as devices do (an edge). Both brokers keep the
    replay cache a hub needs (replay_window 600); every run's messages are
    new to it (its own seq range)."""
    senders = env.senders(100)
    per = 10 if env.quick else 200
    count = 100 * per
    dev = env.pki(1)[0]
    opts = dict(VERIFY_OPTS, replay_window="600")
    hub = Broker(env, "fwd-hub", dane_opts(env, forwarders=dev[0], **opts))
    edge = Broker(env, "fwd-edge", dane_opts(env, **opts))
    seq = [0]
    cpu = {hub.name: [], edge.name: []}

    def one(b, prefix, n, per_sender):
        base = seq[0]
        seq[0] += n
        extra = ["--publish-prefix", prefix] if prefix else []
        c0 = b.cpu()
        out = pubsub(env, b, "count", "--senders", senders, "--count", n,
                     "--per-sender", per_sender, "--window", 2000, "--seq-base", base, *extra)
        if kv(out, "verified", int) < n:
            raise BenchError("%s: not every message came back verified: %s"
                             % (b.name, out.strip()))
        el = kv(out, "seconds")
        return out, (b.cpu() - c0) / el, n / el
    try:
        for b, prefix in ((hub, "forwarded/"), (edge, None)):
            b.start()
            # warm: each sender once (the cold lookups), all must come back
            one(b, prefix, 100, 1)

        def side(b, prefix):
            def go():
                out, bc, rate = one(b, prefix, count, per)
                cpu[b.name].append(bc)
                return rate
            return go
        rh, re_ = alternate(env.rounds, side(hub, "forwarded/"), side(edge, None))
        stats = hub.output()
    finally:
        hub.stop()
        edge.stop()
    if "forwarded" not in stats:
        log("forwarded-pipeline: the hub's log does not mention forwarded copies")
    log("forwarded-pipeline: hub %s msgs/s (broker CPU %s), edge %s msgs/s (broker CPU %s)" % (
        [round(x) for x in rh], " ".join("%.2f" % c for c in cpu[hub.name]),
        [round(x) for x in re_], " ".join("%.2f" % c for c in cpu[edge.name])))
    emit(result_line("forwarded-pipeline", median(rh), "msgs/s", median(re_), "msgs/s",
                     None, None))


def ttl_identities(env, prefix, count, ttl, selector=1, mtype=1):
    """`count` identities <prefix><i>._device.acme.example of their own,
    TLSA records published with `ttl` (other figures keep the test bed's
    300 s). Returns [(name, cert, key, tlsa)]."""
    env.pki(1)
    d = os.path.join(env.work, "pki")
    out = run([env.prog("bench_pki"), "--dir", d, "--reuse-ca", "--count", str(count),
               "--prefix", prefix, "--selector", str(selector), "--mtype", str(mtype)])
    tb = env.testbed()
    ids = []
    for line in out.splitlines():
        f = line.split(None, 3)
        tb.set_records(f[0], "TLSA", [f[3]], ttl=ttl)
        ids.append(tuple(f))
    tb.publish()
    path = os.path.join(d, prefix + ".txt")
    with open(path, "w") as f:
        f.write(out)
    return ids, path


def fig_dns_load(env):
    """dns-load: DNS queries per second that reach the authoritative
    server (a counting proxy in front of the test bed) at steady state,
    while two brokers each verify one signed message per second from each
    of N senders whose records have TTL T: dns-load-direct with each broker
    asking the server itself, against the arithmetic 2 x N / T (each
    broker fetches each name once per TTL); dns-load-shared-resolver with
    both brokers behind one caching validating resolver (unbound), against
    the direct figure measured in the same run."""
    n, ttl, seconds = (10, 2, 6) if env.quick else (100, 10, 60)
    _, senders = ttl_identities(env, "ttl", n, ttl, selector=1, mtype=0)
    tb = env.testbed()
    res = {}
    for kind in ("direct", "unbound"):
        auth = DnsProxy(tb.port, mode="pass")
        ub = None
        brokers = []
        try:
            front = auth.address
            if kind == "unbound":
                ub = Unbound(env, auth.port)
                front = "127.0.0.1@%d" % ub.port
            for i in (1, 2):
                brokers.append(Broker(env, "load-%s-%d" % (kind, i),
                                      dane_opts(env, resolver=front, **VERIFY_OPTS)).start())
            for b in brokers:
                pubsub(env, b, "count", "--senders", senders, "--count", n, "--per-sender", 1,
                       "--window", n)
            a0 = auth.type_counts()
            t0 = time.monotonic()
            procs = []
            dev = env.pki(1)[0]
            for b in brokers:
                procs.append(subprocess.Popen(
                    [env.prog("bench_pubsub"), "--mode", "latency", "--port", str(b.port),
                     "--client", dev[1], dev[2], "--senders", senders, "--rate", str(n),
                     "--seconds", str(seconds), "--per-sender", str(seconds)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            outs = []
            for p in procs:
                o, e = p.communicate(timeout=seconds + 120)
                if p.returncode != 0:
                    raise BenchError("bench_pubsub: %s" % (e or o).strip()[-300:])
                outs.append(o)
            el = time.monotonic() - t0
            a1 = auth.type_counts()
        finally:
            for b in brokers:
                b.stop()
            if ub is not None:
                ub.stop()
            auth.close()
        for o in outs:
            if kv(o, "verified", int) < kv(o, "sent", int):
                raise BenchError("dns-load %s: not every message came back verified: %s"
                                 % (kind, o.strip()))
        q = sum(a1.values()) - sum(a0.values())
        res[kind] = q / el
        log("dns-load %s: %d senders, TTL %d s, 2 brokers, %.1f s: the authoritative server "
            "got %s (%.2f queries/s)" % (kind, n, ttl, el, type_diff(a1, a0) or "nothing",
                                         q / el))
    emit(result_line("dns-load-direct", res["direct"], "queries/s", 2.0 * n / ttl,
                     "queries/s", None, None))
    emit(result_line("dns-load-shared-resolver", res["unbound"], "queries/s", res["direct"],
                     "queries/s", None, None))


def mqtt_hold(env, port, cert, key, client_id):
    """A TLS + MQTT 3.1.1 connection that is accepted and then only read:
    returns the socket once the CONNACK said yes."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(env.ca)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x00"
    body = var + len(cid).to_bytes(2, "big") + cid
    s.sendall(bytes([0x10, len(body)]) + body)
    ack = b""
    while len(ack) < 4:
        got = s.recv(4 - len(ack))
        if not got:
            break
        ack += got
    if ack != b"\x20\x02\x00\x00":
        s.close()
        raise BenchError("%s was not admitted (CONNACK %r)" % (client_id, ack))
    s.settimeout(None)
    return s


def fig_revocation_reach(env):
    """revocation-reach: seconds from the removal of devices' TLSA records
    (the zone re-signed and served) until every broker has disconnected
    them: two brokers behind one shared caching resolver (unbound), each
    device connected to both, records with TTL T, revalidate_interval R;
    the devices connected at staggered times, so that their cached answers
    are of every age. Baseline: T + R, the bound doc/operations.md gives."""
    import threading
    n, ttl, rev = (2, 2, 1) if env.quick else (8, 10, 5)
    ids, _ = ttl_identities(env, "rev", n, ttl)
    tb = env.testbed()
    ub = Unbound(env, tb.port)
    brokers, socks, gone = [], [], {}
    try:
        for i in (1, 2):
            brokers.append(Broker(env, "rev-%d" % i, dane_opts(
                env, resolver="127.0.0.1@%d" % ub.port,
                revalidate_interval=str(rev))).start())
        for name, cert, key, _ in ids:
            for b in brokers:
                socks.append((name, b.name, mqtt_hold(env, b.port, cert, key,
                                                      "%s/%s" % (name, b.name))))
            time.sleep(float(ttl) / n)

        def watch(name, bname, s):
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            gone[(name, bname)] = time.monotonic()
        threads = [threading.Thread(target=watch, args=x, daemon=True) for x in socks]
        for t in threads:
            t.start()
        for name, _, _, _ in ids:
            tb.remove_records(name, "TLSA")
        tb.publish()
        t0 = time.monotonic()
        deadline = t0 + 3 * (ttl + rev) + 30
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if len(gone) < len(socks):
            raise BenchError("%d of %d revoked connections still open after %.0f s"
                             % (len(socks) - len(gone), len(socks), deadline - t0))
    finally:
        for _, _, s in socks:
            try:
                s.close()
            except OSError:
                pass
        for b in brokers:
            b.stop()
        ub.stop()
    times = sorted(gone[k] - t0 for k in gone)
    log("revocation-reach: TTL %d s, revalidate_interval %d s, %d devices on 2 brokers: "
        "disconnected after %s s" % (ttl, rev, n, " ".join("%.1f" % t for t in times)))
    emit(result_line("revocation-reach-max", times[-1], "s", float(ttl + rev), "s",
                     None, None))
    emit(result_line("revocation-reach-median", median(times), "s", float(ttl + rev), "s",
                     None, None))


RUNNERS = {
    "verify-es256": lambda env: fig_verify(env, "es256"),
    "verify-ed25519": lambda env: fig_verify(env, "ed25519"),
    "verify-rs256": lambda env: fig_verify(env, "rs256"),
    "verify-cose-es256": lambda env: fig_verify(env, "es256", cose=True),
    "decrypt-verify-rsa": lambda env: fig_decrypt_verify(env, "rsa"),
    "decrypt-verify-ecdh": lambda env: fig_decrypt_verify(env, "ecdh"),
    "cache-memory": fig_cache_memory,
    "replay-memory": fig_replay_memory,
    "connect": fig_connect,
    "cold-storm": fig_cold_storm,
    "passthrough": fig_passthrough,
    "passthrough-instructions": fig_passthrough_instructions,
    "verified-pipeline": fig_verified_pipeline,
    "dns-per-message": fig_dns_per_message,
    "queries-per-cold-lookup": fig_queries_per_cold_lookup,
    "connected-memory": fig_connected_memory,
    "forwarded-pipeline": fig_forwarded_pipeline,
    "dns-load": fig_dns_load,
    "revocation-reach": fig_revocation_reach,
}


def main(argv):
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short smoke version of every figure (ratios not meaningful)")
    ap.add_argument("--build-dir", default=os.environ.get("DANCE_BUILD_DIR",
                                                           os.path.join(REPO, "build")))
    ap.add_argument("--only", action="append", default=[], metavar="FIGURE",
                    help="run only this figure (repeatable): " + ", ".join(FIGURES))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--rounds", type=int, default=0,
                    help="alternating rounds per figure (default 5; 3 with --quick)")
    ap.add_argument("--storm-devices", type=int, default=0,
                    help="devices in the cold storm (default 2000; 20 with --quick)")
    ap.add_argument("--storm-10k", action="store_true",
                    help="also run the cold storm with 10,000 devices (plugin and stock, "
                         "one run each; several minutes)")
    ap.add_argument("--memory-devices", type=int, default=0,
                    help="devices connected for connected-memory (default 10000; 50 with "
                         "--quick)")
    ap.add_argument("--plugin-opt", action="append", default=[], metavar="KEY=VALUE",
                    help="extra plugin option for every plugin broker (what-if runs; "
                         "the figures of record use the plugin's defaults)")
    args = ap.parse_args(argv)
    for f in args.only:
        if f not in FIGURES:
            ap.error("unknown figure %r (known: %s)" % (f, ", ".join(FIGURES)))
    raise_fd_limit()
    # SIGTERM unwinds like Ctrl-C, so brokers, knotd and the proxy are stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    env = Env(args)
    log("load before: %s" % open("/proc/loadavg").read().strip())
    t0 = time.monotonic()
    failed = False
    try:
        for f in FIGURES:
            if args.only and f not in args.only:
                continue
            runner = RUNNERS.get(f)
            try:
                if runner is None:
                    raise BenchError("not measured yet")
                runner(env)
            except BenchError as e:
                failed = True
                for name in LINES[f]:
                    emit(error_line(name, e))
    finally:
        env.close()
    log("done in %.0f s; load after: %s" % (time.monotonic() - t0,
                                            open("/proc/loadavg").read().strip()))
    missing = check_lines([f for f in FIGURES if not args.only or f in args.only])
    if args.storm_10k and (not args.only or "cold-storm" in args.only):
        missing += check_names(STORM_10K_LINES)
    if missing:
        log("not measured: %s" % ", ".join(missing))
    return 1 if (failed or missing) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
