#!/usr/bin/python3
"""Package test: `cpack -G DEB`, then the .deb on a fresh Debian 12 in a
throw-away chroot, not on this machine.

  1. cpack -G DEB in the build; the control fields (name, version,
     section, dependencies, conffile, shlibs, ldconfig trigger) and the contents (under /usr
     and /etc only, no build paths in any file).
  2. A minimal Debian 12 root from scripts/debian-root (cached as
     BUILD/debian-root/bookworm.tar), extracted under BUILD/package-test/.
  3. In the chroot: apt-get install ./the.deb (apt fetches mosquitto and
     the libraries from the mirror) and pkgconf; then `dance --help` and
     `--version`, `pkg-config --libs libdance`, ldconfig knowing
     libdance.so.0, and a program built against the chroot's installed
     headers and library run there. The program is compiled on this
     machine (same Debian 12 compiler and OpenSSL headers) with -I/-L into
     the chroot, so the chroot needs no compiler; it runs inside the chroot,
     where only the package's own libdance.so.0 can satisfy it.
  4. mosquitto, as packaged, started inside the chroot with its own
     /etc/mosquitto/mosquitto.conf, which reads conf.d: the installed
     snippet filled in (a TLS listener on a free loopback port, the
     required options) loads the installed plugin, which logs its version
     and starts; without allowed_domains it refuses and the broker stops.
  5. dpkg -r: every file of the package is gone but the conffile, and
     ldconfig forgets libdance; dpkg --purge: the conffile is gone too and
     the package is unknown to dpkg.

Needs root (chroot, debootstrap) and the apt mirror: without root, or when
the Debian root cannot be made or apt cannot fetch, the test is skipped
(exit 77) with the reason, unless DANCE_REQUIRE_PACKAGE_TEST=1 (then it
fails). /proc is mounted in the chroot only while mosquitto runs (the plugin
reads /proc/self/cmdline) and unmounted whatever happens; the chroot is removed at the end (kept with
DANCE_KEEP_WORKDIR=1). Each step prints how long it took.

usage: test_package.py --build-dir BUILD
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import install_checks as ic  # noqa: E402

SKIP = 77
CC = os.environ.get("CC", "cc")


class Skip(Exception):
    pass


def step(name):
    """Print a step's name and, when the next starts, how long it took."""
    now = time.monotonic()
    if step.current:
        print("   %.1f s" % (now - step.started), flush=True)
    step.current, step.started = name, now
    if name:
        print("== " + name, flush=True)


step.current, step.started = None, 0.0


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def unavailable(reason):
    """A missing precondition: a skip, or a failure where the test must run."""
    if os.environ.get("DANCE_REQUIRE_PACKAGE_TEST") == "1":
        raise AssertionError(reason + " (DANCE_REQUIRE_PACKAGE_TEST=1)")
    raise Skip(reason)


class Chroot:
    def __init__(self, root):
        self.root = root

    def path(self, p):
        return self.root + p

    def run(self, *argv, check=True, timeout=300):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
        return ic.run(["chroot", self.root, *argv], env=env, check=check, timeout=timeout)

    def mount_proc(self):
        ic.run(["mount", "-t", "proc", "proc", self.path("/proc")])
        self.proc_mounted = True

    def unmount_proc(self):
        if getattr(self, "proc_mounted", False):
            ic.run(["umount", self.path("/proc")], check=False)
            if os.path.ismount(self.path("/proc")):
                ic.run(["umount", "-l", self.path("/proc")], check=False)
            self.proc_mounted = False

    def write(self, p, text, mode=0o644):
        with open(self.path(p), "w") as f:
            f.write(text)
        os.chmod(self.path(p), mode)


