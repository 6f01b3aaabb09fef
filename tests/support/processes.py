"""Processes as /proc shows them: children, liveness, what a process has loaded."""

from __future__ import annotations

from pathlib import Path


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # gone
        return found
    for task in tasks:
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def descendants_of(pid: int) -> set[int]:
    """Children, their children, and so on."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        new = children_of(todo.pop()) - found
        found |= new
        todo.extend(new)
    return found


def fork_server(pid: int) -> int | None:
    """A bot's multiprocessing fork server, which its engine workers are forked from."""
    return next((c for c in children_of(pid) if b"forkserver" in _command(c)), None)


def engine_workers(pid: int) -> set[int]:
    """A bot's engine workers: the children of its fork server."""
    server = fork_server(pid)
    return set() if server is None else children_of(server)


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Running (a zombie, finished but not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def loading_the_model(pid: int) -> bool:
    """Whether the process has ONNX Runtime loaded: the engine is loading its model."""
    try:
        return "onnxruntime_pybind11_state" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
