"""sanitizer_preload - run the Python tests over an ASan-built libdance.so.

An instrumented shared library loads into an uninstrumented python3 only
when the ASan runtime comes first in the process (LD_PRELOAD), as for the
broker in the plugin tests. tests/45-python.cmake sets DANCE_PYTHON_PRELOAD
to the runtime's path in -DDANCE_SANITIZE=ON builds; then reexec() starts
the test again with the runtime preloaded and leak checking off for the
interpreter (Python keeps objects until exit by design, which LeakSanitizer
would report; the library's own leaks are checked by its unit tests), and
in the new process takes the preload back out of the environment, so the
programs the tests start (dance, knotd, mosquitto) run as they always do.
Reports still go where the sanitizer suite's ASAN_OPTIONS say.
"""

import os
import sys

PRELOAD = os.environ.get("DANCE_PYTHON_PRELOAD", "")
_MARK = "DANCE_PYTHON_PRELOADED"
_SAVED = "DANCE_PYTHON_CHILD_ASAN_OPTIONS"


def python_env(env=None):
    """The environment for a python3 child that loads libdance (the
    example backend): the runtime preloaded, leak checking off."""
    env = dict(os.environ if env is None else env)
    if PRELOAD:
        env["LD_PRELOAD"] = PRELOAD
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def reexec():
    """Call first thing in a test file (before `import dance`)."""
    if not PRELOAD:
        return
    if os.environ.get(_MARK) != PRELOAD:
        env = python_env()
        env[_MARK] = PRELOAD
        env[_SAVED] = os.environ.get("ASAN_OPTIONS", "")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    os.environ.pop("LD_PRELOAD", None)
    saved = os.environ.pop(_SAVED, "")
    if saved:
        os.environ["ASAN_OPTIONS"] = saved
    else:
        os.environ.pop("ASAN_OPTIONS", None)
