#!/usr/bin/python3
"""test_getting_started - doc/getting-started.md works as written.

The page's ```sh blocks are run in order, as one bash -e script, in a fresh
temporary directory: they start the DNSSEC test bed (tests/testbed/
dnstestbed.py), make the CAs, the broker's and the devices' certificates
and TLSA records, write mosquitto.conf and the ACL, start the real
/usr/sbin/mosquitto with the built plugin, publish a signed message, read
its verified copy, revoke the device and log in with a token.

Each ```text block is the output of the ```sh block just before it: every
one of its lines must match a line of that block's output ("..." stands
for any text). On top of that the test checks the outcomes the page
promises, so that editing the shown output cannot hide a regression: the
verified copy arrived with its user properties, the revoked device was
refused (reason no_record), the token device was admitted and its message
verified.

The page's own variables carry what differs here: DANCE_SRC (this
checkout), DANCE_BUILD (the build directory), MQTT_PORT and TOKEN_PORT
(free ports) come from the environment. In sanitizer builds the one line
that starts the broker gets the ASan runtime preloaded (preload_broker).

Environment: DANCE_BUILD_DIR (default ./build), DANCE_KEEP_WORKDIR=1 keeps
the work directory (the script, its output, the page's files and logs).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))

from dnstestbed import Testbed, TestbedError, pid_alive  # noqa: E402

PAGE = os.path.join(REPO, "doc", "getting-started.md")
BUILD_DIR = os.path.abspath(os.environ.get("DANCE_BUILD_DIR", os.path.join(REPO, "build")))
KEEP = os.environ.get("DANCE_KEEP_WORKDIR") == "1"
# Sanitizer builds (tests/50-integration-plugin.cmake sets these): the ASan
# runtime to preload into the uninstrumented broker, and its options.
PRELOAD = os.environ.get("DANCE_MOSQUITTO_PRELOAD", "")
ASAN_OPTIONS = os.environ.get("DANCE_MOSQUITTO_ASAN_OPTIONS", "")
BROKER_START = "/usr/sbin/mosquitto -c mosquitto.conf -d"
RUN_TIMEOUT = 300
MARK = "@@@ getting-started block %d @@@"
FENCE = re.compile(r"^```([A-Za-z0-9_-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(text):
    """The page's fenced blocks: [(language, body, line number)]."""
    out = []
    for m in FENCE.finditer(text):
        out.append((m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1))
    return out


def script_and_checks(text):
    """The bash script of the ```sh blocks, each preceded by a marker line,
    and [(sh block index, expected lines, line number)] for the ```text
    blocks. A ```text block must follow a ```sh block."""
    parts, checks = [], []
    prev, n = None, -1
    for lang, body, line in blocks(text):
        if lang == "sh":
            n += 1
            parts.append("echo '%s'\n%s" % (MARK % n, body))
        elif lang == "text":
            if prev != "sh":
                raise AssertionError("%s:%d: a ```text block shows the output of the "
                                     "```sh block just before it; this one follows "
                                     "a ```%s block" % (PAGE, line, prev))
            checks.append((n, [ln for ln in body.splitlines() if ln.strip()], line))
        prev = lang
    return "".join(parts), checks


def outputs(text, count):
    """The output of each sh block, split at the marker lines."""
    res, cur = [""] * count, None
    for ln in text.splitlines(keepends=True):
        m = re.fullmatch(r"@@@ getting-started block (\d+) @@@\n?", ln)
        if m:
            cur = int(m.group(1))
        elif cur is not None:
            res[cur] += ln
    return res


