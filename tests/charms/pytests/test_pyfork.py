"""The fork server (tests/charms/pyfork/) runs a script exactly as `python3 SCRIPT` would.

Each case runs the same probe script both ways, with the same cleared environment, cwd and
process group, and compares what the script saw and did: sys.path, argv, __main__'s attributes,
environment, cwd, umask, process group, stdio set-up, stdin, stdout, stderr and the exit status
(sys.exit with a number or a message, an exception, os._exit, a signal), atexit and threads at
exit. Randomness must differ between hooks; a killed client must not leave its hook running.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent.parent
SRC = REPO / "tests" / "charms" / "pyfork"
PYTHON = REPO / ".venv" / "bin" / "python3"

PROBE = r'''
import json, os, sys
preloaded = "ops" in sys.modules
def report():
    main = sys.modules["__main__"]
    return {
        "path": sys.path, "argv": sys.argv, "orig_argv": sys.orig_argv,
        "file": __file__, "name": __name__, "spec": repr(__spec__), "cached": __cached__,
        "loader": [type(__loader__).__name__, __loader__.name, __loader__.path],
        "builtins": repr(__builtins__), "package": __package__, "doc": __doc__,
        "main_is_module": main.__dict__ is globals(),
        "env": dict(os.environ), "cwd": os.getcwd(), "umask": os.umask(0o22),
        "pgid": os.getpgid(0), "sid": os.getsid(0), "executable": sys.executable,
        "flags": repr(sys.flags),
        "stdio": [(f.fileno(), f.encoding, f.errors, f.line_buffering, f.isatty())
                  for f in (sys.stdin, sys.stdout, sys.stderr)],
        "stdin": sys.stdin.read(),
    }
mode = sys.argv[1] if len(sys.argv) > 1 else "report"
if mode == "report":
    print(json.dumps(report()))
    print("to stderr", file=sys.stderr)
elif mode == "random":
    import random, secrets
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives import serialization
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    print(json.dumps([random.random(), secrets.token_hex(8), key.hex(), preloaded]))
elif mode == "exit-code":
    print("out"); sys.exit(3)
elif mode == "exit-message":
    sys.exit("a message")
elif mode == "raise":
    raise RuntimeError("boom")
elif mode == "os-exit":
    sys.stdout.write("unflushed")
    os._exit(7)
elif mode == "signal":
    sys.stdout.flush()
    os.kill(os.getpid(), 15)
elif mode == "atexit":
    import atexit, threading, time
    atexit.register(lambda: print("atexit ran"))
    def late():
        time.sleep(0.2)
        print("thread done", flush=True)
    threading.Thread(target=late).start()
    print("main done")
elif mode == "sleep":
    print(os.getpid(), flush=True)
    import time
    time.sleep(30)
'''


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        pytest.skip(f"no C compiler ({cc})")
    assert PYTHON.is_file(), "run scripts/setup-venv.sh first"
    d = tmp_path_factory.mktemp("pyfork")
    client = d / "pyfork"
    subprocess.run(
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(client), str(SRC / "client.c")],
        check=True,
    )
    # A copy of the server: its own socket name, so the test does not share the build's server.
    server = d / "server.py"
    shutil.copy(SRC / "server.py", server)
    charm = d / "charm"
    (charm / "src").mkdir(parents=True)
    (charm / "lib").mkdir()
    (charm / "src" / "charm.py").write_text(PROBE)
    return client, server, charm


def env_for(charm: Path) -> dict[str, str]:
    return {
        "LANG": "C.UTF-8",
        "PATH": "/usr/bin:/bin",
        "JUJU_UNIT_NAME": "probe/0",
        "CHARM_DIR": str(charm),
        "PYTHONPATH": "lib",
        "EMPTY": "",
        "UNICODE": "h\u00e9",
    }


def run(tools, *args, fork: bool, stdin: bytes = b"", env=None):
    client, server, charm = tools
    prefix = [str(client), str(PYTHON), str(server)] if fork else [str(PYTHON)]
    p = subprocess.Popen(
        [*prefix, "./src/charm.py", *args],
        cwd=charm,
        env=env or env_for(charm),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=os.setpgrp,  # its own process group, as the simulator gives hooks
    )
    out, err = p.communicate(stdin, timeout=60)
    return p.pid, p.returncode, out.decode(), err.decode()


def test_the_script_sees_what_a_plain_interpreter_gives_it(tools):
    import json

    pid_plain, rc_plain, out_plain, err_plain = run(tools, fork=False, stdin=b"input\n")
    pid_fork, rc_fork, out_fork, err_fork = run(tools, fork=True, stdin=b"input\n")
    plain, fork = json.loads(out_plain), json.loads(out_fork)
    # Each run is its own process group (the dispatch's), in the test's session.
    assert plain.pop("pgid") == pid_plain
    assert fork.pop("pgid") == pid_fork
    assert plain == fork
    assert plain["stdin"] == "input\n"
    assert (rc_plain, err_plain) == (rc_fork, err_fork) == (0, "to stderr\n")


@pytest.mark.parametrize(
    "mode",
    ["exit-code", "exit-message", "raise", "os-exit", "signal", "atexit"],
)
def test_exit_status_and_output_are_the_same(tools, mode):
    _, rc_plain, out_plain, err_plain = run(tools, mode, fork=False)
    _, rc_fork, out_fork, err_fork = run(tools, mode, fork=True)
    assert (rc_fork, out_fork, err_fork) == (rc_plain, out_plain, err_plain)


def test_expected_statuses(tools):
    # The plain runs behave as documented, so the comparison above means something.
    assert run(tools, "exit-code", fork=False)[1:3] == (3, "out\n")
    assert run(tools, "exit-message", fork=False)[1:4:2] == (1, "a message\n")
    assert run(tools, "os-exit", fork=False)[1:3] == (7, "")
    assert run(tools, "signal", fork=False)[1] == -signal.SIGTERM
    assert run(tools, "atexit", fork=False)[2] == "main done\nthread done\natexit ran\n"


def test_served_by_the_warm_server_and_fresh_randomness(tools):
    import json

    runs = [json.loads(run(tools, "random", fork=True)[2]) for _ in range(3)]
    assert all(r[3] for r in runs), "the hook ran in the warm server (ops already imported)"
    for i in range(3):
        assert len({r[i] for r in runs}) == 3, f"value {i} repeats across hooks: {runs}"


def test_other_startup_environment_falls_back_to_the_plain_path(tools):
    import json

    env = {**env_for(tools[2]), "PYTHONDONTWRITEBYTECODE": "1"}
    _, rc, out, _ = run(tools, "random", fork=True, env=env)
    assert rc == 0
    assert json.loads(out)[3] is False, "a plain interpreter has not imported ops"


def test_killing_the_client_or_its_group_ends_the_hook(tools):
    client, server, charm = tools
    for kill_group in (True, False):
        p = subprocess.Popen(
            [str(client), str(PYTHON), str(server), "./src/charm.py", "sleep"],
            cwd=charm,
            env=env_for(charm),
            stdout=subprocess.PIPE,
            preexec_fn=os.setpgrp,  # its own process group, as the simulator gives hooks
        )
        hook_pid = int(p.stdout.readline())
        assert hook_pid != p.pid, "the hook runs in a forked child"
        assert os.getpgid(hook_pid) == p.pid
        if kill_group:
            os.killpg(p.pid, signal.SIGKILL)
        else:
            p.kill()
        p.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(hook_pid):
            time.sleep(0.05)
        assert not _alive(hook_pid), f"hook {hook_pid} still runs (kill_group={kill_group})"
        p.stdout.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone (between open and read: ESRCH)
        return False


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
