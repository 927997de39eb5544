#!/usr/bin/python3
"""test_compose - docker-compose.yml is valid and everything it refers to exists.

compose_run.py starts the services for real; this checks, without a Docker
engine, what can be checked statically:

  * `docker-compose config` (Debian's docker-compose) accepts the file;
  * from its normalised output: every build context and Dockerfile exists,
    bind-mount sources exist, named volumes and networks are declared,
    depends_on and network_mode name real services (a service_healthy
    dependency has a healthcheck, whose command exists), the services of the
    scenario are there (dns, resolver, broker, backend, devices), the
    resolver address given to the broker is the dns service's address (the
    resolver shares its network namespace), and every role and device name
    a service asks for is one examples/docker/entrypoint and
    examples/demo/provision know; every published port is bound to
    127.0.0.1 only;
  * the Dockerfile starts from debian:12 (later stages from earlier ones), its COPY sources and ENTRYPOINT
    exist; every repository path the entrypoint uses exists.

A second test feeds the checker a broken copy of the file, so that a
checker that finds nothing cannot pass unnoticed.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COMPOSE = os.path.join(REPO, "docker-compose.yml")
ENTRYPOINT = os.path.join(REPO, "examples", "docker", "entrypoint")
PROVISION = os.path.join(REPO, "examples", "demo", "provision")
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"

SCENARIO_SERVICES = ("dns", "resolver", "broker", "backend")


def compose_config(path):
    """The normalised configuration (`docker-compose config`) as a dict."""
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)   # config never talks to an engine anyway
    p = subprocess.run([DOCKER_COMPOSE, "-f", path, "config"], cwd=os.path.dirname(path),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        raise AssertionError("docker-compose config failed (%d): %s" % (p.returncode, p.stderr))
    return yaml.safe_load(p.stdout)


def entrypoint_roles():
    """The roles examples/docker/entrypoint handles (its case labels)."""
    with open(ENTRYPOINT) as f:
        text = f.read()
    return set(re.findall(r"^  ([a-z]+)\)$", text, re.M))


def provisioned_identities():
    """Short names examples/demo/provision makes keys for ("device NAME")."""
    with open(PROVISION) as f:
        text = f.read()
    return set(re.findall(r"^device (\w+)", text, re.M))


def dockerfile_problems(context, dockerfile):
    problems = []
    with open(dockerfile) as f:
        lines = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
    froms = [l.split() for l in lines if l.upper().startswith("FROM ")]
    stages = set()
    for i, words in enumerate(froms):
        if i == 0 and words[1] != "debian:12":
            problems.append("%s: expected FROM debian:12 first, found %s" % (dockerfile, words[1]))
        if i > 0 and words[1] not in stages:
            problems.append("%s: FROM %s is no earlier stage (only the first stage "
                            "starts from debian:12)" % (dockerfile, words[1]))
        if len(words) == 4 and words[2].upper() == "AS":
            stages.add(words[3])
    if not froms:
        problems.append("%s: no FROM" % dockerfile)
    for l in lines:
        words = l.split()
        if words[0].upper() in ("COPY", "ADD"):
            for src in [w for w in words[1:-1] if not w.startswith("--")]:
                if not os.path.exists(os.path.join(context, src)):
                    problems.append("%s: COPY source %s does not exist" % (dockerfile, src))
        if words[0].upper() == "ENTRYPOINT":
            m = re.search(r'\["([^"]+)"', l)
            target = os.path.join(context, m.group(1)) if m else None
            if target is None or not os.access(target, os.X_OK):
                problems.append("%s: ENTRYPOINT %s is not an executable file" % (
                    dockerfile, m.group(1) if m else l))
    return problems


def entrypoint_problems():
    """Repository paths the entrypoint uses must exist (build/ outputs must
    have their sources)."""
    problems = []
    with open(ENTRYPOINT) as f:
        text = f.read()
    for path in sorted(set(re.findall(r"(?<![\w.])(?<!build/)((?:examples|tests|scripts)/[\w./-]*\w)", text))):
        if not os.path.exists(os.path.join(REPO, path)):
            problems.append("entrypoint: %s does not exist" % path)
    for prog in sorted(set(re.findall(r"build/examples/(\w+)", text))):
        if not os.path.exists(os.path.join(REPO, "examples", prog + ".c")):
            problems.append("entrypoint: build/examples/%s has no examples/%s.c" % (prog, prog))
    return problems


def compose_problems(path):
    """Everything wrong with the compose file at path (empty: all good)."""
    cfg = compose_config(path)
    base = os.path.dirname(path)
    services = cfg.get("services") or {}
    volumes = cfg.get("volumes") or {}
    networks = cfg.get("networks") or {}
    roles = entrypoint_roles()
    identities = provisioned_identities()
    problems = []
    seen_dockerfiles = set()

    for name in SCENARIO_SERVICES:
        if name not in services:
            problems.append("service %s is missing" % name)
    devices = [n for n, s in services.items() if (s.get("command") or [None])[0] == "device"]
    if not devices:
        problems.append("no device service")

    for name, svc in sorted(services.items()):
        build = svc.get("build")
        if build is None:
            problems.append("%s: no build section (every service builds the image)" % name)
        else:
            context = os.path.join(base, build.get("context", "."))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isdir(context):
                problems.append("%s: build context %s does not exist" % (name, context))
            elif not os.path.isfile(dockerfile):
                problems.append("%s: Dockerfile %s does not exist" % (name, dockerfile))
            elif dockerfile not in seen_dockerfiles:
                seen_dockerfiles.add(dockerfile)
                problems += dockerfile_problems(context, dockerfile)
        for vol in svc.get("volumes") or []:
            if isinstance(vol, str):
                source = vol.split(":")[0]
                kind = "bind" if source.startswith((".", "/")) else "volume"
            else:
                source, kind = vol.get("source"), vol.get("type", "volume")
            if kind == "bind" and not os.path.exists(os.path.join(base, source)):
                problems.append("%s: bind-mount source %s does not exist" % (name, source))
            if kind == "volume" and source not in volumes:
                problems.append("%s: volume %s is not declared" % (name, source))
        for dep, how in (svc.get("depends_on") or {}).items():
            if dep not in services:
                problems.append("%s: depends on unknown service %s" % (name, dep))
            elif ((how or {}).get("condition") == "service_healthy"
                  and not services[dep].get("healthcheck")):
                problems.append("%s: waits for %s to be healthy, which has no healthcheck"
                                % (name, dep))
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test and test[0] == "CMD":
            # Run in the image's WORKDIR, the checkout: repository paths.
            if len(test) < 2 or not os.access(os.path.join(REPO, test[1]), os.X_OK):
                problems.append("%s: healthcheck %s is not an executable file" % (name, test[1:2]))
            elif test[1].endswith("entrypoint") and (len(test) < 3 or test[2] not in roles):
                problems.append("%s: healthcheck role %s is not an entrypoint role" % (
                    name, test[2:3]))
        for port in svc.get("ports") or []:
            host_ip = (port.get("host_ip") if isinstance(port, dict)
                       else (str(port).split(":")[0] if str(port).count(":") == 2 else None))
            if host_ip != "127.0.0.1":
                problems.append("%s: port %s is published on every address, not on 127.0.0.1"
                                % (name, port))
        mode = svc.get("network_mode", "")
        if mode.startswith("service:") and mode[len("service:"):] not in services:
            problems.append("%s: network_mode %s names no service" % (name, mode))
        for net in svc.get("networks") or {}:
            if net not in networks:
                problems.append("%s: network %s is not declared" % (name, net))
        command = svc.get("command") or []
        if not command or command[0] not in roles:
            problems.append("%s: command %s is not an entrypoint role (%s)" % (
                name, command, ", ".join(sorted(roles))))
        elif command[0] == "device":
            if len(command) < 2 or command[1] not in identities:
                problems.append("%s: device %s is not provisioned (%s)" % (
                    name, command[1:2], ", ".join(sorted(identities))))
        for arg in command:
            m = re.match(r"/state/pki/(\w+)\.(key|pem)$", str(arg))
            if m and m.group(1) not in identities:
                problems.append("%s: %s is not provisioned" % (name, arg))

    # The broker reaches the resolver at the dns service's address: the
    # resolver shares the dns service's network namespace.
    dns_addr = None
    for net in ((services.get("dns") or {}).get("networks") or {}).values():
        if net and net.get("ipv4_address"):
            dns_addr = net["ipv4_address"]
    if (services.get("resolver") or {}).get("network_mode") != "service:dns":
        problems.append("resolver must share the dns service's network (network_mode service:dns)")
    for name in ("broker", "backend"):
        res = ((services.get(name) or {}).get("environment") or {}).get("DANCE_RESOLVER", "")
        if dns_addr is None or res.split("@")[0] != dns_addr:
            problems.append("%s: DANCE_RESOLVER %r is not the dns service's address %s" % (
                name, res, dns_addr))
    return problems


class ComposeTest(unittest.TestCase):

    def test_docker_compose_is_installed(self):
        self.assertTrue(os.access(DOCKER_COMPOSE, os.X_OK),
                        "docker-compose is missing: run scripts/install-deps as root")

    def test_compose_file_and_references(self):
        self.assertEqual(compose_problems(COMPOSE), [])
        self.assertEqual(entrypoint_problems(), [])

    def test_dockerignore_keeps_build_output_out(self):
        with open(os.path.join(REPO, ".dockerignore")) as f:
            entries = f.read().split()
        self.assertIn("build", entries)
        self.assertIn(".git", entries)

    def test_checker_finds_broken_references(self):
        with open(COMPOSE) as f:
            text = f.read()
        broken = text.replace("dockerfile: examples/docker/Dockerfile",
                              "dockerfile: examples/docker/Dockerfile.missing")
        broken = broken.replace('command: ["device", "dev2"]', 'command: ["device", "dev9"]')
        broken = broken.replace('command: ["resolver"]', 'command: ["resolve"]')
        broken = broken.replace('entrypoint", "healthcheck"]', 'entrypoint", "health"]')
        broken = broken.replace("context: .", "context: %s" % REPO)
        broken = broken.replace('ports: ["127.0.0.1:', 'ports: ["')
        self.assertNotEqual(broken, text)
        d = tempfile.mkdtemp(prefix="dance-compose-")
        try:
            path = os.path.join(d, "docker-compose.yml")
            with open(path, "w") as f:
                f.write(broken)
            problems = "\n".join(compose_problems(path))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        self.assertIn("Dockerfile.missing does not exist", problems)
        self.assertIn("device ['dev9'] is not provisioned", problems)
        self.assertIn("command ['resolve'] is not an entrypoint role", problems)
        self.assertIn("healthcheck role ['health'] is not an entrypoint role", problems)
        self.assertRegex(problems, r"broker: port .*8883.* is published on every address")


if __name__ == "__main__":
    unittest.main()
