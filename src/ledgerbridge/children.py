"""Helper processes (a ``worker`` beside ``up``, statement importers) that run at a lower
CPU priority and end with the process that started them, whichever way it ends: a
SIGKILL runs no clean-up, and a helper left behind would go on working unseen."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # prctl(2)
ORPHAN_CHECK_SECONDS = 0.5


def exec_as_helper(niceness: int) -> None:
    """A ``preexec_fn`` for a helper started from the main thread: run at ``niceness`` (the
    operating system then gives the CPU to the process answering requests first) and, on
    Linux, be killed at once when the starting process ends. (Linux sends that signal
    when the starting *thread* ends: hence the main thread only.)"""
    os.nice(niceness)
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_as_helper(niceness: int) -> None:
    """The initializer of a pooled helper process, which any thread may have started: run
    at ``niceness`` and exit once orphaned (the starting process has ended)."""
    os.nice(niceness)
    parent = os.getppid()

    def exit_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, name="orphan-check", daemon=True).start()
