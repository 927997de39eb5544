#!/usr/bin/python3
"""compose_run - the docker-compose demo (docker-compose.yml), run for real.

  compose_run.py --work DIR [--timeout SECONDS] [--debian-root TAR]

As root, with Debian's docker.io and docker-compose:

  1. uses the running Docker engine, or starts dockerd (log in
     DIR/dockerd.log; overlay2, vfs only when overlay2 cannot start; the
     default data root, DIR/docker-root only when that fails) and stops it
     at the end;
  2. makes the base image debian:12 without a registry, when the engine has
     none: scripts/debian-root TAR (--debian-root, default
     DIR/debian-12.tar; kept as a cache) and
     `docker import`;
  3. builds the Dockerfile's `deps` stage (the Debian packages) and tags it
     mosquitto-dance-demo-deps:cache, so the next run installs nothing;
  4. `docker-compose up -d --build` under a project name of its own, the
     broker published on a free port of 127.0.0.1 only;
  5. waits until the backend has printed verified readings of dev1, dev2,
     s1 (JWS) and s2 (COSE_Sign1), both through gw1, and the broker has
     refused rogue (no_record);
  6. revokes dev2 as doc/demo.md shows (docker-compose exec dns ...
     dnstestbed.py remove) and checks that the broker disconnects it, that
     its reconnection is refused and that the backend verifies no more of
     its readings;
  7. always (failure, timeout, SIGTERM/SIGINT): saves every service's log
     to DIR/logs/, `docker-compose down -v --rmi all` and checks that no
     container, network, volume or image of the project is left.

debian:12 and mosquitto-dance-demo-deps:cache stay as build caches (the
output says so); `docker rmi mosquitto-dance-demo-deps:cache debian:12`
removes them. Exit status 0 when every check held, 1 otherwise, 77 (ctest
SKIP_RETURN_CODE) when not root or dockerd cannot start.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COMPOSE_FILE = os.path.join(REPO, "docker-compose.yml")
DOCKERFILE = os.path.join(REPO, "examples", "docker", "Dockerfile")
DEBIAN_ROOT = os.path.join(REPO, "scripts", "debian-root")
BASE_IMAGE = "debian:12"
DEPS_IMAGE = "mosquitto-dance-demo-deps:cache"
ORG = "acme.example"
SKIP = 77

START = time.monotonic()


class Skip(Exception):
    pass


class Failed(Exception):
    pass


class Interrupted(BaseException):
    pass


def say(msg):
    print("[%6.1fs] %s" % (time.monotonic() - START, msg), flush=True)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self, cap=None):
        left = self.end - time.monotonic()
        if left <= 0:
            raise Failed("out of time (--timeout)")
        return left if cap is None else min(left, cap)


def run(cmd, timeout, check=True, capture=False, env=None, quiet=False):
    """Run cmd; its output goes to ours unless captured."""
    if not quiet:
        say("$ " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.PIPE if capture else None,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed("`%s` did not finish within %d s (what was left of --timeout, or "
                     "its own limit)" % (" ".join(cmd[:6]), timeout))
    if check and p.returncode != 0:
        raise Failed("%s failed (exit %d)%s" % (
            " ".join(cmd[:3]), p.returncode,
            (": " + p.stderr.strip()[-2000:]) if capture and p.stderr else ""))
    return p


def docker_answers(timeout=20):
    try:
        return subprocess.run(["docker", "info"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def stop_process(proc, what, grace=60):
    if proc is None or proc.poll() is not None:
        return
    say("stopping %s (pid %d)" % (what, proc.pid))
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_dockerd(work):
    """Start dockerd; the process, or raise Skip with the reason."""
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not os.access(dockerd, os.X_OK):
        raise Failed("dockerd is missing: scripts/install-deps installs docker.io")
    log_path = os.path.join(work, "dockerd.log")
    tried = []
    for data_root in (None, os.path.join(work, "docker-root")):
        for driver in ("overlay2", "vfs"):
            cmd = [dockerd, "--storage-driver", driver]
            if data_root:
                os.makedirs(data_root, exist_ok=True)
                cmd += ["--data-root", data_root]
            say("starting %s (log %s)" % (" ".join(cmd), log_path))
            log = open(log_path, "a")
            log.write("\n=== %s\n" % " ".join(cmd))
            log.flush()
            start = log.tell()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            up = False
            for _ in range(60):
                if proc.poll() is not None:
                    break
                if docker_answers(5):
                    up = True
                    break
                time.sleep(1)
            if up:
                return proc
            stop_process(proc, "dockerd")
            with open(log_path, errors="replace") as f:
                f.seek(start)
                tail = f.read()[-1500:]      # this attempt's lines only
            last = (tail.strip().splitlines() or ["(no output)"])[-1]
            tried.append("%s: %s" % (" ".join(cmd[1:]), last))
            # vfs only when overlay2 itself is what failed.
            if driver == "overlay2" and not re.search(r"graphdriver|overlay", tail, re.I):
                break
    raise Skip("dockerd cannot start (log %s): %s" % (log_path, "; ".join(tried)))


def image_exists(name):
    return subprocess.run(["docker", "image", "inspect", name], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Project:
    """One docker-compose project of docker-compose.yml."""

    def __init__(self, name, port, deadline):
        self.name = name
        self.image = "mosquitto-dance-demo:" + name
        self.deadline = deadline
        self.env = dict(os.environ, DANCE_DEMO_IMAGE=self.image,
                        DANCE_BROKER_PORT=str(port), DOCKER_BUILDKIT="0",
                        COMPOSE_DOCKER_CLI_BUILD="0")
        for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PATH_SEPARATOR"):
            self.env.pop(var, None)

    def compose(self, *args, timeout=120, **kw):
        return run(["docker-compose", "-p", self.name, "-f", COMPOSE_FILE] + list(args),
                   timeout=self.deadline.left(timeout), env=self.env, **kw)

    def container(self, service):
        p = self.compose("ps", "-q", service, capture=True, quiet=True, timeout=60)
        ids = p.stdout.split()
        if len(ids) != 1:
            raise Failed("service %s: expected one container, got %r" % (service, ids))
        return ids[0]

    def log(self, service):
        p = run(["docker", "logs", self.container(service)], timeout=60, capture=True,
                quiet=True)
        return p.stdout + p.stderr

    def wait_for(self, what, service, pattern, seconds):
        """Until the service's log matches pattern; the match."""
        end = time.monotonic() + seconds
        rx = re.compile(pattern, re.M)
        while True:
            text = self.log(service)
            m = rx.search(text)
            if m:
                say("seen: %s: %s" % (what, text[m.start():].splitlines()[0][:150]))
                return m
            if time.monotonic() > end:
                tail = "\n".join(text.splitlines()[-15:])
                raise Failed("not seen within %d s: %s (%s's log ends with:\n%s)"
                             % (seconds, what, service, tail))
            self.deadline.left()
            time.sleep(2)

    def leftovers(self):
        """Containers, networks, volumes and images of this project still there."""
        left = []
        label = "label=com.docker.compose.project=" + self.name
        for kind, cmd in (("container", ["docker", "ps", "-aq", "--filter", label]),
                          ("network", ["docker", "network", "ls", "-q", "--filter", label]),
                          ("volume", ["docker", "volume", "ls", "-q", "--filter", label]),
                          ("image", ["docker", "images", "-q", self.image])):
            p = run(cmd, timeout=60, capture=True, check=False, quiet=True)
            left += ["%s %s" % (kind, x) for x in p.stdout.split()]
        return left

    def save_logs(self, logdir):
        os.makedirs(logdir, exist_ok=True)
        p = self.compose("ps", "-q", capture=True, check=False, quiet=True, timeout=60)
        for cid in p.stdout.split():
            name = run(["docker", "inspect", "-f", "{{.Name}}", cid], timeout=30,
                       capture=True, check=False, quiet=True).stdout.strip().lstrip("/")
            out = run(["docker", "logs", "-t", cid], timeout=60, capture=True,
                      check=False, quiet=True)
            with open(os.path.join(logdir, (name or cid) + ".log"), "w") as f:
                f.write(out.stdout + out.stderr)

    def tear_down(self, logdir):
        """Every step tried, whatever failed before; problems as a list."""
        problems = []
        # Own deadline: tearing down must happen even when the run is out of time.
        self.deadline = Deadline(300)
        try:
            self.save_logs(logdir)
            say("service logs saved in %s" % logdir)
        except Exception as e:
            problems.append("saving the logs: %s" % e)
        try:
            self.compose("down", "-v", "--rmi", "all", "--remove-orphans", "-t", "5",
                         timeout=240, check=False)
        except Exception as e:
            problems.append("docker-compose down: %s" % e)
        left = self.leftovers()
        for item in left:
            kind, ident = item.split()
            cmd = {"container": ["docker", "rm", "-f"], "network": ["docker", "network", "rm"],
                   "volume": ["docker", "volume", "rm", "-f"],
                   "image": ["docker", "rmi", "-f"]}[kind]
            run(cmd + [ident], timeout=120, check=False, capture=True, quiet=True)
        if left:
            problems.append("docker-compose down left %s" % ", ".join(left))
        still = self.leftovers()
        if still:
            problems.append("could not remove %s" % ", ".join(still))
        return problems