def line_pattern(expected):
    """A shown output line as a regular expression: "..." is any text."""
    return re.compile(".*".join(re.escape(p) for p in expected.strip().split("...")))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GettingStarted(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dance-getting-started-")
        self.walk = os.path.join(self.dir, "walkthrough")

    def tearDown(self):
        # The page stops the broker and the test bed itself; after a failure
        # they may still run.
        pid = self.read_broker_pid()
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                mine = b"mosquitto" in f.read()
        except (OSError, TypeError):
            mine = False
        if mine and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        dns = os.path.join(self.walk, "dns")
        if os.path.exists(os.path.join(dns, "testbed.json")):
            try:
                Testbed.attach(dns).close()
            except TestbedError:
                pass
        if KEEP:
            sys.stderr.write("work directory kept: %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def read_broker_pid(self):
        try:
            with open(os.path.join(self.walk, "mosquitto.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def preload_broker(self, script):
        """Sanitizer builds: the plugin is instrumented, the broker is not, so
        the broker the page starts gets the ASan runtime preloaded, and its
        reports go to files (it runs as a daemon, without stderr)."""
        if BROKER_START not in script:
            raise AssertionError("%s no longer starts the broker with %r; "
                                 "update preload_broker()" % (PAGE, BROKER_START))
        san = os.path.join(self.dir, "broker-sanitizer")
        opts = ":".join(o for o in (ASAN_OPTIONS, "log_path=%s.asan" % san) if o)
        prefix = ("LD_PRELOAD=%s ASAN_OPTIONS=%s LSAN_OPTIONS=suppressions=%s "
                  "UBSAN_OPTIONS=print_stacktrace=1:log_path=%s.ubsan "
                  % (PRELOAD, opts, os.path.join(HERE, "lsan-mosquitto.supp"), san))
        return script.replace(BROKER_START, prefix + BROKER_START)

    def sanitizer_reports(self):
        text = ""
        for name in sorted(os.listdir(self.dir)):
            if name.startswith("broker-sanitizer."):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += "== %s\n%s" % (name, f.read())
        return text

    def broker_log(self):
        try:
            with open(os.path.join(self.walk, "mosquitto.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def test_page_runs_as_written(self):
        with open(PAGE) as f:
            page = f.read()
        script, checks = script_and_checks(page)
        count = script.count("@@@ getting-started block")
        self.assertGreater(count, 10, "too few ```sh blocks in %s" % PAGE)
        env = dict(os.environ)
        env.update({"DANCE_SRC": REPO, "DANCE_BUILD": BUILD_DIR,
                    "MQTT_PORT": str(free_port()), "TOKEN_PORT": str(free_port())})
        if PRELOAD:
            script = self.preload_broker(script)
        with open(os.path.join(self.dir, "getting-started.sh"), "w") as f:
            f.write(script)
        outfile = os.path.join(self.dir, "getting-started.out")
        broker_pid = None
        with open(outfile, "w") as out_f:
            proc = subprocess.Popen(["bash", "-e", "getting-started.sh"], cwd=self.dir,
                                    env=env, stdin=subprocess.DEVNULL, stdout=out_f,
                                    stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + RUN_TIMEOUT
            # the page removes mosquitto.pid when it stops the broker: note
            # the pid while it is there, to wait for the broker's exit
            while proc.poll() is None and time.monotonic() < deadline:
                if broker_pid is None:
                    broker_pid = self.read_broker_pid()
                time.sleep(0.1)
            timed_out = proc.poll() is None
            if timed_out:
                proc.kill()
                proc.wait()
        with open(outfile) as f:
            stdout = f.read()
        shown = "\n----- output -----\n%s\n----- broker log -----\n%s" % (
            stdout[-20000:], self.broker_log()[-20000:])
        self.assertFalse(timed_out, "the page's commands ran over %d s" % RUN_TIMEOUT + shown)
        self.assertEqual(proc.returncode, 0, "the page's commands failed" + shown)

        # the page's last block stops the broker and the test bed
        self.assertIsNotNone(broker_pid, "no mosquitto.pid seen" + shown)
        deadline = time.monotonic() + 20
        while pid_alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(pid_alive(broker_pid), "the broker still runs" + shown)
        with open(os.path.join(self.walk, "dns", "testbed.json")) as f:
            self.assertIsNone(json.load(f).get("pid"), "the test bed still runs" + shown)
        reports = self.sanitizer_reports()
        self.assertEqual(reports, "", "sanitizer report from the broker/plugin:\n" + reports)

        out = outputs(stdout, count)
        for n, expected, line in checks:
            got = out[n].splitlines()
            for e in expected:
                pat = line_pattern(e)
                self.assertTrue(any(pat.fullmatch(g.rstrip()) for g in got),
                                "%s:%d: %r is not in the output of the block before it:\n%s%s"
                                % (PAGE, line, e, out[n], shown))

        dev1, dev2 = "dev1._device.acme.example", "dev2._device.acme.example"
        # the verified copy with the sender's name, as the backend received it
        self.assertIn("verified/devices/%s/temp dance-sender:%s dance-alg:ES256 "
                      "dance-key:tlsa 3 1 0" % (dev1, dev1), stdout, shown)
        self.assertIn("dance verify: verified: sender %s" % dev1, stdout, shown)
        log = self.broker_log()
        self.assertRegex(log, r"dance: accepted identity=%s client_id=\"%s/sensor-1\""
                         % (re.escape(dev1), re.escape(dev1)), shown)
        # revoked: the same certificate refused for want of a record
        self.assertRegex(log, r"dance: refused identity=%s .*reason=no_record"
                         % re.escape(dev1), shown)
        self.assertIn("Connection Refused: not authorised", stdout, shown)
        # the token device: admitted once, its message verified, the token
        # not accepted twice
        self.assertRegex(log, r"dance: accepted identity=%s .*token valid" % re.escape(dev2),
                         shown)
        self.assertIn("verified/devices/%s/temp dance-sender:%s" % (dev2, dev2), stdout, shown)
        self.assertRegex(log, r"dance: refused identity=%s .*reason=token_replay"
                         % re.escape(dev2), shown)


if __name__ == "__main__":
    unittest.main()
