"""`python -m bot` processes started without paying the interpreter's imports each time.

A `python -m bot run` spends a second or two of CPU importing onnxruntime, scikit-learn and
python-telegram-bot before it does anything; a test session starts dozens. The zygote
is one process that imports those libraries once, computes nothing (so no thread exists
when it forks), and forks a child for each request. The child is a real process: its own
pid, environment, working directory, standard streams on the files given, default signal
handlers; it runs `bot` as `python -m bot` does (`runpy`, `__main__`, `sys.argv`) and
exits through the interpreter's own shutdown. `bot` and `knowledge` are imported afresh
in each child, from the checkout. Engine workers come from the child's own multiprocessing
fork server, a fresh interpreter, as they do in production.

What a zygote cannot give a child is an interpreter started with another locale or
PYTHONIOENCODING: tests of those start `python` itself.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from .data import REPO

# Imported by the zygote: the slow part of a `python -m bot run`, none of it this checkout's.
PRELOAD = (
    "numpy",
    "scipy.sparse",
    "tokenizers",  # not onnxruntime: its state does not survive a fork (a child aborts at exit)
    "sklearn",
    "faiss",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "aiohttp",
    "telegram",
    "telegram.ext",
    "symspellpy",
    "snowballstemmer",
)

_SERVER = r"""
import importlib, json, os, runpy, signal, socket, sys, traceback

for name in sys.argv[2:]:
    importlib.import_module(name)

channel = socket.socket(fileno=int(sys.argv[1]))
signal.set_wakeup_fd(-1)
reaper_r, reaper_w = os.pipe()
os.set_blocking(reaper_w, False)
signal.set_wakeup_fd(reaper_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
children = set()


def send(message):
    channel.sendall(json.dumps(message).encode() + b"\n")


def reap():
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in children:
            children.discard(pid)
            send({"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def child(request, fds):
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    channel.close()
    os.close(reaper_r)
    os.close(reaper_w)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = os.getcwd()
    sys.argv = [sys.argv[0], *request["args"]]
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit:
        raise
    except BaseException:
        sys.excepthook(*sys.exc_info())
        raise SystemExit(1) from None
    raise SystemExit(0)


import select

buffer = b""
while True:
    ready, _, _ = select.select([channel, reaper_r], [], [])
    if reaper_r in ready:
        os.read(reaper_r, 4096)
        reap()
    if channel not in ready:
        continue
    data, fds, _, _ = socket.recv_fds(channel, 1 << 20, 3)
    if not data:
        break
    request = json.loads(data)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        child(request, fds)  # never returns: SystemExit ends the interpreter
    for fd in fds:
        os.close(fd)
    children.add(pid)
    send({"started": pid})
    reap()
"""


class ForkedProcess:
    """A child of the zygote, driven like a `subprocess.Popen`: pid, poll, wait, signals."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self._zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["python", "-m", "bot"], timeout or 0)
            self._zygote.wait_for_exit(0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The forking server (see the module's docstring); one per test process."""

    _shared: Zygote | None = None

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self._channel = ours
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self._server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(theirs.fileno()), *PRELOAD],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=REPO,
        )
        theirs.close()
        self._lock = threading.Lock()
        self._exited: dict[int, int] = {}
        self._started: list[int] = []
        self._changed = threading.Condition(self._lock)
        self._reader = threading.Thread(target=self._read, name="zygote-reader", daemon=True)
        self._reader.start()

    @classmethod
    def shared(cls) -> Zygote:
        if cls._shared is None or cls._shared._server.poll() is not None:
            cls._shared = cls()
            atexit.register(cls._shared.close)
        return cls._shared

    def _read(self) -> None:
        stream = self._channel.makefile("rb")
        for line in stream:
            message = json.loads(line)
            with self._changed:
                if "started" in message:
                    self._started.append(message["started"])
                else:
                    self._exited[message["exited"]] = message["code"]
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def start(
        self,
        args: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdout: int,
        stderr: int,
        module: str = "bot",
    ) -> ForkedProcess:
        """`python -m MODULE ARGS` in `cwd` with exactly `env`; standard input is empty."""
        request = {"module": module, "args": args, "env": dict(env), "cwd": str(cwd)}
        stdin = os.open(os.devnull, os.O_RDONLY)
        try:
            with self._changed:
                socket.send_fds(
                    self._channel, [json.dumps(request).encode()], [stdin, stdout, stderr]
                )
                if not self._changed.wait_for(lambda: self._started, timeout=60):
                    raise RuntimeError("the zygote did not start the process")
                pid = self._started.pop(0)
        finally:
            os.close(stdin)
        return ForkedProcess(self, pid)

    def exit_code(self, pid: int) -> int | None:
        with self._lock:
            return self._exited.get(pid)

    def wait_for_exit(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def close(self) -> None:
        self._channel.close()
        try:
            self._server.wait(10)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait(10)
