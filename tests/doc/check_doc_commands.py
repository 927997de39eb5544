#!/usr/bin/python3
"""Every command a page shows in a shell block works as a newcomer would type
it (doc/getting-started.md is run end to end by its own test,
tests/integration/test_getting_started.py, and is left out here).

usage: check_doc_commands.py SOURCE_DIR BUILD_DIR DANCE_BINARY

Pages: README.md, SECURITY.md, doc/*.md, bench/README.md, tests/*/README.md,
examples/**/README*.

Blocks. A fenced block whose info string is sh, shell or bash is checked,
command by command. ```console blocks, and any block with the HTML comment
`<!-- not run: REASON -->` on the line just before it (or among the comment
lines just before it), are shown only. Any other block (unlabelled, text,
an indented code block) that holds a line that looks like a command fails
the test: label it sh to have it checked, or mark it shown-only.

Commands, each in the order of the page:
- `dance` offline commands (keygen, cert, tlsa, match, sign, verify and
  token with a key or certificate) run for real, in a fresh directory per
  page with the build's `dance` first on PATH, so that the files one command
  writes are there for the next; so do the statements around them that only
  use the shell and a few safe programs (printf, date, tr, openssl base64/
  rand, ...). Commands that need DNS (lookup, verify and token --verify
  against a resolver) are parsed only: the subcommand and every flag must
  appear in `dance <command> --help`.
- scripts/X, bench/..., tests/..., build/... and `python3 PATH`: the file
  exists (build/ is the build directory); the flags used appear in its
  --help output, which is run only where the program has one; for an
  argparse program with subcommands, the subcommand is one of them.
  scripts/test passes its arguments to ctest and is checked as ctest;
  no script is run other than with --help. A VAR=value prefix on a script
  must name a variable that the script reads.
- `cmake -D<NAME>`: NAME is an option of the project (CMAKE_* are CMake's);
  `cmake --build` flags appear in its usage. `ctest -L LABEL` and
  `-R REGEX` match a label / a test of BUILD_DIR (ctest --print-labels, -N).
- mosquitto_pub/sub, openssl (subcommand and flags), docker-compose
  (subcommand, flags, the service of `exec`/`run` and the command it runs):
  checked against their --help; knotc, systemctl and the shell's own
  commands: the program exists.
- A command that fits none of these fails the test, as do usage notation
  (`[--flag]`, `<placeholder>`, `...`) and a `$ ` prompt in a sh block: a
  newcomer types those literally.
- Code spans in the prose that hold a command with arguments (`dance
  lookup NAME --owner-prefix _mqtt`) are checked the same way but never run;
  there NAME and ... may stand for values.

Environment: DANCE_KEEP_WORKDIR=1 keeps the work directory.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)")
CHECKED = {"sh", "shell", "bash"}
SHOWN = {"console"}
NOT_RUN = re.compile(r"<!--\s*not run:\s*\S.*-->")
HTML_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")

# Programs whose existence is all there is to check, and of those the ones a
# page may run for real (they read and write only the work directory).
SHELL_PROGRAMS = {
    "cd", "export", "echo", "printf", "date", "tr", "cat", "ls", "mkdir", "rm",
    "cp", "mv", "sleep", "true", "false", "test", "[", "kill", "wait", "set",
    "unset", "source", ".", "grep", "sed", "head", "tail", "wc", "sort", "cut",
    "env", "chmod", "base64", "xxd", "od", "diff", "cmp", "sha256sum", "tee",
    "knotc", "systemctl", "journalctl", "kdig", "dig", "delv", "apt-get",
}
SAFE_TO_RUN = {
    "echo", "printf", "date", "tr", "cat", "ls", "mkdir", "true", "false",
    "test", "[", "grep", "sed", "head", "tail", "wc", "sort", "cut", "base64",
    "cmp", "diff", "sha256sum", "tee", "xxd", "od",
}
SAFE_OPENSSL = {"base64", "rand"}
KEYWORDS = {"{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while",
            "until", "!", "time"}
OPENERS = {"{", "if", "for", "while", "until", "case", "("}
CLOSERS = {"}", "fi", "done", "esac", ")"}
DANCE_OFFLINE = {"keygen", "cert", "tlsa", "match", "sign"}
REPO_DIRS = ("scripts/", "bench/", "tests/", "examples/", "tools/", "build/", "./")
LOOKS_LIKE_COMMAND = re.compile(
    r"^(?:\$\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*"
    r"(?:dance\s+[a-z]|(?:scripts|bench|tests|examples|build)/\S|\./\S|"
    r"(?:cmake|ctest|python3?|docker-compose|docker|mosquitto_pub|mosquitto_sub|"
    r"mosquitto|openssl|knotc|systemctl|sudo|apt-get|apt|git|make|cd|export)(?:\s|$))")
PLACEHOLDER = re.compile(r"(?<![<>\w])<[A-Za-z][A-Za-z0-9_.-]*>")


class ShellError(Exception):
    pass


class Command:
    def __init__(self, words, env, pos):
        self.words, self.env, self.pos = words, env, pos


class Statement:
    def __init__(self, text, pos, commands):
        self.text, self.pos, self.commands = text, pos, commands


def matching_paren(src, i):
    """Index of the ')' closing the '(' at src[i], quote-aware."""
    depth, j = 0, i
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "'":
            j = src.index("'", j + 1)
        elif c == '"':
            j += 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ShellError("unbalanced '('")


def parse_shell(src, base=0):
    """The statements of a shell text (split at newlines, ';' and '&' outside
    compound commands), each with its simple commands, those of command
    substitutions included. Words keep $VAR and show a substitution as
    '$(...)'; redirection targets are dropped. Function definitions are
    commands ['()', NAME]."""
    stmts = []
    state = {"words": [], "cur": None, "redirect": False, "cmds": [], "start": 0,
             "depth": 0, "cmd_pos": None}

    def end_word():
        cur = state["cur"]
        if cur is None:
            return
        state["cur"] = None
        if state["redirect"]:
            state["redirect"] = False
            return
        if not state["words"] and cur in OPENERS:
            state["depth"] += 1
        elif not state["words"] and cur in CLOSERS:
            state["depth"] -= 1
        state["words"].append(cur)

    def end_command():
        end_word()
        if state["words"]:
            state["cmds"].append(Command(state["words"], {}, base + state["cmd_pos"]))
        state["words"], state["cmd_pos"] = [], None

    def end_statement(i):
        end_command()
        if state["depth"] > 0:
            return
        if state["cmds"]:
            stmts.append(Statement(src[state["start"]:i].strip(), base + state["start"],
                                   state["cmds"]))
        state["cmds"], state["start"] = [], i + 1

    def add(text, i):
        if state["cur"] is None:
            state["cur"] = ""
            if state["cmd_pos"] is None:
                state["cmd_pos"] = i
        state["cur"] += text

    def substitution(inner, pos):
        for st in parse_shell(inner, base + pos):
            state["cmds"].extend(st.commands)

    i, n = 0, len(src)
    while i < n:
        c = src[i]
        nxt = src[i + 1] if i + 1 < n else ""
        if c == "\\" and nxt == "\n":
            i += 2
        elif c == "\\":
            add(nxt, i)
            i += 2
        elif c == "#" and state["cur"] is None:
            while i < n and src[i] != "\n":
                i += 1
        elif c in " \t":
            end_word()
            i += 1
        elif c == "\n" or c == ";":
            end_statement(i)
            i += 1
        elif c == "&" and nxt == "&" or c == "|":
            end_command()
            i += 2 if nxt in "&|" else 1
        elif c == "&" and nxt != ">":
            end_statement(i)
            i += 1
        elif c == "(" and nxt == ")":
            name = state["cur"] if state["cur"] is not None else \
                (state["words"].pop() if state["words"] else None)
            state["cur"] = None
            if not name:
                raise ShellError("'()' without a function name")
            state["cmds"].append(Command(["()", name], {}, base + i))
            i += 2
        elif c in "()":
            end_command()
            state["depth"] += 1 if c == "(" else -1
            i += 1
        elif c in "<>" or c == "&" and nxt == ">":
            if state["cur"] is not None and state["cur"].isdigit():
                state["cur"] = None
            end_word()
            j = i
            while j < n and src[j] in "<>&":
                j += 1
            op = src[i:j]
            if op.startswith("<<") and op != "<<<":
                raise ShellError("here-documents are not supported; mark the block")
            if op.endswith("&") and j < n and (src[j].isdigit() or src[j] == "-"):
                j += 1
            else:
                state["redirect"] = True
            i = j
        elif c == "'":
            j = src.find("'", i + 1)
            if j < 0:
                raise ShellError("unterminated single quote")
            add(src[i + 1:j], i)
            i = j + 1
        elif c == '"':
            add("", i)
            j = i + 1
            while j < n and src[j] != '"':
                if src[j] == "\\":
                    add(src[j + 1], j)
                    j += 2
                elif src.startswith("$((", j):
                    k = matching_paren(src, j + 1)
                    add("$((...))", j)
                    j = k + 1
                elif src.startswith("$(", j):
                    k = matching_paren(src, j + 1)
                    substitution(src[j + 2:k], j + 2)
                    add("$(...)", j)
                    j = k + 1
                else:
                    add(src[j], j)
                    j += 1
            if j >= n:
                raise ShellError("unterminated double quote")
            i = j + 1
        elif c == "$" and src.startswith("$((", i):
            k = matching_paren(src, i + 1)
            add("$((...))", i)
            i = k + 1
        elif c == "$" and nxt == "(":
            k = matching_paren(src, i + 1)
            substitution(src[i + 2:k], i + 2)
            add("$(...)", i)
            i = k + 1
        elif c == "`":
            k = src.find("`", i + 1)
            if k < 0:
                raise ShellError("unterminated backquote")
            substitution(src[i + 1:k], i + 1)
            add("$(...)", i)
            i = k + 1
        else:
            add(c, i)
            i += 1
    end_statement(n)
    if state["depth"] != 0 or state["cmds"]:
        raise ShellError("unterminated compound command")
    for st in stmts:
        for cmd in st.commands:
            if cmd.words[0] == "()":
                continue
            while cmd.words and cmd.words[0] in KEYWORDS:
                cmd.words.pop(0)
            while cmd.words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", cmd.words[0]):
                k, _, v = cmd.words.pop(0).partition("=")
                cmd.env[k] = v
            if cmd.words and cmd.words[0] in ("for", "case", "esac"):
                cmd.words = []
    return stmts


def blocks(text):
    """[(info, body, first line of the body, shown-only, indented)] of a page."""
    lines = text.split("\n")
    out = []
    i = 0
    prev_blank, prev_text = True, ""
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if m:
            fence, info, indent = m.group(2), m.group(3).lower(), len(m.group(1))
            j = i - 1
            marked = False
            while j >= 0 and HTML_COMMENT.match(lines[j]):
                marked = marked or bool(NOT_RUN.search(lines[j]))
                j -= 1
            k = i + 1
            body = []
            while k < len(lines) and not re.match(r"^ {0,3}" + re.escape(fence[0]) + "{%d,}\\s*$"
                                                  % len(fence), lines[k]):
                body.append(lines[k][indent:] if lines[k][:indent].isspace() else lines[k])
                k += 1
            out.append((info, "\n".join(body) + "\n", i + 2, marked, False))
            i = k + 1
            prev_blank, prev_text = False, ""
            continue
        if lines[i].startswith("    ") and prev_blank and lines[i].strip() and \
                not re.match(r"^\s*([-*+]|\d+\.)\s", prev_text):
            k = i
            body = []
            while k < len(lines) and (lines[k].startswith("    ") or not lines[k].strip()):
                body.append(lines[k][4:])
                k += 1
            out.append(("", "\n".join(body).rstrip() + "\n", i + 1, False, True))
            i = k
            prev_blank = False
            continue
        if lines[i].strip():
            prev_text = lines[i] if prev_blank or not prev_text else prev_text
        prev_blank = not lines[i].strip()
        i += 1
    return out


class Checker:
    def __init__(self, src, build, dance):
        self.src, self.build, self.dance = src, build, os.path.abspath(dance)
        self.errors = []
        self.checked = 0
        self.ran = 0
        self.help_cache = {}
        self.cmake_options = set()
        for top, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if not d.startswith(("build", "."))]
            for name in files:
                if name != "CMakeLists.txt" and not name.endswith(".cmake"):
                    continue
                with open(os.path.join(top, name), encoding="utf-8") as f:
                    text = f.read()
                self.cmake_options.update(re.findall(r"\boption\(\s*(\w+)", text))
                self.cmake_options.update(re.findall(r"\bset\(\s*(\w+)\s[^)]*\bCACHE\b",
                                                     text))
        ctest = subprocess.run(["ctest", "--print-labels"], cwd=build, capture_output=True,
                               text=True, timeout=60)
        self.ctest_labels = re.findall(r"^\s+(\S+)\s*$", ctest.stdout.split("All Labels:")[-1],
                                       re.M)
        ctest = subprocess.run(["ctest", "-N"], cwd=build, capture_output=True, text=True,
                               timeout=60)
        self.ctest_names = re.findall(r"^\s*Test\s+#\d+: (\S+)", ctest.stdout, re.M)
        if not self.ctest_labels or not self.ctest_names:
            raise SystemExit("no tests or labels in %s (ctest -N, --print-labels)" % build)

    def fail(self, where, msg):
        self.errors.append("%s: %s" % (where, msg))

    def help_text(self, argv):
        key = tuple(argv)
        if key not in self.help_cache:
            try:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                   cwd=self.src, stdin=subprocess.DEVNULL)
                self.help_cache[key] = p.stdout + p.stderr
            except (OSError, subprocess.TimeoutExpired) as e:
                self.help_cache[key] = ""
                sys.stderr.write("%s: %s\n" % (" ".join(argv), e))
        return self.help_cache[key]

    @staticmethod
    def flags(words):
        """The option words: --long (value after '=' cut off), -x, -long."""
        out = []
        for w in words:
            if w == "--":
                break
            if re.match(r"^--?[A-Za-z]", w):
                out.append(w.split("=", 1)[0])
        return out

    def check_flags(self, where, what, words, helptext, short_prefix=True):
        for f in self.flags(words):
            cands = [f]
            if short_prefix and re.match(r"^-[A-Za-z]", f) and not f.startswith("--"):
                cands.append(f[:2])         # -j2, -Lunit
            if not any(re.search(r"(?<![\w-])" + re.escape(c) + r"(?![\w-])", helptext)
                       for c in cands):
                self.fail(where, "%s: flag %s is not in its --help" % (what, f))

    # --- the programs -------------------------------------------------------

    def check_dance(self, where, words):
        top = self.help_text([self.dance, "--help"])
        commands = re.findall(r"^  ([a-z]+)\s{2,}", top, re.M)
        if len(words) < 2 or words[1] not in commands:
            self.fail(where, "dance: no such command %r (dance --help: %s)"
                      % (words[1] if len(words) > 1 else "", ", ".join(commands)))
            return False
        self.check_flags(where, "dance " + words[1], words[2:],
                         self.help_text([self.dance, words[1], "--help"]), short_prefix=False)
        sub = words[1]
        return sub in DANCE_OFFLINE or \
            sub == "verify" and ("--key" in words or "--cert" in words) or \
            sub == "token" and "--verify" not in words

    def repo_path(self, word):
        if word.startswith("build/"):
            return os.path.join(self.build, word[len("build/"):])
        return os.path.normpath(os.path.join(self.src, word))

    def help_of_file(self, path):
        """How to ask PATH for its --help: an argv, or None where it has none
        (asking would run it for real)."""
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            head = f.read(200000)
        if head.startswith(b"\x7fELF"):
            return [path, "--help"]
        text = head.decode("utf-8", "replace")
        if path.endswith(".py") or re.match(r"#!.*python", text):
            return ["/usr/bin/python3", path, "--help"] if "argparse" in text else None
        m = re.search(r"^\s*exec\s+\S*python3?\s+(\S+\.py)\s+\"\$@\"", text, re.M)
        if m:
            return self.help_of_file(os.path.join(self.src, m.group(1)))
        if re.search(r"(^|[|(\s])--help\)", text, re.M):
            return [path, "--help"]
        return None

    def script_text(self, path):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        m = re.search(r"^\s*exec\s+\S*python3?\s+(\S+\.py)\s", text, re.M)
        if m:
            text += self.script_text(os.path.join(self.src, m.group(1)))
        return text

    def check_file_program(self, where, words, env, interpreter=None):
        word = words[0]
        path = self.repo_path(word)
        rel = word
        if not os.path.exists(path):
            self.fail(where, "%s: no such file%s" % (rel, " in the build directory"
                                                     if word.startswith("build/") else ""))
            return
        if interpreter is None and not os.access(path, os.X_OK):
            self.fail(where, "%s is not executable" % rel)
        text = self.script_text(path) if not word.startswith("build/") else ""
        for var in env:
            if text and not re.search(r"\b%s\b" % re.escape(var), text):
                self.fail(where, "%s=...: %s does not read %s" % (var, rel, var))
        if os.path.normpath(word) == "scripts/test":
            self.check_ctest(where, ["ctest"] + words[1:])
            return
        args = words[1:]
        helpargv = self.help_of_file(path)
        if helpargv is None:
            if self.flags(args):
                self.fail(where, "%s has no --help to check its flags %s against"
                          % (rel, " ".join(self.flags(args))))
            return
        helptext = self.help_text(helpargv)
        if not helptext.strip():
            self.fail(where, "%s --help printed nothing" % rel)
            return
        self.check_flags(where, rel, args, helptext)
        m = re.search(r"\{([\w,-]+)\}", helptext)
        positional = [w for w in args if not w.startswith("-")]
        if m and positional and positional[0] not in m.group(1).split(","):
            self.fail(where, "%s: no subcommand %r (one of %s)" % (rel, positional[0], m.group(1)))

    def check_cmake(self, where, words):
        if "--build" in words:
            self.check_flags(where, "cmake --build", words[1:],
                             self.help_text(["cmake", "--build"]))
            return
        rest = words[1:]
        for k, w in enumerate(rest):
            if w.startswith("-D"):
                name = (w[2:] or (rest[k + 1] if k + 1 < len(rest) else "")).split("=")[0]
                name = name.split(":")[0]
                if not name.startswith("CMAKE_") and name not in self.cmake_options:
                    self.fail(where, "cmake -D%s: no such option in CMakeLists.txt" % name)
        self.check_flags(where, "cmake", [w for w in rest if not w.startswith("-D")],
                         self.help_text(["cmake", "--help"]))

    def check_ctest(self, where, words):
        rest = words[1:]
        self.check_flags(where, "ctest", rest, self.help_text(["ctest", "--help"]))
        for k, w in enumerate(rest):
            for opt, pool, what in (("-L", self.ctest_labels, "label"),
                                    ("-R", self.ctest_names, "test")):
                if w == opt or (w.startswith(opt) and len(w) > 2):
                    pat = w[2:] or (rest[k + 1] if k + 1 < len(rest) else "")
                    try:
                        rx = re.compile(pat)
                    except re.error:
                        self.fail(where, "ctest %s %s: not a regular expression" % (opt, pat))
                        continue
                    if not any(rx.search(x) for x in pool):
                        self.fail(where, "ctest %s %s: no %s matches" % (opt, pat, what))

    def check_openssl(self, where, words):
        if len(words) < 2:
            return
        helptext = self.help_text(["openssl", words[1], "-help"])
        if re.search(r"Invalid command|is an invalid command", helptext):
            self.fail(where, "openssl %s: no such command" % words[1])
            return
        for f in self.flags(words[2:]):
            if not re.search(r"(?<![\w-])" + re.escape(f) + r"(?![\w-])", helptext):
                self.fail(where, "openssl %s: flag %s is not in its -help" % (words[1], f))

    def compose_services(self):
        services = set()
        with open(os.path.join(self.src, "docker-compose.yml"), encoding="utf-8") as f:
            inside = False
            for line in f:
                if re.match(r"^services:\s*$", line):
                    inside = True
                elif re.match(r"^\S", line):
                    inside = False
                elif inside:
                    m = re.match(r"^  ([A-Za-z0-9_.-]+):\s*$", line)
                    if m:
                        services.add(m.group(1))
        return services

    def check_compose(self, where, words):
        top = self.help_text(["docker-compose", "--help"])
        k = 1
        while k < len(words) and words[k].startswith("-"):
            k += 1
        if k >= len(words) or not re.search(r"^\s+%s\s" % re.escape(words[k]), top, re.M):
            self.fail(where, "docker-compose: no such command %r"
                      % (words[k] if k < len(words) else ""))
            return
        sub = words[k]
        subhelp = self.help_text(["docker-compose", sub, "--help"])
        if sub in ("exec", "run"):
            j = k + 1
            while j < len(words) and words[j].startswith("-"):
                j += 1
            self.check_flags(where, "docker-compose " + sub, words[k + 1:j], subhelp)
            if j >= len(words) or words[j] not in self.compose_services():
                self.fail(where, "docker-compose %s: no service %r in docker-compose.yml"
                          % (sub, words[j] if j < len(words) else ""))
                return
            if j + 1 < len(words):
                # the image holds this checkout: its paths are the repository's
                self.check_command(where, words[j + 1:], {}, inner=True)
        else:
            self.check_flags(where, "docker-compose " + sub, words[k + 1:], subhelp)

    def check_command(self, where, words, env, inner=False):
        """Check one simple command; True when the page may run it for real."""
        prog = words[0]
        if prog == "sudo":
            self.check_command(where, words[1:], env, inner=True)
            return False
        if prog == "$":
            self.fail(where, "a '$ ' prompt in a sh block: a newcomer would type it")
            return False
        if prog in ("python3", "python", "/usr/bin/python3"):
            if len(words) < 2 or words[1].startswith("-"):
                self.fail(where, "%s %s: only 'python3 PATH' is checked"
                          % (prog, " ".join(words[1:2])))
                return False
            self.check_file_program(where, words[1:], env, interpreter=prog)
            return False
        if prog.startswith(REPO_DIRS) or "/" in prog and not prog.startswith("/"):
            self.check_file_program(where, words, env)
            return False
        if prog == "dance":
            return self.check_dance(where, words) and not inner
        if prog == "cmake":
            self.check_cmake(where, words)
        elif prog == "ctest":
            self.check_ctest(where, words)
        elif prog == "openssl":
            self.check_openssl(where, words)
            return len(words) > 1 and words[1] in SAFE_OPENSSL
        elif prog in ("mosquitto_pub", "mosquitto_sub"):
            if not shutil.which(prog):
                self.fail(where, "%s is not installed (scripts/install-deps)" % prog)
            else:
                self.check_flags(where, prog, words[1:], self.help_text([prog, "--help"]))
        elif prog == "docker-compose":
            if not shutil.which(prog):
                self.fail(where, "%s is not installed (scripts/install-deps)" % prog)
            else:
                self.check_compose(where, words)
        elif prog in SHELL_PROGRAMS or prog.startswith("/"):
            kind = subprocess.run(["bash", "-c", 'type -t "$1"', "-", prog],
                                  capture_output=True, text=True).stdout.strip()
            if not kind:
                self.fail(where, "%s: no such program here" % prog)
            return prog in SAFE_TO_RUN
        else:
            self.fail(where, "cannot check %r: label the block ```console or put "
                      "'<!-- not run: REASON -->' before it" % prog)
        return False

    def check_inline(self, rel, text):
        """Code spans in the prose that hold a command with arguments: checked
        like a block's commands, never run (NAME, ... stand for values)."""
        lines = text.split("\n")
        for info, body, line, marked, indented in blocks(text):
            # a fenced block from its opening to its closing fence
            first, count = (line - 1, body.count("\n")) if indented else \
                (line - 2, body.count("\n") + 2)
            for k in range(first, min(first + count, len(lines))):
                lines[k] = ""
        prose = "\n".join(lines)
        for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
            span = " ".join(m.group(1).split())
            if " " not in span or not LOOKS_LIKE_COMMAND.match(span) or span.startswith("$"):
                continue
            where = "%s:%d" % (rel, prose.count("\n", 0, m.start()) + 1)
            try:
                words = shlex.split(span)
            except ValueError:
                words = span.split()
            env = {}
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                k, _, v = words.pop(0).partition("=")
                env[k] = v
            if words:
                self.checked += 1
                self.check_command(where, words, env, inner=True)

    # --- pages -------------------------------------------------------------

    def check_page(self, page, workdir):
        rel = os.path.relpath(page, self.src)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        script = ["set -o pipefail"]
        runnable_funcs = set()
        for info, body, line, marked, indented in blocks(text):
            if marked or info in SHOWN:
                continue
            if info not in CHECKED:
                for k, ln in enumerate(body.splitlines()):
                    if LOOKS_LIKE_COMMAND.match(ln.strip()):
                        self.fail("%s:%d" % (rel, line + k),
                                  "a command in a%s block: fence it as ```sh to have it "
                                  "checked, or as ```console (or '<!-- not run: REASON -->' "
                                  "before it) to show it only: %s"
                                  % ("n indented" if indented else
                                     " ```%s" % info if info else "n unlabelled", ln.strip()))
                        break
                continue
            for k, ln in enumerate(body.splitlines()):
                bare = re.sub(r"'[^']*'|\"[^\"]*\"|#.*$", "", ln)
                for m in re.finditer(r"(?<!\S)\[-[^\]]*\]|(?<!\S)\.\.\.(?!\S)|"
                                     + PLACEHOLDER.pattern, bare):
                    self.fail("%s:%d" % (rel, line + k), "usage notation %r: a newcomer "
                              "would type it; write the command out" % m.group(0))
            try:
                stmts = parse_shell(body)
            except ShellError as e:
                self.fail("%s:%d" % (rel, line), "cannot parse the block: %s" % e)
                continue
            for st in stmts:
                runnable, dance = True, False
                for cmd in st.commands:
                    where = "%s:%d" % (rel, line + body.count("\n", 0, cmd.pos))
                    if not cmd.words:
                        continue
                    self.checked += 1
                    if cmd.words[0] == "()":
                        if runnable:
                            runnable_funcs.add(cmd.words[1])
                        continue
                    if cmd.words[0] in runnable_funcs:
                        continue
                    ok = self.check_command(where, cmd.words, cmd.env)
                    runnable = runnable and ok
                    dance = dance or cmd.words[0] == "dance"
                if not runnable:
                    for cmd in st.commands:
                        if cmd.words and cmd.words[0] == "()":
                            runnable_funcs.discard(cmd.words[1])
                    continue
                where = "%s:%d" % (rel, line + body.count("\n", 0, st.pos))
                script.append("echo '@@@ %s' >&2\n%s" % (where, st.text))
                self.ran += 1
        self.check_inline(rel, text)
        if len(script) == 1:
            return
        os.makedirs(workdir)
        with open(os.path.join(workdir, "page.sh"), "w", encoding="utf-8") as f:
            f.write("\n".join(script) + "\n")
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(self.dance) + os.pathsep + env.get("PATH", "")
        env.update({"DANCE_SRC": self.src, "DANCE_BUILD": self.build})
        p = subprocess.run(["bash", "-e", "page.sh"], cwd=workdir, env=env, text=True,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        if p.returncode != 0:
            marks = re.findall(r"^@@@ (.*)$", p.stderr, re.M)
            self.fail(marks[-1] if marks else rel,
                      "the command failed (exit %d) in a fresh directory:\n%s%s"
                      % (p.returncode, p.stdout,
                         re.sub(r"^@@@ .*\n", "", p.stderr, flags=re.M)))


def pages(src):
    out = [os.path.join(src, p) for p in ("README.md", "SECURITY.md", "bench/README.md")]
    out += sorted(p for p in glob.glob(os.path.join(src, "doc", "*.md"))
                  if os.path.basename(p) != "getting-started.md")
    out += sorted(glob.glob(os.path.join(src, "tests", "*", "README.md")))
    out += sorted(glob.glob(os.path.join(src, "examples", "**", "README*"), recursive=True))
    return [p for p in out if "/conformance/" not in p]


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    src, build, dance = (os.path.abspath(a) for a in argv[1:])
    checker = Checker(src, build, dance)
    work = tempfile.mkdtemp(prefix="dance-doc-commands-")
    try:
        for n, page in enumerate(pages(src)):
            if not os.path.isfile(page):
                checker.fail(os.path.relpath(page, src), "missing")
                continue
            checker.check_page(page, os.path.join(work, "%02d-%s" % (
                n, os.path.relpath(page, src).replace("/", "_"))))
    finally:
        if os.environ.get("DANCE_KEEP_WORKDIR") == "1":
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for e in checker.errors:
        print(e)
    print("%d commands checked (%d statements run), %d problem(s)"
          % (checker.checked, checker.ran, len(checker.errors)))
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
