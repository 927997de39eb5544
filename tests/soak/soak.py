#!/usr/bin/python3
"""soak - a long-running load test of the plugin (scripts/soak); not in CI.

Reuses the integration fixtures
(tests/integration/plugin_fixture.py: Testbed, Pki, Broker, connect) so the
parts are the real ones: knotd serving a signed fake root on 127.0.0.1,
/usr/sbin/mosquitto with the build's mosquitto_dance.so, paho clients with
DANE-checked certificates, messages signed by `dance sign`.

Scenario (all loopback, every loop bounded by the deadline):
  * N devices (default 20) provisioned with the dance CLI (key, CA-issued
    certificate, TLSA 3 1 1 in the signed zone, short TTL).
  * connector thread: devices connect and disconnect in a loop.
  * revoker thread: every few seconds removes the TLSA record of some
    devices, later restores it.
  * publisher thread: a gateway publishes under devices/<label>/data
    messages signed by the devices (valid), and invalid ones (tampered
    signature, unknown sender, malformed).
  * a subscriber on verified/# records what the broker verified.

A valid message is "sent while revoked" when its sender's record was
removed, or restored too recently for caches to have caught up, when it
was sent: whether it is verified then depends on cache timing, so it is
counted apart and not as lost. Exit 0 only when no invalid message was
verified and every other valid message was verified.

Memory: the broker's RSS is sampled at the start and every --rss-interval
seconds (60) until the end; the report lists the samples and the slope of
the second half (least squares over the samples taken after half the run
time, in kB per minute) with the growth it makes over that half, in % of
the RSS at its start. Start-up and the first connections fill caches and
allocator arenas; a leak shows as a second half that keeps rising. The
slope is reported, not judged: the exit status does not depend on it.

RSS is two parts with different causes, sampled and sloped apart: file
pages (RssFile: the code of mosquitto, OpenSSL, getdns and libunbound paged
in as paths are first run; bounded by the libraries' size) and anonymous
memory (RssAnon: heaps, stacks, tables; where a leak would show). With
each sample the log gives the plugin's state sizes from its $SYS counters
(messages/replay/entries, cache/entries, clients/connected, ...), so a
table still filling can be told from a leak. The message replay cache is
the slow filler: it keeps every verified message for REPLAY_WINDOW
seconds, so it grows for that long and is flat after; the report says when
the second half starts before it is full.

--dns-faults puts a DNS proxy (tests/integration/dnsproxy.py) between the
broker and the test bed that every 2-8 s either passes answers or holds
them back 0.5-3 s (beyond lookup_timeout_ms 2000 at times): lookups that
outlast the connect budget and time out, as on a loaded machine. Valid
messages are then lost by design (their sender's lookup failed), so only
the broker's survival, the invalid-verified count and memory are what
such a run is for.
"""

import argparse
import os
import random
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import dance_cli  # noqa: E402
from dnsproxy import DnsProxy  # noqa: E402
from plugin_fixture import (Bed, Broker, MqttClient, cleanup_workdir,  # noqa: E402
                            connect, ident, tamper)

ORG = "acme.example"
TTL = 3                 # seconds: device TLSA TTL and negative TTL
REVALIDATE = 2          # seconds: broker re-checks connected devices
# After a restoration, caches may still hold the negative answer for up to
# negative TTL; in-flight verifications add a little: the window during
# which a sender's messages count as "sent while revoked" ends this long
# after the restored record is served.
RESTORE_SLACK = 2 * TTL + 2
# seconds: the message replay window (the plugin's default with the default
# max_skew), set explicitly so the report can say when the cache is full
REPLAY_WINDOW = 600
SYS_PREFIX = "$SYS/broker/dance/"
# (label, $SYS counter) of the plugin's state sizes logged with each sample
STATE = (("replay", "messages/replay/entries"), ("cache", "cache/entries"),
         ("clients", "clients/connected"), ("budgets", "messages/lookup_budgets"),
         ("queued", "messages/queued"))


