#!/usr/bin/python3
"""dance_cli - run the built `dance` CLI from a test as a real process.

Every run is checked for a death by signal and for a sanitizer report on
stderr (a program stopped by ASan or UBSan exits 1, which a test expecting
a refusal would otherwise take for success), so the CLI tests double as
"never crashes" tests under -DDANCE_SANITIZE=ON.

The binary: DANCE_CLI, else DANCE_BUILD_DIR/dance (default build/dance);
scripts that take --build-dir call use_build_dir().
"""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.path.abspath(os.environ.get("DANCE_BUILD_DIR", os.path.join(REPO, "build")))
DANCE = os.environ.get("DANCE_CLI", os.path.join(BUILD_DIR, "dance"))
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def use_build_dir(build):
    """Run the dance binary of this build directory from now on; its path."""
    global DANCE
    DANCE = os.path.join(build, "dance")
    return DANCE


def run(*args, stdin=b"", check=None, text=False, timeout=60):
    """Run dance with args and return the CompletedProcess (stdout and
    stderr captured; str with text, else bytes). stdin is the input (None:
    /dev/null). With check, any other exit status fails the caller."""
    feed = {"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}
    p = subprocess.run([DANCE, *args], capture_output=True, text=text, timeout=timeout,
                       **feed)
    err = p.stderr if text else p.stderr.decode(errors="replace")
    what = "dance " + " ".join(str(a) for a in args)
    if p.returncode < 0:
        raise AssertionError(f"{what} died by signal {-p.returncode}\nstderr: {err}")
    for marker in SANITIZER_MARKS:
        if marker in err:
            raise AssertionError(f"{what}: sanitizer report\n{err}")
    if check is not None and p.returncode != check:
        raise AssertionError(f"{what}: exit {p.returncode}, expected {check}\n"
                             f"stdout: {p.stdout!r}\nstderr: {err}")
    return p