def scenario(project, port):
    dev = lambda name: re.escape("%s._device.%s" % (name, ORG))
    project.compose("up", "-d", "--build", timeout=1800)

    # Published on the host's loopback only.
    p = run(["docker", "port", project.container("broker"), "8883/tcp"], timeout=60,
            capture=True)
    published = p.stdout.split()
    say("broker's 8883 published on %s" % published)
    if published != ["127.0.0.1:%d" % port]:
        raise Failed("broker port published on %s, expected only 127.0.0.1:%d"
                     % (published, port))

    for name in ("dev1", "dev2"):
        project.wait_for("the backend verified a reading of " + name, "backend",
                         r"^VERIFIED %s verified/devices/%s/reading " % (dev(name), dev(name)),
                         180)
    project.wait_for("the backend verified a reading of s1 forwarded by gw1", "backend",
                     r"^VERIFIED %s verified/devices/%s/s1/reading " % (dev("s1"), dev("gw1")),
                     120)
    project.wait_for("the backend verified a COSE_Sign1 reading of s2 forwarded by gw1",
                     "backend",
                     r"^VERIFIED %s verified/devices/%s/s2/reading " % (dev("s2"), dev("gw1")),
                     120)
    project.wait_for("the broker refused rogue", "broker",
                     r"refused identity=%s .*reason=no_record" % dev("rogue"), 60)
    refused_dev2 = r"refused identity=%s .*reason=no_record" % dev("dev2")
    if re.search(refused_dev2, project.log("broker"), re.M):
        raise Failed("the broker refused dev2 before its revocation")

    # Revoke dev2 as doc/demo.md shows.
    project.compose("exec", "-T", "dns", "python3", "tests/testbed/dnstestbed.py", "remove",
                    "/state/dns", "dev2._device.%s" % ORG, "TLSA", timeout=120)
    project.wait_for("the broker disconnected dev2", "broker",
                     r"revoked identity=%s" % dev("dev2"), 60)
    project.wait_for("the broker refused dev2's reconnection", "broker", refused_dev2, 60)
    verified_dev2 = r"^VERIFIED %s " % dev("dev2")
    before = len(re.findall(verified_dev2, project.log("backend"), re.M))
    time.sleep(10)    # five of dev2's publishing intervals
    after = len(re.findall(verified_dev2, project.log("backend"), re.M))
    if after != before:
        raise Failed("the backend verified %d more readings of dev2 after its reconnection "
                     "was refused" % (after - before))
    say("no reading of dev2 verified after its revocation (%d before it)" % before)
    # The others keep going.
    verified_dev1 = r"^VERIFIED %s " % dev("dev1")
    n1 = len(re.findall(verified_dev1, project.log("backend"), re.M))
    end = time.monotonic() + 30
    while len(re.findall(verified_dev1, project.log("backend"), re.M)) <= n1:
        if time.monotonic() > end:
            raise Failed("the backend verified no more readings of dev1 after dev2's revocation")
        time.sleep(2)
    say("dev1's readings are still verified")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="work directory (caches, logs)")
    ap.add_argument("--debian-root", metavar="TAR",
                    help="scripts/debian-root's tarball, a cache shared with other tests "
                         "(default: WORK/debian-12.tar)")
    ap.add_argument("--timeout", type=int, default=1500,
                    help="seconds for the whole run before tearing down (default 1500)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the compose test needs root (to start dockerd and build images)",
              flush=True)
        return SKIP
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    shutil.rmtree(os.path.join(work, "logs"), ignore_errors=True)   # a previous run's
    deadline = Deadline(args.timeout)

    def interrupted(signum, frame):
        raise Interrupted("signal %d" % signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    for tool in ("docker", "docker-compose"):
        if not shutil.which(tool):
            print("FAIL: %s is missing: run scripts/install-deps" % tool, flush=True)
            return 1

    dockerd = None
    project = None
    status = 1
    problems = []
    try:
        if docker_answers():
            say("using the running Docker engine")
        else:
            dockerd = start_dockerd(work)
        info = run(["docker", "info", "-f", "{{.ServerVersion}} {{.Driver}} {{.DockerRootDir}}"],
                   timeout=60, capture=True, quiet=True).stdout.strip()
        say("Docker engine: %s" % info)

        t = time.monotonic()
        if image_exists(BASE_IMAGE):
            say("base image %s: already there (kept as a cache)" % BASE_IMAGE)
        else:
            tarball = args.debian_root or os.path.join(work, "debian-12.tar")
            run([DEBIAN_ROOT, tarball], timeout=deadline.left(1200))
            run(["docker", "import", tarball, BASE_IMAGE], timeout=deadline.left(600))
            say("base image %s imported from %s in %.0f s (both kept as caches)"
                % (BASE_IMAGE, tarball, time.monotonic() - t))

        t = time.monotonic()
        run(["docker", "build", "--target", "deps", "-t", DEPS_IMAGE, "-f", DOCKERFILE, "."],
            timeout=deadline.left(1200), env=dict(os.environ, DOCKER_BUILDKIT="0"))
        say("packages stage %s ready in %.0f s (kept as a build cache)"
            % (DEPS_IMAGE, time.monotonic() - t))

        port = free_loopback_port()
        project = Project("dancecompose%d" % os.getpid(), port, deadline)
        t = time.monotonic()
        scenario(project, port)
        say("scenario held (%.0f s from docker-compose up)" % (time.monotonic() - t))
        status = 0
    except Skip as e:
        print("SKIP: %s" % e, flush=True)
        status = SKIP
    except (Failed, Interrupted) as e:
        problems.append(str(e))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if project is not None:
            problems += project.tear_down(os.path.join(work, "logs"))
        stop_process(dockerd, "dockerd")
    if problems:
        for p in problems:
            print("FAIL: %s" % p, flush=True)
        status = 1
    if status == 0:
        say("PASS; kept as caches: the images %s and %s (docker rmi %s %s removes them)"
            % (BASE_IMAGE, DEPS_IMAGE, DEPS_IMAGE, BASE_IMAGE))
    return status


if __name__ == "__main__":
    sys.exit(main())
