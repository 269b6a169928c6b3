"""Child processes of the collector die with their parent, so that killing the server (even
with SIGKILL) kills it whole: no orphan keeps the port, the database or a half-done check."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the thread that started it ends (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _start_child() -> None:
    die_with_parent()
    # Stopping is the parent's business: a Ctrl-C reaches the whole process group, and a
    # child must not die under a job before its parent shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def child_pool(workers: int = 1) -> ProcessPoolExecutor:
    """A process pool whose processes die with this one and ignore Ctrl-C. Fresh interpreters
    ("spawn"): a collector worker has threads, which fork would copy half-way."""
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_child
    )