def build_package(build, version):
    step("cpack -G DEB")
    out = os.path.join(build, "packages")
    shutil.rmtree(out, ignore_errors=True)
    ic.run(["cpack", "-G", "DEB"], timeout=600, cwd=build)
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    check(len(debs) == 1, "cpack made %s" % debs)
    deb = os.path.join(out, debs[0])
    check(re.fullmatch(r"mosquitto-dance_%s_[a-z0-9]+\.deb" % re.escape(version), debs[0]),
          "package file name " + debs[0])

    step("the package's control fields and contents")
    info = ic.run(["dpkg-deb", "-f", deb]).stdout
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", info, re.M))
    check(fields.get("Package") == "mosquitto-dance", info)
    check(fields.get("Version") == version, info)
    check(fields.get("Section") == "net", info)
    check(fields.get("Maintainer"), info)
    depends = [d.strip().split()[0] for d in fields.get("Depends", "").split(",")]
    for dep in ("mosquitto", "libgetdns10", "libcjose0", "libcjson1", "libcbor0.8", "libssl3",
                "libc6"):
        check(dep in depends, "Depends lacks %s: %s" % (dep, fields.get("Depends")))
    os.makedirs(os.path.join(build, "package-test"), exist_ok=True)
    ctl = os.path.join(build, "package-test", "control")
    shutil.rmtree(ctl, ignore_errors=True)
    ic.run(["dpkg-deb", "-e", deb, ctl])
    with open(os.path.join(ctl, "conffiles")) as f:
        check(f.read().split() == ["/etc/mosquitto/conf.d/dance.conf"], "conffiles")
    with open(os.path.join(ctl, "shlibs")) as f:
        check(f.read().split()[:3] == ["libdance", "0", "mosquitto-dance"], "shlibs")
    with open(os.path.join(ctl, "triggers")) as f:
        check(f.read().split() == ["activate-noawait", "ldconfig"], "triggers")

    files = set()
    for line in ic.run(["dpkg-deb", "-c", deb]).stdout.splitlines():
        name = line.split()[5]
        if not name.endswith("/"):
            files.add(name[1:])
    libdir = ic.cache_value(build, "CMAKE_INSTALL_LIBDIR")
    plugindir = ic.cache_value(build, "DANCE_MOSQUITTO_PLUGIN_DIR") or libdir
    expected = ic.expected_files("/usr", libdir, plugindir, "/etc")
    check(not expected - files, "missing from the package: %s" % sorted(expected - files))
    check(not ic.unexpected(files, expected),
          "in the package but not expected: %s" % ic.unexpected(files, expected))
    # No path of the build machine in any file (debug information,
    # __FILE__, RPATH).
    x = os.path.join(build, "package-test", "contents")
    shutil.rmtree(x, ignore_errors=True)
    ic.run(["dpkg-deb", "-x", deb, x])
    needles = {os.path.realpath(build).encode(), os.path.realpath(ic.REPO).encode()}
    for d, _, names in os.walk(x):
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            for needle in needles:
                check(needle not in data, "%s holds the build path %s"
                      % (p[len(x):], needle.decode()))
    shutil.rmtree(x)
    if shutil.which("lintian"):
        # reported, not judged: the single package knowingly holds
        # development files beside the library and the plugin
        print(ic.run(["lintian", deb], check=False).stdout, end="")
    return deb, files


def make_root(build):
    step("Debian 12 root (scripts/debian-root, cached)")
    tarball = os.path.join(build, "debian-root", "bookworm.tar")
    p = ic.run([os.path.join(ic.REPO, "scripts", "debian-root"), tarball],
               check=False, timeout=1800)
    print(p.stdout + p.stderr, end="")
    if p.returncode != 0 or not os.path.exists(tarball):
        unavailable("no Debian root: scripts/debian-root failed")
    root = os.path.join(build, "package-test", "root")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    ic.run(["tar", "--numeric-owner", "-C", root, "-xf", tarball], timeout=600)
    c = Chroot(root)
    # Name resolution for apt, and no service started by a maintainer script.
    shutil.copyfile("/etc/resolv.conf", c.path("/etc/resolv.conf"))
    c.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    return c


