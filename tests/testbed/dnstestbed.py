#!/usr/bin/python3
"""dnstestbed - a real, signed DNSSEC chain on 127.0.0.1 for tests and the demo.

Everything here uses only the Python standard library and Debian tools:
knotd/knotc (package knot) serve the zones, ldns-keygen/ldns-signzone/
ldns-key2ds (package ldnsutils) make keys and signatures. Nothing is mocked: the resolver under test talks real DNS to a
real authoritative server and validates real signatures from a fake root.

The tree it builds (all under one work directory, keys generated at start-up,
signature inception one day in the past, expiry 30 days ahead unless
sig_validity says otherwise, ECDSAP256SHA256):

    .                    signed, its DS/DNSKEY is the trust anchor
    example.             signed, DS in .
    acme.example.        signed, DS in example.   (the org zone: _device identities)
    unsigned.example.    NOT signed, delegated from example. without DS (insecure)

One knotd answers for all four zones (it answers DS queries from the parent
zone), so a stub resolver pointed at it can walk and validate the whole chain.

Python API
----------

    from dnstestbed import Testbed

    with Testbed(workdir, default_ttl=300, negative_ttl=60) as tb:
        tb.upstream          # "127.0.0.1@PORT": give this to the resolver
        tb.port              # the PORT alone
        tb.upstream6         # "::1@PORT" (same server) or None without IPv6
        tb.trust_anchor      # file with the root DS record (zone-file syntax)
        tb.trust_anchor_dnskey  # file with the root DNSKEY record (same anchor)
        tb.set_records("x._device.acme.example", "TLSA",
                       ["3 1 1 0123...ef"], ttl=None)   # replace an RRset
        tb.set_many("TLSA", [(name, rdata), ...])       # many at once
        tb.remove_records("x._device.acme.example", "TLSA")  # or rtype=None: all
        tb.publish()         # re-sign changed zones, reload; returns once the new
                             # data is being served
        tb.tamper_signature("x._device.acme.example", "TLSA")
                             # corrupt that RRset's RRSIG and publish -> bogus;
                             # lasts until the RRset is set/removed again or
                             # tb.clear_tampering() + tb.publish()
        tb.stop_server(); tb.start_server()   # server down / back (same port)
        dot = tb.start_dot() # optional: unbound in front of knotd serving DNS
                             # over TLS; dot.upstream, dot.auth_name and
                             # dot.ca_file (trust it via SSL_CERT_FILE)
        tb.query_count()     # total DNS queries knotd has received so far
        tb.query_count(rtype="TLSA")     # only TLSA queries
        tb.query_count(protocol="tcp")   # only over TCP ("udp" likewise)
                             # (knot mod-stats counters, read with knotc;
                             # they start from 0 when the server restarts)
    # leaving the block (or tb.close()) kills knotd; the work directory stays
                             # for post-mortem reading (knotd.log)

  * Names may be given with or without the trailing dot, any case; the zone is
    the longest of the four zone names the name ends with. ``rtype`` is the
    mnemonic ("TLSA", "A", "TXT", ...); rdata are presentation-form strings.
  * ``default_ttl`` applies to every record without an explicit ttl.
    ``negative_ttl`` is the SOA minimum; the SOA itself has TTL default_ttl, so
    the negative TTL a resolver derives is min(default_ttl, negative_ttl).
  * ``sig_validity`` (seconds, default 30 days) is how long new signatures
    stay valid; a short one lets tests see TTLs capped by signature expiry.
  * ``publish()`` only re-signs zones that changed; its serial goes up by one.
    It does not send DNS queries itself (it asks knotc), so query_count() only
    counts what the code under test sends.
  * Processes are killed on close(), on context exit, and at interpreter exit
    (atexit), so a failing test does not leave knotd behind.

Command line (for manual use and the demo)
------------------------------------------

    python3 dnstestbed.py up DIR [--ttl N] [--negative-ttl N]
        build the tree in DIR (must be empty or absent), start knotd in the
        background and print shell assignments:
            DANCE_DNS_UPSTREAM=127.0.0.1@PORT
            DANCE_DNS_TRUST_ANCHOR=DIR/trust-anchor.ds
            DANCE_DNS_PORT=PORT
    python3 dnstestbed.py set DIR NAME TYPE RDATA [RDATA ...] [--ttl N]
    python3 dnstestbed.py remove DIR NAME [TYPE]
    python3 dnstestbed.py tamper DIR NAME TYPE
        change a running test bed (re-signs and reloads at once)
    python3 dnstestbed.py env DIR       print the shell assignments again
    python3 dnstestbed.py down DIR      stop knotd (DIR is kept)

The state of a test bed (port, zone contents, serials, pid) lives in
DIR/testbed.json, so Testbed.attach(DIR) reopens one started elsewhere.
"""

