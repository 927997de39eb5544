#!/usr/bin/python3
"""install_checks - what the install test (test_install.py) and the package
test (test_package.py) both check in an installed tree: the files it must
hold, a C program built against the installed headers and library, and the
installed conf.d snippet filled in and loaded by a real mosquitto.
"""

import os
import re
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Expected output of the test program (PROGRAM) besides the version.
PROGRAM_OUTPUT = "dev1._device.acme.example bad_signature"


def project_version():
    """The version of project(... VERSION) in the top CMakeLists.txt."""
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"^project\(\S+ VERSION (\d+\.\d+\.\d+)", f.read(), re.M)
    if not m:
        raise AssertionError("no project(... VERSION) in CMakeLists.txt")
    return m.group(1)


def cache_value(build_dir, name):
    """A variable of the build's CMakeCache.txt (None when absent)."""
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if key.split(":")[0] == name:
                return value
    return None


def public_headers():
    """The headers `cmake --install` must install: every header of
    include/dance but the internal hashtab.h and atomicfile.h, and the
    generated version.h."""
    src = os.path.join(REPO, "include", "dance")
    names = {n for n in os.listdir(src) if n.endswith(".h")}
    names.discard("hashtab.h")
    names.discard("atomicfile.h")
    names.add("version.h")
    return sorted(names)


def expected_files(prefix, libdir, plugindir, sysconfdir, with_plugin=True):
    """Paths (absolute, without DESTDIR) of the files an install holds."""
    lib = os.path.join(prefix, libdir)
    version = project_version()
    files = {
        os.path.join(prefix, "bin", "dance"),
        os.path.join(lib, "libdance.so"),
        os.path.join(lib, "libdance.so.0"),
        os.path.join(lib, "libdance.so." + version),
        os.path.join(lib, "libdance.a"),
        os.path.join(lib, "pkgconfig", "libdance.pc"),
        os.path.join(prefix, "share", "man", "man1", "dance.1.gz"),
        os.path.join(prefix, "share", "man", "man3", "libdance.3.gz"),
        os.path.join(prefix, "share", "man", "man5", "mosquitto-dance.5.gz"),
    }
    files |= {os.path.join(prefix, "include", "dance", h) for h in public_headers()}
    if with_plugin:
        files.add(os.path.join(prefix, plugindir, "mosquitto_dance.so"))
        files.add(os.path.join(sysconfdir, "mosquitto", "conf.d", "dance.conf"))
    return files


def unexpected(found, expected):
    """Installed files that are neither expected nor the Python module
    (installed by python/'s own rule), sorted."""
    return sorted(p for p in set(found) - set(expected) if "/python3" not in p)


def tree_files(root):
    """Every file and symbolic link under root, as absolute paths relative
    to root ("/usr/bin/dance")."""
    out = set()
    for d, dirs, files in os.walk(root):
        for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.add("/" + os.path.relpath(os.path.join(d, n), root))
    return out


def program_source():
    """A C program that includes every installed header (so each must
    compile on its own, in any order) and uses the library."""
    includes = "".join("#include <dance/%s>\n" % h for h in public_headers())
    return """#include <stdio.h>
#include <string.h>
%s
int main(void)
{
    char name[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX];

    if (strcmp(dance_version(), DANCE_VERSION_STRING) != 0) {
        fprintf(stderr, "library %%s, headers %%s\\n", dance_version(),
                DANCE_VERSION_STRING);
        return 1;
    }
    if (dance_name_normalize("Dev1._device.ACME.example.", name, sizeof(name),
                             err, sizeof(err)) != 0) {
        fprintf(stderr, "dance_name_normalize: %%s\\n", err);
        return 1;
    }
    printf("%%s %%s %%s\\n", dance_version(), name, dance_status_name(DANCE_BAD_SIGNATURE));
    return 0;
}
""" % includes


def run(argv, env=None, timeout=120, check=True, **kw):
    """Run argv, output captured as text; with check, fail on a non-zero
    exit naming the command and its output."""
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), p.returncode,
                                                    p.stdout, p.stderr))
    return p


def fill_snippet(text, values):
    """The conf.d snippet with the lines for the keys in values uncommented
    and set ("#plugin_opt_allowed_domains acme.example" -> the key and
    values[key]; a value None keeps the snippet's own). Fails when a key
    is not in the snippet."""
    out, seen = [], set()
    for line in text.splitlines():
        m = re.match(r"^#(\S+) (.*)$", line)
        if m and m.group(1) in values and m.group(1) not in seen:
            key = m.group(1)
            seen.add(key)
            value = values[key] if values[key] is not None else m.group(2)
            line = "%s %s" % (key, value)
        out.append(line)
    missing = set(values) - seen
    if missing:
        raise AssertionError("not in the conf.d snippet: %s" % ", ".join(sorted(missing)))
    return "\n".join(out) + "\n"


def active_lines(text):
    """The lines of a Mosquitto configuration that are not comments or blank."""
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def make_tls_files(directory):
    """A self-signed server certificate and key (P-256) for a listener;
    the certificate doubles as the listener's and the plugin's cafile.
    Returns (cert, key)."""
    cert, key = os.path.join(directory, "server.pem"), os.path.join(directory, "server.key")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=broker.acme.example", "-days", "2",
         "-keyout", key, "-out", cert])
    for p in (cert, key):
        # read by the broker after it dropped to its own user
        os.chmod(p, 0o644)
    return cert, key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_broker(argv, logfile, until, env=None, timeout=30):
    """Start a broker that logs to logfile (log_dest file: its stdout is
    block-buffered when it is not a terminal) and wait until the log holds
    one of the strings of until, or the broker exits, or timeout. Returns
    (log and output, running): the broker is stopped (SIGTERM, then
    SIGKILL) before returning."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    log = ""
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:
                with open(logfile, errors="replace") as f:
                    log = f.read()
            except FileNotFoundError:
                continue
            if any(u in log for u in until):
                break
        running = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out = proc.stdout.read().decode(errors="replace")
        proc.stdout.close()
    try:
        with open(logfile, errors="replace") as f:
            log = f.read()
    except FileNotFoundError:
        pass
    return log + out, running