def install_package(c, deb):
    step("apt-get install ./%s (with its dependencies)" % os.path.basename(deb))
    shutil.copy(deb, c.path("/tmp/"))
    p = c.run("apt-get", "update", "-q", check=False, timeout=600)
    if p.returncode != 0:
        unavailable("apt-get update failed in the chroot (no mirror?):\n" + p.stdout + p.stderr)
    p = c.run("apt-get", "install", "-y", "-q", "--no-install-recommends",
              "/tmp/" + os.path.basename(deb), "pkgconf", check=False, timeout=900)
    if p.returncode != 0:
        raise AssertionError("apt-get install failed:\n" + p.stdout + p.stderr)
    status = c.run("dpkg-query", "-W", "-f=${Status} ${Version}", "mosquitto-dance").stdout
    check(status == "install ok installed " + ic.project_version(), status)


def check_installed(c, build, version):
    step("dance, pkg-config, ldconfig and a program built against the package")
    check(c.run("dance", "--version").stdout == "dance (mosquitto-dance) %s\n" % version,
          "dance --version")
    check("  verify " in c.run("dance", "--help").stdout, "dance --help")
    libs = c.run("pkg-config", "--libs", "libdance").stdout.split()
    check(libs == ["-ldance"], "pkg-config --libs libdance: %s" % libs)
    check(c.run("pkg-config", "--modversion", "libdance").stdout.strip() == version,
          "pkg-config --modversion")
    check("libdance.so.0 " in c.run("ldconfig", "-p").stdout, "ldconfig -p lacks libdance.so.0")

    work = os.path.join(build, "package-test")
    src, exe = os.path.join(work, "prog.c"), c.path("/tmp/prog")
    with open(src, "w") as f:
        f.write(ic.program_source())
    libdir = ic.cache_value(build, "CMAKE_INSTALL_LIBDIR")
    ic.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", src, "-o", exe,
            "-I" + c.path("/usr/include"), "-L" + c.path("/usr/" + libdir), "-ldance"])
    ldd = c.run("ldd", "/tmp/prog").stdout
    # /lib is /usr/lib on Debian 12 (merged /usr)
    check(re.search(r"libdance\.so\.0 => (/usr)?/%s/libdance\.so\.0 " % re.escape(libdir), ldd),
          "the program does not use the package's libdance.so.0:\n" + ldd)
    out = c.run("/tmp/prog").stdout
    check(out == "%s %s\n" % (version, ic.PROGRAM_OUTPUT), "program printed %r" % out)


def start_broker(c, snippet, until):
    """The packaged mosquitto with its packaged configuration, this snippet
    as conf.d/dance.conf; returns (log, running)."""
    c.write("/etc/mosquitto/conf.d/dance.conf", snippet)
    # what mosquitto.service does before it starts the broker
    for d in ("/var/log/mosquitto", "/run/mosquitto"):
        c.run("install", "-d", "-m", "740", "-o", "mosquitto", d)
    log = "/var/log/mosquitto/mosquitto.log"
    if os.path.exists(c.path(log)):
        os.unlink(c.path(log))
    return ic.run_broker(["chroot", c.root, "/usr/sbin/mosquitto", "-c",
                          "/etc/mosquitto/mosquitto.conf"], c.path(log), until)


def check_broker(c, version):
    step("mosquitto loading the installed plugin from the filled-in conf.d snippet")
    # The plugin reads the broker's command line in /proc/self to find
    # the configuration files (and refuses to start without it).
    c.mount_proc()
    try:
        broker_runs(c, version)
    finally:
        c.unmount_proc()