import atexit
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

__all__ = ["Testbed", "TestbedError", "DotFrontend"]

KNOTD = "/usr/sbin/knotd"
UNBOUND = "/usr/sbin/unbound"
UNBOUND_CHECKCONF = "/usr/sbin/unbound-checkconf"
OPENSSL = "/usr/bin/openssl"
KNOTC = "/usr/sbin/knotc"
LDNS_KEYGEN = "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = "/usr/bin/ldns-signzone"
LDNS_KEY2DS = "/usr/bin/ldns-key2ds"

ALGORITHM = "ECDSAP256SHA256"
ROOT = "."
SIGNED_ZONES = (".", "example.", "acme.example.")
UNSIGNED_ZONES = ("unsigned.example.",)
ALL_ZONES = SIGNED_ZONES + UNSIGNED_ZONES

# Records the test bed itself maintains; tests must not replace these.
_INFRA_TYPES = ("SOA", "NS", "DS", "DNSKEY", "RRSIG", "NSEC", "NSEC3")

_live = set()   # Testbeds with processes running, for the atexit sweep


class TestbedError(Exception):
    """A tool failed or the server did not come up; the message says which."""


def _fqdn(name):
    """Lowercase, with exactly one trailing dot ("." for the root)."""
    name = name.strip().lower()
    if name in ("", "."):
        return "."
    return name.rstrip(".") + "."


def _zone_file_stem(zone):
    return "root" if zone == "." else zone.rstrip(".")


def _ipv6_loopback():
    """True when ::1 can be bound (not every container has IPv6)."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _port_free(port, ipv6):
    addrs = [(socket.AF_INET, "127.0.0.1")]
    if ipv6:
        addrs.append((socket.AF_INET6, "::1"))
    socks = []
    try:
        for fam, addr in addrs:
            for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(fam, typ)
                socks.append(s)
                s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def _free_port(ipv6):
    """A port currently free for UDP and TCP on 127.0.0.1 (and ::1)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        t.close()
        if _port_free(port, ipv6):
            return port
    raise TestbedError("no free port for both UDP and TCP on 127.0.0.1")


def _run(argv, cwd=None):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise TestbedError("%s failed (exit %d): %s" % (
            " ".join(argv), p.returncode, (p.stderr or p.stdout).strip()))
    return p.stdout


