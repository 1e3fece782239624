"""The xtask's build frontend: one long-lived Python process that builds package after package
through the PEP 517 hooks of backends it imports once, as `uv build` would build them.

Protocol: one JSON object per line on stdin, one JSON answer per line on the original stdout.
  request: {"src": DIR, "out": DIR, "backend": "module.path:object"}
  answer:  {"ok": true, "files": [SDIST, WHEEL]}
        or {"ok": false, "error": TEXT, "log": TEXT}
Everything the backend (or a child of it) prints goes to a log file per build instead: file
descriptors 1 and 2 point at it while a build runs, so the protocol channel carries answers only.

What `uv build` does that decides the bytes, done the same way here: the sdist is built first, in
the package's directory; the wheel is built from that sdist, unpacked in a temporary directory
(outside the monorepo: hatchling reads the nearest .gitignore), with that directory as the working
directory; both hooks get `{}` as config settings and no metadata directory; the interpreter's
sys.path has no entry for the working directory. The environment (VIRTUAL_ENV, PATH with the
environment's bin first, CLICOLOR_FORCE, PYTHONIOENCODING) is set by the xtask when it starts us.
"""

import importlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import traceback

# `python frontend.py` puts the script's directory first on sys.path; `uv build` runs its hooks
# with `python -c` and drops that entry, so nothing beside us can shadow a backend's imports.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

BACKENDS = {}


def backend(name):
    """The backend object named `module.path:object` (or `module.path`), imported once."""
    if name not in BACKENDS:
        module, _, attr = name.partition(":")
        obj = importlib.import_module(module)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
        BACKENDS[name] = obj
    return BACKENDS[name]


def unpack(sdist, into):
    """The sdist's top-level directory, unpacked into `into`, as uv unpacks it."""
    with tarfile.open(sdist) as tar:
        members = tar.getmembers()
        for m in members:
            name = os.path.normpath(m.name)
            if name.startswith(("/", "..")) or not (m.isfile() or m.isdir()):
                raise ValueError(f"unsafe member in {sdist}: {m.name}")
        # Modes as in the archive, mtimes too (setuptools' wheels take files' mtimes).
        tar.extractall(into, members=members, numeric_owner=False, **extract_filter())
    entries = os.listdir(into)
    top = os.path.join(into, entries[0]) if len(entries) == 1 else into
    return top if os.path.isdir(top) else into


def extract_filter():
    # Python 3.12+ warns without a filter; "fully_trusted" keeps modes as they are in the archive.
    return {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def build(req):
    be = backend(req["backend"])
    out = os.path.abspath(req["out"])
    os.chdir(req["src"])
    sdist = be.build_sdist(out, {})
    scratch = tempfile.mkdtemp(prefix="xtask-frontend-")
    try:
        os.chdir(unpack(os.path.join(out, sdist), scratch))
        wheel = be.build_wheel(out, {}, None)
    finally:
        os.chdir("/")
        shutil.rmtree(scratch, ignore_errors=True)
    return [sdist, wheel]


def handle(req, log_path):
    """Runs one build with fds 1 and 2 on the build's log file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        return {"ok": True, "files": build(req)}
    except BaseException as e:  # noqa: BLE001 (a backend may call sys.exit)
        traceback.print_exc()
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log):
            os.close(fd)


def main():
    # The answers go to a private copy of stdout; fd 1 itself goes to stderr between builds.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        log_path = req.get("log") or os.devnull
        answer = handle(req, log_path)
        if not answer["ok"] and log_path != os.devnull:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                answer["log"] = f.read()[-20000:]
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        # Ctrl-C reaches the whole process group, and a closed pipe means the xtask is gone:
        # either way, stop quietly.
        sys.exit(1)
