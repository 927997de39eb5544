#!/usr/bin/python3
"""Install test: `cmake --install` of the build into a temporary DESTDIR,
then what a user of the installed tree relies on:

  * the files where Debian puts their kind (GNUInstallDirs, multiarch
    libdir, the plugin beside Mosquitto's) and nothing else (no examples,
    tests or internal headers); the prefix given at install time is the
    one libdance.pc and the conf.d snippet name;
  * libdance.so.0: SONAME, links, exports exactly what the installed
    headers declare;
  * a C program built with `pkg-config --cflags --libs libdance` (and one
    linked statically with `--static`) against the installed tree, run;
  * the installed `dance --help` and `--version`;
  * the installed conf.d snippet: as installed it loads nothing (a real
    mosquitto starts without the plugin); filled in, mosquitto loads the
    installed plugin, which names its version and starts, and refuses to
    start when the required allowed_domains is left out.

usage: test_install.py --build-dir BUILD [unittest arguments]
Environment: DANCE_TEST_CFLAGS (extra compiler flags for the program, e.g.
the sanitizer flags of the build), DANCE_MOSQUITTO_PRELOAD and
DANCE_MOSQUITTO_ASAN_OPTIONS (sanitizer builds: the ASan runtime for the
uninstrumented broker), DANCE_KEEP_WORKDIR=1 keeps the work directory.
"""

import os
import re
import shlex
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import install_checks as ic  # noqa: E402