def pid_alive(pid):
    """True while process pid runs. A zombie counts as gone: a detached
    knotd whose parent has exited is reaped by PID 1, which in some
    containers never happens."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _sweep():
    for tb in list(_live):
        try:
            tb.close()
        except Exception:
            pass


atexit.register(_sweep)


class DotFrontend:
    """What start_dot() returns: where and how to reach DNS over TLS."""

    def __init__(self, upstream, auth_name, ca_file, proc):
        self.upstream = upstream
        self.auth_name = auth_name
        self.ca_file = ca_file
        self.proc = proc


class Testbed:
    """A signed fake-root DNS tree served by knotd. See the module docstring."""

    def __init__(self, workdir, default_ttl=300, negative_ttl=60, start=True,
                 sig_validity=30 * 86400, _state=None):
        self.workdir = os.path.abspath(workdir)
        self._proc = None
        self._pid = None
        self._dot = None
        if _state is not None:
            self._load(_state)
            return
        if os.path.exists(self.workdir) and os.listdir(self.workdir):
            raise TestbedError("work directory %s is not empty" % self.workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.default_ttl = int(default_ttl)
        self.negative_ttl = int(negative_ttl)
        self.sig_validity = int(sig_validity)
        self.ipv6 = _ipv6_loopback()
        self.port = _free_port(self.ipv6)
        self.serials = {z: 1 for z in ALL_ZONES}
        self.dirty = set(ALL_ZONES)
        self.tampered = []          # [name, rtype] pairs
        self.keys = {}              # zone -> key base name (relative to keys/)
        # records: zone -> {"name|TYPE": [ttl, [rdata...]]}
        self.records = {z: {} for z in ALL_ZONES}
        for d in ("keys", "zones", "knot", "knot/run", "knot/db"):
            os.makedirs(os.path.join(self.workdir, d), exist_ok=True)
        self._make_keys()
        self._make_tree()
        self._write_trust_anchor()
        self._write_knot_conf()
        self._sign_dirty()
        self.dirty.clear()
        self._save()
        self._started_once = False
        if start:
            self.start_server()

    # ------------------------------------------------------------------ setup

    @classmethod
    def attach(cls, workdir):
        """Reopen a test bed whose state is in workdir/testbed.json."""
        path = os.path.join(os.path.abspath(workdir), "testbed.json")
        try:
            with open(path) as f:
                state = json.load(f)
        except OSError as e:
            raise TestbedError("no test bed in %s: %s" % (workdir, e))
        return cls(workdir, _state=state)

    def _load(self, st):
        self.default_ttl = st["default_ttl"]
        self.negative_ttl = st["negative_ttl"]
        self.sig_validity = st.get("sig_validity", 30 * 86400)
        self.port = st["port"]
        self.ipv6 = st.get("ipv6", False)
        self.serials = st["serials"]
        self.dirty = set(st["dirty"])
        self.tampered = st["tampered"]
        self.keys = st["keys"]
        self.records = st["records"]
        self._pid = st.get("pid")

    def _save(self):
        st = {
            "default_ttl": self.default_ttl, "negative_ttl": self.negative_ttl,
            "sig_validity": self.sig_validity,
            "port": self.port, "ipv6": self.ipv6, "serials": self.serials,
            "dirty": sorted(self.dirty), "tampered": self.tampered,
            "keys": self.keys, "records": self.records,
            "pid": self._proc.pid if self._proc else self._pid,
        }
        tmp = os.path.join(self.workdir, "testbed.json.tmp")
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.workdir, "testbed.json"))

    def _make_keys(self):
        keydir = os.path.join(self.workdir, "keys")
        for zone in SIGNED_ZONES:
            # One key with the SEP flag (a CSK): ldns-signzone then signs every
            # RRset with it, which keeps the tree small and fast to build.
            base = _run([LDNS_KEYGEN, "-a", ALGORITHM, "-k", zone],
                        cwd=keydir).strip()
            for suffix in (".ds",):
                try:
                    os.unlink(os.path.join(keydir, base + suffix))
                except FileNotFoundError:
                    pass
            self.keys[zone] = base

    def _ds_rdata(self, zone):
        keydir = os.path.join(self.workdir, "keys")
        # -n: print to stdout; -2: SHA-256 digest
        out = _run([LDNS_KEY2DS, "-n", "-2", self.keys[zone] + ".key"],
                   cwd=keydir)
        fields = out.split()
        i = fields.index("DS")
        return " ".join(fields[i + 1:])

    def _dnskey_line(self, zone):
        path = os.path.join(self.workdir, "keys", self.keys[zone] + ".key")
        with open(path) as f:
            return f.read().split(";")[0].strip()

    def _put(self, zone, name, rtype, ttl, rdatas):
        self.records[zone]["%s|%s" % (name, rtype)] = [ttl, list(rdatas)]

    def _make_tree(self):
        ttl = self.default_ttl
        for zone in ALL_ZONES:
            ns = "a.root." if zone == "." else "ns." + zone
            self._put(zone, zone, "SOA", ttl, [
                "%s hostmaster.%s 1 3600 600 86400 %d" % (
                    ns, "root." if zone == "." else zone, self.negative_ttl)])
            self._put(zone, zone, "NS", ttl, [ns])
            self._put(zone, ns, "A", ttl, ["127.0.0.1"])
        # Delegations: NS + glue in the parent; DS only for signed children.
        for child, parent in (("example.", "."), ("acme.example.", "example."),
                              ("unsigned.example.", "example.")):
            ns = "ns." + child
            self._put(parent, child, "NS", ttl, [ns])
            self._put(parent, ns, "A", ttl, ["127.0.0.1"])
            if child in SIGNED_ZONES:
                self._put(parent, child, "DS", ttl, [self._ds_rdata(child)])

    def _write_trust_anchor(self):
        with open(self.trust_anchor, "w") as f:
            f.write("; trust anchor of the dnstestbed fake root\n")
            f.write(". %d IN DS %s\n" % (self.default_ttl, self._ds_rdata(".")))
        with open(self.trust_anchor_dnskey, "w") as f:
            f.write("; trust anchor of the dnstestbed fake root\n")
            f.write(self._dnskey_line(".") + "\n")

    def _write_knot_conf(self):
        w = self.workdir
        conf = """# generated by dnstestbed.py