def broker_runs(c, version):
    with open(c.path("/etc/mosquitto/conf.d/dance.conf")) as f:
        pristine = f.read()
    check(ic.active_lines(pristine) == [], "the installed snippet must be all comments")
    os.makedirs(c.path("/etc/mosquitto/dance"), exist_ok=True)
    ic.make_tls_files(c.path("/etc/mosquitto/dance"))
    tls = "/etc/mosquitto/dance/"
    values = {"listener": "%d 127.0.0.1" % ic.free_port(), "cafile": tls + "server.pem",
              "certfile": tls + "server.pem", "keyfile": tls + "server.key",
              "require_certificate": None, "plugin": None,
              "plugin_opt_allowed_domains": None, "plugin_opt_cafile": tls + "server.pem",
              "plugin_opt_resolver": "127.0.0.1@53"}
    log, running = start_broker(c, ic.fill_snippet(pristine, values), ["running"])
    check(running, "mosquitto did not start:\n" + log)
    check("dance: mosquitto-dance %s starting" % version in log, "no version line:\n" + log)
    check("dance: DANE client authentication ready: allowed_domains=acme.example" in log,
          "the plugin did not start:\n" + log)
    print(log, end="")

    step("mosquitto refusing to start without the required allowed_domains")
    del values["plugin_opt_allowed_domains"]
    log, running = start_broker(c, ic.fill_snippet(pristine, values), ["running"])
    check(not running, "mosquitto kept running:\n" + log)
    check("dance: refusing to start: plugin_opt_allowed_domains is required" in log,
          "no refusal naming the option:\n" + log)
    c.write("/etc/mosquitto/conf.d/dance.conf", pristine)


def check_removal(c, files):
    step("dpkg -r, then dpkg --purge")
    c.run("dpkg", "-r", "mosquitto-dance")
    conffile = "/etc/mosquitto/conf.d/dance.conf"
    left = sorted(f for f in files if os.path.lexists(c.path(f)) and f != conffile)
    check(not left, "left after dpkg -r: %s" % left)
    check(os.path.exists(c.path(conffile)), "dpkg -r removed the conffile")
    status = c.run("dpkg-query", "-W", "-f=${Status}", "mosquitto-dance").stdout
    check(status == "deinstall ok config-files", status)
    check("libdance" not in c.run("ldconfig", "-p").stdout, "ldconfig still knows libdance")
    check(not os.path.exists(c.path("/usr/include/dance")), "/usr/include/dance left")
    c.run("dpkg", "--purge", "mosquitto-dance")
    check(not os.path.lexists(c.path(conffile)), "dpkg --purge left the conffile")
    p = c.run("dpkg-query", "-W", "-f=${Status}", "mosquitto-dance", check=False)
    check(p.returncode != 0 or p.stdout.startswith("unknown"), "still known to dpkg: " + p.stdout)
    # the broker itself stays (it is another package) and its own files too
    check(os.path.exists(c.path("/usr/sbin/mosquitto")), "mosquitto went with it")


def main(argv):
    if len(argv) != 3 or argv[1] != "--build-dir":
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(argv[2])
    version = ic.project_version()
    # ctest stops a test that overruns with SIGTERM: clean up then too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    started, c = time.monotonic(), None
    try:
        if os.geteuid() != 0:
            unavailable("needs root (chroot, debootstrap)")
        deb, files = build_package(build, version)
        c = make_root(build)
        install_package(c, deb)
        check_installed(c, build, version)
        check_broker(c, version)
        check_removal(c, files)
        step(None)
        print("package test passed in %.0f s" % (time.monotonic() - started))
        return 0
    except Skip as e:
        step(None)
        print("SKIPPED: package test: %s" % e)
        return SKIP
    except (AssertionError, subprocess.TimeoutExpired) as e:
        step(None)
        print("FAILED: %s" % e)
        return 1
    finally:
        if c is not None:
            c.unmount_proc()
            if os.environ.get("DANCE_KEEP_WORKDIR") == "1":
                print("chroot kept: " + c.root)
            elif mounts_under(c.root):
                # never delete through a mount point
                print("NOT removing %s: mounted below it: %s" % (c.root, mounts_under(c.root)))
            else:
                shutil.rmtree(c.root, ignore_errors=True)


def mounts_under(root):
    """Mount points at or below root (from /proc/self/mounts)."""
    root = os.path.realpath(root)
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    return [p for p in points if p == root or p.startswith(root + "/")]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