BUILD = None
CC = os.environ.get("CC", "cc")
MOSQUITTO = os.environ.get("DANCE_MOSQUITTO", "/usr/sbin/mosquitto")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def install(destdir, prefix):
    env = dict(os.environ, DESTDIR=destdir)
    return ic.run(["cmake", "--install", BUILD, "--prefix", prefix], env=env)


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dance-install-")
        os.chmod(cls.work, 0o755)   # a broker started as root reads it as "mosquitto"
        cls.dest = os.path.join(cls.work, "dest")
        cls.prefix = "/usr"
        cls.libdir = ic.cache_value(BUILD, "CMAKE_INSTALL_LIBDIR")
        cls.plugindir = ic.cache_value(BUILD, "DANCE_MOSQUITTO_PLUGIN_DIR") or cls.libdir
        cls.with_plugin = ic.cache_value(BUILD, "DANCE_BUILD_PLUGIN") in ("ON", "TRUE", "1")
        install(cls.dest, cls.prefix)
        cls.root_lib = cls.dest + os.path.join(cls.prefix, cls.libdir)
        cls.version = ic.project_version()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("DANCE_KEEP_WORKDIR") == "1":
            print("work directory kept: " + cls.work, file=sys.stderr)
        else:
            shutil.rmtree(cls.work, ignore_errors=True)

    def path(self, p):
        return self.dest + p

    # --- the tree ---

    def test_tree(self):
        self.assertTrue(self.libdir.startswith("lib"), self.libdir)
        if os.path.exists("/etc/debian_version"):
            arch = ic.run([CC, "-print-multiarch"]).stdout.strip()
            if arch:
                self.assertEqual(self.libdir, "lib/" + arch)
        expected = ic.expected_files(self.prefix, self.libdir, self.plugindir, "/etc",
                                     self.with_plugin)
        found = ic.tree_files(self.dest)
        self.assertEqual(sorted(expected - found), [], "missing from the install")
        self.assertEqual(ic.unexpected(found, expected), [], "installed but not expected")
        for p in found:
            if os.path.islink(self.path(p)):
                continue
            mode = os.lstat(self.path(p)).st_mode
            if p.endswith("/bin/dance"):
                self.assertTrue(mode & 0o111, p + " is not executable")
            self.assertFalse(mode & 0o022, p + " is group/world writable")

    def test_other_prefix(self):
        # The prefix given at install time is the one the generated files
        # name (not the configured one); /opt/X keeps its configuration in
        # /etc/opt/X as GNUInstallDirs has it.
        dest = os.path.join(self.work, "opt")
        install(dest, "/opt/dance")
        expected = ic.expected_files("/opt/dance", self.libdir, self.plugindir,
                                     "/etc/opt/dance", self.with_plugin)
        found = ic.tree_files(dest)
        self.assertEqual(sorted(expected - found), [])
        with open(dest + "/opt/dance/%s/pkgconfig/libdance.pc" % self.libdir) as f:
            pc = f.read()
        self.assertIn("prefix=/opt/dance\n", pc)
        self.assertIn("libdir=${prefix}/%s\n" % self.libdir, pc)
        if self.with_plugin:
            with open(dest + "/etc/opt/dance/mosquitto/conf.d/dance.conf") as f:
                self.assertIn("#plugin /opt/dance/%s/mosquitto_dance.so\n" % self.plugindir,
                              f.read())

    def test_shared_library(self):
        lib = os.path.join(self.root_lib, "libdance.so." + self.version)
        dyn = ic.run(["readelf", "-d", lib]).stdout
        self.assertIn("Library soname: [libdance.so.0]", dyn)
        self.assertNotIn("RPATH", dyn)
        self.assertNotIn("RUNPATH", dyn)
        self.assertEqual(os.readlink(os.path.join(self.root_lib, "libdance.so.0")),
                         "libdance.so." + self.version)
        self.assertEqual(os.readlink(os.path.join(self.root_lib, "libdance.so")),
                         "libdance.so.0")
        # Exported: exactly the functions the installed headers declare.
        exported = set()
        for line in ic.run(["nm", "-D", "--defined-only", lib]).stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBR":
                exported.add(parts[2])
        headers = ""
        for h in ic.public_headers():
            with open(self.path(os.path.join(self.prefix, "include", "dance", h))) as f:
                headers += f.read()
        headers = re.sub(r"/\*.*?\*/", "", headers, flags=re.S)
        declared = set(re.findall(r"\b(dance_[a-z0-9_]+)\(", headers))
        self.assertIn("dance_version", exported)
        self.assertEqual(sorted(x for x in exported if not x.startswith("dance_")), [])
        self.assertEqual(sorted(x for x in exported if "hashtab" in x), [])
        self.assertEqual(sorted(exported - declared), [], "exported but not declared")
        self.assertEqual(sorted(declared - exported), [], "declared but not exported")

    # --- building against it ---

    def pkg_config(self, *args):
        env = dict(os.environ,
                   PKG_CONFIG_PATH=os.path.join(self.root_lib, "pkgconfig"),
                   PKG_CONFIG_SYSROOT_DIR=self.dest,
                   PKG_CONFIG_ALLOW_SYSTEM_CFLAGS="1", PKG_CONFIG_ALLOW_SYSTEM_LIBS="1")
        return shlex.split(ic.run(["pkg-config", *args, "libdance"], env=env).stdout)

    def test_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.root_lib, "pkgconfig"))
        self.assertEqual(ic.run(["pkg-config", "--modversion", "libdance"], env=env)
                         .stdout.strip(), self.version)
        self.assertIn("-ldance", self.pkg_config("--libs"))
        self.assertIn("-I" + self.path(self.prefix + "/include"), self.pkg_config("--cflags"))
        static = self.pkg_config("--static", "--libs")
        for lib in ("-lssl", "-lcrypto", "-lgetdns", "-lcjson", "-lcjose"):
            self.assertIn(lib, static)

    def compile_program(self, name, link):
        src = os.path.join(self.work, "prog.c")
        with open(src, "w") as f:
            f.write(ic.program_source())
        exe = os.path.join(self.work, name)
        extra = shlex.split(os.environ.get("DANCE_TEST_CFLAGS", ""))
        ic.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", *extra, src, "-o", exe,
                *self.pkg_config("--cflags"), *link])
        return exe

    def test_program_shared(self):
        exe = self.compile_program("prog-shared", self.pkg_config("--libs"))
        env = dict(os.environ, LD_LIBRARY_PATH=self.root_lib)
        # libdance.so.0 comes from the installed tree, not the build.
        ldd = ic.run(["ldd", exe], env=env).stdout
        self.assertRegex(ldd, r"libdance\.so\.0 => %s/libdance\.so\.0 " % re.escape(self.root_lib))
        p = ic.run([exe], env=env)
        self.assertEqual(p.stdout, "%s %s\n" % (self.version, ic.PROGRAM_OUTPUT))

    def test_program_static(self):
        # --static: libdance.a and everything Requires.private names.
        libs = [self.path(os.path.join(self.prefix, self.libdir, "libdance.a"))
                if a == "-ldance" else a for a in self.pkg_config("--static", "--libs")]
        exe = self.compile_program("prog-static", libs)
        self.assertNotIn("libdance", ic.run(["ldd", exe]).stdout)
        p = ic.run([exe])
        self.assertEqual(p.stdout, "%s %s\n" % (self.version, ic.PROGRAM_OUTPUT))

    # --- the CLI ---

    def test_cli(self):
        dance = self.path(self.prefix + "/bin/dance")
        self.assertEqual(ic.run([dance, "--version"]).stdout,
                         "dance (mosquitto-dance) %s\n" % self.version)
        p = ic.run([dance, "--help"])
        for cmd in ("keygen", "cert", "tlsa", "match", "lookup", "sign", "verify", "token"):
            self.assertIn("  " + cmd + " ", p.stdout)
        self.assertNotIn("libdance", ic.run(["ldd", dance]).stdout)

    # --- the plugin and the conf.d snippet ---

    def broker(self, name, snippet, until):
        """mosquitto with the conf.d directory holding this snippet and a
        loopback listener of the test's own; returns (output, running)."""
        d = os.path.join(self.work, name)
        confd = os.path.join(d, "conf.d")
        os.makedirs(confd)
        with open(os.path.join(confd, "dance.conf"), "w") as f:
            f.write(snippet)
        conf, log = os.path.join(d, "mosquitto.conf"), os.path.join(d, "mosquitto.log")
        with open(conf, "w") as f:
            f.write("log_dest file %s\nlog_type all\npersistence false\n" % log)
            if os.geteuid() == 0:
                # else mosquitto switches to its own user, who may not
                # write this log (the package test runs it as installed)
                f.write("user root\n")
            f.write("include_dir %s\n" % confd)
        env = dict(os.environ)
        if os.environ.get("DANCE_MOSQUITTO_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["DANCE_MOSQUITTO_PRELOAD"]
            env["ASAN_OPTIONS"] = os.environ.get("DANCE_MOSQUITTO_ASAN_OPTIONS", "")
        out, running = ic.run_broker([MOSQUITTO, "-c", conf], log, until, env=env)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, out)
        return out, running

    def snippet(self):
        with open(self.path("/etc/mosquitto/conf.d/dance.conf")) as f:
            return f.read()

    def filled(self, **values):
        """The installed snippet filled in for a loopback TLS listener and
        the installed plugin (its path inside DESTDIR)."""
        tls = os.path.join(self.work, "tls")
        if not os.path.isdir(tls):
            os.makedirs(tls)
            ic.make_tls_files(tls)
        cert, key = os.path.join(tls, "server.pem"), os.path.join(tls, "server.key")
        plugin = self.path(os.path.join(self.prefix, self.plugindir, "mosquitto_dance.so"))
        opts = {"listener": "%d 127.0.0.1" % ic.free_port(), "cafile": cert,
                "certfile": cert, "keyfile": key, "require_certificate": None,
                "plugin": plugin, "plugin_opt_allowed_domains": None,
                "plugin_opt_cafile": cert, "plugin_opt_resolver": "127.0.0.1@53"}
        opts.update(values)
        return ic.fill_snippet(self.snippet(), {k: v for k, v in opts.items() if v != "-"})

    @unittest.skipUnless(os.path.exists(MOSQUITTO), MOSQUITTO + " is not installed")
    def test_snippet_as_installed_loads_nothing(self):
        if not self.with_plugin:
            self.skipTest("built without the plugin")
        text = self.snippet()
        self.assertEqual(ic.active_lines(text), [], "the snippet must be all comments")
        # mosquitto reads it (include_dir) and starts as it would without it
        port = ic.free_port()
        out, running = self.broker("pristine", text + "listener %d 127.0.0.1\n" % port,
                                   ["running"])
        self.assertTrue(running, out)
        self.assertNotIn("dance:", out)

    @unittest.skipUnless(os.path.exists(MOSQUITTO), MOSQUITTO + " is not installed")
    def test_snippet_filled_in_starts_the_plugin(self):
        if not self.with_plugin:
            self.skipTest("built without the plugin")
        out, running = self.broker("filled", self.filled(), ["running"])
        self.assertTrue(running, out)
        self.assertIn("dance: mosquitto-dance %s starting" % self.version, out)
        self.assertIn("dance: DANE client authentication ready: allowed_domains=acme.example", out)

    @unittest.skipUnless(os.path.exists(MOSQUITTO), MOSQUITTO + " is not installed")
    def test_snippet_without_required_option_refuses(self):
        if not self.with_plugin:
            self.skipTest("built without the plugin")
        out, running = self.broker("refused", self.filled(plugin_opt_allowed_domains="-"),
                                   ["running"])
        self.assertFalse(running, out)
        self.assertIn("dance: mosquitto-dance %s starting" % self.version, out)
        self.assertIn("dance: refusing to start: plugin_opt_allowed_domains is required", out)


def main():
    global BUILD
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "--build-dir":
        BUILD, argv = os.path.abspath(argv[1]), argv[2:]
    if not BUILD:
        sys.exit(__doc__)
    unittest.main(argv=[sys.argv[0], "-v", *argv])


if __name__ == "__main__":
    main()