server:
    rundir: "{w}/knot/run"
    listen: [ {listen} ]
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1

control:
    listen: "{w}/knot/run/knot.sock"

log:
  - target: "{w}/knot/knotd.log"
    any: info

database:
    storage: "{w}/knot/db"

mod-stats:
  - id: counters
    request-protocol: on
    query-type: on

template:
  - id: default
    storage: "{w}/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
    global-module: mod-stats/counters

zone:
""".format(w=w, listen=", ".join(
            ["127.0.0.1@%d" % self.port] + (["::1@%d" % self.port] if self.ipv6 else [])))
        for zone in ALL_ZONES:
            conf += '  - domain: "%s"\n    file: "%s.signed"\n' % (
                zone, _zone_file_stem(zone))
        with open(self._knot_conf, "w") as f:
            f.write(conf)

    # ---------------------------------------------------------------- paths

    @property
    def upstream(self):
        return "127.0.0.1@%d" % self.port

    @property
    def upstream6(self):
        """"::1@PORT" when the machine has IPv6 loopback, else None."""
        return "::1@%d" % self.port if self.ipv6 else None

    @property
    def trust_anchor(self):
        return os.path.join(self.workdir, "trust-anchor.ds")

    @property
    def trust_anchor_dnskey(self):
        return os.path.join(self.workdir, "trust-anchor.dnskey")

    @property
    def _knot_conf(self):
        return os.path.join(self.workdir, "knot", "knot.conf")

    @property
    def _knot_sock(self):
        return os.path.join(self.workdir, "knot", "run", "knot.sock")

    # -------------------------------------------------------------- records

    def zone_of(self, name):
        """The zone (with trailing dot) that holds name."""
        name = _fqdn(name)
        best = "."
        for zone in ALL_ZONES:
            if zone == ".":
                continue
            if name == zone or name.endswith("." + zone):
                if len(zone) > len(best):
                    best = zone
        return best

    def set_records(self, name, rtype, rdatas, ttl=None):
        """Replace the RRset (name, rtype) by rdatas; takes effect at publish()."""
        name, rtype = _fqdn(name), rtype.upper()
        if rtype in _INFRA_TYPES:
            raise TestbedError("%s records are managed by the test bed" % rtype)
        if isinstance(rdatas, str):
            rdatas = [rdatas]
        if not rdatas:
            return self.remove_records(name, rtype)
        zone = self.zone_of(name)
        self._put(zone, name, rtype,
                  self.default_ttl if ttl is None else int(ttl), rdatas)
        self._untamper(name, rtype)
        self.dirty.add(zone)
        self._save()

    def set_many(self, rtype, records, ttl=None):
        """set_records(name, rtype, [rdata], ttl) for each (name, rdata) in
        records, with the state file written once: for thousands of names,
        where writing it after each would take minutes."""
        save, self._save = self._save, lambda: None
        try:
            for name, rdata in records:
                self.set_records(name, rtype, [rdata], ttl=ttl)
        finally:
            del self._save
        save()

    def remove_records(self, name, rtype=None):
        """Remove the RRset (name, rtype), or every non-infrastructure RRset
        at name when rtype is None; takes effect at publish()."""
        name = _fqdn(name)
        zone = self.zone_of(name)
        for key in list(self.records[zone]):
            n, t = key.split("|")
            if n == name and (rtype is None and t not in _INFRA_TYPES
                              or rtype is not None and t == rtype.upper()):
                del self.records[zone][key]
                self._untamper(n, t)
                self.dirty.add(zone)
        self._save()

    def get_records(self, name, rtype):
        """(ttl, [rdata]) of an RRset as configured, or None."""
        name = _fqdn(name)
        v = self.records[self.zone_of(name)].get("%s|%s" % (name, rtype.upper()))
        return None if v is None else (v[0], list(v[1]))

    def tamper_signature(self, name, rtype):
        """Corrupt the RRSIG over (name, rtype) and publish: validating
        resolvers then see a bogus answer."""
        name, rtype = _fqdn(name), rtype.upper()
        zone = self.zone_of(name)
        if zone not in SIGNED_ZONES:
            raise TestbedError("%s is in the unsigned zone %s" % (name, zone))
        if "%s|%s" % (name, rtype) not in self.records[zone]:
            raise TestbedError("no %s RRset at %s to tamper with" % (rtype, name))
        if [name, rtype] not in self.tampered:
            self.tampered.append([name, rtype])
        self.dirty.add(zone)
        self._save()
        self.publish()

    def clear_tampering(self):
        """Forget all tampering (takes effect at publish())."""
        for name, _ in self.tampered:
            self.dirty.add(self.zone_of(name))
        self.tampered = []
        self._save()

    def _untamper(self, name, rtype):
        if [name, rtype] in self.tampered:
            self.tampered.remove([name, rtype])

    # -------------------------------------------------------------- signing

    def _write_zone(self, zone):
        lines = ["; generated by dnstestbed.py", "$ORIGIN %s" % zone]
        recs = self.records[zone]
        # SOA first, then the rest in a stable order.
        for key in sorted(recs, key=lambda k: (k.split("|")[1] != "SOA", k)):
            name, rtype = key.split("|")
            ttl, rdatas = recs[key]
            for rd in rdatas:
                if rtype == "SOA":
                    f = rd.split()
                    f[2] = str(self.serials[zone])
                    rd = " ".join(f)
                lines.append("%s %d IN %s %s" % (name, ttl, rtype, rd))
        path = os.path.join(self.workdir, "zones", _zone_file_stem(zone) + ".zone")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _sign(self, zone):
        src = self._write_zone(zone)
        out = os.path.join(self.workdir, "zones", _zone_file_stem(zone) + ".signed")
        if zone not in SIGNED_ZONES:
            shutil.copyfile(src, out + ".tmp")
            os.replace(out + ".tmp", out)
            return
        now = int(time.time())
        keybase = os.path.join(self.workdir, "keys", self.keys[zone])
        _run([LDNS_SIGNZONE, "-i", str(now - 86400), "-e", str(now + self.sig_validity),
              "-o", zone, "-f", out + ".tmp", src, keybase])
        self._apply_tampering(zone, out + ".tmp")
        os.replace(out + ".tmp", out)

    def _apply_tampering(self, zone, path):
        wanted = {(n, t) for n, t in self.tampered if self.zone_of(n) == zone}
        if not wanted:
            return
        with open(path) as f:
            lines = f.read().splitlines()
        done = set()
        for i, line in enumerate(lines):
            f = line.split()
            if len(f) < 13 or f[3] != "RRSIG":
                continue
            key = (f[0].lower(), f[4].upper())
            if key not in wanted:
                continue
            # The signature is the base64 tail (field 12 on). Flip bits in
            # its first byte: still well-formed, no longer valid.
            sig = bytearray(base64.b64decode("".join(f[12:])))
            sig[0] ^= 0x5a
            f = f[:12] + [base64.b64encode(bytes(sig)).decode()]
            lines[i] = "\t".join(f)
            done.add(key)
        missing = wanted - done
        if missing:
            raise TestbedError("no RRSIG found to tamper with for %s" % sorted(missing))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _sign_dirty(self):
        for zone in ALL_ZONES:
            if zone in self.dirty:
                self._sign(zone)

    def publish(self):
        """Re-sign the zones changed since the last publish(), reload them and
        return once knotd serves the new serials."""
        changed = [z for z in ALL_ZONES if z in self.dirty]
        if not changed:
            return
        for zone in changed:
            self.serials[zone] += 1
        self._sign_dirty()
        self.dirty.clear()
        self._save()
        if self._running():
            self._knotc("-b", "zone-reload", *changed)
            self._wait_serials(changed)

    # --------------------------------------------------------------- server

    def _knotc(self, *args, check=True):
        argv = [KNOTC, "-c", self._knot_conf, "-s", self._knot_sock, "-t", "10"]
        argv += list(args)
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if check and p.returncode != 0:
            raise TestbedError("knotc %s failed: %s" % (
                " ".join(args), (p.stderr or p.stdout).strip()))
        return p

    def _running(self):
        if self._proc is not None:
            return self._proc.poll() is None
        if self._pid:
            return pid_alive(self._pid)
        return False

    def _served_serial(self, zone):
        p = self._knotc("zone-status", zone, "+serial", check=False)
        m = re.search(r"serial:\s*(\d+)", p.stdout)
        return int(m.group(1)) if (p.returncode == 0 and m) else None

    def _wait_serials(self, zones, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            pending = [z for z in zones
                       if self._served_serial(z) != self.serials[z]]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TestbedError(
                    "knotd did not load %s within %.0f s; see %s" % (
                        ", ".join(pending), timeout,
                        os.path.join(self.workdir, "knot", "knotd.log")))
            if not self._running():
                raise TestbedError("knotd exited; see %s" % os.path.join(
                    self.workdir, "knot", "knotd.log"))
            time.sleep(0.05)

    def start_server(self, detach=False):
        """Start knotd on the test bed's port and wait until every zone is
        served. detach=True leaves it running after this process exits.
        The first start moves to another free port if the chosen one was
        taken meanwhile (knotd exits when it cannot bind); later starts keep
        the port, since resolvers were given tb.upstream."""
        if getattr(self, "_started_once", True):
            return self._start_server(detach)
        for attempt in range(5):
            try:
                self._start_server(detach)
                self._started_once = True
                return
            except TestbedError:
                if attempt == 4 or self._bind_failed() is False:
                    raise
                self.port = _free_port(self.ipv6)
                self._write_knot_conf()
                self._save()

    def _bind_failed(self):
        try:
            with open(os.path.join(self.workdir, "knot", "knotd.log")) as f:
                return "cannot bind" in f.read()
        except OSError:
            return False

    def _start_server(self, detach):
        if self._running():
            return
        self.publish()
        log = open(os.path.join(self.workdir, "knot", "knotd.stderr"), "a")
        try:
            self._proc = subprocess.Popen(
                [KNOTD, "-c", self._knot_conf], stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        self._pid = self._proc.pid
        if not detach:
            _live.add(self)
        self._save()
        try:
            self._wait_serials(list(ALL_ZONES))
            self._wait_listening()
        except Exception:
            self.stop_server()
            raise

    def _wait_listening(self, timeout=10.0):
        # knotd binds before loading zones, but make sure the TCP socket
        # accepts (no DNS query is sent, so query_count() is untouched).
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.settimeout(1.0)
                s.connect(("127.0.0.1", self.port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TestbedError("knotd is not listening on port %d" % self.port)
                time.sleep(0.05)
            finally:
                s.close()

    def stop_server(self, kill=False):
        """Stop knotd and wait until it is gone (port closed); with kill,
        by SIGKILL (no goodbye: a crash as resolvers see it)."""
        pid = self._proc.pid if self._proc is not None else self._pid
        if pid:
            try:
                os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
            except OSError:
                pass
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            else:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    if not pid_alive(pid):
                        break
                    time.sleep(0.05)
                else:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        self._proc = None
        self._pid = None
        if self._dot is None:
            _live.discard(self)
        if os.path.isdir(self.workdir):
            self._save()

    def query_count(self, rtype=None, protocol=None):
        """DNS queries knotd has received since it (re)started: all of them,
        or only those of one query type (rtype="TLSA") or one transport
        (protocol="udp" or "tcp", IPv4 and IPv6 together). Counted by knot's
        mod-stats module and read with knotc (no DNS query is sent)."""
        if rtype is not None and protocol is not None:
            raise TestbedError("query_count: give rtype or protocol, not both")
        p = self._knotc("stats", "mod-stats")
        if rtype is not None:
            counter, want = "query-type", lambda k: k == rtype.upper()
        elif protocol is not None:
            counter, want = "request-protocol", lambda k: k.startswith(protocol.lower())
        else:
            counter, want = "request-protocol", lambda k: True
        total = 0
        for line in p.stdout.splitlines():
            m = re.match(r"\s*mod-stats\.([a-z-]+)\[([^\]]+)\]\s*=\s*(\d+)", line)
            if m and m.group(1) == counter and want(m.group(2)):
                total += int(m.group(3))
        return total

    def start_dot(self):
        """Start unbound in front of knotd as a DNS-over-TLS resolver on a
        free port, with a certificate made now. Returns a DotFrontend:
        .upstream "127.0.0.1@PORT", .auth_name (the name in the certificate),
        .ca_file (the self-signed certificate to trust, e.g. through the
        SSL_CERT_FILE environment variable, which getdns honours). unbound
        only forwards and caches (no validation of its own), so the client
        still validates; its cache means query_count() may not grow for
        repeated questions. Stopped by close() or stop_dot()."""
        if self._dot is not None:
            return self._dot
        d = os.path.join(self.workdir, "dot")
        os.makedirs(d, exist_ok=True)
        auth_name = "dot.resolver.example"
        key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        _run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-days", "7",
              "-subj", "/CN=" + auth_name,
              "-addext", "subjectAltName=DNS:" + auth_name,
              "-keyout", key, "-out", cert])
        port = _free_port(False)
        conf = os.path.join(d, "unbound.conf")
        lines = [
            "server:",
            "  interface: 127.0.0.1@%d" % port,
            "  tls-port: %d" % port,
            '  tls-service-key: "%s"' % key,
            '  tls-service-pem: "%s"' % cert,
            # one TLS connection per plugin worker and verifier: more
            # than unbound's default of 10
            "  incoming-num-tcp: 100",
            "  do-daemonize: no", '  username: ""', '  chroot: ""',
            '  directory: "%s"' % d, '  pidfile: ""', "  use-syslog: no",
            '  logfile: "%s"' % os.path.join(d, "unbound.log"),
            "  verbosity: 1", "  do-not-query-localhost: no",
            '  module-config: "iterator"', "  access-control: 127.0.0.0/8 allow",
            "  qname-minimisation: no", "  do-ip6: no",
            "remote-control:", "  control-enable: no",
        ]
        # One stub zone per served zone: referrals carry glue for port 53,
        # but every zone lives on knotd's port.
        for zone in ALL_ZONES:
            lines += ["stub-zone:", '  name: "%s"' % zone,
                      "  stub-addr: 127.0.0.1@%d" % self.port]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        _run([UNBOUND_CHECKCONF, conf])
        with open(os.path.join(d, "unbound.stderr"), "a") as log:
            proc = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, start_new_session=True)
        self._dot = DotFrontend("127.0.0.1@%d" % port, auth_name, cert, proc)
        _live.add(self)
        deadline = time.monotonic() + 10
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.settimeout(1.0)
                sock.connect(("127.0.0.1", port))
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.stop_dot()
                    raise TestbedError("unbound (DNS over TLS) did not start; "
                                       "see %s" % os.path.join(d, "unbound.log"))
                time.sleep(0.05)
            finally:
                sock.close()
        return self._dot

    def stop_dot(self):
        """Stop the DNS-over-TLS front end, if running."""
        dot, self._dot = self._dot, None
        if dot is None:
            return
        dot.proc.terminate()
        try:
            dot.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            dot.proc.kill()
            dot.proc.wait()

    def close(self):
        """Stop every process of the test bed. Safe to call twice."""
        self.stop_dot()
        self.stop_server()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def env(self):
        """Shell assignments describing the test bed."""
        return ("DANCE_DNS_UPSTREAM=%s\nDANCE_DNS_TRUST_ANCHOR=%s\n"
                "DANCE_DNS_PORT=%d\n" % (self.upstream, self.trust_anchor, self.port))


# ------------------------------------------------------------------ command line

def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(
        prog="dnstestbed.py",
        description="A signed fake-root DNSSEC tree served by knotd on 127.0.0.1.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="build and start a test bed in DIR")
    p.add_argument("dir")
    p.add_argument("--ttl", type=int, default=300)
    p.add_argument("--negative-ttl", type=int, default=60)
    p = sub.add_parser("down", help="stop the test bed in DIR")
    p.add_argument("dir")
    p = sub.add_parser("env", help="print shell variables for DIR")
    p.add_argument("dir")
    p = sub.add_parser("set", help="replace an RRset and publish")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("type")
    p.add_argument("rdata", nargs="+")
    p.add_argument("--ttl", type=int)
    p = sub.add_parser("remove", help="remove an RRset (or all at NAME) and publish")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("type", nargs="?")
    p = sub.add_parser("tamper", help="corrupt an RRset's signature and publish")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("type")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "up":
            tb = Testbed(a.dir, default_ttl=a.ttl, negative_ttl=a.negative_ttl,
                         start=False)
            tb.start_server(detach=True)
            sys.stdout.write(tb.env())
            return 0
        tb = Testbed.attach(a.dir)
        if a.cmd == "down":
            tb.stop_server()
        elif a.cmd == "env":
            sys.stdout.write(tb.env())
        elif a.cmd == "set":
            tb.set_records(a.name, a.type, a.rdata, ttl=a.ttl)
            tb.publish()
        elif a.cmd == "remove":
            tb.remove_records(a.name, a.type)
            tb.publish()
        elif a.cmd == "tamper":
            tb.tamper_signature(a.name, a.type)
        return 0
    except TestbedError as e:
        sys.stderr.write("dnstestbed: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