def log(msg):
    sys.stderr.write("[soak %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def memory_kb(pid):
    """(VmRSS, RssAnon, RssFile) of pid in kB; -1 for each when it is gone."""
    got = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    got[key] = int(line.split()[1])
    except OSError:
        pass
    return tuple(got.get(k, -1) for k in ("VmRSS", "RssAnon", "RssFile"))


class SysState(MqttClient):
    """The latest value of each $SYS/broker/dance/ counter (retained, so
    all are known right after subscribing; re-published every second)."""

    def __init__(self, broker, cert, key):
        self.values = {}
        super().__init__(broker, cert, key, [SYS_PREFIX + "#"], client_id="soak-monitor")

    def _on_message(self, c, userdata, msg):
        with self.cond:
            self.values[msg.topic[len(SYS_PREFIX):]] = msg.payload.decode(errors="replace")

    def snapshot(self):
        with self.cond:
            return {label: self.values.get(topic, "?") for label, topic in STATE}


def state_text(state):
    return ", ".join("%s %s" % (label, state.get(label, "?")) for label, _ in STATE)


def rss_slope(samples, since):
    """Least-squares slope (kB per minute) of the (seconds, kB) samples
    taken at or after `since` seconds, and the growth it makes over their
    span in % of the fitted RSS at its start; None when fewer than two."""
    pts = [(t, kb) for t, kb in samples if t >= since and kb >= 0]
    if len(pts) < 2:
        return None
    n = float(len(pts))
    mt = sum(t for t, _ in pts) / n
    mk = sum(kb for _, kb in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    if var == 0:
        return None
    slope = sum((t - mt) * (kb - mk) for t, kb in pts) / var       # kB per second
    t0, t1 = pts[0][0], pts[-1][0]
    start = mk + slope * (t0 - mt)
    growth = 100.0 * slope * (t1 - t0) / start if start > 0 else 0.0
    return slope * 60.0, growth, t0, t1


def sign(key, name, cert, payload, topic):
    return dance_cli.run("sign", "--key", key, "--name", name, "--x5c", cert,
                         "--topic", topic, stdin=payload.encode(), check=0).stdout.strip()


class Soak:
    def __init__(self, args):
        self.args = args
        self.deadline = time.monotonic() + args.seconds
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.revoked = {}          # label -> None (removed) or restore time
        self.windows = {}          # label -> [(start, end or None)]
        self.valid = {}            # jws bytes -> (label, send time)
        self.invalid = {}          # jws bytes -> kind
        self.publish_failed = 0
        self.connects = {}         # client-side outcome -> count
        self.revocations = 0
        self.errors = []
        self.closing = False

    # --- set-up -------------------------------------------------------

    def provision(self):
        bed = Bed("soak", default_ttl=TTL, negative_ttl=TTL)
        self.wd, self.tb, self.pki = bed.dir, bed.tb, bed.pki
        self.devices = {}
        for i in range(self.args.devices):
            label = "dev%02d" % i
            cert, key = self.pki.device(ident(label))
            rdata = self.pki.tlsa(cert, 3, 1, 1)
            self.devices[label] = (cert, key, rdata)
            self.tb.set_records(ident(label), "TLSA", [rdata])
            self.windows[label] = []
        for label in ("gateway", "backend"):       # never revoked, long TTL
            cert, key = self.pki.device(ident(label))
            self.tb.set_records(ident(label), "TLSA", [self.pki.tlsa(cert, 3, 1, 1)], ttl=300)
            self.devices.setdefault("_" + label, (cert, key, None))
        # An identity that signs but has no record: "unknown sender".
        self.ghost = self.pki.device(ident("ghost"))
        self.tb.publish()

    def start_broker(self):
        d = os.path.join(self.wd, "broker")
        os.makedirs(d)
        resolver = self.tb.upstream
        if self.args.dns_faults:
            self.dns = DnsProxy(int(resolver.rsplit("@", 1)[1]))
            resolver = self.dns.address
        opts = {
            "resolver": resolver,
            "trust_anchor": self.tb.trust_anchor,
            "allowed_domains": ORG,
            "cafile": self.pki.ca,
            "connect_budget_ms": "5000",
            "revalidate_interval": str(REVALIDATE),
            "max_ttl": str(TTL),
            "negative_ttl": str(TTL),
            "failure_ttl": "1",
            "stats_interval": "1",
            "verify_topics": "devices/#",
            "replay_window": str(REPLAY_WINDOW),
        }
        # max_queued_messages: see tests/integration/test_plugin_messages.py
        # (Mosquitto's default per-subscriber limit drops silently).
        self.broker = Broker(d, self.pki, opts, extra_conf="max_queued_messages 100000").start()
        self.broker.wait_log("dance: message verification ready")

    # --- state --------------------------------------------------------

    def in_window(self, label, t):
        """Was label revoked (or restored too recently) at time t?"""
        with self.lock:
            for start, end in self.windows.get(label, ()):
                if start <= t and (end is None or t <= end):
                    return True
        return False

    def running(self):
        return not self.stop.is_set() and time.monotonic() < self.deadline

    # --- threads ------------------------------------------------------

    def _guard(self, fn):
        def run():
            try:
                fn()
            except Exception as e:     # recorded, reported, fails the run
                if self.closing:       # interrupted: the test bed is gone
                    return
                self.errors.append("%s: %r" % (threading.current_thread().name, e))
                log("thread %s failed: %r" % (threading.current_thread().name, e))
        return run

    def connector(self, seed=1):
        labels = [k for k in self.devices if not k.startswith("_")]
        rnd = random.Random(seed)
        while self.running():
            label = rnd.choice(labels)
            cert, key, _ = self.devices[label]
            s = connect(self.broker, cert, key, client_id="soak-%s-%d" % (label, rnd.randrange(1 << 30)),
                        timeout=10, keep=True)
            outcome = s.result.outcome
            with self.lock:
                self.connects[outcome] = self.connects.get(outcome, 0) + 1
            if s.result.accepted:
                # Stay connected a while; some long enough for the
                # re-check (every REVALIDATE s) to meet a revocation.
                self.stop.wait(rnd.uniform(0.1, 1.5) if rnd.random() < 0.8
                               else rnd.uniform(2, 3 * REVALIDATE))
                s.close()
            self.stop.wait(0.05)

    def dns_faults(self):
        rnd = random.Random(4)
        while self.running():
            self.stop.wait(rnd.uniform(2, 8))
            if rnd.random() < 0.5:
                self.dns.set_mode("delay", delay=rnd.uniform(0.5, 3.0))
            else:
                self.dns.set_mode("pass")
        self.dns.set_mode("pass")

    def revoker(self):
        labels = [k for k in self.devices if not k.startswith("_")]
        rnd = random.Random(2)
        while self.running():
            self.stop.wait(self.args.revoke_every)
            if not self.running():
                break
            victims = rnd.sample(labels, min(self.args.revoke_count, len(labels)))
            with self.lock:
                for v in victims:
                    self.windows[v].append((time.monotonic(), None))
            for v in victims:
                self.tb.remove_records(ident(v), "TLSA")
            self.tb.publish()
            self.revocations += len(victims)
            log("revoked %s" % ", ".join(victims))
            self.stop.wait(min(self.args.revoke_for, max(0, self.deadline - time.monotonic())))
            for v in victims:
                self.tb.set_records(ident(v), "TLSA", [self.devices[v][2]])
            self.tb.publish()
            end = time.monotonic() + RESTORE_SLACK
            with self.lock:
                for v in victims:
                    start, _ = self.windows[v][-1]
                    self.windows[v][-1] = (start, end)
            log("restored %s" % ", ".join(victims))

    def publisher(self):
        labels = [k for k in self.devices if not k.startswith("_")]
        rnd = random.Random(3)
        seq = 0
        while self.running():
            seq += 1
            label = rnd.choice(labels)
            cert, key, _ = self.devices[label]
            payload = '{"seq":%d,"from":"%s","t":%.3f}' % (seq, label, time.time())
            kind = rnd.random()
            topic = "devices/%s/data" % label
            if kind < 0.7:
                t = time.monotonic()
                msg = sign(key, ident(label), cert, payload, topic)
                with self.lock:
                    self.valid[msg] = (label, t)
            elif kind < 0.8:
                msg = tamper(sign(key, ident(label), cert, payload, topic))
                with self.lock:
                    self.invalid[msg] = "tampered"
            elif kind < 0.9:
                gcert, gkey = self.ghost
                msg = sign(gkey, ident("ghost"), gcert, payload, topic)
                with self.lock:
                    self.invalid[msg] = "unknown-sender"
            else:
                msg = b"not-a-jws.%d.%s" % (seq, os.urandom(8).hex().encode())
                with self.lock:
                    self.invalid[msg] = "malformed"
            if not self.gw.publish(topic, msg, must=False):
                with self.lock:
                    self.publish_failed += 1
            if self.args.rate > 0:
                self.stop.wait(1.0 / self.args.rate)

    # --- run ----------------------------------------------------------

    def run(self):
        log("provisioning %d devices" % self.args.devices)
        self.provision()
        self.start_broker()
        pid = self.broker.proc.pid
        gcert, gkey, _ = self.devices["_backend"]
        self.sub = MqttClient(self.broker, gcert, gkey, ["verified/#"], client_id="soak-backend")
        gcert, gkey, _ = self.devices["_gateway"]
        self.gw = MqttClient(self.broker, gcert, gkey, client_id="soak-gateway")
        self.sys = SysState(self.broker, gcert, gkey)
        self.deadline = time.monotonic() + self.args.seconds
        self.t0 = time.monotonic()
        self.samples = []          # (seconds, (rss, anon, file) kB, state)
        self.sample(pid)
        self.rss_start = self.samples[0][1][0]
        log("broker pid %d on port %d, running %d s" % (pid, self.broker.port, self.args.seconds))
        next_sample = self.t0 + self.args.rss_interval
        threads = [threading.Thread(target=self._guard(f), name=f.__name__, daemon=True)
                   for f in (self.revoker, self.publisher)]
        if self.args.dns_faults:
            threads.append(threading.Thread(target=self._guard(self.dns_faults),
                                            name="dns_faults", daemon=True))
        for i in range(self.args.connectors):
            c = self._guard(lambda i=i: self.connector(seed=100 + i))
            threads.append(threading.Thread(target=c, name="connector%d" % i, daemon=True))
        for t in threads:
            t.start()
        while time.monotonic() < self.deadline and not self.stop.is_set():
            time.sleep(min(1.0, max(0.0, self.deadline - time.monotonic())))
            if self.broker.proc.poll() is not None:
                self.errors.append("broker exited with %d" % self.broker.proc.returncode)
                break
            now = time.monotonic()
            if now >= next_sample:
                self.sample(pid)
                next_sample += self.args.rss_interval
        # the last sample at the end of the load (before the drain)
        if self.broker.proc.poll() is None:
            now = time.monotonic()
            if now - self.t0 - self.samples[-1][0] >= self.args.rss_interval / 2:
                self.sample(pid)
        self.stop.set()
        for t in threads:
            t.join(timeout=60)
        # Drain: wait until the verified count stops growing (bounded).
        last, stable, drain_end = -1, 0, time.monotonic() + 30
        while time.monotonic() < drain_end and stable < 3:
            with self.sub.cond:
                n = len(self.sub.messages)
            stable = stable + 1 if n == last else 0
            last = n
            time.sleep(1)
        self.rss_end = memory_kb(pid)[0] if self.broker.proc.poll() is None else -1
        return self.report()

    def sample(self, pid):
        """Record (and log) the broker's memory and the plugin's state now."""
        t = time.monotonic() - self.t0
        kb = memory_kb(pid)
        state = self.sys.snapshot()
        self.samples.append((t, kb, state))
        log("broker RSS %d kB (anon %d, file %d) at +%.0f s; %s"
            % (kb[0], kb[1], kb[2], t, state_text(state)))

    def report(self):
        with self.sub.cond:
            received = [(m["topic"], m["payload"]) for m in self.sub.messages]
        with self.lock:
            valid = dict(self.valid)
            invalid = dict(self.invalid)
        got = {}
        unexpected = 0
        invalid_verified = 0
        for topic, payload in received:
            if payload in invalid:
                invalid_verified += 1
            elif payload in valid:
                got[payload] = got.get(payload, 0) + 1
            else:
                unexpected += 1
        ok_sent = ok_recv = rev_sent = rev_recv = lost = dup = 0
        lost_examples = []
        for msg, (label, t) in valid.items():
            n = got.get(msg, 0)
            if n > 1:
                dup += n - 1
            if self.in_window(label, t):
                rev_sent += 1
                rev_recv += 1 if n else 0
            else:
                ok_sent += 1
                if n:
                    ok_recv += 1
                else:
                    lost += 1
                    if len(lost_examples) < 5:
                        lost_examples.append("%s at +%.1fs" % (label, t - self.t0))
        inv_kinds = {}
        for k in invalid.values():
            inv_kinds[k] = inv_kinds.get(k, 0) + 1

        text = self.broker.log()
        conn = {}
        for m in re.finditer(r"dance: (accepted|refused|deferred) identity=\S+ .*? reason=(\S+)", text):
            key = "%s reason=%s" % (m.group(1), m.group(2))
            conn[key] = conn.get(key, 0) + 1
        kicked = {}
        for m in re.finditer(r"dance: revoked identity=\S+ .*? reason=(\S+)", text):
            kicked[m.group(1)] = kicked.get(m.group(1), 0) + 1
        msg_refused = {}
        for m in re.finditer(r"dance: message refused .*? reason=(\S+?):", text):
            msg_refused[m.group(1)] = msg_refused.get(m.group(1), 0) + 1

        out = []
        out.append("soak: %d s, %d devices, %d revocations (each %d s)" %
                   (self.args.seconds, self.args.devices, self.revocations, self.args.revoke_for))
        out.append("messages:")
        out.append("  sent-valid (sender not revoked) %d, received-verified %d, lost %d"
                   % (ok_sent, ok_recv, lost))
        out.append("  sent while revoked              %d, of which verified %d (cache timing)"
                   % (rev_sent, rev_recv))
        out.append("  sent-invalid                    %d (%s)" %
                   (len(invalid), ", ".join("%s %d" % kv for kv in sorted(inv_kinds.items()))))
        out.append("  invalid-verified                %d" % invalid_verified)
        out.append("  duplicates %d, unexpected on verified/ %d, publish without PUBACK %d"
                   % (dup, unexpected, self.publish_failed))
        out.append("  refused by the broker (log): %s" %
                   (", ".join("%s %d" % kv for kv in sorted(msg_refused.items())) or "none"))
        out.append("connects (broker log):")
        for k, v in sorted(conn.items()):
            out.append("  %-40s %d" % (k, v))
        out.append("  client side: %s" % ", ".join("%s %d" % kv for kv in sorted(self.connects.items())))
        out.append("  disconnected by re-check: %s" %
                   (", ".join("reason=%s %d" % kv for kv in sorted(kicked.items())) or "none"))
        out.extend(self.memory_report())
        for e in self.errors:
            out.append("error: %s" % e)
        if lost_examples:
            out.append("lost e.g.: %s" % "; ".join(lost_examples))
        # duplicates are allowed (QoS 1 is at least once); a verified copy
        # of something nobody sent is not
        ok = (invalid_verified == 0 and unexpected == 0 and not self.errors
              and ok_sent > 0 and self.rss_end >= 0
              and (lost == 0 or self.args.dns_faults))
        out.append("RESULT: %s" % ("PASS" if ok else "FAIL"))
        print("\n".join(out))
        return 0 if ok else 1

    def memory_report(self):
        out = []
        last = self.samples[-1]
        half = self.args.seconds / 2.0
        out.append("broker RSS: start %d kB, end %d kB (end of load %d kB: anon %d, file %d)"
                   % (self.rss_start, self.rss_end, last[1][0], last[1][1], last[1][2]))
        out.append("  samples (s: kB): %s" % ", ".join(
            "%.0f: %d" % (t, kb[0]) for t, kb, _ in self.samples))
        for i, name in ((0, "second half"), (1, "  anonymous"), (2, "  file pages")):
            slope = rss_slope([(t, kb[i]) for t, kb, _ in self.samples], half)
            if slope is None:
                out.append("  second half: fewer than two samples (run at least two "
                           "--rss-interval periods)")
                break
            out.append("  %s (+%.0f s to +%.0f s): slope %.1f kB/min, growth %.2f %%"
                       % (name, slope[2], slope[3], slope[0], slope[1]))
        at_half = [s for s in self.samples if s[0] >= half] or [last]
        out.append("  plugin state at +%.0f s: %s" % (at_half[0][0], state_text(at_half[0][2])))
        out.append("  plugin state at +%.0f s: %s" % (last[0], state_text(last[2])))
        if half < REPLAY_WINDOW:
            out.append("  note: the second half starts before the message replay cache is "
                       "full (it keeps each verified message %d s), so its slope includes "
                       "that filling; run at least %d minutes to measure past it"
                       % (REPLAY_WINDOW, 2 * REPLAY_WINDOW // 60))
        return out

    def close(self):
        self.closing = True
        self.stop.set()
        for name in ("gw", "sub", "sys"):
            c = getattr(self, name, None)
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        b = getattr(self, "broker", None)
        if b is not None:
            try:
                b.stop()
            except Exception as e:
                log("broker stop: %s" % e)
        dns = getattr(self, "dns", None)
        if dns is not None:
            dns.close()
        tb = getattr(self, "tb", None)
        if tb is not None:
            tb.close()
        wd = getattr(self, "wd", None)
        if wd is not None:
            if self.args.keep:
                log("work directory kept: %s" % wd)
            else:
                cleanup_workdir(wd)


def main():
    ap = argparse.ArgumentParser(description="Soak test of the mosquitto-dance plugin.")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--minutes", type=float, help="run time in minutes (default 30)")
    g.add_argument("--seconds", type=int, help="run time in seconds")
    ap.add_argument("--devices", type=int, default=20, help="number of devices (default 20)")
    ap.add_argument("--connectors", type=int, default=4,
                    help="threads connecting and disconnecting devices (default 4)")
    ap.add_argument("--rate", type=float, default=20.0,
                    help="messages per second at most (default 20; 0: as fast as signing allows)")
    ap.add_argument("--revoke-every", type=int, default=10,
                    help="seconds between revocations (default 10)")
    ap.add_argument("--revoke-for", type=int, default=8,
                    help="seconds a revocation lasts (default 8)")
    ap.add_argument("--revoke-count", type=int, default=2,
                    help="devices revoked at a time (default 2)")
    ap.add_argument("--rss-interval", type=float, default=60.0,
                    help="seconds between samples of the broker's RSS (default 60)")
    ap.add_argument("--dns-faults", action="store_true",
                    help="slow DNS answers on and off (a proxy before the test bed); "
                         "lost valid messages then do not fail the run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = int(60 * (args.minutes if args.minutes is not None else 30))
    if args.seconds <= 0 or args.devices < 2 or args.rss_interval <= 0:
        ap.error("need a positive run time and RSS interval, and at least 2 devices")
    # SIGTERM/SIGHUP (e.g. the wrapper killed) unwind like Ctrl-C, so the
    # finally below stops the broker and knotd.
    def interrupted(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    soak = Soak(args)
    try:
        return soak.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 2
    finally:
        soak.close()


if __name__ == "__main__":
    sys.exit(main())
