"""pyfork server: a warm Python process that runs the test charms' hooks in forked children.

Started by the first `pyfork` client (client.c) of a session as `PYTHON server.py NAME`, with
the hook's locale and PYTHON* variables only. It binds the abstract unix socket NAME (another
server already there: exit), imports what the test charms import (PRELOAD), then serves one
hook per connection and exits after IDLE_SECONDS without a hook.

Per connection, a forked supervisor reads the request (argv, cwd, umask, process group,
environment; stdin/stdout/stderr as SCM_RIGHTS) and forks the hook process, which takes on
exactly what `PYTHON SCRIPT ARG...` started by the dispatch would have: the client's fds 0-2,
process group, cwd, umask and environment, `sys.argv`, `sys.orig_argv`, `sys.path` (script
dir, PYTHONPATH, then the interpreter's), and a fresh `__main__` in which SCRIPT runs as
Python's own `run_file` would, followed by Python's exit sequence (SystemExit handling,
non-daemon threads joined, atexit, stdio flushed). The supervisor reports "started" when the
hook process is set up, then "exit N" or "signal N"; it kills the hook process if the client
goes away (the simulator's hook timeout kills only the dispatch process). Until "started" the
client may still fall back to running the interpreter itself ("fallback").

What differs from a plain run: modules in PRELOAD are already imported (from the same venv,
before any charm code), and every hook shares the server's string hash seed. `random` and
OpenSSL reseed in each child (os.register_at_fork, OpenSSL's fork detection).
"""

import builtins
import gc
import os
import select
import signal
import socket
import struct
import sys
import time
import types
from importlib.machinery import SourceFileLoader

PROTOCOL = b"pyfork-1"
IDLE_SECONDS = 20.0
# What the test charms (tests/charms/*/src/charm.py) import; anything else is imported by the
# hook itself as usual.
PRELOAD = (
    "ops",
    "ops._main",
    "ops.model",
    "ops.storage",
    "ops.jujucontext",
    "ops.log",
    "charmlibs.interfaces.tls_certificates",
    "cryptography.x509",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "cryptography.hazmat.primitives.serialization",
    "cryptography.hazmat.primitives.hashes",
    "hashlib",
    "ipaddress",
    "json",
    "logging",
    "sqlite3",
    "uuid",
)
# Variables that shape the interpreter at start-up or at import: a hook whose values differ
# from the server's runs on the plain path. LD_PRELOAD: the simulator's clock shim
# (`Model::set_hook_clock`) is loaded at exec, so only a server started with it can serve
# such hooks (the client keys its server on it too); the shim's offset variable
# (JUJUSIM_CLOCK_OFFSET_NS) differs per hook and is read by the shim on every clock call, from
# the environment run_hook sets, so it is not compared.
STARTUP_PREFIXES = ("LANG=", "LANGUAGE=", "LC_", "PYTHON", "LD_PRELOAD=")

# The interpreter's own sys.path entries (stdlib, site-packages), without this script's dir.
BASE_PATH = sys.path[1:]


def startup_env(env):
    return sorted(
        e for e in env if e.startswith(STARTUP_PREFIXES) and not e.startswith("PYTHONPATH=")
    )


SERVER_ENV = startup_env(f"{k}={v}" for k, v in os.environ.items())


def stamp():
    """What must not change under a running server: this file and the venv's packages."""
    out = []
    venv_stamp = os.path.join(sys.prefix, ".requirements.stamp")
    for p in (__file__, venv_stamp):
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return out


def main():
    name = sys.argv[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind("\0" + name)
    except OSError:
        return  # another server won the race
    sock.listen(128)
    started_stamp = stamp()
    if not preload():
        return  # the waiting clients see the socket close and run the plain path
    gc.collect()
    gc.freeze()  # fewer copy-on-write pages in the children

    children = 0
    last = time.monotonic()
    while True:
        ready, _, _ = select.select([sock], [], [], 1.0)
        while children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children = 0
                break
            if pid == 0:
                break
            children -= 1
            last = time.monotonic()
        if not ready:
            if children == 0 and time.monotonic() - last > IDLE_SECONDS:
                break
            continue
        try:
            conn, _ = sock.accept()
        except OSError:  # the client gave up already
            continue
        last = time.monotonic()
        if stamp() != started_stamp:
            # Changed under us: this hook runs plain, the next one starts a fresh server.
            try:
                conn.sendall(b"fallback\n")
            except OSError:
                pass
            conn.close()
            break
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                code = supervise(conn)
            finally:
                os._exit(code)
        children += 1
        conn.close()
    sock.close()


def preload():
    """Import PRELOAD. False if that printed anything (a warning, say): a plain hook would show
    it on its own stderr, so such hooks must not be served from here."""
    import tempfile

    with tempfile.TemporaryFile() as out:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            for mod in PRELOAD:
                try:
                    __import__(mod)
                except Exception:  # noqa: BLE001 - a hook importing it sees the real error
                    pass
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        return os.fstat(out.fileno()).st_size == 0


def recv_request(conn):
    """The length header, the fields and the client's fds 0-2."""
    conn.settimeout(10)
    fds = []
    data = b""
    while len(data) < 10:
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
        if not msg:
            raise EOFError
        data += msg
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) // 4 * 4]))
    size = int(data[:10])
    while len(data) < 10 + size:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        data += chunk
    conn.settimeout(None)
    fields = data[10 : 10 + size].split(b"\0")[:-1]
    return fields, fds


def supervise(conn):
    """One hook: check the request, fork the hook process, report its end."""
    try:
        fields, fds = recv_request(conn)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        if uid != os.getuid() or len(fds) != 3 or fields[0] != PROTOCOL:
            raise ValueError("bad request")
        it = iter(fields[1:])
        cwd = os.fsdecode(next(it))
        mask = int(next(it))
        pgid = int(next(it))
        args = [os.fsdecode(next(it)) for _ in range(int(next(it)))]
        env = [os.fsdecode(next(it)) for _ in range(int(next(it)))]
        if startup_env(env) != SERVER_ENV or not args:
            raise ValueError("start-up environment differs")
    except Exception:  # noqa: BLE001 - anything wrong: the client runs the plain path
        try:
            conn.sendall(b"fallback\n")
        except OSError:
            pass
        return 0
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 127
        try:
            os.close(ready_r)
            conn.close()
            code = run_hook(cwd, mask, pgid, args, env, fds, ready_w)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    os.close(ready_w)
    ok = os.read(ready_r, 1)
    os.close(ready_r)
    if not ok:  # set-up failed before any charm code ran
        os.waitpid(pid, 0)
        conn.sendall(b"fallback\n")
        return 0
    try:
        conn.sendall(b"started\n")
    except OSError:
        pass
    status = wait_hook(pid, conn)
    if status is None:
        return 0
    if os.WIFSIGNALED(status):
        reply = f"signal {os.WTERMSIG(status)}\n"
    else:
        reply = f"exit {os.waitstatus_to_exitcode(status)}\n"
    try:
        conn.sendall(reply.encode())
    except OSError:
        pass
    return 0


def wait_hook(pid, conn):
    """The hook's wait status; None when the client went away first (the hook is killed)."""
    try:
        try:
            pidfd = os.pidfd_open(pid)
            watch, timeout = [pidfd, conn], None
        except (AttributeError, OSError):  # Linux < 5.3: poll for the exit
            pidfd = None
            watch, timeout = [conn], 0.005
        while True:
            ready, _, _ = select.select(watch, [], [], timeout)
            if pidfd is None or pidfd in ready:
                done, status = os.waitpid(pid, 0 if pidfd is not None else os.WNOHANG)
                if done:
                    return status
            if conn in ready:
                try:
                    # The client sends nothing more: this is its end (EOF, or ECONNRESET when
                    # it died with our "started" unread).
                    gone = not conn.recv(4096)
                except OSError:
                    gone = True
                if gone:
                    break
    except BaseException:
        kill_and_reap(pid)
        raise
    kill_and_reap(pid)
    return None


def kill_and_reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def run_hook(cwd, mask, pgid, args, env, fds, ready_w):
    """In the hook process: become `PYTHON args...` and run the script; returns the exit code."""
    os.setpgid(0, pgid)
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
        os.close(fd)
    os.chdir(cwd)
    os.umask(mask)
    os.environ.clear()
    for e in env:
        k, _, v = e.partition("=")
        os.environ[k] = v
    script = args[0]
    real_cwd = os.getcwd()
    # As the interpreter builds them: the script's path joined to the cwd (not normalised),
    # sys.path[0] its (real) dir, then PYTHONPATH entries made absolute, then the rest.
    file = os.path.join(real_cwd, script)
    extra = [
        os.path.abspath(os.path.join(real_cwd, p)) if p else real_cwd
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
    ] if os.environ.get("PYTHONPATH") else []
    path = []
    for p in extra + BASE_PATH:
        if p not in path:
            path.append(p)
    sys.path[:] = [os.path.dirname(os.path.realpath(file))] + path
    sys.argv[:] = args
    sys.orig_argv[:] = [sys.orig_argv[0]] + args
    import importlib

    importlib.invalidate_caches()
    with open(file, "rb") as f:
        source = f.read()
    code = compile(source, file, "exec", dont_inherit=True)
    main_mod = types.ModuleType("__main__")
    main_mod.__file__ = file
    main_mod.__cached__ = None
    main_mod.__loader__ = SourceFileLoader("__main__", file)
    main_mod.__builtins__ = builtins
    sys.modules["__main__"] = main_mod
    os.write(ready_w, b"S")
    os.close(ready_w)
    return run_main(code, main_mod.__dict__)


def run_main(code, globs):
    """exec the script, then exit as the interpreter does."""
    status = 0
    try:
        exec(code, globs)
    except SystemExit as e:
        status = exit_status(e)
    except BaseException as e:  # noqa: BLE001 - as the interpreter: print it, exit 1
        # Without this function's frame, as the interpreter's traceback would be.
        tb = e.__traceback__.tb_next if e.__traceback__ else None
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        status = 1
    import threading

    threading._shutdown()
    import atexit

    atexit._run_exitfuncs()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:  # noqa: BLE001
            status = 120
    return status


def exit_status(e):
    """Python's handle_system_exit."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:  # noqa: BLE001
        pass
    return 1


if __name__ == "__main__":
    main()
